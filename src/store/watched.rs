//! The cheap reads a watcher (`keep exec --watch`, `keep materialize --watch`) makes after every
//! change in the vault's folder, before it decrypts anything: has another connection committed, did
//! the heads of the watched secrets move, did the set of secrets grow or shrink, was the session
//! locked. None of them needs a key or touches a value.

use rusqlite::{Connection, OptionalExtension};

use super::Store;
use crate::error::{Error, Result};

/// The `meta` row `keep lock` bumps, so that every watcher of the vault stops: a watcher holds the
/// key in its own memory, and locking the session must end that too.
pub const LOCK_EPOCH: &str = "lock_epoch";

fn q<T>(what: &str, r: rusqlite::Result<T>) -> Result<T> {
    r.map_err(|e| Error::db(what.to_string(), e))
}

/// SQLite's `PRAGMA data_version`: on one long-lived connection it changes exactly when *another*
/// connection committed (this connection's own writes, such as a watcher's audit entries, leave it
/// alone). On a fresh connection it means nothing, so a watcher keeps its connection for its lifetime.
pub fn data_version(conn: &Connection) -> Result<i64> {
    q(
        "read the vault's data version",
        conn.query_row("PRAGMA data_version", [], |r| r.get(0)),
    )
}

/// A secret's head as a watcher compares it: its newest version number and that version's nonce and
/// tag.
pub type Head = (u32, Vec<u8>);

/// The head (newest version number and its nonce and tag) of each secret whose blind-index tag is
/// in `lookups`, in the same order; `None` for a tag with no secret (never set, or moved away).
pub fn heads_of(conn: &Connection, lookups: &[[u8; 32]]) -> Result<Vec<Option<Head>>> {
    let mut stmt = q(
        "read the watched secrets' heads",
        conn.prepare_cached(
            "SELECT h.version, h.digest FROM secrets s
               JOIN heads h ON h.bucket = s.id % 256 AND h.secret_id = s.id
              WHERE s.lookup = ?1",
        ),
    )?;
    lookups
        .iter()
        .map(|lookup| {
            q(
                "read the watched secrets' heads",
                stmt.query_row([&lookup[..]], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional(),
            )
        })
        .collect()
}

/// How many secret rows there are and the largest id: changes when a secret is added anywhere (or
/// purged), which a watcher of a whole scope then checks by name.
pub fn secrets_shape(conn: &Connection) -> Result<(i64, i64)> {
    q(
        "count the vault's secrets",
        conn.query_row(
            "SELECT count(*), coalesce(max(id), 0) FROM secrets",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        ),
    )
}

/// The number of times `keep lock` ran on this vault (0 before the first).
pub fn lock_epoch(conn: &Connection) -> Result<u64> {
    let raw = super::meta(conn, LOCK_EPOCH)?;
    Ok(raw
        .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}

/// Count one more `keep lock`, in its own transaction.
pub fn bump_lock_epoch(store: &mut Store) -> Result<()> {
    store.write(|tx| {
        let next = lock_epoch(tx)?.wrapping_add(1);
        super::set_meta(tx, LOCK_EPOCH, &next.to_be_bytes())
    })
}
