//! Who and what is acting, for audit entries: the OS user, the host, the process id and the command.
//!
//! The command name is set once by the CLI (`keep get`, `keep slot add passphrase`): never its
//! arguments, which hold secret names the log must keep sealed. Library users who never set it are
//! logged as `library`. The CLI also switches off the automatic unlock entry for `keep audit ...`
//! itself, so that reading or verifying a damaged log is not blocked by the append it would refuse.

use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static COMMAND: OnceLock<String> = OnceLock::new();
static AUTO_LOG: AtomicBool = AtomicBool::new(true);
static USER: OnceLock<String> = OnceLock::new();
static HOST: OnceLock<String> = OnceLock::new();

/// Name the command this process runs (subcommand names only, never arguments). First call wins.
pub fn set_command(name: &str) {
    let _ = COMMAND.set(name.to_string());
}

/// The command this process runs, or `library` when no CLI set one.
pub fn command() -> &'static str {
    COMMAND.get().map(String::as_str).unwrap_or("library")
}

/// Stop `Vault::open` from folding failed unlocks and logging the unlock (for `keep audit ...`).
pub fn disable_auto_log() {
    AUTO_LOG.store(false, Ordering::Relaxed);
}

/// Whether `Vault::open` logs the unlock and folds failed unlocks.
pub fn auto_log() -> bool {
    AUTO_LOG.load(Ordering::Relaxed)
}

/// The OS user name of this process (from the password database, not from `$USER`, which any
/// process can set), or `uid N` when it has no entry.
pub fn os_user() -> &'static str {
    USER.get_or_init(|| {
        // SAFETY: getuid cannot fail. getpwuid_r writes only into `pwd` and `buf`, both alive and
        // sized as passed; `result` is either null or points at `pwd`, whose strings live in `buf`.
        unsafe {
            let uid = libc::getuid();
            let mut pwd: libc::passwd = std::mem::zeroed();
            let mut buf = vec![0 as libc::c_char; 4096];
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
            if rc == 0 && !result.is_null() && !pwd.pw_name.is_null() {
                CStr::from_ptr(pwd.pw_name).to_string_lossy().into_owned()
            } else {
                format!("uid {uid}")
            }
        }
    })
}

/// The host name.
pub fn host() -> &'static str {
    HOST.get_or_init(|| {
        let mut buf = [0 as libc::c_char; 256];
        // SAFETY: gethostname writes at most `buf.len()` bytes into the live buffer.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr(), buf.len()) };
        if rc != 0 {
            return "unknown".into();
        }
        buf[255] = 0;
        // SAFETY: the buffer is NUL-terminated (forced above).
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_and_host_are_known() {
        assert!(!super::os_user().is_empty());
        assert!(!super::host().is_empty());
    }
}
