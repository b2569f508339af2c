//! Running a command with secrets in its environment (`keep exec`).
//!
//! Without redaction keep *replaces itself* with the command (Unix `exec`): the command gets keep's pid,
//! terminal, signals and exit status, and keep costs nothing once the command runs. With redaction keep
//! has to stay as the parent to filter the output, so it forwards SIGINT, SIGTERM and SIGHUP and
//! returns the child's exit code (128+N for a death by signal N).
//!
//! Everything that can fail — a missing secret, a bad reference, a command that does not exist or is
//! not executable — is checked before the command starts, so a failure never leaves a half-started
//! child behind.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use super::child;
pub use super::child::Session;
use super::redact::Patterns;
use super::Pair;
use crate::error::{exit, Error};

/// Why a command could not be run: a keep error (with its own exit code), or a launch failure with
/// the shell's exit codes (127 not found, 126 not executable).
#[derive(Debug)]
pub enum Failure {
    Keep(Error),
    Launch { code: i32, message: String },
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Keep(e)
    }
}

impl Failure {
    pub fn code(&self) -> i32 {
        match self {
            Failure::Keep(e) => e.exit_code(),
            Failure::Launch { code, .. } => *code,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Keep(e) => write!(f, "{e}"),
            Failure::Launch { message, .. } => f.write_str(message),
        }
    }
}

/// The environment a command will get. keep's credential variables are never part of it, and the
/// command starts in a fresh session keyring unless `session` says otherwise (see [`child`]).
pub struct Environment {
    vars: Vec<(OsString, OsString)>,
    /// Inherited variables that an injected secret replaced (names only).
    pub replaced: Vec<String>,
    /// Whether the command shares keep's session keyring (`--inherit-session`).
    pub session: Session,
}

/// The values are wiped when the environment is dropped (under `--redact` keep outlives the child and
/// would otherwise free them unwiped). The copies `std::process::Command` makes for `execve` are out
/// of reach; SECURITY.md lists them.
impl Drop for Environment {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for (_, value) in self.vars.drain(..) {
            value.into_vec().zeroize();
        }
    }
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Environment({} variables)", self.vars.len())
    }
}

impl Environment {
    /// Start from the parent's environment (`inherit`, less keep's credential variables) or from
    /// nothing (`--clean`).
    pub fn new(inherit: bool) -> Environment {
        Environment {
            vars: if inherit {
                std::env::vars_os()
                    .filter(|(k, _)| !child::is_credential(k))
                    .collect()
            } else {
                Vec::new()
            },
            replaced: Vec::new(),
            session: Session::Fresh,
        }
    }

    /// Add secrets; a secret wins over an inherited variable of the same name. A value with a NUL byte
    /// cannot be an environment variable and is refused by name.
    pub fn inject(&mut self, pairs: &[Pair]) -> Result<(), Error> {
        for (name, value) in pairs {
            if value.expose().contains(&0) {
                return Err(Error::Usage(format!(
                    "{name} contains a NUL byte, which an environment variable cannot hold"
                )));
            }
            let key = OsString::from(name.as_str());
            if let Some(i) = self.vars.iter().position(|(k, _)| *k == key) {
                self.vars.remove(i);
                if !self.replaced.iter().any(|r| r == name.as_str()) {
                    self.replaced.push(name.to_string());
                }
            }
            self.vars
                .push((key, OsString::from_vec(value.expose().to_vec())));
        }
        Ok(())
    }

    /// The value a variable will have.
    pub fn get(&self, key: &str) -> Option<&OsStr> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_os_str())
    }

    fn command(&self, program: &Path, argv: &[OsString]) -> Command {
        let mut cmd = Command::new(program);
        cmd.arg0(&argv[0]).args(&argv[1..]).env_clear();
        cmd.envs(self.vars.iter().map(|(k, v)| (k, v)));
        child::isolate(&mut cmd, self.session);
        cmd
    }
}

/// Find `program` as a shell would: a name with a `/` is a path, anything else is looked up in `path`
/// (the command's own `PATH`, else keep's). 127 when nothing is found, 126 when only something that
/// cannot be executed is.
pub fn find_program(program: &OsStr, path: Option<&OsStr>) -> Result<PathBuf, Failure> {
    let shown = program.to_string_lossy();
    if program.is_empty() {
        return Err(Failure::Keep(Error::Usage(
            "no command given after `--`".into(),
        )));
    }
    let not_executable = |p: &Path| Failure::Launch {
        code: exit::CANNOT_EXECUTE,
        message: format!(
            "{}: permission denied (not an executable file)",
            p.display()
        ),
    };
    if program.as_bytes().contains(&b'/') {
        let p = PathBuf::from(program);
        return match std::fs::metadata(&p) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(p),
            Ok(_) => Err(not_executable(&p)),
            Err(_) => Err(Failure::Launch {
                code: exit::COMMAND_NOT_FOUND,
                message: format!("{shown}: no such file"),
            }),
        };
    }
    let fallback = std::env::var_os("PATH");
    let search = path
        .or(fallback.as_deref())
        .unwrap_or(OsStr::new("/usr/bin:/bin"));
    let mut found_unusable = None;
    for dir in std::env::split_paths(search) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(program);
        if let Ok(m) = std::fs::metadata(&candidate) {
            if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
            if m.is_file() && found_unusable.is_none() {
                found_unusable = Some(candidate);
            }
        }
    }
    match found_unusable {
        Some(p) => Err(not_executable(&p)),
        None => Err(Failure::Launch {
            code: exit::COMMAND_NOT_FOUND,
            message: format!("{shown}: command not found in PATH"),
        }),
    }
}

