//! The audit chain through the real binary: an intact log verifies; an edited row, a deleted middle
//! row, cut-off last rows, a swapped order and a row copied from another vault are each detected
//! (exit 1, naming the first bad entry). Failed unlocks are recorded and folded into the chain.

use crate::common;

use common::{code, stderr, stdout, TestVault};
use rusqlite::{params, Connection};

fn db(tv: &TestVault) -> Connection {
    Connection::open(tv.vault_path()).unwrap()
}

/// A vault whose log has several entries: sets and gets of three secrets.
fn busy_vault() -> TestVault {
    let tv = TestVault::new();
    for (n, v) in [
        ("ALPHA", "a-value-1"),
        ("BETA", "b-value-2"),
        ("GAMMA", "c-value-3"),
    ] {
        tv.set(n, v);
        tv.get(n);
    }
    tv
}

fn count(conn: &Connection) -> i64 {
    conn.query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0))
        .unwrap()
}

/// `keep audit verify`: exit code and combined output.
fn verify(tv: &TestVault) -> (i32, String) {
    let out = tv.run(&["audit", "verify"]);
    (code(&out), format!("{}{}", stdout(&out), stderr(&out)))
}

fn first_bad(tv: &TestVault) -> u64 {
    let out = tv.run(&["audit", "verify", "--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["intact"], false);
    doc["first_bad"]["seq"].as_u64().unwrap()
}

#[test]
fn intact_log_verifies_and_records_each_command() {
    let tv = busy_vault();
    let (c, text) = verify(&tv);
    assert_eq!(c, 0, "{text}");
    assert!(text.contains("intact"), "{text}");
    let out = tv.run(&["audit", "--json", "--name", "BETA"]);
    assert_eq!(code(&out), 0);
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["write", "read"]);
    for e in &entries {
        assert_eq!(e["secret"], "keep://default/dev/BETA");
        assert_eq!(e["outcome"], "ok");
        assert!(e["pid"].as_u64().is_some());
        assert!(!e["user"].as_str().unwrap().is_empty());
        assert!(!e["host"].as_str().unwrap().is_empty());
    }
    assert_eq!(entries[1]["command"], "get");
    // --action filters; a failed get is recorded with its outcome.
    assert_eq!(code(&tv.run(&["get", "MISSING"])), 3);
    let out = tv.run(&["audit", "--json", "--action", "read", "--name", "MISSING"]);
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["outcome"], "not_found");
    assert_eq!(code(&tv.run(&["audit", "--action", "bogus"])), 2);
}

#[test]
fn names_are_sealed_in_the_log() {
    let tv = TestVault::new();
    tv.set("CANARY_NAME_QX7", "value-1234567");
    let conn = db(&tv);
    let mut stmt = conn.prepare("SELECT body FROM audit").unwrap();
    let bodies: Vec<Vec<u8>> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!bodies.is_empty());
    for b in bodies {
        let text = String::from_utf8_lossy(&b);
        assert!(!text.contains("CANARY_NAME_QX7"), "{text}");
        assert!(!text.contains("value-1234567"), "{text}");
    }
}

#[test]
fn an_edited_row_is_detected() {
    let tv = busy_vault();
    let conn = db(&tv);
    let body: Vec<u8> = conn
        .query_row("SELECT body FROM audit WHERE seq = 4", [], |r| r.get(0))
        .unwrap();
    let edited = String::from_utf8(body)
        .unwrap()
        .replace("\"ok\"", "\"auth\"");
    conn.execute(
        "UPDATE audit SET body = ?1 WHERE seq = 4",
        params![edited.as_bytes()],
    )
    .unwrap();
    assert_eq!(first_bad(&tv), 4);
    let (_, text) = verify(&tv);
    assert!(text.contains("entry #4"), "{text}");
}

#[test]
fn a_deleted_middle_row_is_detected() {
    let tv = busy_vault();
    db(&tv)
        .execute("DELETE FROM audit WHERE seq = 3", [])
        .unwrap();
    assert_eq!(first_bad(&tv), 3);
    let (_, text) = verify(&tv);
    assert!(text.contains("#3 is missing"), "{text}");
}

#[test]
fn truncating_the_last_rows_is_detected() {
    let tv = busy_vault();
    let conn = db(&tv);
    let n = count(&conn);
    conn.execute("DELETE FROM audit WHERE seq > ?1", [n - 2])
        .unwrap();
    assert_eq!(first_bad(&tv), (n - 1) as u64);
    let (_, text) = verify(&tv);
    assert!(text.contains("cut off"), "{text}");
}

#[test]
fn truncating_with_the_head_rewound_by_hand_is_detected() {
    let tv = busy_vault();
    let conn = db(&tv);
    let n = count(&conn);
    conn.execute("DELETE FROM audit WHERE seq > ?1", [n - 2])
        .unwrap();
    // Rewrite the head's count: without the key its MAC cannot be recomputed.
    let mut head: Vec<u8> = conn
        .query_row("SELECT value FROM meta WHERE key = 'audit_head'", [], |r| {
            r.get(0)
        })
        .unwrap();
    head[..8].copy_from_slice(&((n - 2) as u64).to_be_bytes());
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'audit_head'",
        params![head],
    )
    .unwrap();
    assert_eq!(first_bad(&tv), (n - 1) as u64);
    // Commands refuse to extend a chain whose head is forged (exit 5) rather than launder it.
    assert_eq!(code(&tv.run(&["get", "ALPHA"])), 5);
}

