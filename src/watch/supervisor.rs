//! `keep exec --watch`: keep stays the parent of the command and, when a value it injected changes,
//! restarts it with the new environment (the restart signal, `--grace` to exit, then SIGKILL, then a
//! fresh start), or with `--signal SIG` only sends it SIG (for programs that re-read files).
//!
//! Signals to keep reach the command as without `--watch`; a SIGTERM also stops it (grace, then
//! SIGKILL) and keep exits with its status. When the command exits on its own keep exits with its
//! code. When the watcher must stop (`keep lock`, a replaced vault) the command is stopped the same
//! way and keep exits with the watcher's code.

use std::ffi::OsString;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Msg, Resolved, Source, Update, Watcher};
use crate::error::Result;
use crate::using::child::Running;
use crate::using::exec::{self, Environment, Failure};
use crate::using::redact::Patterns;

/// How the command is supervised.
pub struct Options {
    /// `--signal`: send this on a change instead of restarting.
    pub signal: Option<i32>,
    /// `--restart-signal`: what asks the command to exit before a restart (SIGTERM).
    pub restart_signal: i32,
    /// `--grace`: how long the command has to exit before SIGKILL.
    pub grace: Duration,
    /// `--redact`: filter the command's output.
    pub redact: bool,
    /// `--verbose`: say when the command is restarted or signalled.
    pub verbose: bool,
}

/// The signals `--signal` and `--restart-signal` accept: a name with or without `SIG` (any case),
/// or a number.
pub fn parse_signal(text: &str) -> std::result::Result<i32, String> {
    const NAMES: [(&str, i32); 12] = [
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("KILL", libc::SIGKILL),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
        ("TERM", libc::SIGTERM),
        ("CONT", libc::SIGCONT),
        ("STOP", libc::SIGSTOP),
        ("WINCH", libc::SIGWINCH),
        ("ALRM", libc::SIGALRM),
        ("PWR", libc::SIGPWR),
    ];
    let upper = text.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, n)) = NAMES.iter().find(|(name, _)| *name == bare) {
        return Ok(*n);
    }
    match bare.parse::<i32>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err(format!(
            "unknown signal {text:?} (use a name such as HUP, TERM, USR1, or a number 1-64)"
        )),
    }
}

/// The name of a signal, for messages.
pub fn signal_name(signal: i32) -> String {
    // SAFETY: strsignal returns a pointer to a static or thread-local string, copied at once.
    let text = unsafe { std::ffi::CStr::from_ptr(libc::strsignal(signal)) };
    format!("signal {signal} ({})", text.to_string_lossy())
}

/// How a stop ended.
struct Stopped {
    code: i32,
    /// A SIGTERM (or SIGINT from `kill`) reached keep meanwhile: do not start the command again.
    quit: bool,
}

struct Supervisor<'a> {
    watcher: Watcher,
    argv: &'a [OsString],
    options: &'a Options,
    make_env: &'a dyn Fn(&[crate::using::Pair]) -> Result<Environment>,
    note: &'a dyn Fn(&str),
    child: Running,
}

/// Run the command under the watcher; returns keep's exit code.
pub fn run(
    watcher: Watcher,
    first: Resolved,
    source: &mut Source<'_>,
    argv: &[OsString],
    options: &Options,
    make_env: &dyn Fn(&[crate::using::Pair]) -> Result<Environment>,
    note: &dyn Fn(&str),
) -> std::result::Result<i32, Failure> {
    let env = make_env(&first.pairs)?;
    let patterns = patterns(options, &first.pairs);
    drop(first);
    let child = start(&watcher, &env, argv, patterns)?;
    drop(env);
    let mut s = Supervisor {
        watcher,
        argv,
        options,
        make_env,
        note,
        child,
    };
    s.serve(source)
}

/// Redaction patterns for the injected values, when `--redact` is on.
fn patterns(options: &Options, pairs: &[crate::using::Pair]) -> Option<Arc<Patterns>> {
    options.redact.then(|| {
        Arc::new(Patterns::new(
            pairs.iter().map(|(n, v)| (n.as_str(), v.expose())),
        ))
    })
}

fn start(
    watcher: &Watcher,
    env: &Environment,
    argv: &[OsString],
    patterns: Option<Arc<Patterns>>,
) -> std::result::Result<Running, Failure> {
    let tx = watcher.sender();
    exec::start(env, argv, patterns, move |pid, code| {
        let _ = tx.send(Msg::Exited { pid, code });
    })
}

