//! Deletes, duplicates, renumbers, copies and replays whole rows of a real vault (besides flipping
//! bytes), then checks every read keep makes against a model of what the vault held.
//!
//! The vault is made once per process with the library API: four secrets in three scopes, up to
//! three versions each, one deleted (a tombstone), one rolled back, two slots (passphrase and
//! recovery code). After every write the rows of `meta`, `slots`, `secrets`, `versions` and `heads`
//! are saved with the model of the vault at that point, so an input can put back a row or a table
//! as it was before a later write (replay).
//!
//! An input is a list of 4-byte operations `[op][a][b][c]`: `op % 8` picks the operation,
//! `(op / 8) % 5` the table, `op / 40` a column where one is needed:
//! 0 delete row `a`; 1 duplicate row `a` with an integer key column moved by a small step (or 256,
//! which keeps the head group), or a `meta` value under another key; 2 renumber row `a` the same way;
//! 3 copy row `a` onto row `b`'s key (a version or head onto another secret's); 4 put back row `b`
//! of table as saved at point `a`; 5 put back the whole table as at point `a`; 6 xor byte `b` of a
//! blob column of row `a` with `c`; 7 roll secret row `a` back to point `b` (its head as then, newer
//! versions deleted; with `c` odd the manifest too).
//!
//! The oracle. The authenticated manifest names a point in the vault's history: the final one, an
//! earlier one when an older manifest was put back, or none. The fixture's writes recorded the final
//! point's generation outside the file (in the scratch folder, as `XDG_STATE_HOME`), so a manifest
//! of an earlier point is refused even when every head and version was put back with it (a rollback
//! of the whole file). So every read through the reopened vault either
//! - returns exactly what the vault held at the final point: `list` the final contents (the same
//!   set of names, versions and values, deletions as deletions), `current` the final value and
//!   version; `get_version` and `history` what each version always held; or
//! - fails with an integrity or not-found error naming the secret (or the record or the manifest
//!   it could not authenticate); listings fail with an integrity error.
//!
//! Never a different value, an older version presented as current, a name silently missing from a
//! listing, or a deleted secret brought back. An unmutated copy reads everything and verifies intact;
//! a `keep verify` that says intact implies the listing succeeded.
#![no_main]

#[path = "two_slot_vault.rs"]
mod two_slot_vault;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use keep::slots::passphrase::{KdfParams, Passphrase};
use keep::slots::recovery::RecoveryCode;
use keep::slots::SlotUnwrapper;
use keep::{Address, Error, SecretValue, Vault};
use libfuzzer_sys::fuzz_target;
use rusqlite::types::Value;
use rusqlite::Connection;
use secrecy::SecretString;

const PASSPHRASE: &str = "fuzz passphrase";
const A: &str = "keep://app/prod/DATABASE_URL";
const B: &str = "keep://app/prod/API_KEY";
const C: &str = "keep://app/dev/TOKEN";
const D: &str = "keep://web/prod/SESSION_SECRET";
/// Never written: no mutation may make it readable.
const NEVER: &str = "keep://app/prod/NEVER_SET";
const ADDRESSES: [&str; 5] = [A, B, C, D, NEVER];
const META_KEYS: [&str; 4] = ["manifest", "check", "vault_id", "kdf"];
/// Steps to move an integer key by: 256 keeps a head in its group (`secret id mod 256`).
const STEPS: [i64; 7] = [1, -1, 2, -2, 3, 256, -256];

/// A table: its columns, how many lead the primary key, which are blobs, which are integer keys.
struct Table {
    name: &'static str,
    cols: &'static [&'static str],
    pk: usize,
    blobs: &'static [usize],
    ints: &'static [usize],
}

const TABLES: [Table; 5] = [
    Table {
        name: "meta",
        cols: &["key", "value"],
        pk: 1,
        blobs: &[1],
        ints: &[],
    },
    Table {
        name: "slots",
        cols: &["id", "kind", "params", "wrapped", "created", "mac"],
        pk: 1,
        blobs: &[3, 5],
        ints: &[0, 4],
    },
    Table {
        name: "secrets",
        cols: &["id", "lookup", "name"],
        pk: 1,
        blobs: &[1, 2],
        ints: &[0],
    },
    Table {
        name: "versions",
        cols: &["secret_id", "version", "sealed"],
        pk: 2,
        blobs: &[2],
        ints: &[1, 0],
    },
    Table {
        name: "heads",
        cols: &["bucket", "secret_id", "version", "digest"],
        pk: 2,
        blobs: &[3],
        ints: &[2, 1, 0],
    },
];
const META: usize = 0;
const SECRETS: usize = 2;
const VERSIONS: usize = 3;
const HEADS: usize = 4;

