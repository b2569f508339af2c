//! Rolling the vault file back to an older state of itself: one secret (its manifest, head and
//! versions put back from an older copy), or the whole file. The file alone cannot tell an older
//! authentic state from the newest; the write generation recorded outside it
//! (`~/.local/state/keep/VAULT_ID.generation`) can. Each attack goes through the real binary.

use crate::common;
use crate::tamper_records::{
    db, delete_version, fails, fixture, format_of, put_back, rows, secret_ids,
};

use std::path::{Path, PathBuf};

use common::{code, stderr, stdout, TestVault};

/// Every `*.generation` record under the test's home (one per vault).
fn generation_records(tv: &TestVault) -> Vec<PathBuf> {
    let dir = tv.path().join(".local/state/keep");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    out.retain(|p| p.extension().is_some_and(|e| e == "generation"));
    out
}

fn recorded_generation(tv: &TestVault) -> u64 {
    let records = generation_records(tv);
    assert_eq!(records.len(), 1, "one vault, one record: {records:?}");
    let text = std::fs::read_to_string(&records[0]).unwrap();
    text.trim_end().parse().unwrap()
}

/// A consistent copy of the vault file as it is now (what a backup or an attacker's copy holds).
fn snapshot(tv: &TestVault, to: &Path) {
    db(tv)
        .execute("VACUUM INTO ?1", [to.to_str().unwrap()])
        .unwrap();
}

/// Put `copy` in place of the vault file, as `cp copy vault.db` would (no WAL left behind).
fn restore(tv: &TestVault, copy: &Path) {
    let vault = tv.vault_path();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", vault.display()));
    }
    std::fs::copy(copy, &vault).unwrap();
}

#[test]
fn every_write_advances_the_generation_recorded_outside_the_file_and_reads_do_not() {
    let tv = TestVault::new();
    let after_init = recorded_generation(&tv);
    tv.set("A", "1");
    tv.set("B", "2");
    assert_eq!(recorded_generation(&tv), after_init + 2);
    assert_eq!(tv.get("A"), "1");
    assert_eq!(code(&tv.run(&["ls"])), 0);
    assert_eq!(
        recorded_generation(&tv),
        after_init + 2,
        "reads write nothing"
    );
    assert_eq!(code(&tv.run(&["rm", "A"])), 0);
    assert_eq!(recorded_generation(&tv), after_init + 3);
    // The record holds a number and nothing of the vault's names or values.
    let text = std::fs::read_to_string(&generation_records(&tv)[0]).unwrap();
    assert_eq!(text, format!("{}\n", after_init + 3));
}

