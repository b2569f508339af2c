//! Failed unlocks. When no slot opens there is no key, so the attempt cannot be MAC'd: it is written
//! unauthenticated to `audit_unauthenticated`, and the next successful unlock folds every such record
//! into the chain (marked with the time it was folded) and deletes it, in one transaction.
//!
//! Until then, anyone who can write the file can delete or forge these records; once folded they are
//! as protected as any entry. SECURITY.md says so.

use rusqlite::{params, Connection};

use super::entry::{now_ms, Action, Body};
use crate::error::{Error, Result};
use crate::store::Store;

fn q<T>(what: &str, r: rusqlite::Result<T>) -> Result<T> {
    r.map_err(|e| Error::db(what.to_string(), e))
}

/// Record a failed unlock without a key. Best effort: the caller reports the authentication failure
/// whatever happens here, so an unwritable vault does not hide it behind another error.
pub fn record(store: &mut Store, outcome: &str) {
    let body = Body::now(Action::UnlockFailed, outcome).encode();
    let _ = store.write(|tx| {
        q(
            "record a failed unlock",
            tx.execute(
                "INSERT INTO audit_unauthenticated (body) VALUES (?1)",
                params![body],
            ),
        )
    });
}

/// The failed unlocks waiting to be folded, oldest first, as bodies ready to append (a record that
/// does not parse is kept, marked as such, rather than dropped).
pub fn take(conn: &Connection) -> Result<Vec<Vec<u8>>> {
    let raw = raw_rows(conn)?;
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    q(
        "fold failed unlocks",
        conn.execute("DELETE FROM audit_unauthenticated", []),
    )?;
    let folded_at = now_ms();
    Ok(raw
        .into_iter()
        .map(|bytes| {
            let mut body = Body::decode(&bytes)
                .filter(|b| b.action == Action::UnlockFailed && b.address.is_none())
                .unwrap_or_else(|| {
                    // Keep the evidence that something was there, without inventing who did it.
                    let mut b = Body::now(Action::UnlockFailed, "malformed-unauthenticated-record");
                    b.user = "unknown".into();
                    b.host = "unknown".into();
                    b.pid = 0;
                    b.command = "unknown".into();
                    b
                });
            body.folded_at = Some(folded_at);
            body.encode()
        })
        .collect())
}

/// Failed unlocks not yet folded (for `keep audit` when nothing could fold them yet).
pub fn pending(conn: &Connection) -> Result<Vec<Body>> {
    let raw = raw_rows(conn)?;
    Ok(raw.iter().filter_map(|b| Body::decode(b)).collect())
}

fn raw_rows(conn: &Connection) -> Result<Vec<Vec<u8>>> {
    let mut stmt = q(
        "read failed unlocks",
        conn.prepare_cached("SELECT body FROM audit_unauthenticated ORDER BY id"),
    )?;
    let rows = q(
        "read failed unlocks",
        stmt.query_map([], |r| Ok(super::chain::any_bytes(r.get_ref(0)?))),
    )?;
    q("read failed unlocks", rows.collect())
}
