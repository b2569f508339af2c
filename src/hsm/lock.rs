//! An advisory lock that serialises HSM access between keep processes.
//!
//! SoftHSM2 keeps its token in plain files and corrupts or refuses them under parallel logins from
//! several processes (measured: 30% of 320 runs failed with 8 processes). One `flock` per user, taken
//! before the module is touched and released when the HSM work is done, makes that safe; the kernel
//! drops the lock if the process dies, so a crash never leaves it stuck.
//!
//! Another user must not be able to hold it for us. Without `XDG_RUNTIME_DIR` (already per-user and
//! 0700) the lock lives in a per-user folder `$TMPDIR/keep-UID`, created 0700 and refused unless it
//! is a real folder owned by us with no access for group or others; the file itself is opened with
//! `O_NOFOLLOW` and must be ours. Taking it polls a non-blocking `flock` for at most
//! `KEEP_PKCS11_LOCK_TIMEOUT` (default 10 s), then gives up with exit 8 naming the file and the pid
//! that holds it (the holder writes its pid into the file).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long to wait for another keep process when `KEEP_PKCS11_LOCK_TIMEOUT` does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Held while keep talks to the token; unlocked on drop.
pub struct HsmLock {
    file: File,
}

fn uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn refused(path: &Path, why: String) -> Error {
    Error::Io {
        context: format!("refusing the HSM lock {}", path.display()),
        source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, why),
    }
}

/// The per-user folder for the lock when there is no `XDG_RUNTIME_DIR`: created 0700 if missing,
/// and refused unless it is a real folder (not a link), ours, with no access for group or others.
fn private_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("keep-{}", uid()));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io("create the HSM lock folder", &dir, e)),
    }
    let meta = std::fs::symlink_metadata(&dir)
        .map_err(|e| Error::io("inspect the HSM lock folder", &dir, e))?;
    if !meta.file_type().is_dir() {
        return Err(refused(
            &dir,
            "it is not a folder (a link or file someone else may have planted); remove it".into(),
        ));
    }
    if meta.uid() != uid() {
        return Err(refused(
            &dir,
            format!(
                "the folder is owned by uid {}, not by you (uid {}); another user may be holding it \
                 to block your HSM; remove it or set XDG_RUNTIME_DIR",
                meta.uid(),
                uid()
            ),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(refused(
            &dir,
            format!(
                "the folder has mode {:04o}; it must be 0700 (chmod 700 it)",
                meta.mode() & 0o7777
            ),
        ));
    }
    Ok(dir)
}

/// Where the lock lives: `KEEP_PKCS11_LOCK`, else `$XDG_RUNTIME_DIR/keep-pkcs11.lock`, else
/// `pkcs11.lock` in the per-user folder `$TMPDIR/keep-UID` (checked, see [`private_dir`]).
pub fn lock_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("KEEP_PKCS11_LOCK").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(d).join("keep-pkcs11.lock"));
    }
    Ok(private_dir()?.join("pkcs11.lock"))
}

/// `KEEP_PKCS11_LOCK_TIMEOUT` (e.g. `2s`), else [`DEFAULT_TIMEOUT`].
fn timeout() -> Result<Duration> {
    match std::env::var("KEEP_PKCS11_LOCK_TIMEOUT") {
        Ok(t) if !t.is_empty() => crate::config::parse_duration("KEEP_PKCS11_LOCK_TIMEOUT", &t),
        _ => Ok(DEFAULT_TIMEOUT),
    }
}

impl HsmLock {
    /// Take the lock, waiting at most the timeout for another keep process to finish.
    pub fn acquire() -> Result<HsmLock> {
        let path = lock_path()?;
        let limit = timeout()?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::ELOOP) {
                    refused(&path, "it is a symbolic link; remove it".into())
                } else {
                    Error::io("open the HSM lock file", &path, e)
                }
            })?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io("inspect the HSM lock file", &path, e))?;
        if !meta.file_type().is_file() || meta.uid() != uid() {
            return Err(refused(
                &path,
                format!(
                    "it is owned by uid {} (you are uid {}) or is not a regular file; another user \
                     could hold it to block your HSM; remove it",
                    meta.uid(),
                    uid()
                ),
            ));
        }
        let deadline = Instant::now() + limit;
        loop {
            // SAFETY: the descriptor is valid for the life of `file`.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                // Say who holds it, for the message of a process that times out waiting.
                let _ = file.set_len(0);
                let _ = file.rewind();
                let _ = writeln!(file, "{}", std::process::id());
                return Ok(HsmLock { file });
            }
            let err = std::io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EWOULDBLOCK) | Some(libc::EINTR) => {}
                _ => return Err(Error::io("lock", &path, err)),
            }
            if Instant::now() >= deadline {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder
                    .trim()
                    .parse::<u32>()
                    .map(|pid| format!("pid {pid}"))
                    .unwrap_or_else(|_| "an unknown process".into());
                return Err(Error::Io {
                    context: format!(
                        "the HSM lock {} is held by {holder} and was not released within {}",
                        path.display(),
                        humantime::format_duration(limit)
                    ),
                    source: std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "another keep process is using the HSM; retry when it is done, or raise \
                         KEEP_PKCS11_LOCK_TIMEOUT",
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for HsmLock {
    fn drop(&mut self) {
        // SAFETY: as above; closing the file would release it too.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}
