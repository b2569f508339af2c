//! How hard a commit is pushed to disk: the audit log relaxes it for a read's entry (src/audit/mod.rs
//! says why and SECURITY.md what it costs) and restores it after.

use rusqlite::config::DbConfig;

use super::Store;
use crate::error::{Error, Result};

/// SQLite's `synchronous` levels keep uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sync {
    /// Durable against a crash of the process, not against a power cut.
    Normal,
    /// Durable against a power cut (the vault's default).
    Full,
}

impl Store {
    /// Set `PRAGMA synchronous` for the following commits.
    pub fn set_synchronous(&mut self, level: Sync) -> Result<()> {
        let level = match level {
            Sync::Normal => "NORMAL",
            Sync::Full => "FULL",
        };
        self.conn
            .execute_batch(&format!("PRAGMA synchronous={level}"))
            .map_err(|e| Error::db("configure the vault", e))
    }

    /// Do not checkpoint the WAL when this connection closes (SQLite's automatic checkpoint still
    /// bounds it).
    pub fn skip_checkpoint_on_close(&mut self) -> Result<()> {
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map(|_| ())
            .map_err(|e| Error::db("configure the vault", e))
    }
}
