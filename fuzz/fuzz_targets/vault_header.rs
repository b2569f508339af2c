//! Feeds the vault header and key-slot decoders raw bytes where a real vault has them: a real vault
//! (one passphrase slot, one recovery slot, one secret) is made once per process; each input is a
//! list of edits `[field][len][bytes...]` that overwrite, bit-flip or delete the header's `meta`
//! values (`vault_id`, `kdf`, `check`) and the slots' columns (`id`, `kind`, `params`, `wrapped`) of
//! a fresh copy, which is then opened with `Vault::open_with` and both credentials.
//!
//! Beyond "no panic" it asserts the header and slot authentication, differentially:
//! - with no effective edit, the vault opens and reads its secret back;
//! - an open that succeeds means the header bytes are exactly the original ones, the slot that
//!   opened is byte for byte an original slot (same id, kind, parameters and wrapped key), and the
//!   secret reads back unchanged — edited headers and slots never open.
//!
//! Cost bound: a passphrase slot may legitimately ask Argon2id for up to 4 GiB and 64 passes
//! (`KdfParams::MAX_M_KIB`/`MAX_T`), which keep allows because a user may choose that cost and the
//! parameters cannot be authenticated before the key exists. Running that per input would turn the
//! fuzzer into an Argon2 benchmark and trip libFuzzer's memory limit, so inputs whose slot
//! parameters ask for more than 1 MiB, 4 passes or 4 lanes are skipped; the ceilings themselves are
//! checked by `KdfParams::validate`'s unit tests.
#![no_main]

#[path = "two_slot_vault.rs"]
mod two_slot_vault;

use std::path::PathBuf;
use std::sync::OnceLock;

use keep::slots::passphrase::{KdfParams, Passphrase};
use keep::slots::recovery::RecoveryCode;
use keep::slots::SlotUnwrapper;
use keep::{Address, SecretValue, Vault};
use libfuzzer_sys::fuzz_target;
use rusqlite::types::Value;
use rusqlite::Connection;
use secrecy::SecretString;

const PASSPHRASE: &str = "fuzz passphrase";
const SECRET: &str = "keep://app/prod/DATABASE_URL";
const VALUE: &str = "postgres://app:hunter2@db/app";
const META: [&str; 3] = ["vault_id", "kdf", "check"];
const SLOT_COLUMNS: [&str; 4] = ["id", "kind", "params", "wrapped"];

struct Fixture {
    _dir: tempfile::TempDir,
    work: PathBuf,
    template: Vec<u8>,
    meta: Vec<Vec<u8>>,
    slots: Vec<Vec<Value>>,
    recovery: String,
}

fn slot_rows(conn: &Connection) -> Vec<Vec<Value>> {
    let mut stmt = conn
        .prepare("SELECT id, kind, params, wrapped FROM slots ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| (0..4).map(|i| r.get::<_, Value>(i)).collect())
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn meta_values(conn: &Connection) -> Vec<Vec<u8>> {
    META.iter()
        .map(|k| {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
                .unwrap_or_default()
        })
        .collect()
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let two_slot_vault::TwoSlotVault {
            dir,
            path,
            mut vault,
            recovery,
        } = two_slot_vault::create("keep-fuzz-", PASSPHRASE);
        {
            let address = Address::parse_uri(SECRET).unwrap();
            vault.set(&address, &SecretValue::from(VALUE)).unwrap();
        }
        // Closing the vault checkpoints its WAL into the file.
        drop(vault);
        let template = std::fs::read(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        let fixture = Fixture {
            work: dir.path().join("work.db"),
            template,
            meta: meta_values(&conn),
            slots: slot_rows(&conn),
            recovery,
            _dir: dir,
        };
        assert_eq!(fixture.slots.len(), 2);
        fixture
    })
}

fn as_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Blob(b) => b.clone(),
        Value::Text(t) => t.as_bytes().to_vec(),
        Value::Integer(i) => i.to_string().into_bytes(),
        Value::Real(r) => r.to_string().into_bytes(),
        Value::Null => Vec::new(),
    }
}