#[test]
fn one_secret_put_back_with_its_manifest_and_head_is_exit_5_on_get_not_its_old_value() {
    // The gap SECURITY.md used to list: restore, from one older copy, the manifest and ONE secret's
    // head, and delete that secret's newer versions. Every row is authentic, and `get` checks only
    // that secret's group of heads against the (older, authentic) manifest.
    let tv = TestVault::new();
    tv.set("ROTATED", "old-value");
    tv.set("OTHER", "other");
    let conn = db(&tv);
    let id = secret_ids(&conn)[0];
    let old_manifest = rows(&conn, "SELECT * FROM meta WHERE key = 'manifest'");
    let old_head = rows(
        &conn,
        &format!("SELECT * FROM heads WHERE secret_id = {id}"),
    );
    drop(conn);
    tv.set("ROTATED", "new-value");

    let conn = db(&tv);
    put_back(&conn, "meta", &old_manifest);
    put_back(&conn, "heads", &old_head);
    drop(conn);
    delete_version(&tv, id, 2);

    let out = tv.run(&["get", "ROTATED"]);
    fails(
        &out,
        &["ROTATED", "older copy", "write 3", "write 4"],
        "get of the rolled-back secret",
    );
    assert!(!stdout(&out).contains("old-value"), "{}", stdout(&out));
    // The file as a whole is older than what this account saw: no read trusts it.
    fails(
        &tv.run(&["get", "OTHER"]),
        &["older copy"],
        "get of another",
    );
    for cmd in [&["ls"][..], &["env"], &["exec", "--", "true"], &["verify"]] {
        fails(&tv.run(cmd), &["older copy"], &cmd.join(" "));
    }
    // A write on top is refused too, before anything is written.
    let out = tv.run_with_stdin(&["set", "ROTATED"], b"third");
    fails(&out, &["older copy"], "set on top");
    // The message says where the record is; removing it is how an owner accepts a copy.
    let record = generation_records(&tv).pop().unwrap();
    assert!(
        stderr(&out).contains(record.to_str().unwrap()),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_older_copy_of_the_whole_file_is_refused_until_its_owner_accepts_it() {
    let tv = TestVault::new();
    tv.set("TOKEN", "v1");
    let copy = tv.path().join("copy.db");
    snapshot(&tv, &copy);
    tv.set("TOKEN", "v2");
    tv.set("ADDED", "later");

    restore(&tv, &copy);
    let out = tv.run(&["get", "TOKEN"]);
    fails(
        &out,
        &["TOKEN", "older copy"],
        "get after restoring the file",
    );
    assert!(!stdout(&out).contains("v1"));
    fails(&tv.run(&["ls"]), &["older copy"], "ls");
    let out = tv.run(&["verify", "--json"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["intact"], false, "{report}");
    assert!(
        report["problems"].to_string().contains("older copy"),
        "{report}"
    );

    // The owner restored it on purpose: removing the record accepts the file as it is, and the
    // next write starts the record again from the copy's generation.
    std::fs::remove_file(generation_records(&tv).pop().unwrap()).unwrap();
    assert_eq!(tv.get("TOKEN"), "v1");
    assert_eq!(code(&tv.run(&["get", "ADDED"])), 3);
    tv.set("TOKEN", "v3");
    assert_eq!(tv.get("TOKEN"), "v3");
    assert_eq!(code(&tv.run(&["verify"])), 0);
}

#[test]
fn an_edited_or_planted_generation_record_is_never_read_as_zero() {
    let tv = TestVault::new();
    tv.set("A", "1");
    let record = generation_records(&tv).pop().unwrap();
    std::fs::write(&record, "not a number\n").unwrap();
    let out = tv.run(&["get", "A"]);
    fails(
        &out,
        &[record.to_str().unwrap(), "not a number"],
        "edited record",
    );
    // A symbolic link in its place is not followed.
    let elsewhere = tv.path().join("elsewhere");
    std::fs::write(&elsewhere, "1\n").unwrap();
    std::fs::remove_file(&record).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &record).unwrap();
    let out = tv.run(&["get", "A"]);
    assert_eq!(code(&out), 8, "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
}

/// `tests/data/vault_format4.db` was written by keep before format 5 (no generation; passphrase
/// "fixture passphrase", Argon2id 1 MiB / t=1): default/dev ROTATED ("v1".."v3"), PLAIN ("plain"),
/// DELETED (a value, then deleted), and default/prod PROD_ONLY ("prodval").
fn format4_vault() -> TestVault {
    fixture("vault_format4.db")
}

#[test]
fn a_format_4_vault_migrates_and_its_first_write_starts_the_generation_count() {
    let tv = format4_vault();
    let version = format_of;
    assert_eq!(version(&tv), 4);
    let format4_manifest = rows(&db(&tv), "SELECT * FROM meta WHERE key = 'manifest'");
    assert_eq!(tv.get("ROTATED"), "v3");
    assert_eq!(version(&tv), i64::from(keep::store::FORMAT_VERSION));
    let out = tv.run(&["verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("4 secrets, 7 versions"),
        "{}",
        stdout(&out)
    );
    assert_eq!(stdout(&tv.run(&["ls"])), "PLAIN\nROTATED\n");
    assert_eq!(
        stdout(&tv.run(&["--env", "prod", "get", "PROD_ONLY"])),
        "prodval"
    );
    assert_eq!(code(&tv.run(&["get", "DELETED"])), 3);
    assert!(generation_records(&tv).is_empty(), "reads record nothing");

    tv.set("PLAIN", "changed");
    assert_eq!(recorded_generation(&tv), 1);
    assert_eq!(tv.get("PLAIN"), "changed");
    assert_eq!(code(&tv.run(&["verify"])), 0);
    // The format-4 manifest (generation 0) put back is now an older copy.
    put_back(&db(&tv), "meta", &format4_manifest);
    fails(
        &tv.run(&["get", "ROTATED"]),
        &["older copy"],
        "format-4 manifest put back",
    );
}