type Rows = Vec<Vec<Value>>;
/// Each secret's versions in order (`None` = a deletion), by address.
type Model = BTreeMap<&'static str, Vec<Option<String>>>;

/// The vault's rows and contents after one write.
struct Point {
    tables: Vec<Rows>,
    model: Model,
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    points: Vec<Point>,
    recovery: String,
    /// The fixture's audit entries (its `init` and its writes'): each input's own entries (its
    /// unlock, its recorded reads) are removed after it.
    audit_rows: i64,
}

/// One connection to the vault file for the whole process: each input's edits are committed through
/// it and undone afterwards by writing the final rows back, which costs far less than a fresh copy
/// of the file and a new connection per input.
fn edit_conn() -> &'static Mutex<Connection> {
    static C: OnceLock<Mutex<Connection>> = OnceLock::new();
    C.get_or_init(|| {
        let conn = Connection::open(&fixture().path).unwrap();
        // As an attacker's sqlite3 has it (the bundled SQLite enforces foreign keys by default):
        // a secret's row can be deleted with its versions and head left behind.
        conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
        Mutex::new(conn)
    })
}

fn rows(conn: &Connection, t: &Table) -> Rows {
    let cols = t.cols.join(", ");
    let order = t.cols[..t.pk].join(", ");
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {cols} FROM {} ORDER BY {order}", t.name))
        .unwrap();
    stmt.query_map([], |r| (0..t.cols.len()).map(|i| r.get(i)).collect())
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn dump(conn: &Connection) -> Vec<Rows> {
    TABLES.iter().map(|t| rows(conn, t)).collect()
}

fn addr(uri: &str) -> Address {
    Address::parse_uri(uri).unwrap()
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let two_slot_vault::TwoSlotVault {
            dir,
            path,
            mut vault,
            recovery,
        } = two_slot_vault::create("keep-fuzz-rows-", PASSPHRASE);
        let mut points = Vec::new();
        {
            let mut model = Model::new();
            let mut save = |model: &Model| {
                let conn = Connection::open(&path).unwrap();
                points.push(Point {
                    tables: dump(&conn),
                    model: model.clone(),
                });
            };
            save(&model);
            let writes: [(&'static str, Option<&str>); 9] = [
                (A, Some("postgres://app:one@db/app")),
                (B, Some("sk_live_first")),
                (A, Some("postgres://app:two@db/app")),
                (C, Some("tok_dev_1")),
                (D, Some("session-secret-1")),
                (B, Some("sk_live_second")),
                (D, None),
                (A, Some("postgres://app:three@db/app")),
                (C, Some("tok_dev_2")),
            ];
            for (uri, value) in writes {
                let versions = model.entry(uri).or_default();
                let n = match value {
                    Some(v) => vault.set(&addr(uri), &SecretValue::from(v)).unwrap(),
                    None => vault.remove(&addr(uri)).unwrap(),
                };
                versions.push(value.map(str::to_string));
                assert_eq!(n as usize, versions.len());
                save(&model);
            }
            // C back to its first value, as a third version.
            assert_eq!(vault.rollback(&addr(C), 1).unwrap(), 3);
            model.get_mut(C).unwrap().push(Some("tok_dev_1".into()));
            save(&model);
        }
        drop(vault);
        let audit_rows = Connection::open(&path)
            .unwrap()
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM audit", [], |r| r.get(0))
            .unwrap();
        Fixture {
            path,
            points,
            recovery,
            audit_rows,
            _dir: dir,
        }
    })
}

fn pk_where(t: &Table) -> String {
    t.cols[..t.pk]
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 1))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn delete(conn: &Connection, t: &Table, row: &[Value]) -> bool {
    let sql = format!("DELETE FROM {} WHERE {}", t.name, pk_where(t));
    conn.execute(&sql, rusqlite::params_from_iter(&row[..t.pk]))
        .is_ok_and(|n| n > 0)
}

