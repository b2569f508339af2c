//! What a process keep starts — an `exec` command, an `on_rotate` hook — may inherit from keep, and
//! what it never does: keep's credential variables and keep's session keyring.
//!
//! A child gets the secret values it is given. It does not get the key to the whole vault: a recovery
//! code, passphrase, PIN or age identity in keep's environment would open every scope, and so would
//! the master key that `keep unlock` cached in the kernel session keyring. So every child
//!
//! - loses the credential variables, by *prefix* ([`CREDENTIAL_PREFIXES`]), so a credential variable
//!   added later (a new `_FILE` or `_CMD` form) cannot be forgotten here;
//! - starts in a fresh, empty session keyring (`KEYCTL_JOIN_SESSION_KEYRING` between fork and exec),
//!   so neither `keep` run by the child nor `keyctl` can reach the cached key. Only `keep exec
//!   --inherit-session` skips this, for scripts that really run keep themselves — which hands them
//!   the whole vault for the rest of the session.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Names that start with one of these carry (or point to) keep's own credentials and never reach a
/// child: `KEEP_PASSPHRASE`, `KEEP_PASSPHRASE_FILE`, `KEEP_NEW_PASSPHRASE*`, `KEEP_RECOVERY_KEY`,
/// `KEEP_RECOVERY_KEY_FILE`, `KEEP_PKCS11_PIN*`, `KEEP_AGE_IDENTITY*`, and any later variant.
pub const CREDENTIAL_PREFIXES: [&str; 5] = [
    "KEEP_PASSPHRASE",
    "KEEP_NEW_PASSPHRASE",
    "KEEP_RECOVERY_KEY",
    "KEEP_PKCS11_PIN",
    "KEEP_AGE_IDENTITY",
];

/// Whether `name` is one of keep's credential variables.
pub fn is_credential(name: &OsStr) -> bool {
    CREDENTIAL_PREFIXES
        .iter()
        .any(|p| name.as_bytes().starts_with(p.as_bytes()))
}

/// The credential variables present in keep's environment (names only).
pub fn credentials_in_env() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| is_credential(k))
        .collect()
}

/// Whether the child shares keep's session keyring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Session {
    /// A fresh, empty session keyring (the default for every child).
    Fresh,
    /// keep's own session keyring: the child can use (and read) the cached master key.
    Inherit,
}

/// `KEYCTL_JOIN_SESSION_KEYRING` from `<linux/keyctl.h>`.
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;

/// Make `cmd` start isolated: no credential variables and, unless `session` is
/// [`Session::Inherit`], a fresh session keyring. If the keyring cannot be replaced the child is not
/// started (the spawn or exec fails with the kernel's error), rather than started with keep's key.
pub fn isolate(cmd: &mut Command, session: Session) {
    for name in credentials_in_env() {
        cmd.env_remove(name);
    }
    if session == Session::Fresh {
        // SAFETY: the closure runs between fork and exec and only makes one raw system call, which
        // is async-signal-safe; it allocates nothing and takes no lock.
        unsafe {
            cmd.pre_exec(|| {
                // A NULL name asks for a new anonymous session keyring.
                let r = libc::syscall(
                    libc::SYS_keyctl,
                    KEYCTL_JOIN_SESSION_KEYRING,
                    std::ptr::null::<libc::c_char>(),
                );
                if r < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names_are_matched_by_prefix() {
        for name in [
            "KEEP_PASSPHRASE",
            "KEEP_PASSPHRASE_FILE",
            "KEEP_NEW_PASSPHRASE_FILE",
            "KEEP_RECOVERY_KEY",
            "KEEP_RECOVERY_KEY_FILE",
            "KEEP_PKCS11_PIN_FILE",
            "KEEP_AGE_IDENTITY",
            "KEEP_AGE_IDENTITY_CMD",
        ] {
            assert!(is_credential(OsStr::new(name)), "{name}");
        }
        for name in ["KEEP_VAULT", "KEEP_OLD", "PASSPHRASE", "MY_KEEP_PASSPHRASE"] {
            assert!(!is_credential(OsStr::new(name)), "{name}");
        }
    }
}
