//! The SQLite file: creating it with safe modes, recognising it as a keep vault, migrating its schema,
//! and running every command's writes in one immediate transaction.
//!
//! This layer stores and returns opaque bytes. It knows nothing of keys; `vault` seals and opens what
//! passes through here.

mod access;
pub mod audit;
mod durability;
mod housekeeping;
pub mod rotation;
mod rows;
mod schema;
#[cfg(test)]
pub mod scratch;
mod snapshot;
pub mod sync_state;
pub mod watched;

pub use durability::Sync;
/// The connection and transaction handles other modules pass back to this one; they run no SQL of
/// their own.
pub use rusqlite::{Connection, Transaction};

pub use housekeeping::purge_secret;
pub use rows::*;
pub use schema::{APPLICATION_ID, FORMAT_VERSION};
pub use snapshot::{snapshot, Snapshot};

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{OpenFlags, TransactionBehavior};

use crate::error::{Error, Result};

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A commit that leaves the WAL longer than this many pages (4 KiB each: 512 KiB) checkpoints it into
/// the main file (SQLite's default is 1,000 pages). keep processes never close their connection
/// cleanly (they exit or `exec`), so this is the checkpoint that runs.
const WAL_CHECKPOINT_PAGES: u32 = 128;

/// After a checkpoint resets the WAL, SQLite truncates the file to this size (1 MiB), so a burst of
/// writes does not leave a large file behind for every later open to map.
const WAL_LIMIT_BYTES: u64 = 1024 * 1024;

/// A commit that leaves the WAL file larger than this (256 KiB, 64 pages) checkpoints it and truncates
/// it to zero bytes.
///
/// The commit-time checkpoint above is not enough on its own. Each keep process is the vault's only
/// connection, so SQLite rebuilds the WAL index from the WAL file at every open (it reads every frame
/// since the last reset) and forgets on the way that those frames were already copied into the main
/// file. SQLite resets a WAL only when a later write in the same connection finds it fully
/// checkpointed. A command that writes once (every read writes one audit entry) never gets there, so
/// the WAL grew by every read's pages forever, and every open re-read all of it (about 9 KB and 4
/// system calls more per `get`: issue 17's drift).
const WAL_TRUNCATE_BYTES: u64 = 256 * 1024;

/// SQLite's page cache, in KiB (its default is 2 MiB). The cache fills only as pages are read, so a
/// `get` costs no more. A large import inserts under random blind-index keys all over the B-trees,
/// and with the default cache every insert re-read pages it had just evicted.
const CACHE_KIB: u32 = 64 * 1024;

/// How long the truncating checkpoint waits for other processes' readers before leaving the work to
/// a later commit. Short on purpose: a `get` must never wait seconds for another process.
const TRUNCATE_WAIT: Duration = Duration::from_millis(50);

/// The WAL file SQLite keeps beside the vault file `path`.
fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push("-wal");
    PathBuf::from(name)
}

/// An open vault database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Create a new, empty vault file at `path`.
    ///
    /// The folder is created 0700 and the file 0600 at creation time; SQLite gives its `-wal` and
    /// `-shm` files the database file's mode. An existing file is never overwritten.
    pub fn create(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| Error::io("create the vault folder", dir, e))?;
            }
        }
        OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::Usage(format!(
                    "{} already exists; keep never overwrites a vault (choose another path with --vault)",
                    path.display()
                ))
            } else {
                Error::io("create the vault file", path, e)
            }
        })?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::db("open the new vault", e))?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.configure()?;
        schema::create(&mut store.conn)?;
        Ok(store)
    }

    /// Open an existing vault, refusing (and leaving untouched) anything that is not one.
    pub fn open(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(Error::NotFound(format!(
                "no vault at {}; create one with `keep init`, or point --vault / KEEP_VAULT at yours",
                path.display()
            )));
        }
        access::check_writable(path)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Error::db(format!("open {}", path.display()), e))?;
        // Identify the file before changing anything: setting WAL mode would rewrite a foreign database.
        schema::identify(&conn, path)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.configure()?;
        schema::migrate(&mut store.conn, path)?;
        Ok(store)
    }

    fn configure(&mut self) -> Result<()> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| Error::db("configure the vault", e))?;
        // WAL lets readers run beside a writer; FULL sync makes a committed write survive power loss,
        // not only a killed process. keep exits (or `exec`s its child) without closing the connection,
        // so the close-time checkpoint never runs and every read's audit entry stays in the WAL: the
        // commit-time checkpoint every WAL_CHECKPOINT_PAGES and the size limit keep the file bounded.
        self.conn
            .execute_batch(&format!(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; \
                 PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}; \
                 PRAGMA journal_size_limit={WAL_LIMIT_BYTES}; \
                 PRAGMA cache_size=-{CACHE_KIB};"
            ))
            .map_err(|e| Error::db(format!("configure {}", self.path.display()), e))
    }

    /// The vault file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for reads by the modules of this crate (never part of the library's API).
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Run `f` inside one `BEGIN IMMEDIATE` transaction and commit it, or roll everything back on error.
    ///
    /// IMMEDIATE takes the write lock up front, so two processes that both read-then-write (say, to pick
    /// the next version number) serialise instead of one failing or overwriting the other.
    pub fn write<T>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| Error::db("begin a write to the vault", e))?;
        let out = f(&tx)?;
        tx.commit()
            .map_err(|e| Error::db("commit to the vault", e))?;
        self.bound_wal();
        Ok(out)
    }

    /// After a commit, checkpoint the WAL into the main file and truncate it when it has grown past
    /// [`WAL_TRUNCATE_BYTES`] (see there for why SQLite's own checkpoint does not suffice).
    ///
    /// The commit is already done, so this changes no data and cannot lose any: a checkpoint copies
    /// committed pages into the main file and fsyncs it before the WAL is cut (in WAL mode SQLite
    /// does so at both `synchronous` levels keep uses, FULL and a read entry's NORMAL). It is best effort. If another process is reading or writing, the checkpoint gives up
    /// after [`TRUNCATE_WAIT`] and a later commit does the work; an error here is not the command's
    /// error.
    fn bound_wal(&mut self) {
        let wal = wal_path(&self.path);
        let Ok(meta) = std::fs::symlink_metadata(&wal) else {
            return;
        };
        if meta.len() <= WAL_TRUNCATE_BYTES {
            return;
        }
        if self.conn.busy_timeout(TRUNCATE_WAIT).is_err() {
            return;
        }
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        let _ = self.conn.busy_timeout(BUSY_TIMEOUT);
    }

    /// Run `f` inside one read transaction, so that several queries see one consistent snapshot.
    pub fn read<T>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| Error::db("begin a read of the vault", e))?;
        let out = f(&tx)?;
        tx.finish()
            .map_err(|e| Error::db("finish a read of the vault", e))?;
        Ok(out)
    }
}