#[test]
fn a_swapped_order_is_detected() {
    let tv = busy_vault();
    db(&tv)
        .execute_batch(
            "UPDATE audit SET seq = -1 WHERE seq = 5;
             UPDATE audit SET seq = 5 WHERE seq = 6;
             UPDATE audit SET seq = 6 WHERE seq = -1;",
        )
        .unwrap();
    assert_eq!(first_bad(&tv), 5);
}

#[test]
fn a_row_copied_from_another_vault_is_detected() {
    let tv = busy_vault();
    let other = busy_vault();
    let (body, mac): (Vec<u8>, Vec<u8>) = db(&other)
        .query_row("SELECT body, mac FROM audit WHERE seq = 2", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    db(&tv)
        .execute(
            "UPDATE audit SET body = ?1, mac = ?2 WHERE seq = 2",
            params![body, mac],
        )
        .unwrap();
    assert_eq!(first_bad(&tv), 2);
}

#[test]
fn failed_unlocks_are_recorded_then_folded_into_the_chain() {
    let tv = TestVault::new();
    tv.set("A", "value-abcdefgh");
    std::fs::write(tv.path().join("wrong"), "not the passphrase\n").unwrap();
    for _ in 0..2 {
        let out = tv
            .keep(&["get", "A"])
            .env("KEEP_PASSPHRASE_FILE", tv.path().join("wrong"))
            .output()
            .unwrap();
        assert_eq!(code(&out), 4);
    }
    let pending: i64 = db(&tv)
        .query_row("SELECT COUNT(*) FROM audit_unauthenticated", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(pending, 2);
    // The next successful unlock folds them in: authenticated, with a position, and verified.
    tv.get("A");
    let conn = db(&tv);
    let pending: i64 = conn
        .query_row("SELECT COUNT(*) FROM audit_unauthenticated", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(pending, 0);
    let out = tv.run(&["audit", "--json", "--action", "unlock-failed"]);
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(entries.len(), 2);
    for e in &entries {
        assert!(e["seq"].as_u64().is_some());
        assert_eq!(e["outcome"], "auth");
        assert_eq!(e["command"], "get");
        assert!(e["folded_at"].is_string());
    }
    assert_eq!(verify(&tv).0, 0);
}

#[test]
fn since_filters_by_time_and_rejects_nonsense() {
    let tv = busy_vault();
    let n = |args: &[&str]| -> usize {
        let out = tv.run(args);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
            .unwrap()
            .len()
    };
    let all = n(&["audit", "--json"]);
    assert!(all >= 12);
    // Each `keep audit` logs its own unlock first, so the second listing has one more entry.
    assert_eq!(n(&["audit", "--json", "--since", "1h"]), all + 1);
    assert_eq!(
        n(&["audit", "--json", "--since", "2099-01-01T00:00:00Z"]),
        0
    );
    assert_eq!(code(&tv.run(&["audit", "--since", "yesterday-ish"])), 2);
}

#[test]
fn a_format_1_vault_is_migrated_and_starts_an_intact_log() {
    // A vault written before format 4 (tests/data/vault_format3.db, see tests/it/tamper_records.rs),
    // turned back into format 1: no rotation, audit or sync tables. (A format-4 file cannot be
    // turned back this way: its header MAC is format 4's.)
    let tv = TestVault::empty();
    std::fs::create_dir_all(tv.vault_path().parent().unwrap()).unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vault_format3.db");
    std::fs::copy(fixture, tv.vault_path()).unwrap();
    std::fs::write(tv.pass_file(), "fixture passphrase\n").unwrap();
    db(&tv)
        .execute_batch(
            "DROP TABLE audit; DROP TABLE audit_unauthenticated; DROP TABLE secret_meta;
             DROP TABLE rotation_pending; DROP TABLE sync_state;
             DELETE FROM meta WHERE key = 'audit_head';
             PRAGMA user_version = 1;",
        )
        .unwrap();
    assert_eq!(tv.get("PLAIN"), "plain");
    let version: i64 = db(&tv)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, i64::from(keep::store::FORMAT_VERSION));
    let (c, text) = verify(&tv);
    assert_eq!(c, 0, "{text}");
    assert!(count(&db(&tv)) >= 2, "the unlock and the read are logged");
}

#[test]
fn deleting_the_head_while_entries_exist_is_detected() {
    let tv = busy_vault();
    db(&tv)
        .execute("DELETE FROM meta WHERE key = 'audit_head'", [])
        .unwrap();
    let n = count(&db(&tv)) as u64;
    assert_eq!(first_bad(&tv), n + 1);
    assert_eq!(code(&tv.run(&["get", "ALPHA"])), 5);
}

#[test]
fn concurrent_readers_and_writers_keep_one_intact_chain() {
    let tv = TestVault::new();
    tv.set("SHARED", "shared-value-123");
    let before = count(&db(&tv));
    let mut children = Vec::new();
    for i in 0..6 {
        let args: Vec<String> = if i % 2 == 0 {
            vec!["get".into(), "SHARED".into()]
        } else {
            vec!["set".into(), format!("W{i}"), "--allow-empty".into()]
        };
        for _ in 0..10 {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            children.push(
                tv.keep(&refs)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
        }
    }
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    // 60 commands, each an unlock entry plus its read or write entry.
    assert_eq!(count(&db(&tv)) - before, 120);
    assert_eq!(verify(&tv).0, 0);
}
