//! The `sync_state` table: per (target, name) lookup key, the remote version and the keyed value hash
//! of the last sync. The keys and hashes are HMACs computed by `src/sync/state.rs`; here they are bytes.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Result};

/// One row as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncStateRow {
    pub target_key: Vec<u8>,
    pub name_key: Vec<u8>,
    pub version: Option<String>,
    pub hash: Vec<u8>,
}

/// The (version, hash) recorded under one (target key, name key), if any.
pub fn get(
    conn: &Connection,
    target_key: &[u8],
    name_key: &[u8],
) -> Result<Option<(Option<String>, Vec<u8>)>> {
    conn.prepare_cached(
        "SELECT version, hash FROM sync_state WHERE target_key = ?1 AND name_key = ?2",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![target_key, name_key], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
    })
    .map_err(|e| Error::db("read the sync state", e))
}

/// Insert or replace one row.
pub fn put(conn: &Connection, row: &SyncStateRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sync_state (target_key, name_key, version, hash) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (target_key, name_key) DO UPDATE SET version = excluded.version, hash = excluded.hash",
    )
    .and_then(|mut s| s.execute(params![row.target_key, row.name_key, row.version, row.hash]))
    .map(|_| ())
    .map_err(|e| Error::db("record the sync state", e))
}

/// Delete one row.
pub fn delete(conn: &Connection, target_key: &[u8], name_key: &[u8]) -> Result<()> {
    conn.prepare_cached("DELETE FROM sync_state WHERE target_key = ?1 AND name_key = ?2")
        .and_then(|mut s| s.execute(params![target_key, name_key]))
        .map(|_| ())
        .map_err(|e| Error::db("record the sync state", e))
}

/// Every row (`keep rekey`).
pub fn all(conn: &Connection) -> Result<Vec<SyncStateRow>> {
    let mut stmt = conn
        .prepare("SELECT target_key, name_key, version, hash FROM sync_state")
        .map_err(|e| Error::db("re-key the sync state", e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(SyncStateRow {
                target_key: r.get(0)?,
                name_key: r.get(1)?,
                version: r.get(2)?,
                hash: r.get(3)?,
            })
        })
        .map_err(|e| Error::db("re-key the sync state", e))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(|e| Error::db("re-key the sync state", e))
}

/// Delete every row (`keep rekey`, before writing the recognised ones back).
pub fn clear(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM sync_state", [])
        .map(|_| ())
        .map_err(|e| Error::db("re-key the sync state", e))
}
