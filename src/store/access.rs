//! Refusing a vault keep cannot write to, up front and by name.
//!
//! Every command that opens the vault appends to its audit log (a `get` included: the log exists to
//! record reads), so a read-only vault cannot serve any command honestly. Left to itself SQLite opens
//! such a file read-only without a word and fails later with "attempt to write a readonly database",
//! after the unlock, naming neither the file nor the folder. Checking first turns that into one clear
//! message that says which path is the problem and what to do (tests/it/faults_readonly.rs).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `access(path, W_OK)`: whether this process may write `path` (modes, ACLs, `chattr +i`, a
/// read-only mount all count; root passes mode checks but not the other three).
fn writable(path: &Path) -> std::io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// SQLite's companion file `path` + `suffix` (`-wal`, `-shm`).
fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Check that the vault file is writable, and that SQLite can create or write its `-wal` and `-shm`
/// files next to it (the folder is writable, or both already exist and are writable).
pub fn check_writable(path: &Path) -> Result<()> {
    let refuse = |what: &Path, e: std::io::Error| Error::Io {
        context: format!(
            "cannot write to {}: keep records every command, reads included, in the vault's audit \
             log, so it needs write access to the vault file {} and its folder (SQLite keeps its \
             -wal and -shm files there). Fix the owner or mode (`ls -l`), remove an immutable \
             attribute (`lsattr`, `chattr -i`) or remount read-write; to read a copy, copy the \
             vault somewhere writable and point --vault at it. Nothing was changed",
            what.display(),
            path.display()
        ),
        source: e,
    };
    writable(path).map_err(|e| refuse(path, e))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Err(e) = writable(dir) {
        for suffix in ["-wal", "-shm"] {
            let f = companion(path, suffix);
            if writable(&f).is_err() {
                return Err(refuse(dir, e));
            }
        }
    }
    Ok(())
}
