//! Who is acting, for audit entries: the OS user, the host and the process id. The command is the
//! vault's, given when it is opened (`Opener::command`, the subcommand path for the CLI, never its
//! arguments, which hold secret names the log must keep sealed; [`LIBRARY`] for an application).
//! User and host are the process's own facts, read once.

use std::ffi::CStr;
use std::sync::OnceLock;

/// The command of an application that never named one.
pub const LIBRARY: &str = "library";

static USER: OnceLock<String> = OnceLock::new();
static HOST: OnceLock<String> = OnceLock::new();

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
