//! Feeds the audit-chain verifier (`keep::audit::chain::verify`, which reads through `chain::rows`)
//! audit tables derived from a real chain: a vault made once per process records a few real entries,
//! whose bodies are chained again by `chain::append` under a key of the harness's own (the library
//! does not hand out the vault's keys); each input is a list of edits (delete, overwrite, bit-flip, renumber or insert rows, retype a
//! column, overwrite, bit-flip or delete the authenticated head) applied to a fresh in-memory copy of
//! its `audit` table and head, made with the vault's own `CREATE TABLE` statements.
//!
//! Beyond "no panic" it asserts, differentially:
//! - the unedited chain verifies intact, and the verdict counts the rows that are there;
//! - any edit that actually changes the stored bytes (rows as the verifier reads them, or the head) is
//!   reported as a problem — the one documented exception being a log wiped together with its head
//!   (SECURITY.md, "Audit log"), which reads as a log that never had an entry.
#![no_main]

use std::sync::OnceLock;

use keep::audit::{chain, Action};
use keep::slots::passphrase::{KdfParams, Passphrase};
use keep::{Address, SecretValue, Vault};
use libfuzzer_sys::fuzz_target;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{params, Connection};
use secrecy::SecretString;

/// The audit key the fixture's chain is MAC'd under.
const KEY: [u8; 32] = [0x5a; 32];

struct Fixture {
    ddl: Vec<String>,
    rows: Vec<(i64, Vec<u8>, Vec<u8>)>,
    head: Vec<u8>,
    key: [u8; 32],
    vault_id: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("keep-fuzz-")
            .tempdir_in(if std::path::Path::new("/dev/shm").is_dir() {
                "/dev/shm".into()
            } else {
                std::env::temp_dir()
            })
            .unwrap();
        let path = dir.path().join("vault.db");
        let kdf = KdfParams {
            m_kib: 8,
            t: 1,
            p: 1,
        };
        let pass = Passphrase::new(SecretString::from("fuzz"), kdf);
        let mut vault = Vault::create(&path, &pass, kdf).unwrap();
        let a = Address::parse_uri("keep://app/prod/API_TOKEN").unwrap();
        let b = Address::parse_uri("keep://app/dev/DATABASE_URL").unwrap();
        vault.set(&a, &SecretValue::from("tok_123")).unwrap();
        keep::audit::record(&mut vault, Action::Write, std::slice::from_ref(&a), "ok").unwrap();
        keep::audit::record(&mut vault, Action::Read, &[a.clone(), b.clone()], "ok").unwrap();
        keep::audit::record(&mut vault, Action::Rotate, std::slice::from_ref(&a), "ok").unwrap();
        keep::audit::record(&mut vault, Action::Delete, &[b], "not-found").unwrap();
        keep::audit::record(&mut vault, Action::Read, &[], "auth").unwrap();
        let vault_id = vault.id().to_vec();
        drop(vault);
        // The vault file read as a plain SQLite database, as an attacker would.
        let file = Connection::open(&path).unwrap();
        let ddl: Vec<String> = file
            .prepare(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN ('audit', 'meta')",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<Vec<String>>>()
            .unwrap();
        assert_eq!(ddl.len(), 2);
        let bodies: Vec<Vec<u8>> = file
            .prepare("SELECT body FROM audit ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        assert!(bodies.len() >= 5);
        let chained = Connection::open_in_memory().unwrap();
        for sql in &ddl {
            chained.execute_batch(sql).unwrap();
        }
        chain::append(&chained, &KEY, &vault_id, &bodies).unwrap();
        let rows = chained
            .prepare("SELECT seq, body, mac FROM audit ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        let head = chained
            .query_row("SELECT value FROM meta WHERE key = 'audit_head'", [], |r| {
                r.get(0)
            })
            .unwrap();
        Fixture {
            ddl,
            rows,
            head,
            key: KEY,
            vault_id,
        }
    })
}

fn bytes_of(v: ValueRef<'_>) -> Vec<u8> {
    match v {
        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
        ValueRef::Integer(i) => i.to_string().into_bytes(),
        ValueRef::Real(f) => f.to_string().into_bytes(),
        ValueRef::Null => Vec::new(),
    }
}

/// What the verifier sees: every row's bytes in position order, and the head.
type Content = (Vec<(i64, Vec<u8>, Vec<u8>)>, Option<Vec<u8>>);

fn content(conn: &Connection) -> Content {
    let rows = conn
        .prepare("SELECT seq, body, mac FROM audit ORDER BY seq")
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, bytes_of(r.get_ref(1)?), bytes_of(r.get_ref(2)?)))
        })
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    let head = conn
        .query_row("SELECT value FROM meta WHERE key = 'audit_head'", [], |r| {
            Ok(bytes_of(r.get_ref(0)?))
        })
        .ok();
    (rows, head)
}

