//! `on_rotate` hooks: the consumers told about a new value before it becomes current.
//!
//! A hook is a shell command from `keep.toml` (`[secrets.NAME] on_rotate`, then `[env.E] on_rotate`),
//! run with `sh -c` in the folder of `keep.toml`. The old and new values are put in the hook's own
//! environment only (`KEEP_OLD`, `KEEP_NEW`), never in keep's environment or in argv; keep's own
//! credential variables (every `KEEP_PASSPHRASE*`, `KEEP_NEW_PASSPHRASE*`, `KEEP_RECOVERY_KEY*`,
//! `KEEP_PKCS11_PIN*`, `KEEP_AGE_IDENTITY*`) are removed from it and it starts in a fresh session
//! keyring, so it cannot reach the cached master key (`src/using/child.rs`). The hook's stdout goes to
//! keep's stderr, so `--json` output on stdout stays one document.
//!
//! A hook that never returns must not hold a rotation hostage: each hook runs in its own process group
//! and is stopped (SIGTERM to the group, SIGKILL two seconds later) when it outlives
//! `[rotate] hook_timeout` (default five minutes). A stopped hook counts as failed, so the new value
//! stays pending and the old one current, exactly as for a hook that exits non-zero.

use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::scope::Address;
use crate::value::SecretValue;

/// How long a hook may run when `keep.toml` does not say (`[rotate] hook_timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// How long a hook has to exit after SIGTERM before it is killed.
const GRACE: Duration = Duration::from_secs(2);

/// Why a hook failed: a description without any value in it.
#[derive(Clone, Debug)]
pub struct HookFailure {
    pub hook: String,
    pub reason: String,
}

/// Run `hooks` in order, each for at most `timeout`; stop at the first that fails.
pub fn run(
    hooks: &[String],
    dir: Option<&Path>,
    address: &Address,
    (old, new): (&SecretValue, &SecretValue),
    timeout: Duration,
) -> Result<std::result::Result<(), HookFailure>> {
    for hook in hooks {
        let stdout = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::Io {
                context: "cannot pass stderr to a rotation hook".into(),
                source: e,
            })?;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(hook)
            .env("KEEP_OLD", std::ffi::OsStr::from_bytes(old.expose()))
            .env("KEEP_NEW", std::ffi::OsStr::from_bytes(new.expose()))
            .env("KEEP_NAME", address.name.as_str())
            .env("KEEP_ADDRESS", address.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            // Its own group, so a timeout stops the hook's children too, not only `sh`.
            .process_group(0);
        // No credential variable, and a fresh session keyring: the hook gets the two values, not
        // the key to the vault.
        crate::using::child::isolate(&mut cmd, crate::using::child::Session::Fresh);
        if let Some(d) = dir {
            cmd.current_dir(d);
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Ok(Err(HookFailure {
                    hook: hook.clone(),
                    reason: format!("could not start: {e}"),
                }))
            }
        };
        let Some(status) = wait_for(&mut child, timeout)? else {
            stop_group(&mut child)?;
            return Ok(Err(HookFailure {
                hook: hook.clone(),
                reason: format!(
                    "did not finish within {} and was stopped; raise `[rotate] hook_timeout` in \
                     keep.toml if it needs longer",
                    crate::duration::exact(timeout)
                ),
            }));
        };
        if !status.success() {
            let reason = match status.code() {
                Some(c) => format!("exited with code {c}"),
                None => "was killed by a signal".into(),
            };
            return Ok(Err(HookFailure {
                hook: hook.clone(),
                reason,
            }));
        }
    }
    Ok(Ok(()))
}

/// Wait for `child` until `limit` has passed: its status, or `None` if it is still running.
fn wait_for(child: &mut Child, limit: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + limit;
    // Short first polls keep a quick hook quick; later ones cost nothing noticeable.
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| Error::Io {
            context: "cannot wait for a rotation hook".into(),
            source: e,
        })? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Stop a hook that overran: SIGTERM to its process group, SIGKILL after the grace period, then reap.
fn stop_group(child: &mut Child) -> Result<()> {
    let group = child.id() as libc::pid_t;
    // SAFETY: killpg only sends a signal; the group is the one the hook was started in.
    unsafe { libc::killpg(group, libc::SIGTERM) };
    if wait_for(child, GRACE)?.is_none() {
        // SAFETY: as above.
        unsafe { libc::killpg(group, libc::SIGKILL) };
    }
    child.wait().map_err(|e| Error::Io {
        context: "cannot wait for a rotation hook".into(),
        source: e,
    })?;
    Ok(())
}
