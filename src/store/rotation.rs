//! The two rotation tables, `secret_meta` (policy, public part, generator) and `rotation_pending`
//! (a rotation whose hooks have not all succeeded): rows of (blind-index tag, sealed bytes). Sealing
//! and opening is `src/rotate/meta.rs`'s business, through the vault's record sealing.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{Error, Result};

/// Which rotation table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    SecretMeta,
    RotationPending,
}

impl Table {
    /// The table's SQL name (also how errors name it).
    pub fn name(self) -> &'static str {
        match self {
            Table::SecretMeta => "secret_meta",
            Table::RotationPending => "rotation_pending",
        }
    }

    /// What reading or writing it is called in an error message.
    fn what(self, write: bool) -> &'static str {
        match (self, write) {
            (Table::SecretMeta, false) => "read rotation metadata",
            (Table::SecretMeta, true) => "write rotation metadata",
            (Table::RotationPending, false) => "read a pending rotation",
            (Table::RotationPending, true) => "store a pending rotation",
        }
    }
}

fn q<T>(what: &str, r: rusqlite::Result<T>) -> Result<T> {
    r.map_err(|e| Error::db(what.to_string(), e))
}

/// The sealed row under `lookup`, if any.
pub fn get(conn: &Connection, table: Table, lookup: &[u8]) -> Result<Option<Vec<u8>>> {
    q(
        table.what(false),
        conn.query_row(
            &format!("SELECT sealed FROM {} WHERE lookup = ?1", table.name()),
            [lookup],
            |r| r.get(0),
        )
        .optional(),
    )
}

/// Insert the row under `lookup`, replacing an earlier one.
pub fn put(conn: &Connection, table: Table, lookup: &[u8], sealed: &[u8]) -> Result<()> {
    q(
        table.what(true),
        conn.execute(
            &format!(
                "INSERT INTO {} (lookup, sealed) VALUES (?1, ?2)
                 ON CONFLICT(lookup) DO UPDATE SET sealed = excluded.sealed",
                table.name()
            ),
            params![lookup, sealed],
        ),
    )
    .map(|_| ())
}

/// Remove the row under `lookup` (there may be none).
pub fn delete(conn: &Connection, table: Table, lookup: &[u8]) -> Result<()> {
    let what = match table {
        Table::RotationPending => "remove a pending rotation",
        Table::SecretMeta => "remove rotation metadata",
    };
    q(
        what,
        conn.execute(
            &format!("DELETE FROM {} WHERE lookup = ?1", table.name()),
            [lookup],
        ),
    )
    .map(|_| ())
}

/// Take every row out of `table` (`keep rekey` writes back the ones it re-seals with [`insert`]):
/// returns (lookup, sealed) pairs.
pub fn take_all(conn: &Connection, table: Table) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let what = format!("re-key {}", table.name());
    let rows: Vec<(Vec<u8>, Vec<u8>)> = {
        let mut stmt = q(
            &what,
            conn.prepare(&format!("SELECT lookup, sealed FROM {}", table.name())),
        )?;
        let rows = q(&what, stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))))?;
        q(&what, rows.collect())?
    };
    q(
        &what,
        conn.execute(&format!("DELETE FROM {}", table.name()), []),
    )?;
    Ok(rows)
}

/// Insert a row into a table emptied by [`take_all`] (a duplicate lookup is an error).
pub fn insert(conn: &Connection, table: Table, lookup: &[u8], sealed: &[u8]) -> Result<()> {
    q(
        &format!("re-key {}", table.name()),
        conn.execute(
            &format!(
                "INSERT INTO {} (lookup, sealed) VALUES (?1, ?2)",
                table.name()
            ),
            params![lookup, sealed],
        ),
    )
    .map(|_| ())
}