/// A value of the column's natural type when the bytes allow it, else a blob (as an editor might).
fn typed(column: &str, bytes: &[u8]) -> Value {
    match (column, std::str::from_utf8(bytes)) {
        ("id", Ok(t)) => t
            .trim()
            .parse::<i64>()
            .map_or(Value::Text(t.into()), Value::Integer),
        ("wrapped", _) | (_, Err(_)) => Value::Blob(bytes.to_vec()),
        (_, Ok(t)) => Value::Text(t.into()),
    }
}

/// Slot parameters too costly to run per input (see the cost bound above).
fn too_costly(params: &Value) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&as_bytes(params)) else {
        return false;
    };
    let over = |k: &str, max: u64| v.get(k).and_then(|n| n.as_u64()).is_some_and(|n| n > max);
    over("m_kib", 1024) || over("t", 4) || over("p", 4)
}

fn apply(conn: &Connection, data: &[u8]) {
    let mut rest = data;
    while let [field, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (bytes, next) = tail.split_at(n);
        rest = next;
        let field = usize::from(*field) % 22;
        let res = match field {
            // Overwrite a header value.
            0..=2 => conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                rusqlite::params![META[field], bytes],
            ),
            // Delete a header value.
            3..=5 => conn.execute("DELETE FROM meta WHERE key = ?1", [META[field - 3]]),
            // Overwrite a column of slot 1 or 2.
            6..=13 => {
                let (slot, col) = ((field - 6) / 4 + 1, SLOT_COLUMNS[(field - 6) % 4]);
                conn.execute(
                    &format!("UPDATE slots SET {col} = ?1 WHERE rowid = ?2"),
                    rusqlite::params![typed(col, bytes), slot as i64],
                )
            }
            // Flip bits of a column of slot 1 or 2 in place (first byte: offset, then xor mask).
            14..=21 => {
                let (slot, col) = ((field - 14) / 4 + 1, SLOT_COLUMNS[(field - 14) % 4]);
                let Some((&off, mask)) = bytes.split_first() else {
                    continue;
                };
                let current: Option<Value> = conn
                    .query_row(
                        &format!("SELECT {col} FROM slots WHERE rowid = ?1"),
                        [slot as i64],
                        |r| r.get(0),
                    )
                    .ok();
                let Some(current) = current else { continue };
                let mut b = as_bytes(&current);
                if b.is_empty() {
                    continue;
                }
                let start = usize::from(off) % b.len();
                for (i, m) in mask.iter().enumerate() {
                    let j = (start + i) % b.len();
                    b[j] ^= m;
                }
                conn.execute(
                    &format!("UPDATE slots SET {col} = ?1 WHERE rowid = ?2"),
                    rusqlite::params![typed(col, &b), slot as i64],
                )
            }
            _ => unreachable!(),
        };
        // A constraint violation (say, two slots with one id) is an edit SQLite refuses: skip it.
        let _ = res;
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = f.work.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    std::fs::write(&f.work, &f.template).unwrap();
    let (meta, slots) = {
        let conn = Connection::open(&f.work).unwrap();
        apply(&conn, data);
        (meta_values(&conn), slot_rows(&conn))
    };
    if slots.iter().any(|s| too_costly(&s[2])) {
        return;
    }
    let unwrappers: Vec<Box<dyn SlotUnwrapper>> = vec![
        Box::new(Passphrase::new(
            SecretString::from(PASSPHRASE),
            KdfParams::default(),
        )),
        Box::new(RecoveryCode::parse(&SecretString::from(f.recovery.clone())).unwrap()),
    ];
    let unedited = meta == f.meta && slots == f.slots;
    match Vault::open_with(&f.work, &unwrappers) {
        Ok(mut vault) => {
            assert_eq!(meta, f.meta, "a vault with an edited header opened");
            let id = i64::from(vault.opened_by().expect("opened by a slot"));
            let opened = slots
                .iter()
                .find(|s| s[0] == Value::Integer(id))
                .expect("the slot that opened exists");
            assert!(
                f.slots.contains(opened),
                "an edited slot opened the vault: {opened:?}"
            );
            let value = vault.get(&Address::parse_uri(SECRET).unwrap()).unwrap();
            assert_eq!(value.expose(), VALUE.as_bytes());
        }
        Err(e) => assert!(!unedited, "the unedited vault failed to open: {e:?}"),
    }
});
