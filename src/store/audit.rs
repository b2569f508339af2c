//! The audit tables as rows of opaque bytes: the MAC'd chain (`audit`) and the failed unlocks waiting
//! to be folded into it (`audit_unauthenticated`). The chain's MACs, its head and the folding rules
//! live in `src/audit/`; this file only reads and writes the rows.

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Result};

fn q<T>(what: &str, r: rusqlite::Result<T>) -> Result<T> {
    r.map_err(|e| Error::db(what.to_string(), e))
}

/// One chain row as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: u64,
    pub body: Vec<u8>,
    pub mac: Vec<u8>,
}

/// A column's bytes whatever type an editor stored there, so a tampered row is reported as failing
/// authentication instead of stopping verification with a type error.
fn any_bytes(v: ValueRef<'_>) -> Vec<u8> {
    match v {
        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
        ValueRef::Integer(i) => i.to_string().into_bytes(),
        ValueRef::Real(f) => f.to_string().into_bytes(),
        ValueRef::Null => Vec::new(),
    }
}

/// Whether the chain has any row.
pub fn any(conn: &Connection) -> Result<bool> {
    q(
        "read the audit log",
        conn.query_row("SELECT EXISTS (SELECT 1 FROM audit)", [], |r| r.get(0)),
    )
}

/// Whether the chain has a row after `seq` (a head older than its rows).
pub fn any_after(conn: &Connection, seq: u64) -> Result<bool> {
    q(
        "read the audit log",
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM audit WHERE seq > ?1)",
            [seq as i64],
            |r| r.get(0),
        ),
    )
}

/// Add one chain row.
pub fn insert(conn: &Connection, seq: u64, body: &[u8], mac: &[u8]) -> Result<()> {
    let mut stmt = q(
        "append to the audit log",
        conn.prepare_cached("INSERT INTO audit (seq, body, mac) VALUES (?1, ?2, ?3)"),
    )?;
    q(
        "append to the audit log",
        stmt.execute(params![seq as i64, body, mac]),
    )
    .map(|_| ())
}

/// Replace the body and MAC of row `seq` (`keep rekey`).
pub fn update(conn: &Connection, seq: u64, body: &[u8], mac: &[u8]) -> Result<()> {
    let mut stmt = q(
        "re-key the audit log",
        conn.prepare_cached("UPDATE audit SET body = ?2, mac = ?3 WHERE seq = ?1"),
    )?;
    q(
        "re-key the audit log",
        stmt.execute(params![seq as i64, body, mac]),
    )
    .map(|_| ())
}

/// Delete the rows `seq <= last` (audit compaction); returns how many went.
pub fn delete_through(conn: &Connection, last: u64) -> Result<u64> {
    q(
        "compact the audit log",
        conn.execute("DELETE FROM audit WHERE seq <= ?1", [last as i64]),
    )
    .map(|n| n as u64)
}

/// The stored body of row `seq`, if there is one.
pub fn body_at(conn: &Connection, seq: u64) -> Result<Option<Vec<u8>>> {
    q(
        "read the audit log",
        conn.query_row("SELECT body FROM audit WHERE seq = ?1", [seq as i64], |r| {
            Ok(any_bytes(r.get_ref(0)?))
        })
        .optional(),
    )
}

/// The body of the last row, if the log has one.
pub fn last_body(conn: &Connection) -> Result<Option<Vec<u8>>> {
    q(
        "read the audit log",
        conn.query_row(
            "SELECT body FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok(any_bytes(r.get_ref(0)?)),
        )
        .optional(),
    )
}

/// Every chain row, in position order.
pub fn rows(conn: &Connection) -> Result<Vec<AuditRow>> {
    let mut stmt = q(
        "read the audit log",
        conn.prepare_cached("SELECT seq, body, mac FROM audit ORDER BY seq"),
    )?;
    let rows = q(
        "read the audit log",
        stmt.query_map([], |r| {
            Ok(AuditRow {
                seq: r.get::<_, i64>(0)? as u64,
                body: any_bytes(r.get_ref(1)?),
                mac: any_bytes(r.get_ref(2)?),
            })
        }),
    )?;
    q("read the audit log", rows.collect())
}

/// Record a failed unlock's body, unauthenticated.
pub fn insert_failed(conn: &Connection, body: &[u8]) -> Result<()> {
    q(
        "record a failed unlock",
        conn.execute(
            "INSERT INTO audit_unauthenticated (body) VALUES (?1)",
            params![body],
        ),
    )
    .map(|_| ())
}

/// Whether any failed unlock waits to be folded.
pub fn any_failed(conn: &Connection) -> Result<bool> {
    q(
        "read failed unlocks",
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM audit_unauthenticated)",
            [],
            |r| r.get(0),
        ),
    )
}

/// The bodies of the failed unlocks waiting to be folded, oldest first.
pub fn failed_bodies(conn: &Connection) -> Result<Vec<Vec<u8>>> {
    let mut stmt = q(
        "read failed unlocks",
        conn.prepare_cached("SELECT body FROM audit_unauthenticated ORDER BY id"),
    )?;
    let rows = q(
        "read failed unlocks",
        stmt.query_map([], |r| Ok(any_bytes(r.get_ref(0)?))),
    )?;
    q("read failed unlocks", rows.collect())
}

/// Remove every failed-unlock record (they were folded into the chain).
pub fn clear_failed(conn: &Connection) -> Result<()> {
    q(
        "fold failed unlocks",
        conn.execute("DELETE FROM audit_unauthenticated", []),
    )
    .map(|_| ())
}
