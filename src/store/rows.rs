//! Typed access to the rows of each table. Values here are opaque sealed bytes.

use rusqlite::{params, Connection, OptionalExtension};

use super::Store;
use crate::error::{Error, Result};

/// A key slot as stored: its public parameters and the wrapped master key.
#[derive(Clone, Debug)]
pub struct SlotRow {
    pub id: u32,
    pub kind: String,
    /// Public, kind-specific parameters (JSON): KDF settings, token and key labels, recipients.
    pub params: String,
    pub wrapped: Vec<u8>,
    /// Unix seconds.
    pub created: i64,
}

/// A secret's identity: its blind-index tag and sealed address.
#[derive(Clone, Debug)]
pub struct SecretRow {
    pub id: i64,
    pub lookup: Vec<u8>,
    pub sealed_name: Vec<u8>,
}

/// One sealed version of a secret.
#[derive(Clone, Debug)]
pub struct VersionRow {
    pub version: u32,
    pub sealed: Vec<u8>,
}

fn q<T>(what: &str, r: rusqlite::Result<T>) -> Result<T> {
    r.map_err(|e| Error::db(what.to_string(), e))
}

impl Store {
    /// A value from the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        meta(&self.conn, key)
    }
}

/// A value from the `meta` table.
pub fn meta(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>> {
    q(
        "read the vault header",
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional(),
    )
}

/// Set a value in the `meta` table.
pub fn set_meta(conn: &Connection, key: &str, value: &[u8]) -> Result<()> {
    q(
        "write the vault header",
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        ),
    )
    .map(|_| ())
}

/// Every key slot, by id.
pub fn slots(conn: &Connection) -> Result<Vec<SlotRow>> {
    let mut stmt = q(
        "read key slots",
        conn.prepare_cached("SELECT id, kind, params, wrapped, created FROM slots ORDER BY id"),
    )?;
    let rows = q(
        "read key slots",
        stmt.query_map([], |r| {
            Ok(SlotRow {
                id: r.get(0)?,
                kind: r.get(1)?,
                params: r.get(2)?,
                wrapped: r.get(3)?,
                created: r.get(4)?,
            })
        }),
    )?;
    q("read key slots", rows.collect())
}

/// The id the next slot will get: one more than the highest, so ids are never reused while a slot
/// with a higher id exists.
pub fn next_slot_id(conn: &Connection) -> Result<u32> {
    q(
        "read key slots",
        conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM slots", [], |r| {
            r.get(0)
        }),
    )
}

pub fn insert_slot(conn: &Connection, slot: &SlotRow) -> Result<()> {
    q(
        "add a key slot",
        conn.execute(
            "INSERT INTO slots (id, kind, params, wrapped, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![slot.id, slot.kind, slot.params, slot.wrapped, slot.created],
        ),
    )
    .map(|_| ())
}

/// Remove a slot; `false` when there was none with that id.
pub fn delete_slot(conn: &Connection, id: u32) -> Result<bool> {
    q(
        "remove a key slot",
        conn.execute("DELETE FROM slots WHERE id = ?1", [id]),
    )
    .map(|n| n == 1)
}

/// The secret with this blind-index tag.
pub fn find_secret(conn: &Connection, lookup: &[u8]) -> Result<Option<SecretRow>> {
    let mut stmt = q(
        "look up a secret",
        conn.prepare_cached("SELECT id, lookup, name FROM secrets WHERE lookup = ?1"),
    )?;
    q(
        "look up a secret",
        stmt.query_row([lookup], |r| {
            Ok(SecretRow {
                id: r.get(0)?,
                lookup: r.get(1)?,
                sealed_name: r.get(2)?,
            })
        })
        .optional(),
    )
}

/// Add a secret's identity row and return its id.
pub fn insert_secret(conn: &Connection, lookup: &[u8], sealed_name: &[u8]) -> Result<i64> {
    let mut stmt = q(
        "add a secret",
        conn.prepare_cached("INSERT INTO secrets (lookup, name) VALUES (?1, ?2)"),
    )?;
    q("add a secret", stmt.insert(params![lookup, sealed_name]))
}

/// The newest version of a secret.
pub fn latest_version(conn: &Connection, secret_id: i64) -> Result<Option<VersionRow>> {
    let mut stmt = q(
        "read a secret",
        conn.prepare_cached(
            "SELECT version, sealed FROM versions WHERE secret_id = ?1 ORDER BY version DESC LIMIT 1",
        ),
    )?;
    q(
        "read a secret",
        stmt.query_row([secret_id], |r| {
            Ok(VersionRow {
                version: r.get(0)?,
                sealed: r.get(1)?,
            })
        })
        .optional(),
    )
}

/// One given version of a secret.
pub fn version(conn: &Connection, secret_id: i64, version: u32) -> Result<Option<VersionRow>> {
    let mut stmt = q(
        "read a secret version",
        conn.prepare_cached(
            "SELECT version, sealed FROM versions WHERE secret_id = ?1 AND version = ?2",
        ),
    )?;
    q(
        "read a secret version",
        stmt.query_row(params![secret_id, version], |r| {
            Ok(VersionRow {
                version: r.get(0)?,
                sealed: r.get(1)?,
            })
        })
        .optional(),
    )
}

/// Every version of a secret, oldest first.
pub fn versions(conn: &Connection, secret_id: i64) -> Result<Vec<VersionRow>> {
    let mut stmt = q(
        "read a secret's history",
        conn.prepare_cached(
            "SELECT version, sealed FROM versions WHERE secret_id = ?1 ORDER BY version",
        ),
    )?;
    let rows = q(
        "read a secret's history",
        stmt.query_map([secret_id], |r| {
            Ok(VersionRow {
                version: r.get(0)?,
                sealed: r.get(1)?,
            })
        }),
    )?;
    q("read a secret's history", rows.collect())
}

/// Append a version.
pub fn insert_version(
    conn: &Connection,
    secret_id: i64,
    version: u32,
    sealed: &[u8],
) -> Result<()> {
    let mut stmt = q(
        "write a secret",
        conn.prepare_cached(
            "INSERT INTO versions (secret_id, version, sealed) VALUES (?1, ?2, ?3)",
        ),
    )?;
    q(
        "write a secret",
        stmt.execute(params![secret_id, version, sealed]),
    )
    .map(|_| ())
}

/// Every secret with its newest version, for listing.
pub fn all_latest(conn: &Connection) -> Result<Vec<(SecretRow, VersionRow)>> {
    let mut stmt = q(
        "list secrets",
        conn.prepare_cached(
            "SELECT s.id, s.lookup, s.name, v.version, v.sealed
               FROM secrets s
               JOIN versions v ON v.secret_id = s.id
              WHERE v.version = (SELECT MAX(version) FROM versions WHERE secret_id = s.id)
              ORDER BY s.id",
        ),
    )?;
    let rows = q(
        "list secrets",
        stmt.query_map([], |r| {
            Ok((
                SecretRow {
                    id: r.get(0)?,
                    lookup: r.get(1)?,
                    sealed_name: r.get(2)?,
                },
                VersionRow {
                    version: r.get(3)?,
                    sealed: r.get(4)?,
                },
            ))
        }),
    )?;
    q("list secrets", rows.collect())
}
