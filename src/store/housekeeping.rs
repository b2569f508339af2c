//! Rows removed for good: `keep purge` drops a deleted secret's every version, its head, its
//! rotation rows and the secret itself, in the caller's transaction (the vault updates the manifest
//! in the same one, `crate::vault::housekeeping`).

use rusqlite::{params, Connection};

use crate::error::{Error, Result};

/// Delete secret `id` (blind-index tag `lookup`) and everything keyed by it. Returns how many
/// version rows went.
pub fn purge_secret(conn: &Connection, id: i64, lookup: &[u8]) -> Result<usize> {
    let q = |what: &str, r: rusqlite::Result<usize>| {
        r.map_err(|e| Error::db(format!("purge a secret's {what}"), e))
    };
    let versions = q(
        "versions",
        conn.execute("DELETE FROM versions WHERE secret_id = ?1", params![id]),
    )?;
    q(
        "head",
        conn.execute(
            "DELETE FROM heads WHERE bucket = ?1 AND secret_id = ?2",
            params![super::bucket_of(id), id],
        ),
    )?;
    for table in ["secret_meta", "rotation_pending"] {
        q(
            "rotation rows",
            conn.execute(
                &format!("DELETE FROM {table} WHERE lookup = ?1"),
                params![lookup],
            ),
        )?;
    }
    q(
        "record",
        conn.execute("DELETE FROM secrets WHERE id = ?1", params![id]),
    )?;
    Ok(versions)
}