/// Insert a row; `or` is `IGNORE` or `REPLACE`. Whether a row went in.
fn insert(conn: &Connection, t: &Table, row: &[Value], or: &str) -> bool {
    let marks: Vec<String> = (1..=row.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT OR {or} INTO {} ({}) VALUES ({})",
        t.name,
        t.cols.join(", "),
        marks.join(", ")
    );
    conn.execute(&sql, rusqlite::params_from_iter(row))
        .is_ok_and(|n| n > 0)
}

fn pick(rows: &[Vec<Value>], i: u8) -> Option<Vec<Value>> {
    (!rows.is_empty()).then(|| rows[usize::from(i) % rows.len()].clone())
}

/// Row `row` with an integer key moved (or, in `meta`, under another key); `None` if not possible.
fn moved(t: &Table, col: usize, step: u8, mut row: Vec<Value>) -> Option<Vec<Value>> {
    if t.ints.is_empty() {
        row[0] = Value::Text(META_KEYS[usize::from(step) % META_KEYS.len()].into());
        return Some(row);
    }
    let c = t.ints[col % t.ints.len()];
    let Value::Integer(n) = row[c] else {
        return None;
    };
    let m = n + STEPS[usize::from(step) % STEPS.len()];
    // A negative or zero version or id would only be a type error when read back as unsigned.
    (m >= 1 || (t.name == "heads" && c == 0 && m >= 0)).then(|| {
        row[c] = Value::Integer(m);
        row
    })
}

