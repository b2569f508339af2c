//! `on_rotate` hooks: the consumers told about a new value before it becomes current.
//!
//! A hook is a shell command from `keep.toml` (`[secrets.NAME] on_rotate`, then `[env.E] on_rotate`),
//! run with `sh -c` in the folder of `keep.toml`. The old and new values are put in the hook's own
//! environment only (`KEEP_OLD`, `KEEP_NEW`), never in keep's environment or in argv; keep's own
//! credentials (`KEEP_PASSPHRASE*`, `KEEP_PKCS11_PIN*`) are removed from it. The hook's stdout goes to
//! keep's stderr, so `--json` output on stdout stays one document.

use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::scope::Address;
use crate::value::SecretValue;

/// Variables a hook never inherits from keep.
const WITHHELD: &[&str] = &[
    "KEEP_PASSPHRASE",
    "KEEP_PASSPHRASE_FILE",
    "KEEP_NEW_PASSPHRASE",
    "KEEP_NEW_PASSPHRASE_FILE",
    "KEEP_PKCS11_PIN",
    "KEEP_PKCS11_PIN_FILE",
];

/// The hooks of a secret: its own, then its environment's. Only a `keep.toml` of the secret's project
/// (or one that names no project) applies.
pub fn hooks_for(config: Option<&Config>, address: &Address) -> Vec<String> {
    let Some(c) = config else {
        return Vec::new();
    };
    let project = c
        .project
        .as_deref()
        .unwrap_or(crate::Scope::DEFAULT_PROJECT);
    if project != address.scope.project() {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(s) = c.secrets.get(address.name.as_str()) {
        out.extend(s.on_rotate.iter().cloned());
    }
    if let Some(e) = c.env.get(address.scope.env()) {
        out.extend(e.on_rotate.iter().cloned());
    }
    out
}

/// Why a hook failed: a description without any value in it.
#[derive(Clone, Debug)]
pub struct HookFailure {
    pub hook: String,
    pub reason: String,
}

/// Run `hooks` in order; stop at the first that fails.
pub fn run(
    hooks: &[String],
    dir: Option<&Path>,
    address: &Address,
    old: &SecretValue,
    new: &SecretValue,
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
            .stdout(Stdio::from(stdout));
        for var in WITHHELD {
            cmd.env_remove(var);
        }
        if let Some(d) = dir {
            cmd.current_dir(d);
        }
        let status = match cmd.status() {
            Ok(s) => s,
            Err(e) => {
                return Ok(Err(HookFailure {
                    hook: hook.clone(),
                    reason: format!("could not start: {e}"),
                }))
            }
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