impl Supervisor<'_> {
    /// A `--verbose` notice.
    fn notice(&self, message: &str) {
        if self.options.verbose {
            (self.note)(message);
        }
    }

    fn serve(&mut self, source: &mut Source<'_>) -> std::result::Result<i32, Failure> {
        loop {
            match self.watcher.wait() {
                Msg::Exited { pid, code } if pid == self.child.pid => return Ok(code),
                Msg::Exited { .. } => {}
                Msg::Signal {
                    signal,
                    from_terminal,
                } => {
                    if !from_terminal {
                        self.child.signal(signal);
                    }
                    if signal == libc::SIGTERM {
                        let stopped = self.wait_or_kill(Instant::now() + self.options.grace);
                        return Ok(stopped.code);
                    }
                }
                Msg::Vault => {
                    self.watcher.settle();
                    match self.watcher.refresh(source) {
                        Update::Same => {}
                        Update::Failed(e) => (self.note)(&format!(
                            "keep: warning: cannot read the changed values ({e}); the command keeps \
                             the ones it has"
                        )),
                        Update::Stop(e) => {
                            self.child.signal(self.options.restart_signal);
                            self.wait_or_kill(Instant::now() + self.options.grace);
                            return Err(Failure::Keep(e));
                        }
                        Update::Changed(resolved) => {
                            if let Some(code) = self.changed(resolved)? {
                                return Ok(code);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Act on new values; `Some(code)` when keep must exit.
    fn changed(&mut self, resolved: Resolved) -> std::result::Result<Option<i32>, Failure> {
        if let Some(code) = self.watcher.exited(self.child.pid) {
            return Ok(Some(code));
        }
        let names = resolved
            .read
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if let Some(signal) = self.options.signal {
            self.child.signal(signal);
            self.notice(&format!(
                "keep: a watched value changed; sent {} to the command (pid {})",
                signal_name(signal),
                self.child.pid
            ));
            return Ok(None);
        }
        let env = match (self.make_env)(&resolved.pairs) {
            Ok(env) => env,
            Err(e) => {
                (self.note)(&format!(
                    "keep: warning: the changed values cannot be injected ({e}); the command keeps \
                     the ones it has"
                ));
                return Ok(None);
            }
        };
        let patterns = patterns(self.options, &resolved.pairs);
        drop(resolved);
        self.notice(&format!(
            "keep: a watched value changed (of {names}); restarting the command (pid {}, {})",
            self.child.pid,
            signal_name(self.options.restart_signal)
        ));
        self.child.signal(self.options.restart_signal);
        let stopped = self.wait_or_kill(Instant::now() + self.options.grace);
        if stopped.quit {
            return Ok(Some(stopped.code));
        }
        self.child = start(&self.watcher, &env, self.argv, patterns)?;
        drop(env);
        self.notice(&format!(
            "keep: restarted the command (pid {}) with the new values",
            self.child.pid
        ));
        Ok(None)
    }

    /// Wait for the child to exit until `deadline`, then SIGKILL it and wait for that. Changes that
    /// arrive meanwhile are kept for after; a SIGTERM to keep means no restart.
    fn wait_or_kill(&mut self, deadline: Instant) -> Stopped {
        let mut quit = false;
        let mut killed = false;
        let mut vault_changed = false;
        loop {
            let msg = if killed {
                Some(self.watcher.wait())
            } else {
                self.watcher.next_before(deadline)
            };
            match msg {
                Some(Msg::Exited { pid, code }) if pid == self.child.pid => {
                    if vault_changed {
                        self.watcher.defer(Msg::Vault);
                    }
                    return Stopped { code, quit };
                }
                Some(Msg::Exited { .. }) => {}
                Some(Msg::Signal {
                    signal,
                    from_terminal,
                }) => {
                    if !from_terminal {
                        self.child.signal(signal);
                    }
                    quit |= signal == libc::SIGTERM || signal == libc::SIGINT;
                }
                Some(Msg::Vault) => vault_changed = true,
                None => {
                    (self.note)(&format!(
                        "keep: the command (pid {}) did not exit within {}; sending SIGKILL",
                        self.child.pid,
                        humantime::format_duration(self.options.grace)
                    ));
                    self.child.signal(libc::SIGKILL);
                    killed = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_signal;

    #[test]
    fn signals_parse_by_name_prefix_case_and_number() {
        assert_eq!(parse_signal("HUP"), Ok(libc::SIGHUP));
        assert_eq!(parse_signal("sighup"), Ok(libc::SIGHUP));
        assert_eq!(parse_signal("SIGUSR1"), Ok(libc::SIGUSR1));
        assert_eq!(parse_signal("15"), Ok(libc::SIGTERM));
        for bad in ["", "SIG", "HUPP", "0", "65", "-1"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }
}