fn apply(conn: &Connection, f: &Fixture, data: &[u8]) {
    for op in data.chunks_exact(4).take(16) {
        let (kind, ti, col, a, b, c) = (
            op[0] % 8,
            usize::from(op[0] / 8) % 5,
            usize::from(op[0] / 40),
            op[1],
            op[2],
            op[3],
        );
        let t = &TABLES[ti];
        let current = rows(conn, t);
        match kind {
            0 => {
                if let Some(row) = pick(&current, a) {
                    delete(conn, t, &row);
                }
            }
            1 | 2 => {
                let Some(row) = pick(&current, a) else {
                    continue;
                };
                if let Some(new) = moved(t, col, b, row.clone()) {
                    if insert(conn, t, &new, "IGNORE") && kind == 2 {
                        delete(conn, t, &row);
                    }
                }
            }
            3 => {
                let (Some(mut row), Some(onto)) = (pick(&current, a), pick(&current, b)) else {
                    continue;
                };
                if col % 2 == 1 && (ti == VERSIONS || ti == HEADS) {
                    // Onto another secret's id, keeping the version.
                    let secrets = rows(conn, &TABLES[SECRETS]);
                    let Some(Value::Integer(id)) = pick(&secrets, b).map(|s| s[0].clone()) else {
                        continue;
                    };
                    if ti == VERSIONS {
                        row[0] = Value::Integer(id);
                    } else {
                        row[0] = Value::Integer(id % 256);
                        row[1] = Value::Integer(id);
                    }
                } else {
                    row[..t.pk].clone_from_slice(&onto[..t.pk]);
                }
                insert(conn, t, &row, "REPLACE");
            }
            4 => {
                let point = &f.points[usize::from(a) % f.points.len()];
                if let Some(row) = pick(&point.tables[ti], b) {
                    insert(conn, t, &row, "REPLACE");
                }
            }
            5 => {
                let point = &f.points[usize::from(a) % f.points.len()];
                let _ = conn.execute(&format!("DELETE FROM {}", t.name), []);
                for row in &point.tables[ti] {
                    insert(conn, t, row, "REPLACE");
                }
            }
            6 => {
                let Some(mut row) = pick(&current, a) else {
                    continue;
                };
                let cix = t.blobs[col % t.blobs.len()];
                let Value::Blob(bytes) = &mut row[cix] else {
                    continue;
                };
                if bytes.is_empty() {
                    continue;
                }
                let at = usize::from(b) % bytes.len();
                bytes[at] ^= c.max(1);
                insert(conn, t, &row, "REPLACE");
            }
            7 => {
                let point = &f.points[usize::from(b) % f.points.len()];
                let Some(secret) = pick(&rows(conn, &TABLES[SECRETS]), a) else {
                    continue;
                };
                let id = secret[0].clone();
                let old_head = point.tables[HEADS].iter().find(|h| h[1] == id);
                for head in rows(conn, &TABLES[HEADS]).iter().filter(|h| h[1] == id) {
                    delete(conn, &TABLES[HEADS], head);
                }
                let keep_to = match old_head {
                    Some(h) => {
                        insert(conn, &TABLES[HEADS], h, "REPLACE");
                        h[2].clone()
                    }
                    None => Value::Integer(0),
                };
                let _ = conn.execute(
                    "DELETE FROM versions WHERE secret_id = ?1 AND version > ?2",
                    rusqlite::params![id, keep_to],
                );
                if c % 2 == 1 {
                    if let Some(m) = point.tables[META].iter().find(|m| m[0] == text("manifest")) {
                        insert(conn, &TABLES[META], m, "REPLACE");
                    }
                }
            }
            _ => unreachable!(),
        }
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// The point whose manifest the file now holds, if any.
fn manifest_point(f: &Fixture, tables: &[Rows]) -> Option<usize> {
    let of = |t: &[Rows]| {
        t[META]
            .iter()
            .find(|m| m[0] == text("manifest"))
            .map(|m| m[1].clone())
    };
    let now = of(tables)?;
    f.points
        .iter()
        .position(|p| of(&p.tables) == Some(now.clone()))
}

/// A per-secret read failed: it must be integrity or not found, naming the secret (or the record
/// or manifest it could not authenticate).
fn named_failure(what: &str, uri: &str, e: &Error) {
    match e {
        // A read is recorded by the vault before it returns: with the log's head damaged or put
        // back, the read is refused for the log's sake, which names the audit log.
        Error::Integrity(m) | Error::NotFound(m) => assert!(
            m.contains(uri)
                || m.contains("secret record #")
                || m.contains("manifest")
                || m.contains("audit log"),
            "{what} {uri} failed without naming it: {e:?}"
        ),
        other => panic!("{what} {uri} failed with the wrong kind of error: {other:?}"),
    }
}

fn listing_failure(what: &str, e: &Error) {
    assert!(
        matches!(e, Error::Integrity(_)),
        "{what} failed with the wrong kind of error: {e:?}"
    );
}

/// Run every read and hold it to the model (see the module doc). `pick` chooses which old version
/// of each secret `get_version` reads.
fn check(
    f: &Fixture,
    vault: &mut Vault,
    point: Option<usize>,
    unchanged: bool,
    pick: u8,
) {
    let expect: Option<&Model> = point.map(|p| &f.points[p].model);
    let all = &f.points.last().unwrap().model;
    let final_point = point == Some(f.points.len() - 1);
    // `expected`: the unmutated vault fails this read too (a deletion, a version never written).
    let ok = |what: &str, uri: &str, r: &Result<(), Error>, expected: bool| {
        if let Err(e) = r {
            assert!(
                expected || !unchanged,
                "{what} {uri} failed on the unmutated vault: {e:?}"
            );
            named_failure(what, uri, e);
        }
    };
    for (i, uri) in ADDRESSES.into_iter().enumerate() {
        let a = addr(uri);
        let at = expect.and_then(|m| m.get(uri));
        let r = vault.current(&a).map(|(n, v)| {
            assert!(final_point, "{uri} read through an older manifest (point {point:?})");
            let at = at.unwrap_or_else(|| panic!("{uri} read but did not exist (point {point:?})"));
            assert_eq!(
                n as usize,
                at.len(),
                "{uri}: version {n} presented as current"
            );
            let want = at.last().unwrap().as_ref();
            let want = want.unwrap_or_else(|| panic!("deleted {uri} was brought back"));
            assert_eq!(v.expose(), want.as_bytes(), "{uri}: another value");
        });
        let gone = at.is_none_or(|v| v.last().unwrap().is_none());
        ok("current", uri, &r, gone);
        let history = all.get(uri).cloned().unwrap_or_default();
        // One version per input (each written one, or the one after the last): `history` opens
        // them all anyway.
        let k = (usize::from(pick) + i) % (history.len() + 1) + 1;
        {
            let k = k as u32;
            let r = vault.get_version(&a, k).map(|v| {
                let want = history
                    .get(k as usize - 1)
                    .unwrap_or_else(|| panic!("{uri} version {k} read but was never written"));
                let want = want.as_ref().expect("a deletion read as a value");
                assert_eq!(
                    v.expose(),
                    want.as_bytes(),
                    "{uri} version {k}: another value"
                );
            });
            let absent = history.get(k as usize - 1).is_none_or(|v| v.is_none());
            ok("get_version", uri, &r, absent);
        }
        let r = vault.history(&a).map(|h| {
            let mut last = 0;
            for e in h {
                assert!(e.version > last, "{uri}: history out of order");
                last = e.version;
                let want = history
                    .get(e.version as usize - 1)
                    .unwrap_or_else(|| panic!("{uri}: history shows version {last} never written"));
                assert_eq!(e.deleted, want.is_none(), "{uri} v{last}: deletion flag");
            }
        });
        ok("history", uri, &r, uri == NEVER);
    }

    // `list` without deletions, `values` and `all_values` (`env`, `exec`) are filters over this same
    // listing (each version's value is bound to its position), left out to keep CI's smoke fast.
    let mut listed = false;
    {
        match vault.list(None, true) {
            Ok(entries) => {
                assert!(
                    final_point,
                    "list succeeded on a rollback to point {point:?}"
                );
                let m = expect.unwrap_or_else(|| panic!("list succeeded with a foreign manifest"));
                let got: Vec<(String, u32, bool)> = entries
                    .iter()
                    .map(|e| (e.address.to_string(), e.version, e.deleted))
                    .collect();
                let mut want: Vec<(String, u32, bool)> = m
                    .iter()
                    .map(|(u, v)| (u.to_string(), v.len() as u32, v.last().unwrap().is_none()))
                    .collect();
                want.sort_by_key(|e| addr(&e.0));
                assert_eq!(got, want, "list at point {point:?}");
                listed = true;
            }
            Err(e) => {
                assert!(!unchanged, "list failed on the unmutated vault: {e:?}");
                listing_failure("list", &e);
            }
        }
    }
    match vault.verify() {
        Ok(report) => {
            assert!(
                report.intact() || !unchanged,
                "verify found problems in the unmutated vault: {:?}",
                report.problems
            );
            assert!(
                !report.intact() || listed,
                "verify says intact but the listing failed (point {point:?})"
            );
        }
        Err(e) => {
            assert!(!unchanged, "verify failed on the unmutated vault: {e:?}");
            listing_failure("verify", &e);
        }
    }
}

/// Put every table that differs from the final rows back as the fixture left it, and drop the
/// vault's own audit entries of this input. Compared after the input ran, not after its edits:
/// the vault appends an entry for its unlock and for each read, which moves `meta.audit_head`.
fn restore(conn: &mut Connection, f: &Fixture) {
    let tx = conn.transaction().unwrap();
    let last = &f.points.last().unwrap().tables;
    let now = dump(&tx);
    tx.execute("DELETE FROM audit WHERE seq > ?1", [f.audit_rows])
        .unwrap();
    tx.execute("DELETE FROM audit_unauthenticated", []).unwrap();
    for ((t, rows), now) in TABLES.iter().zip(last).zip(&now) {
        if now == rows {
            continue;
        }
        tx.execute(&format!("DELETE FROM {}", t.name), []).unwrap();
        for row in rows {
            assert!(insert(&tx, t, row, "ABORT"), "restoring {}", t.name);
        }
    }
    tx.commit().unwrap();
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut conn = edit_conn().lock().unwrap_or_else(|e| e.into_inner());
    let tables = {
        let tx = conn.transaction().unwrap();
        apply(&tx, f, data);
        let tables = dump(&tx);
        tx.commit().unwrap();
        tables
    };
    let unchanged = tables == f.points.last().unwrap().tables;
    let point = manifest_point(f, &tables);
    let unwrappers: Vec<Box<dyn SlotUnwrapper>> = vec![
        Box::new(Passphrase::new(
            SecretString::from(PASSPHRASE),
            KdfParams::default(),
        )),
        Box::new(RecoveryCode::parse(&SecretString::from(f.recovery.clone())).unwrap()),
    ];
    let pick = data.last().copied().unwrap_or(0);
    match Vault::open_with(&f.path, &unwrappers) {
        Ok(mut vault) => {
            check(f, &mut vault, point, unchanged, pick);
        }
        Err(e) => {
            assert!(!unchanged, "the unmutated vault failed to open: {e:?}");
            assert!(
                matches!(e, Error::Auth(_) | Error::Integrity(_)),
                "open failed with the wrong kind of error: {e:?}"
            );
        }
    }
    restore(&mut conn, f);
});
