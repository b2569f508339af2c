//! The schema, its version, and how an older vault is brought forward.
//!
//! The file is marked as a keep vault by SQLite's `application_id` header field; the schema version is
//! `user_version`. A file with another application id, or a newer version than this build knows, is
//! refused before anything is written to it. Migrations are an ordered list: a vault at version N runs
//! `MIGRATIONS[N..]` in one transaction.

use std::path::Path;

use rusqlite::Connection;

use crate::error::{Error, Result};

/// `application_id` of a keep vault: ASCII "keep".
pub const APPLICATION_ID: i32 = 0x6B65_6570;

/// The schema version this build writes. Equal to `MIGRATIONS.len()`.
pub const FORMAT_VERSION: i32 = 5;

/// Each entry moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the first format (see SECURITY.md, "On-disk format").
    "CREATE TABLE meta (
         key   TEXT PRIMARY KEY,
         value BLOB NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE slots (
         id      INTEGER PRIMARY KEY,
         kind    TEXT    NOT NULL,
         params  TEXT    NOT NULL,
         wrapped BLOB    NOT NULL,
         created INTEGER NOT NULL
     );
     CREATE TABLE secrets (
         id     INTEGER PRIMARY KEY,
         lookup BLOB NOT NULL UNIQUE,
         name   BLOB NOT NULL
     );
     CREATE TABLE versions (
         secret_id INTEGER NOT NULL REFERENCES secrets(id),
         version   INTEGER NOT NULL,
         sealed    BLOB    NOT NULL,
         PRIMARY KEY (secret_id, version)
     ) WITHOUT ROWID;",
    // 1 -> 2: rotation and audit (see SECURITY.md, "Audit log"). Rotation rows are keyed by the
    // secret's blind-index tag and sealed with it as associated data. Audit rows are MAC-chained; the
    // chain's head lives in `meta` under `audit_head`. `audit_unauthenticated` holds failed unlocks
    // until the next successful unlock folds them into the chain.
    "CREATE TABLE secret_meta (
         lookup BLOB PRIMARY KEY,
         sealed BLOB NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE rotation_pending (
         lookup BLOB PRIMARY KEY,
         sealed BLOB NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE audit (
         seq  INTEGER PRIMARY KEY,
         body BLOB NOT NULL,
         mac  BLOB NOT NULL
     );
     CREATE TABLE audit_unauthenticated (
         id   INTEGER PRIMARY KEY,
         body BLOB NOT NULL
     );",
    // 2 -> 3: sync state (see src/sync/state.rs): per target and name, the remote version and keyed
    // value hash of the last sync. Both keys are HMACs, so neither names nor targets are stored.
    "CREATE TABLE sync_state (
         target_key BLOB NOT NULL,
         name_key   BLOB NOT NULL,
         version    TEXT,
         hash       BLOB NOT NULL,
         PRIMARY KEY (target_key, name_key)
     ) WITHOUT ROWID;",
    // 3 -> 4: authenticated heads, manifest and slots (see SECURITY.md, "On-disk format" and
    // src/vault/manifest.rs). One head per secret names its newest version and that version's
    // nonce and tag; `bucket` (= secret id mod 256) groups heads so that one read checks one group against
    // the keyed manifest in `meta`. `slots.mac` authenticates each whole slot row. The keys are needed
    // to fill them in, so a migrated vault gets them at its first unlock (src/vault/upgrade.rs), which
    // also removes `upgrade_pending`: only a vault that carries it may present an older header MAC.
    "CREATE TABLE heads (
         bucket    INTEGER NOT NULL,
         secret_id INTEGER NOT NULL REFERENCES secrets(id),
         version   INTEGER NOT NULL,
         digest    BLOB    NOT NULL,
         PRIMARY KEY (bucket, secret_id)
     ) WITHOUT ROWID;
     ALTER TABLE slots ADD COLUMN mac BLOB;
     INSERT INTO meta (key, value) VALUES ('upgrade_pending', x'04');",
    // 4 -> 5: the manifest carries the vault's write generation under its MAC, and the vault records
    // each new one outside the file (src/vault/manifest.rs, src/audit/generation.rs). No table
    // changes: a format-4 manifest reads as generation 0 until the next write replaces it. The
    // version bump is what stops an older keep, which would call the longer manifest damaged.
    "",
];

/// Lay down the current schema in a new, empty database.
pub fn create(conn: &mut Connection) -> Result<()> {
    let tx = conn
        .transaction()
        .map_err(|e| Error::db("initialise the vault", e))?;
    for step in MIGRATIONS {
        tx.execute_batch(step)
            .map_err(|e| Error::db("initialise the vault", e))?;
    }
    tx.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {FORMAT_VERSION};"
    ))
    .map_err(|e| Error::db("initialise the vault", e))?;
    tx.commit()
        .map_err(|e| Error::db("initialise the vault", e))
}

/// Confirm that `conn` is a keep vault this build can read, without writing anything.
pub fn identify(conn: &Connection, path: &Path) -> Result<()> {
    let read = |pragma: &str| -> Result<i32> {
        conn.query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0))
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::NotADatabase)
                | Some(rusqlite::ErrorCode::DatabaseCorrupt)
                | None => Error::Integrity(format!(
                    "{} is not a keep vault (SQLite says: {e}); it was left untouched",
                    path.display()
                )),
                // The file may be fine and the system failing (a full disk: no room for the
                // -shm file): say that, not "not a keep vault".
                _ => Error::db(format!("read {}", path.display()), e),
            })
    };
    let app = read("application_id")?;
    if app != APPLICATION_ID {
        return Err(Error::Integrity(format!(
            "{} is not a keep vault (it is an SQLite database of another application); \
             it was left untouched",
            path.display()
        )));
    }
    let version = read("user_version")?;
    if version > FORMAT_VERSION {
        return Err(Error::Integrity(format!(
            "{} was written by a newer keep (format {version}; this build reads up to {FORMAT_VERSION}); \
             upgrade keep. The vault was left untouched",
            path.display()
        )));
    }
    Ok(())
}

/// Bring an older vault up to `FORMAT_VERSION` in one transaction.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let version: i32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| Error::db("read the vault format", e))?;
    if version == FORMAT_VERSION {
        return Ok(());
    }
    let ctx = || {
        format!(
            "migrate {} from format {version} to {FORMAT_VERSION}",
            path.display()
        )
    };
    let tx = conn.transaction().map_err(|e| Error::db(ctx(), e))?;
    for step in &MIGRATIONS[version as usize..] {
        tx.execute_batch(step).map_err(|e| Error::db(ctx(), e))?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {FORMAT_VERSION};"))
        .map_err(|e| Error::db(ctx(), e))?;
    tx.commit().map_err(|e| Error::db(ctx(), e))
}
