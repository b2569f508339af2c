//! A stolen-then-edited vault file: flipped bytes, swapped ciphertexts, swapped versions, swapped names,
//! an edited header, a foreign database and a newer format. Each is caught with exit 5 (or refused),
//! names the record, and leaves every other secret readable.

use crate::common;

use common::{code, stderr, TestVault};
use rusqlite::{params, Connection};

fn db(tv: &TestVault) -> Connection {
    Connection::open(tv.vault_path()).unwrap()
}

/// The secret row ids in insertion order.
fn secret_ids(conn: &Connection) -> Vec<i64> {
    let mut stmt = conn.prepare("SELECT id FROM secrets ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn sealed(conn: &Connection, id: i64, version: u32) -> Vec<u8> {
    conn.query_row(
        "SELECT sealed FROM versions WHERE secret_id = ?1 AND version = ?2",
        params![id, version],
        |r| r.get(0),
    )
    .unwrap()
}

fn set_sealed(conn: &Connection, id: i64, version: u32, blob: &[u8]) {
    conn.execute(
        "UPDATE versions SET sealed = ?3 WHERE secret_id = ?1 AND version = ?2",
        params![id, version, blob],
    )
    .unwrap();
}

fn three_secrets() -> TestVault {
    let tv = TestVault::new();
    tv.set("FIRST", "one");
    tv.set("SECOND", "two");
    tv.set("THIRD", "three");
    tv
}

#[test]
fn a_flipped_byte_is_exit_5_naming_the_record_and_others_still_read() {
    let tv = three_secrets();
    let conn = db(&tv);
    let id = secret_ids(&conn)[0];
    let mut blob = sealed(&conn, id, 1);
    let last = blob.len() - 1;
    blob[last] ^= 0x01;
    set_sealed(&conn, id, 1, &blob);
    drop(conn);
    let out = tv.run(&["get", "FIRST"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("FIRST"),
        "the message names the record: {}",
        stderr(&out)
    );
    assert_eq!(tv.get("SECOND"), "two");
    assert_eq!(tv.get("THIRD"), "three");
}

#[test]
fn swapping_two_rows_ciphertexts_is_caught() {
    let tv = three_secrets();
    let conn = db(&tv);
    let ids = secret_ids(&conn);
    let (a, b) = (sealed(&conn, ids[0], 1), sealed(&conn, ids[1], 1));
    set_sealed(&conn, ids[0], 1, &b);
    set_sealed(&conn, ids[1], 1, &a);
    drop(conn);
    assert_eq!(code(&tv.run(&["get", "FIRST"])), 5);
    assert_eq!(code(&tv.run(&["get", "SECOND"])), 5);
    assert_eq!(tv.get("THIRD"), "three");
}

#[test]
fn swapping_versions_of_one_secret_is_caught() {
    let tv = TestVault::new();
    tv.set("ROTATED", "old");
    tv.set("ROTATED", "new");
    let conn = db(&tv);
    let id = secret_ids(&conn)[0];
    let (v1, v2) = (sealed(&conn, id, 1), sealed(&conn, id, 2));
    // Replaying the old ciphertext as the current version must not silently roll the value back.
    set_sealed(&conn, id, 2, &v1);
    set_sealed(&conn, id, 1, &v2);
    drop(conn);
    let out = tv.run(&["get", "ROTATED"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("version 2"), "{}", stderr(&out));
}

#[test]
fn swapping_sealed_names_or_lookups_is_caught() {
    let tv = three_secrets();
    let conn = db(&tv);
    let ids = secret_ids(&conn);
    let name = |id: i64| -> Vec<u8> {
        conn.query_row("SELECT name FROM secrets WHERE id = ?1", [id], |r| r.get(0))
            .unwrap()
    };
    let (a, b) = (name(ids[0]), name(ids[1]));
    conn.execute(
        "UPDATE secrets SET name = ?2 WHERE id = ?1",
        params![ids[0], b],
    )
    .unwrap();
    conn.execute(
        "UPDATE secrets SET name = ?2 WHERE id = ?1",
        params![ids[1], a],
    )
    .unwrap();
    drop(conn);
    assert_eq!(code(&tv.run(&["get", "FIRST"])), 5);
    assert_eq!(
        code(&tv.run(&["ls"])),
        5,
        "listing reports the bad record instead of skipping it"
    );
    assert_eq!(tv.get("THIRD"), "three");
}

#[test]
fn an_edited_header_is_caught() {
    let tv = three_secrets();
    let conn = db(&tv);
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'kdf'",
        [br#"{"m_kib":8,"t":1,"p":1}"#.to_vec()],
    )
    .unwrap();
    drop(conn);
    let out = tv.run(&["get", "FIRST"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("header"), "{}", stderr(&out));
}

#[test]
fn a_foreign_file_or_database_is_refused_and_left_untouched() {
    let tv = TestVault::empty();
    std::fs::create_dir_all(tv.vault_path().parent().unwrap()).unwrap();
    // A plain file.
    std::fs::write(
        tv.vault_path(),
        b"this is not a database at all, just some text\n".repeat(100),
    )
    .unwrap();
    let before = std::fs::read(tv.vault_path()).unwrap();
    let out = tv.run(&["ls"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a keep vault"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(tv.vault_path()).unwrap(), before);
    // Another application's SQLite database.
    std::fs::remove_file(tv.vault_path()).unwrap();
    let conn = Connection::open(tv.vault_path()).unwrap();
    conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hello');")
        .unwrap();
    drop(conn);
    let before = std::fs::read(tv.vault_path()).unwrap();
    let out = tv.run(&["ls"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("another application"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(tv.vault_path()).unwrap(),
        before,
        "not even switched to WAL"
    );
}

#[test]
fn a_vault_from_a_newer_format_is_refused_and_left_untouched() {
    let tv = three_secrets();
    let conn = db(&tv);
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA user_version = 999;")
        .unwrap();
    drop(conn);
    let before = std::fs::read(tv.vault_path()).unwrap();
    let out = tv.run(&["get", "FIRST"]);
    assert_eq!(code(&out), 5);
    assert!(stderr(&out).contains("newer keep"), "{}", stderr(&out));
    assert_eq!(std::fs::read(tv.vault_path()).unwrap(), before);
}

#[test]
fn a_slot_from_another_vault_does_not_open_this_one() {
    let a = TestVault::new();
    let b = TestVault::new();
    b.set("B_SECRET", "b");
    let slot: (String, String, Vec<u8>) = db(&a)
        .query_row(
            "SELECT kind, params, wrapped FROM slots WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    db(&b)
        .execute(
            "UPDATE slots SET kind = ?1, params = ?2, wrapped = ?3 WHERE id = 1",
            params![slot.0, slot.1, slot.2],
        )
        .unwrap();
    let out = b.run(&["get", "B_SECRET"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
}
