//! One audit entry per command (issue 17): an `exec` of 100 secrets adds one chain row of at most
//! 1 KiB, not 100, yet every view still names each secret; entries written one per secret by an
//! older keep still list, verify and survive a re-key beside the new ones.

use crate::common;
use crate::tamper_records::fixture;

use common::{code, stderr, stdout, TestVault};
use rusqlite::Connection;

fn db(tv: &TestVault) -> Connection {
    Connection::open(tv.vault_path()).unwrap()
}

/// A vault with `n` secrets `SECRET_000..` in default/dev, imported in one command.
fn vault_of(n: usize) -> TestVault {
    let tv = TestVault::new();
    let lines: String = (0..n)
        .map(|i| format!("SECRET_{i:03}=value-{i}-abcdefghijklmnop\n"))
        .collect();
    std::fs::write(tv.path().join("in.env"), lines).unwrap();
    let out = tv.run(&["import", "in.env"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    tv
}

/// The audit rows `(seq, action, bytes of body and MAC)`, after a checkpoint.
fn rows(tv: &TestVault) -> Vec<(i64, String, usize)> {
    let conn = db(tv);
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let mut stmt = conn
        .prepare("SELECT seq, body, mac FROM audit ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| {
        let body: Vec<u8> = r.get(1)?;
        let mac: Vec<u8> = r.get(2)?;
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
        Ok((
            r.get(0)?,
            doc["action"].as_str().unwrap().to_string(),
            body.len() + mac.len(),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The vault file's size in bytes after a checkpoint (pages in use times page size).
fn file_bytes(tv: &TestVault) -> i64 {
    let conn = db(tv);
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    pages * size
}

fn listed(tv: &TestVault, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["audit", "--json"];
    all.extend_from_slice(args);
    let out = tv.run(&all);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn verify_intact(tv: &TestVault) {
    let out = tv.run(&["audit", "verify", "--json"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["intact"], true, "{doc}");
}

#[test]
fn an_exec_of_100_secrets_is_one_entry_of_at_most_1_kib_naming_each_secret() {
    let tv = vault_of(100);
    let before = rows(&tv);
    let out = tv.run(&["exec", "--", "true"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let after = rows(&tv);
    let added = &after[before.len()..];
    // The passphrase opened the vault, so the exec logs its unlock, then its one read.
    let reads: Vec<_> = added.iter().filter(|r| r.1 == "read").collect();
    assert_eq!(reads.len(), 1, "one entry for the command: {added:?}");
    assert!(reads[0].2 <= 1024, "the read entry is {} bytes", reads[0].2);
    let seq = reads[0].0;

    verify_intact(&tv);
    let entries = listed(&tv, &[]);
    let of_exec: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["command"] == "exec" && e["action"] == "read")
        .collect();
    let named: Vec<&str> = of_exec
        .iter()
        .map(|e| e["secret"].as_str().unwrap())
        .collect();
    let want: Vec<String> = (0..100)
        .map(|i| format!("keep://default/dev/SECRET_{i:03}"))
        .collect();
    assert_eq!(named, want, "each secret listed, in order");
    assert!(
        of_exec.iter().all(|e| e["seq"] == seq),
        "they share the entry's seq"
    );

    // The text view: one line per secret, all with the entry's seq.
    let out = tv.run(&["audit", "--action", "read"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(" exec ")).collect();
    assert_eq!(lines.len(), 100, "{text}");
    assert!(
        lines.iter().all(|l| l.starts_with(&format!("{seq} "))),
        "{text}"
    );
    assert!(
        lines[42].contains("keep://default/dev/SECRET_042"),
        "{text}"
    );

    // Filters pick the one secret out of the entry.
    let one = listed(&tv, &["--name", "SECRET_042", "--action", "read"]);
    assert_eq!(one.len(), 1, "{one:?}");
    assert_eq!(one[0]["secret"], "keep://default/dev/SECRET_042");
    let one = listed(&tv, &["--name", "keep://default/dev/SECRET_099"]);
    let actions: Vec<&str> = one.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["write", "read"], "{one:?}");
}

#[test]
fn repeated_execs_of_100_secrets_grow_the_vault_file_by_at_most_1_kib_each() {
    let tv = vault_of(100);
    let out = tv.run(&["unlock", "--ttl", "5m"]);
    let session = code(&out) == 0;
    let runs = 20;
    let before = file_bytes(&tv);
    for _ in 0..runs {
        let out = tv.run(&["exec", "--", "true"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let per_exec = (file_bytes(&tv) - before) / runs;
    // Each exec here also logs its unlock (about 190 bytes) unless a session opened the vault.
    let budget = if session { 1024 } else { 1024 + 256 };
    assert!(
        per_exec <= budget,
        "{per_exec} bytes per exec (session: {session})"
    );
    verify_intact(&tv);
}

#[test]
fn a_burst_inside_one_entry_is_still_a_burst() {
    // The default rule: more than 20 distinct secrets within a minute. One exec of 21 is one entry.
    let tv = vault_of(21);
    assert_eq!(code(&tv.run(&["exec", "--", "true"])), 0);
    let out = tv.run(&["audit", "--unusual", "--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let findings: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let bursts: Vec<_> = findings.iter().filter(|f| f["rule"] == "burst").collect();
    assert_eq!(bursts.len(), 1, "{findings:?}");
    assert_eq!(bursts[0]["detail"], "21 distinct secrets read within 1m");
    // 20 are not: the threshold counts secrets, not entries.
    let tv = vault_of(20);
    assert_eq!(code(&tv.run(&["exec", "--", "true"])), 0);
    let out = tv.run(&["audit", "--unusual", "--json"]);
    let findings: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        findings.iter().all(|f| f["rule"] != "burst"),
        "{findings:?}"
    );
}

#[test]
fn old_per_secret_entries_list_and_verify_beside_new_ones_and_survive_a_rekey() {
    // tests/data/vault_format3.db: its log was written one entry per secret, each with one sealed
    // `address` (see tests/it/tamper_records.rs for its contents).
    let tv = fixture("vault_format3.db");
    let old_writes = |entries: &[serde_json::Value]| -> Vec<String> {
        entries
            .iter()
            .filter(|e| e["command"] == "set" && e["action"] == "write")
            .map(|e| e["secret"].as_str().unwrap().to_string())
            .collect()
    };
    let first = listed(&tv, &[]);
    let writes = old_writes(&first);
    assert_eq!(writes.len(), 6, "{first:?}");
    assert!(
        writes.contains(&"keep://default/dev/ROTATED".to_string())
            && writes.contains(&"keep://default/prod/PROD_ONLY".to_string()),
        "{writes:?}"
    );
    verify_intact(&tv);

    // A new entry of several secrets beside them.
    let out = tv.run(&["exec", "--", "true"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let entries = listed(&tv, &[]);
    assert_eq!(old_writes(&entries), writes);
    let exec: Vec<&str> = entries
        .iter()
        .filter(|e| e["command"] == "exec")
        .filter_map(|e| e["secret"].as_str())
        .collect();
    assert_eq!(
        exec,
        ["keep://default/dev/PLAIN", "keep://default/dev/ROTATED"]
    );
    verify_intact(&tv);

    // keep rekey re-seals both forms: everything lists as before, and the chain verifies.
    let out = tv.run(&["rekey"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let after = listed(&tv, &[]);
    assert_eq!(&after[..entries.len()], &entries[..]);
    verify_intact(&tv);
}
