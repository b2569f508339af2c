//! One error type for the whole library, and the mapping from each kind of failure to the exit codes
//! documented in the command-line contract (`../shared/spec/cli.md`, restated in README.md).
//!
//! Every message says what happened and what to do next. Messages are built from names, paths and
//! counts only: no constructor here takes a secret value, so a value cannot end up in an error by accident.

use std::path::Path;

/// The result type used across keep.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, grouped by what the user should do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A library step that has to stop with findings rather than a failure (exit 1): a rotation's
    /// linked push that met remote changes. Commands that report findings return
    /// `cli::exit::Exit::Findings` instead.
    #[error("{0}")]
    Findings(String),
    /// A bad flag, name, spec or config file (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A secret, version, slot, target, HSM key or token that does not exist (exit 3).
    #[error("{0}")]
    NotFound(String),
    /// Wrong passphrase, wrong PIN, or no slot opens (exit 4).
    #[error("{0}")]
    Auth(String),
    /// A ciphertext or record failed authentication, or the database is not a (sound) keep vault (exit 5).
    #[error("{0}")]
    Integrity(String),
    /// The key is needed and there is no non-interactive way to get it (exit 6).
    #[error("{0}")]
    Locked(String),
    /// A sync provider is unreachable, denied the request, or kept throttling (exit 7).
    #[error("{0}")]
    Remote(String),
    /// The operating system refused: permissions, a full disk, a read-only file system (exit 8).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed for a reason that is not corruption, e.g. the vault stayed locked by another
    /// writer past the busy timeout (exit 8).
    #[error("{context}: {source}")]
    Database {
        context: String,
        #[source]
        source: rusqlite::Error,
    },
}

/// Exit codes of the command-line contract, plus keep's own additions (see README.md).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FINDINGS: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const NOT_FOUND: i32 = 3;
    pub const AUTH: i32 = 4;
    pub const INTEGRITY: i32 = 5;
    pub const LOCKED: i32 = 6;
    pub const REMOTE: i32 = 7;
    /// keep's addition: the operating system or SQLite refused (permission, disk full, busy).
    pub const SYSTEM: i32 = 8;
    /// `exec`: the command was found but could not be run (shell convention).
    pub const CANNOT_EXECUTE: i32 = 126;
    /// `exec`: the command was not found (shell convention).
    pub const COMMAND_NOT_FOUND: i32 = 127;
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Findings(_) => exit::FINDINGS,
            Error::Usage(_) => exit::USAGE,
            Error::NotFound(_) => exit::NOT_FOUND,
            Error::Auth(_) => exit::AUTH,
            Error::Integrity(_) => exit::INTEGRITY,
            Error::Locked(_) => exit::LOCKED,
            Error::Remote(_) => exit::REMOTE,
            Error::Io { .. } | Error::Database { .. } => exit::SYSTEM,
        }
    }

    /// A short machine-readable name for the kind, used in `--json` error documents.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Findings(_) => "findings",
            Error::Usage(_) => "usage",
            Error::NotFound(_) => "not_found",
            Error::Auth(_) => "auth",
            Error::Integrity(_) => "integrity",
            Error::Locked(_) => "locked",
            Error::Remote(_) => "remote",
            Error::Io { .. } => "io",
            Error::Database { .. } => "database",
        }
    }

    /// An I/O error with the path it concerns and what keep was doing.
    pub fn io(action: &str, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            context: format!("cannot {action} {}", path.display()),
            source,
        }
    }

    /// Wrap a SQLite error, classifying corruption as an integrity failure.
    pub fn db(context: impl Into<String>, source: rusqlite::Error) -> Error {
        use rusqlite::ErrorCode::*;
        let context = context.into();
        match source.sqlite_error_code() {
            Some(DatabaseCorrupt) | Some(NotADatabase) => Error::Integrity(format!(
                "{context}: the vault database is corrupt or not a keep vault ({source}); \
                 restore it from a backup"
            )),
            Some(ReadOnly) => Error::Io {
                context: format!(
                    "{context}: the vault became read-only (its file, folder or file system); \
                     nothing was written. Restore write access, then retry"
                ),
                source: std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    source.to_string(),
                ),
            },
            // What SQLite reports when write(2) fails with anything but ENOSPC: EFBIG past the
            // file-size limit (`ulimit -f`), EIO from a failing device, EDQUOT... SQLite has rolled
            // the transaction back, so nothing was written.
            Some(SystemIoFailure) => Error::Io {
                context: format!(
                    "{context}: the vault file could not be written or read (a full disk, the \
                     file-size limit `ulimit -f`, a quota or a failing device); nothing was \
                     changed. Free space or raise the limit, then retry"
                ),
                source: std::io::Error::other(source.to_string()),
            },
            Some(DiskFull) => Error::Io {
                context: format!(
                    "{context}: the disk is full; nothing was written. Free some space, then retry"
                ),
                source: std::io::Error::new(std::io::ErrorKind::StorageFull, source.to_string()),
            },
            _ => Error::Database { context, source },
        }
    }
}