fn seqs(conn: &Connection) -> Vec<i64> {
    conn.prepare("SELECT seq FROM audit ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<Vec<i64>>>()
        .unwrap()
}

fn flip(mut b: Vec<u8>, arg: &[u8]) -> Vec<u8> {
    let Some((&off, mask)) = arg.split_first() else {
        return b;
    };
    if b.is_empty() {
        return mask.to_vec();
    }
    let start = usize::from(off) % b.len();
    for (i, m) in mask.iter().enumerate() {
        let j = (start + i) % b.len();
        b[j] ^= m;
    }
    b
}

fn edit(conn: &Connection, op: u8, target: u8, arg: &[u8]) {
    let seqs = seqs(conn);
    let row = (!seqs.is_empty()).then(|| seqs[usize::from(target) % seqs.len()]);
    let column = if target & 0x80 == 0 { "body" } else { "mac" };
    let num = |b: &[u8]| {
        let mut a = [0u8; 8];
        let n = b.len().min(8);
        a[..n].copy_from_slice(&b[..n]);
        i64::from_le_bytes(a) % 64
    };
    // SQLite refusing an edit (a duplicate seq, say) leaves the table as it was: fine.
    let _ = match (op % 10, row) {
        (0, Some(seq)) => conn.execute("DELETE FROM audit WHERE seq = ?1", [seq]),
        (1, Some(seq)) => conn.execute(
            &format!("UPDATE audit SET {column} = ?1 WHERE seq = ?2"),
            params![arg, seq],
        ),
        (2, Some(seq)) => {
            let current: Vec<u8> = conn
                .query_row(
                    &format!("SELECT {column} FROM audit WHERE seq = ?1"),
                    [seq],
                    |r| Ok(bytes_of(r.get_ref(0)?)),
                )
                .unwrap();
            conn.execute(
                &format!("UPDATE audit SET {column} = ?1 WHERE seq = ?2"),
                params![flip(current, arg), seq],
            )
        }
        (3, Some(seq)) => conn.execute(
            "UPDATE audit SET seq = ?1 WHERE seq = ?2",
            params![num(arg), seq],
        ),
        (4, _) => {
            let (seq, rest) = arg
                .split_first()
                .map_or((0, &[][..]), |(s, r)| (i64::from(*s) % 16, r));
            let (body, mac) = rest.split_at(rest.len() / 2);
            conn.execute(
                "INSERT INTO audit (seq, body, mac) VALUES (?1, ?2, ?3)",
                params![seq, body, mac],
            )
        }
        // Copy another row's body or MAC over this one (a replay inside the log).
        (5, Some(seq)) => {
            let other = seqs[usize::from(arg.first().copied().unwrap_or(0)) % seqs.len()];
            conn.execute(
                &format!(
                    "UPDATE audit SET {column} = (SELECT {column} FROM audit WHERE seq = ?1) WHERE seq = ?2"
                ),
                params![other, seq],
            )
        }
        // Retype a column: text, or an integer when the bytes spell one.
        (6, Some(seq)) => conn.execute(
            &format!(
                "UPDATE audit SET {column} = CAST({column} AS {}) WHERE seq = ?1",
                if arg.first().is_some_and(|b| b & 1 == 1) {
                    "INTEGER"
                } else {
                    "TEXT"
                }
            ),
            [seq],
        ),
        (7, _) => conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('audit_head', ?1)",
            params![arg],
        ),
        (8, _) => {
            let current = content(conn).1.unwrap_or_default();
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('audit_head', ?1)",
                params![flip(current, arg)],
            )
        }
        (9, _) => conn.execute("DELETE FROM meta WHERE key = 'audit_head'", []),
        _ => Ok(0),
    };
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let conn = Connection::open_in_memory().unwrap();
    for sql in &f.ddl {
        conn.execute_batch(sql).unwrap();
    }
    for (seq, body, mac) in &f.rows {
        conn.execute(
            "INSERT INTO audit (seq, body, mac) VALUES (?1, ?2, ?3)",
            params![seq, body, mac],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('audit_head', ?1)",
        params![Value::Blob(f.head.clone())],
    )
    .unwrap();
    let original = content(&conn);

    // Edits: [op][target][len][bytes...]
    let mut rest = data;
    while let [op, target, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        edit(&conn, *op, *target, &tail[..n]);
        rest = &tail[n..];
    }

    let edited = content(&conn);
    let verdict = chain::verify(&conn, &f.key, &f.vault_id).expect("verify reads the table");
    assert_eq!(verdict.entries as usize, edited.0.len());
    let rows = chain::rows(&conn).expect("rows");
    assert_eq!(rows.len(), edited.0.len());
    let wiped = edited.0.is_empty() && edited.1.is_none();
    if edited == original {
        assert!(
            verdict.problem.is_none(),
            "an intact chain was flagged: {verdict:?}"
        );
    } else if !wiped {
        assert!(
            verdict.problem.is_some(),
            "an edited chain verified intact: {edited:?}"
        );
    }
});