fn launch_error(program: &Path, e: std::io::Error) -> Failure {
    let code = if e.kind() == std::io::ErrorKind::NotFound {
        exit::COMMAND_NOT_FOUND
    } else {
        exit::CANNOT_EXECUTE
    };
    Failure::Launch {
        code,
        message: format!("cannot run {}: {e}", program.display()),
    }
}

/// Replace this process with the command. Returns only on failure.
pub fn replace(env: &Environment, argv: &[OsString]) -> Failure {
    let program = match find_program(&argv[0], env.get("PATH")) {
        Ok(p) => p,
        Err(f) => return f,
    };
    let _ = std::io::stdout().flush();
    let e = env.command(&program, argv).exec();
    launch_error(&program, e)
}

/// The signals keep passes on to the child under `--redact`.
pub const FORWARDED: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Run the command as a child with its stdout and stderr redacted, forwarding signals; return its exit
/// code (128+N for a death by signal N).
pub fn run_redacted(
    env: &Environment,
    argv: &[OsString],
    patterns: Arc<Patterns>,
) -> Result<i32, Failure> {
    use signal_hook::iterator::exfiltrator::WithOrigin;
    use signal_hook::iterator::SignalsInfo;
    use signal_hook::low_level::siginfo::Cause;

    let program = find_program(&argv[0], env.get("PATH"))?;
    // Handlers go in before the child exists, so no signal can kill keep and orphan the child.
    let mut signals = SignalsInfo::<WithOrigin>::new(FORWARDED).map_err(|e| {
        Failure::Keep(Error::Io {
            context: "cannot install signal handlers".into(),
            source: e,
        })
    })?;
    let handle = signals.handle();
    let child_pid = Arc::new(AtomicI32::new(0));
    let forward_to = child_pid.clone();
    let forwarder = std::thread::spawn(move || {
        for origin in signals.forever() {
            // A signal from the terminal (Ctrl-C) already reached the child, which is in the same
            // foreground process group: forwarding it again would deliver it twice.
            if matches!(origin.cause, Cause::Kernel) {
                continue;
            }
            let pid = forward_to.load(Ordering::SeqCst);
            if pid > 0 {
                // SAFETY: kill takes plain integers; the pid is our own child's, reaped only later.
                unsafe {
                    libc::kill(pid, origin.signal);
                }
            }
        }
    });

    let mut child = match env
        .command(&program, argv)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            handle.close();
            let _ = forwarder.join();
            return Err(launch_error(&program, e));
        }
    };
    child_pid.store(child.id() as i32, Ordering::SeqCst);

    let out = child.stdout.take().expect("piped stdout");
    let err = child.stderr.take().expect("piped stderr");
    let p1 = patterns.clone();
    let t_out = std::thread::spawn(move || pump(out, &p1, std::io::stdout()));
    let t_err = std::thread::spawn(move || pump(err, &patterns, std::io::stderr()));
    let status = child.wait();
    let _ = t_out.join();
    let _ = t_err.join();
    child_pid.store(0, Ordering::SeqCst);
    handle.close();
    let _ = forwarder.join();
    let status = status.map_err(|e| {
        Failure::Keep(Error::Io {
            context: "cannot wait for the command".into(),
            source: e,
        })
    })?;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// Start the command as a watched child (`exec --watch`): it dies with keep ([`child::die_with_parent`]),
/// its output goes through `patterns` when given, and `on_exit` gets its pid and exit code (128+N
/// for a death by signal N) once it has exited and its output is drained. Call from the main thread.
pub fn start(
    env: &Environment,
    argv: &[OsString],
    patterns: Option<Arc<Patterns>>,
    on_exit: impl FnOnce(i32, i32) + Send + 'static,
) -> Result<child::Running, Failure> {
    let program = find_program(&argv[0], env.get("PATH"))?;
    let mut cmd = env.command(&program, argv);
    child::die_with_parent(&mut cmd);
    if patterns.is_some() {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut proc = cmd.spawn().map_err(|e| launch_error(&program, e))?;
    let pid = proc.id() as i32;
    let running = child::Running::new(pid);
    let pumps = patterns.map(|patterns| {
        let out = proc.stdout.take().expect("piped stdout");
        let err = proc.stderr.take().expect("piped stderr");
        let p1 = patterns.clone();
        [
            std::thread::spawn(move || pump(out, &p1, std::io::stdout())),
            std::thread::spawn(move || pump(err, &patterns, std::io::stderr())),
        ]
    });
    std::thread::spawn(move || {
        let status = proc.wait();
        for t in pumps.into_iter().flatten() {
            let _ = t.join();
        }
        on_exit(
            pid,
            match status {
                Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
                Err(_) => exit::SYSTEM,
            },
        );
    });
    Ok(running)
}

/// Copy one stream through a redactor. If our side is closed (a pipe reader went away), keep draining
/// so the child is not blocked, but write nothing more.
fn pump(mut from: impl Read, patterns: &Patterns, mut to: impl Write) {
    let mut redactor = patterns.stream();
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::with_capacity(buf.len());
    let mut open = true;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        redactor.push(&buf[..n], &mut out);
        if open && !out.is_empty() {
            open = to.write_all(&out).and_then(|_| to.flush()).is_ok();
        }
        zeroize::Zeroize::zeroize(&mut out);
        out.clear();
    }
    redactor.finish(&mut out);
    if open {
        let _ = to.write_all(&out).and_then(|_| to.flush());
    }
    zeroize::Zeroize::zeroize(&mut buf);
}
