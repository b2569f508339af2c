//! One consistent view of the file for a reader's several queries.
//!
//! A reader outside a transaction runs each query on its own WAL snapshot, so a writer's commit can
//! land between two of them: the manifest read before the commit and the heads after it disagree,
//! which reads as a rolled-back head (a false integrity alarm under concurrent `set`s,
//! tests/it/faults_concurrency.rs). A deferred transaction pins one snapshot from its first read to
//! its end; in WAL mode it blocks no writer.

use rusqlite::{Connection, Transaction};

use crate::error::{Error, Result};

/// A read snapshot, held until dropped (then rolled back: it wrote nothing).
pub struct Snapshot<'a> {
    _tx: Option<Transaction<'a>>,
}

/// Begin a snapshot on `conn`; inside a transaction already (a writer's), that one is the snapshot.
pub fn snapshot(conn: &Connection) -> Result<Snapshot<'_>> {
    if !conn.is_autocommit() {
        return Ok(Snapshot { _tx: None });
    }
    conn.unchecked_transaction()
        .map(|tx| Snapshot { _tx: Some(tx) })
        .map_err(|e| Error::db("begin a read of the vault", e))
}
