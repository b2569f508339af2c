//! Audit retention through the real binary: `keep audit compact --before D` removes a prefix of the
//! log behind a checkpoint, and the attacks on it by someone who can write the vault file (sqlite3,
//! cp) but holds no key: each is caught by `keep audit verify` (exit 1) or refused (exit 5).

use crate::common;

use std::time::{Duration, SystemTime};

use common::{code, stderr, stdout, TestVault};
use rusqlite::{params, Connection};

fn db(tv: &TestVault) -> Connection {
    Connection::open(tv.vault_path()).unwrap()
}

fn seqs(tv: &TestVault) -> Vec<i64> {
    let c = db(tv);
    let mut stmt = c.prepare("SELECT seq FROM audit ORDER BY seq").unwrap();
    let rows = stmt.query_map([], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// The audit rows as stored.
fn rows(tv: &TestVault) -> Vec<(i64, Vec<u8>, Vec<u8>)> {
    let c = db(tv);
    let mut stmt = c
        .prepare("SELECT seq, body, mac FROM audit ORDER BY seq")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn put_rows(tv: &TestVault, rows: &[(i64, Vec<u8>, Vec<u8>)]) {
    let c = db(tv);
    for (seq, body, mac) in rows {
        c.execute(
            "INSERT OR REPLACE INTO audit (seq, body, mac) VALUES (?1, ?2, ?3)",
            params![seq, body, mac],
        )
        .unwrap();
    }
}

fn checkpoint(tv: &TestVault) -> Option<Vec<u8>> {
    db(tv)
        .query_row(
            "SELECT value FROM meta WHERE key = 'audit_checkpoint'",
            [],
            |r| r.get(0),
        )
        .ok()
}

fn set_checkpoint(tv: &TestVault, value: Option<&[u8]>) {
    let c = db(tv);
    match value {
        Some(v) => c
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('audit_checkpoint', ?1)",
                [v],
            )
            .unwrap(),
        None => c
            .execute("DELETE FROM meta WHERE key = 'audit_checkpoint'", [])
            .unwrap(),
    };
}

fn verify_json(tv: &TestVault, extra: &[&str]) -> (i32, serde_json::Value) {
    tv.audit_verify_json(extra)
}

/// The chain alone (`audit verify --no-witness`) reports tampering whose description contains `says`.
fn tampered(tv: &TestVault, says: &str) {
    let (c, doc) = verify_json(tv, &["--no-witness"]);
    assert_eq!(c, 1, "{doc}");
    let what = doc["first_bad"]["what"].as_str().unwrap();
    assert!(what.contains(says), "{doc}");
}

/// The chain alone reports tampering at entry `seq`.
fn tampered_at(tv: &TestVault, seq: i64) {
    let (c, doc) = verify_json(tv, &["--no-witness"]);
    assert_eq!(
        (c, &doc["first_bad"]["seq"]),
        (1, &serde_json::json!(seq)),
        "{doc}"
    );
}

/// A time between the commands so far and the ones after (entry times are in milliseconds).
fn cutoff() -> String {
    std::thread::sleep(Duration::from_millis(20));
    let t = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    std::thread::sleep(Duration::from_millis(20));
    t
}

fn compact(tv: &TestVault, before: &str) -> (i32, serde_json::Value, String) {
    let out = tv.run(&["audit", "compact", "--before", before, "--json"]);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (code(&out), doc, text)
}

/// `keep audit compact --before ARGS...` exits 0 saying `says`, and the log is still `all`, with no
/// checkpoint.
fn changes_nothing(tv: &TestVault, args: &[&str], says: &str, all: &[i64]) {
    let mut cmd = vec!["audit", "compact", "--before"];
    cmd.extend_from_slice(args);
    let out = tv.run(&cmd);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains(says), "{}", stdout(&out));
    assert_eq!(seqs(tv), all);
    assert!(checkpoint(tv).is_none());
}

/// A vault with some history, a cutoff after it, and more history after the cutoff.
fn history() -> (TestVault, String) {
    let tv = TestVault::new();
    tv.set("ALPHA", "alpha-value-1");
    tv.set("BETA", "beta-value-2");
    assert_eq!(tv.get("ALPHA"), "alpha-value-1");
    let t = cutoff();
    assert_eq!(tv.get("BETA"), "beta-value-2");
    tv.set("ALPHA", "alpha-value-3");
    (tv, t)
}

/// Compact at the cutoff: returns the last removed position.
fn compacted(tv: &TestVault, before: &str) -> i64 {
    let (c, doc, text) = compact(tv, before);
    assert_eq!(c, 0, "{text}");
    assert_eq!(doc["compacted"], true, "{doc}");
    doc["last"].as_i64().unwrap()
}

#[test]
fn compaction_removes_the_old_prefix_and_the_rest_still_verifies_with_the_witness() {
    let (tv, t) = history();
    let all = seqs(&tv);
    // A dry run says what would go and changes nothing.
    changes_nothing(
        &tv,
        &[&t, "--dry-run"],
        "would compact entries #1 to #",
        &all,
    );

    let (c, doc, text) = compact(&tv, &t);
    assert_eq!(
        (c, &doc["compacted"]),
        (0, &serde_json::json!(true)),
        "{text}"
    );
    let k = doc["last"].as_i64().unwrap();
    assert!(k >= 3 && (k as usize) < all.len(), "{k} of {all:?}");
    assert_eq!(doc["entry"], all.last().unwrap() + 1, "{doc}");
    let compact_entry = doc["entry"].clone();
    let left = seqs(&tv);
    assert_eq!(left[0], k + 1, "sequence numbers are kept");
    let (c, doc) = verify_json(&tv, &[]);
    assert_eq!(c, 0, "{doc}");
    assert_eq!(doc["intact"], true);
    assert_eq!(doc["compacted"]["last"], k, "{doc}");
    assert_eq!(doc["starts_at"], k + 1);
    assert_eq!(doc["witness"]["compacted"], k);
    assert!(doc["witness"]["problem"].is_null(), "{doc}");
    let out = tv.run(&["audit", "verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("from #{} (entries 1 to #{k} compacted on", k + 1)),
        "{}",
        stdout(&out)
    );
    // The listing starts after the checkpoint and shows the compaction itself; text says so.
    let out = tv.run(&["audit"]);
    assert!(
        stderr(&out).contains(&format!("Entries 1 to #{k} were compacted on")),
        "{}",
        stderr(&out)
    );
    let out = tv.run(&["audit", "--json"]);
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let listed_seqs: Vec<i64> = listed.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert_eq!(listed_seqs.first(), Some(&(k + 1)), "{listed:?}");
    assert!(listed
        .iter()
        .any(|e| e["seq"] == compact_entry && e["action"] == "audit-compact"));
    // The whole-vault check agrees, later commands extend the chain, and values are intact.
    let out = tv.run(&["verify"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(tv.get("ALPHA"), "alpha-value-3");
    assert_eq!(verify_json(&tv, &[]).0, 0);
    // The witness still holds every line, compacted ones included.
    let witness_lines = std::fs::read_dir(tv.path().join(".local/state/keep"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    assert!(witness_lines.contains("\"seq\":1,"), "{witness_lines}");
}

#[test]
fn deleting_more_rows_after_a_compaction_is_detected() {
    let (tv, t) = history();
    let k = compacted(&tv, &t);
    db(&tv)
        .execute("DELETE FROM audit WHERE seq = ?1", [k + 1])
        .unwrap();
    tampered_at(&tv, k + 1);
}

#[test]
fn deleting_or_editing_the_checkpoint_is_detected() {
    let (tv, t) = history();
    let k = compacted(&tv, &t);
    let good = checkpoint(&tv).unwrap();
    set_checkpoint(&tv, None);
    tampered_at(&tv, 1);
    // Edited: claim fewer entries were removed (the JSON, then its 32-byte MAC kept as it was).
    let (json, mac) = good.split_at(good.len() - 32);
    let mut edited = String::from_utf8(json.to_vec())
        .unwrap()
        .replacen(
            &format!("\"last\":{k},"),
            &format!("\"last\":{},", k - 1),
            1,
        )
        .into_bytes();
    assert_ne!(edited, json);
    edited.extend_from_slice(mac);
    set_checkpoint(&tv, Some(&edited));
    tampered(&tv, "checkpoint");
    // Put back as it was, all is well again: the test's edits were the only problem.
    set_checkpoint(&tv, Some(&good));
    assert_eq!(verify_json(&tv, &[]).0, 0);
}

#[test]
fn putting_back_the_compacted_rows_or_an_older_checkpoint_is_detected() {
    let (tv, t1) = history();
    let before = rows(&tv);
    let k1 = compacted(&tv, &t1);
    let cp1 = checkpoint(&tv).unwrap();
    // The compacted rows put back, the checkpoint kept: they are in the log again.
    put_rows(&tv, &before[..k1 as usize]);
    tampered_at(&tv, 1);
    // ... and with the checkpoint deleted too: the whole original chain is back, but the log's
    // compaction entry says a compaction happened.
    set_checkpoint(&tv, None);
    tampered(&tv, "no checkpoint");
    db(&tv)
        .execute("DELETE FROM audit WHERE seq <= ?1", [k1])
        .unwrap();
    set_checkpoint(&tv, Some(&cp1));
    assert_eq!(
        verify_json(&tv, &[]).0,
        0,
        "restored to the compacted state"
    );

    // A second compaction; then its checkpoint replaced by the first one.
    assert_eq!(tv.get("ALPHA"), "alpha-value-3");
    let t2 = cutoff();
    assert_eq!(tv.get("BETA"), "beta-value-2");
    let before_second = rows(&tv);
    let k2 = compacted(&tv, &t2);
    assert!(k2 > k1);
    set_checkpoint(&tv, Some(&cp1));
    tampered_at(&tv, k1 + 1);
    // ... with the rows the second compaction removed put back as well: the chain links up, but the
    // newest compaction entry names another checkpoint.
    put_rows(
        &tv,
        &before_second
            .iter()
            .filter(|r| r.0 <= k2)
            .cloned()
            .collect::<Vec<_>>(),
    );
    tampered(&tv, "older checkpoint");
}

#[test]
fn a_checkpoint_from_another_vault_is_detected() {
    let (a, ta) = history();
    let (b, tb) = history();
    compacted(&a, &ta);
    compacted(&b, &tb);
    set_checkpoint(&a, Some(&checkpoint(&b).unwrap()));
    tampered(&a, "fails authentication");
}

#[test]
fn a_cutoff_in_the_future_is_refused_and_one_that_removes_nothing_changes_nothing() {
    let (tv, _) = history();
    let all = seqs(&tv);
    let out = tv.run(&["audit", "compact", "--before", "2999-01-01"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("in the future"), "{}", stderr(&out));
    let out = tv.run(&["audit", "compact", "--before", "yesterday"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(seqs(&tv), all);
    // Older than 30 days: nothing in a new vault.
    let (c, doc, text) = compact(&tv, "30d");
    assert_eq!(c, 0, "{text}");
    assert_eq!(
        (&doc["compacted"], &doc["count"]),
        (&serde_json::json!(false), &serde_json::json!(0))
    );
    changes_nothing(&tv, &["2001-01-01"], "nothing to compact", &all);
}

#[test]
fn a_log_that_does_not_verify_is_not_compacted_and_nothing_changes() {
    let (tv, t) = history();
    db(&tv)
        .execute(
            "UPDATE audit SET body = CAST('x' AS BLOB) WHERE seq = 2",
            [],
        )
        .unwrap();
    let before = rows(&tv);
    let (c, _, text) = compact(&tv, &t);
    assert_eq!(c, 5, "{text}");
    assert!(text.contains("nothing was compacted"), "{text}");
    assert_eq!(rows(&tv), before);
    assert!(checkpoint(&tv).is_none());
}

#[test]
fn a_log_its_witness_disagrees_with_is_not_compacted_unless_told() {
    let (tv, t) = history();
    let w = std::fs::read_dir(tv.path().join(".local/state/keep"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".audit.jsonl"))
        .unwrap();
    std::fs::remove_file(&w).unwrap();
    let before = rows(&tv);
    let (c, _, text) = compact(&tv, &t);
    assert_eq!(c, 5, "{text}");
    assert!(text.contains("witness"), "{text}");
    assert_eq!(rows(&tv), before);
    let out = tv.run(&["audit", "compact", "--before", &t, "--no-witness"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(verify_json(&tv, &["--no-witness"]).0, 0);
}

#[test]
fn a_rekey_after_a_compaction_keeps_the_chain_verifiable() {
    let (tv, t) = history();
    let k = compacted(&tv, &t);
    let old_checkpoint = checkpoint(&tv).unwrap();
    let out = tv.run(&["rekey"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (c, doc) = verify_json(&tv, &[]);
    assert_eq!(c, 0, "{doc}");
    assert_eq!(doc["compacted"]["last"], k);
    assert_eq!(code(&tv.run(&["verify"])), 0);
    assert_eq!(tv.get("ALPHA"), "alpha-value-3");
    // The checkpoint was MAC'd again under the new key: the old one no longer fits.
    let new_checkpoint = checkpoint(&tv).unwrap();
    assert_ne!(new_checkpoint, old_checkpoint);
    set_checkpoint(&tv, Some(&old_checkpoint));
    tampered(&tv, "checkpoint");
    set_checkpoint(&tv, Some(&new_checkpoint));
    assert_eq!(verify_json(&tv, &[]).0, 0);
}
