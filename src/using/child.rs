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

/// Make the child get SIGTERM when keep dies, even by SIGKILL (`PR_SET_PDEATHSIG`), so a watched
/// command never outlives the watcher that would restart it. The kernel sends it when the *thread*
/// that spawned the child ends: watchers spawn from their main thread, which lives as long as keep.
/// A parent that died before the call is caught by comparing `getppid` with keep's pid.
pub fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: prctl, getppid and kill are async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::kill(libc::getpid(), libc::SIGTERM);
            }
            Ok(())
        });
    }
}

/// A running child, signalled through a pidfd where the kernel has them (Linux 5.3+): a pidfd names
/// this process and no other, so a signal sent after it exited and its pid was reused cannot reach
/// a stranger. Without one, `kill` on the pid.
#[derive(Debug)]
pub struct Running {
    pub pid: i32,
    pidfd: Option<std::os::fd::OwnedFd>,
}

impl Running {
    /// Take hold of the child `pid` (call before anything can reap it).
    pub fn new(pid: i32) -> Running {
        use std::os::fd::FromRawFd;
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        Running {
            pid,
            // SAFETY: a non-negative result is a descriptor that nothing else owns.
            pidfd: (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) }),
        }
    }

    /// Send `signal`; `false` when the child is gone already.
    pub fn signal(&self, signal: i32) -> bool {
        use std::os::fd::AsRawFd;
        // SAFETY: plain system calls on integers; the null siginfo asks for a kill()-like signal.
        let rc = unsafe {
            match &self.pidfd {
                Some(fd) => libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    signal,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                ) as i32,
                None => libc::kill(self.pid, signal),
            }
        };
        rc == 0
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
