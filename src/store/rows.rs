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
    /// HMAC over the whole row under the records key (format 4); `None` in a vault not yet upgraded.
    pub mac: Option<Vec<u8>>,
}

/// A secret's head: which version is its newest, and that version's nonce and tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadRow {
    pub secret_id: i64,
    pub version: u32,
    pub digest: Vec<u8>,
}

/// Number of head groups (buckets); a head's bucket is its secret id modulo this.
pub const HEAD_BUCKETS: i64 = 256;

/// The bucket of a secret's head.
pub fn bucket_of(secret_id: i64) -> i64 {
    secret_id.rem_euclid(HEAD_BUCKETS)
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

/// Remove a value from the `meta` table.
pub fn delete_meta(conn: &Connection, key: &str) -> Result<()> {
    q(
        "write the vault header",
        conn.execute("DELETE FROM meta WHERE key = ?1", [key]),
    )
    .map(|_| ())
}

/// Every key slot, by id.
pub fn slots(conn: &Connection) -> Result<Vec<SlotRow>> {
    let mut stmt = q(
        "read key slots",
        conn.prepare_cached(
            "SELECT id, kind, params, wrapped, created, mac FROM slots ORDER BY id",
        ),
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
                mac: r.get(5)?,
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
            "INSERT INTO slots (id, kind, params, wrapped, created, mac)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                slot.id,
                slot.kind,
                slot.params,
                slot.wrapped,
                slot.created,
                slot.mac
            ],
        ),
    )
    .map(|_| ())
}

/// Set a slot's MAC (the format-4 upgrade of an older vault).
pub fn set_slot_mac(conn: &Connection, id: u32, mac: &[u8]) -> Result<()> {
    q(
        "authenticate a key slot",
        conn.execute("UPDATE slots SET mac = ?2 WHERE id = ?1", params![id, mac]),
    )
    .map(|_| ())
}

/// A secret's head row.
pub fn head(conn: &Connection, secret_id: i64) -> Result<Option<HeadRow>> {
    let mut stmt = q(
        "read a secret's head",
        conn.prepare_cached(
            "SELECT version, digest FROM heads WHERE bucket = ?1 AND secret_id = ?2",
        ),
    )?;
    q(
        "read a secret's head",
        stmt.query_row(params![bucket_of(secret_id), secret_id], |r| {
            Ok(HeadRow {
                secret_id,
                version: r.get(0)?,
                digest: r.get(1)?,
            })
        })
        .optional(),
    )
}

/// Every head of one bucket with its secret's lookup tag (`None` when the secret row is gone).
pub fn bucket_heads(conn: &Connection, bucket: i64) -> Result<Vec<(HeadRow, Option<Vec<u8>>)>> {
    let mut stmt = q(
        "read the secrets' heads",
        conn.prepare_cached(
            "SELECT h.secret_id, h.version, h.digest, s.lookup
               FROM heads h LEFT JOIN secrets s ON s.id = h.secret_id
              WHERE h.bucket = ?1",
        ),
    )?;
    let rows = q(
        "read the secrets' heads",
        stmt.query_map([bucket], |r| {
            Ok((
                HeadRow {
                    secret_id: r.get(0)?,
                    version: r.get(1)?,
                    digest: r.get(2)?,
                },
                r.get(3)?,
            ))
        }),
    )?;
    q("read the secrets' heads", rows.collect())
}

/// Every head row (bucket as stored, head).
pub fn all_heads(conn: &Connection) -> Result<Vec<(i64, HeadRow)>> {
    let mut stmt = q(
        "read the secrets' heads",
        conn.prepare_cached("SELECT bucket, secret_id, version, digest FROM heads"),
    )?;
    let rows = q(
        "read the secrets' heads",
        stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                HeadRow {
                    secret_id: r.get(1)?,
                    version: r.get(2)?,
                    digest: r.get(3)?,
                },
            ))
        }),
    )?;
    q("read the secrets' heads", rows.collect())
}

/// Insert or replace a secret's head.
pub fn put_head(conn: &Connection, head: &HeadRow) -> Result<()> {
    let mut stmt = q(
        "write a secret's head",
        conn.prepare_cached(
            "INSERT INTO heads (bucket, secret_id, version, digest) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (bucket, secret_id) DO UPDATE
                SET version = excluded.version, digest = excluded.digest",
        ),
    )?;
    q(
        "write a secret's head",
        stmt.execute(params![
            bucket_of(head.secret_id),
            head.secret_id,
            head.version,
            head.digest
        ]),
    )
    .map(|_| ())
}

/// Every secret row.
pub fn all_secrets(conn: &Connection) -> Result<Vec<SecretRow>> {
    let mut stmt = q(
        "list secrets",
        conn.prepare_cached("SELECT id, lookup, name FROM secrets ORDER BY id"),
    )?;
    let rows = q(
        "list secrets",
        stmt.query_map([], |r| {
            Ok(SecretRow {
                id: r.get(0)?,
                lookup: r.get(1)?,
                sealed_name: r.get(2)?,
            })
        }),
    )?;
    q("list secrets", rows.collect())
}

/// Count the rows of a table (for the whole-vault check).
pub fn count(conn: &Connection, table: &str) -> Result<u64> {
    q(
        "count records",
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        }),
    )
    .map(|n| n as u64)
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
/// How many version rows belong to no secret (their secret's row was deleted): `keep verify`.
pub fn orphan_versions(conn: &Connection) -> Result<i64> {
    q(
        "check the vault's versions",
        conn.query_row(
            "SELECT COUNT(*) FROM versions WHERE secret_id NOT IN (SELECT id FROM secrets)",
            [],
            |r| r.get(0),
        ),
    )
}

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

/// Every secret with its head and the version the head names (`None` when that row is missing),
/// for listing. A secret with no head row is not listed here; the manifest's count catches it.
#[allow(clippy::type_complexity)]
pub fn all_latest(conn: &Connection) -> Result<Vec<(SecretRow, HeadRow, Option<Vec<u8>>)>> {
    let mut stmt = q(
        "list secrets",
        conn.prepare_cached(
            "SELECT s.id, s.lookup, s.name, h.version, h.digest, v.sealed
               FROM secrets s
               JOIN heads h ON h.bucket = s.id % 256 AND h.secret_id = s.id
               LEFT JOIN versions v ON v.secret_id = s.id AND v.version = h.version
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
                HeadRow {
                    secret_id: r.get(0)?,
                    version: r.get(3)?,
                    digest: r.get(4)?,
                },
                r.get(5)?,
            ))
        }),
    )?;
    q("list secrets", rows.collect())
}

/// Replace a secret's lookup tag and sealed name (`keep rekey`).
pub fn update_secret(conn: &Connection, id: i64, lookup: &[u8], sealed_name: &[u8]) -> Result<()> {
    q(
        "re-key a secret",
        conn.execute(
            "UPDATE secrets SET lookup = ?2, name = ?3 WHERE id = ?1",
            params![id, lookup, sealed_name],
        ),
    )
    .map(|_| ())
}

/// Replace one version's sealed blob (`keep rekey`).
pub fn update_version(
    conn: &Connection,
    secret_id: i64,
    version: u32,
    sealed: &[u8],
) -> Result<()> {
    let mut stmt = q(
        "re-key a secret version",
        conn.prepare_cached(
            "UPDATE versions SET sealed = ?3 WHERE secret_id = ?1 AND version = ?2",
        ),
    )?;
    q(
        "re-key a secret version",
        stmt.execute(params![secret_id, version, sealed]),
    )
    .map(|_| ())
}
