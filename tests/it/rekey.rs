//! `keep rekey`, `keep passwd --rekey` and `keep slot rm --rekey` through the real binary (issue 13,
//! finding 5): after a re-key, a slot row copied back from an older copy of the file opens nothing;
//! everything else (values, history, tombstones, rotation state, sync state, the audit chain and its
//! witness, `keep verify`) is intact; slots are re-wrapped or, only when asked, removed.

use crate::common;
use crate::custody_support;
use crate::sync_support;

use std::path::{Path, PathBuf};

use common::{code, stderr, stdout, TestVault};
use rusqlite::Connection;
use sync_support::Peer;

fn db(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

/// A copy of the vault file as it is now (the attacker's backup).
fn snapshot(tv: &TestVault, name: &str) -> PathBuf {
    let copy = tv.path().join(name);
    std::fs::copy(tv.vault_path(), &copy).unwrap();
    copy
}

/// Put slot `id` of the old copy back into the vault file (replacing or adding the row).
fn copy_back_slot(tv: &TestVault, old: &Path, id: u32) {
    let conn = db(&tv.vault_path());
    conn.execute("ATTACH DATABASE ?1 AS old", [old.display().to_string()])
        .unwrap();
    let n = conn
        .execute(
            "INSERT OR REPLACE INTO main.slots SELECT * FROM old.slots WHERE id = ?1",
            [id],
        )
        .unwrap();
    assert_eq!(n, 1, "the old copy holds slot {id}");
}

fn write_file(tv: &TestVault, name: &str, text: &str) -> PathBuf {
    let p = tv.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// `keep ARGS` opening with the passphrase in `pass_file` instead of the test vault's.
fn with_pass(tv: &TestVault, pass_file: &Path, args: &[&str]) -> std::process::Output {
    tv.keep(args)
        .env("KEEP_PASSPHRASE_FILE", pass_file)
        .output()
        .unwrap()
}

/// Add a passphrase slot (cheap KDF) for the passphrase in `pass_file`.
fn add_passphrase_slot(tv: &TestVault, pass_file: &Path) {
    let out = tv
        .keep(custody_support::ADD_CHEAP_PASSPHRASE)
        .env("KEEP_NEW_PASSPHRASE_FILE", pass_file)
        .output()
        .unwrap();
    ok(&out);
}

fn ok(out: &std::process::Output) -> String {
    assert_eq!(code(out), 0, "{}", stderr(out));
    stdout(out)
}

/// Every stored byte string of the sealed or keyed columns, to compare two copies of the file.
fn keyed_blobs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let conn = db(path);
    let mut out = Vec::new();
    for (table, col) in [
        ("secrets", "lookup"),
        ("secrets", "name"),
        ("versions", "sealed"),
        ("heads", "digest"),
        ("secret_meta", "lookup"),
        ("secret_meta", "sealed"),
        ("rotation_pending", "lookup"),
        ("rotation_pending", "sealed"),
        ("sync_state", "target_key"),
        ("sync_state", "name_key"),
        ("sync_state", "hash"),
        ("audit", "mac"),
        ("slots", "wrapped"),
        ("slots", "mac"),
    ] {
        let mut stmt = conn.prepare(&format!("SELECT {col} FROM {table}")).unwrap();
        let rows = stmt
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .unwrap()
            .map(Result::unwrap);
        out.extend(rows.map(|b| (format!("{table}.{col}"), b)));
    }
    for key in ["check", "manifest", "audit_head"] {
        let v: Vec<u8> = conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .unwrap();
        out.push((format!("meta.{key}"), v));
    }
    out
}

/// [`keyed_blobs`] without the audit chain, which a refused re-key still extends (its unlock and
/// its failure are logged).
fn records(path: &Path) -> Vec<(String, Vec<u8>)> {
    keyed_blobs(path)
        .into_iter()
        .filter(|(what, _)| !what.starts_with("audit.") && what != "meta.audit_head")
        .collect()
}

#[test]
fn a_slot_copied_back_from_before_slot_rm_rekey_opens_nothing() {
    let tv = TestVault::new();
    tv.set("DB_URL", "postgres://v1");
    tv.set("DB_URL", "postgres://v2");
    tv.set("GONE", "deleted-value");
    ok(&tv.run(&["rm", "GONE"]));
    // A second passphrase, for someone who later leaves.
    let leaver = write_file(&tv, "leaver-pass", "the leaver's passphrase\n");
    add_passphrase_slot(&tv, &leaver);
    assert_eq!(
        ok(&with_pass(&tv, &leaver, &["get", "DB_URL"])),
        "postgres://v2"
    );
    let backup = snapshot(&tv, "backup.db");

    let out = tv.run(&["slot", "rm", "2", "--rekey"]);
    ok(&out);
    assert!(stderr(&out).contains("Removed slot 2"), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("drop-other-slots"),
        "the named slot was removed on purpose: {}",
        stderr(&out)
    );
    // No sealed or keyed byte string of the old file survives in the new one.
    let old = keyed_blobs(&backup);
    let new = keyed_blobs(&tv.vault_path());
    for (what, blob) in &old {
        assert!(
            !new.iter().any(|(_, b)| b == blob),
            "{what} of the old file is still in the re-keyed file"
        );
    }
    // The leaver's old row, put back: it unwraps the OLD master key, which opens nothing now.
    copy_back_slot(&tv, &backup, 2);
    let out = with_pass(&tv, &leaver, &["get", "DB_URL"]);
    assert!(
        [4, 5].contains(&code(&out)),
        "the copied-back slot must not open the vault: {} {}",
        code(&out),
        stderr(&out)
    );
    assert!(!stdout(&out).contains("postgres"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("slot 2") || stderr(&out).contains("header"),
        "the message names what failed: {}",
        stderr(&out)
    );
    // Nothing was lost for the remaining holder.
    assert_eq!(tv.get("DB_URL"), "postgres://v2");
    let out = tv.run(&["get", "DB_URL", "--version", "1"]);
    assert_eq!(ok(&out), "postgres://v1");
    assert_eq!(code(&tv.run(&["get", "GONE"])), 3, "still deleted");
    ok(&tv.run(&["rollback", "GONE", "--to", "1"]));
    assert_eq!(tv.get("GONE"), "deleted-value");
}

/// `status --json` without the ages in seconds, which move with the clock.
fn without_ages(status: &str) -> serde_json::Value {
    let mut doc: serde_json::Value = serde_json::from_str(status).unwrap();
    for s in doc.as_array_mut().unwrap() {
        s.as_object_mut().unwrap().remove("age_secs");
    }
    doc
}

#[test]
fn rekey_keeps_every_record_and_the_audit_chain_and_witness_verify() {
    let tv = TestVault::new();
    std::fs::write(
        tv.path().join("keep.toml"),
        "[secrets.API_TOKEN]\ngenerator = \"token:24\"\nmax_age = \"90d\"\n\
         on_rotate = [\"exit 3\"]\n",
    )
    .unwrap();
    tv.set("API_TOKEN", "the-old-token-value");
    ok(&tv.run(&["policy", "set", "API_TOKEN", "--max-age", "30d"]));
    // A failing hook leaves a pending rotation.
    assert_eq!(code(&tv.run(&["rotate", "API_TOKEN"])), 9);
    let pending = ok(&tv.run(&["rotate", "API_TOKEN", "--show-pending"]));
    // More than the progress threshold, to show that no bar is drawn off a terminal.
    for k in 0..25 {
        tv.set(&format!("S{k}"), &format!("value-{k}"));
    }
    let status_before = ok(&tv.run(&["status", "--json"]));
    let audit_before = ok(&tv.run(&["audit", "--json"]));

    let out = tv.run(&["rekey"]);
    ok(&out);
    assert!(stderr(&out).contains("Re-keyed"), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains('\r') && !stderr(&out).contains("[="),
        "no progress bar off a terminal: {:?}",
        stderr(&out)
    );

    assert_eq!(tv.get("API_TOKEN"), "the-old-token-value");
    for k in 0..25 {
        assert_eq!(tv.get(&format!("S{k}")), format!("value-{k}"));
    }
    assert_eq!(
        ok(&tv.run(&["rotate", "API_TOKEN", "--show-pending"])),
        pending,
        "the pending rotation survives"
    );
    assert_eq!(
        without_ages(&ok(&tv.run(&["status", "--json"]))),
        without_ages(&status_before),
        "policy and rotation state survive"
    );
    let out = tv.run(&["verify"]);
    ok(&out);
    let out = tv.run(&["audit", "verify"]);
    assert_eq!(code(&out), 0, "chain and witness intact: {}", stderr(&out));
    // The old entries read the same (their sealed names were re-sealed), and the re-key is logged.
    let audit_after: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&tv.run(&["audit", "--json"]))).unwrap();
    let before: Vec<serde_json::Value> = serde_json::from_str(&audit_before).unwrap();
    assert_eq!(&audit_after[..before.len()], &before[..]);
    assert!(
        audit_after.iter().any(|e| e["action"] == "rekey"),
        "{audit_after:?}"
    );
    // The pending rotation can still be promoted.
    std::fs::write(
        tv.path().join("keep.toml"),
        "[secrets.API_TOKEN]\ngenerator = \"token:24\"\nmax_age = \"90d\"\non_rotate = [\"true\"]\n",
    )
    .unwrap();
    ok(&tv.run(&["rotate", "API_TOKEN", "--retry"]));
    assert_eq!(tv.get("API_TOKEN"), pending);
}

#[test]
fn another_passphrase_slot_is_refused_then_dropped_only_with_the_flag() {
    let tv = TestVault::new();
    tv.set("A", "alpha");
    let other = write_file(&tv, "other-pass", "another passphrase\n");
    add_passphrase_slot(&tv, &other);
    let before = records(&tv.vault_path());
    let out = tv.run(&["rekey"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(records(&tv.vault_path()), before, "nothing was changed");
    assert!(
        stderr(&out).contains("slot 2 (passphrase)"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("--drop-other-slots"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("nothing was changed"),
        "{}",
        stderr(&out)
    );
    // Nothing changed: both passphrases still open the same key.
    assert_eq!(ok(&with_pass(&tv, &other, &["get", "A"])), "alpha");
    let conn = db(&tv.vault_path());
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM slots", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    drop(conn);

    // The same passphrase in two slots: both re-wrapped, nothing to drop.
    let out = tv.run(&["rekey", "--drop-other-slots"]);
    ok(&out);
    assert!(
        stderr(&out).contains("Removed slot(s) 2"),
        "{}",
        stderr(&out)
    );
    assert_eq!(tv.get("A"), "alpha");
    assert_eq!(code(&with_pass(&tv, &other, &["get", "A"])), 4);
    let slots = ok(&tv.run(&["slot", "ls", "--json"]));
    let slots: serde_json::Value = serde_json::from_str(&slots).unwrap();
    assert_eq!(slots.as_array().unwrap().len(), 1, "{slots}");
}

#[test]
fn a_second_slot_with_the_same_passphrase_is_rewrapped() {
    let tv = TestVault::new();
    tv.set("A", "alpha");
    add_passphrase_slot(&tv, &tv.pass_file());
    let out = tv.run(&["rekey"]);
    ok(&out);
    assert!(
        stderr(&out).contains("slot(s) 1, 2 re-wrapped"),
        "{}",
        stderr(&out)
    );
    ok(&tv.run(&["verify"]));
}

fn recovery_code(stderr_text: &str) -> String {
    stderr_text
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 39 && l.matches('-').count() == 7)
        .unwrap_or_else(|| panic!("no recovery code in {stderr_text:?}"))
        .to_string()
}

#[test]
fn a_recovery_slot_gets_a_new_code_and_the_old_one_opens_nothing() {
    let tv = TestVault::new();
    tv.set("A", "alpha");
    let out = tv.run(&["slot", "add", "recovery"]);
    let old_code = recovery_code(&stderr(&out));
    let backup = snapshot(&tv, "backup.db");
    let out = tv.run(&["rekey"]);
    ok(&out);
    let new_code = recovery_code(&stderr(&out));
    assert_ne!(old_code, new_code);
    assert!(
        !stdout(&out).contains(&new_code),
        "the code goes to stderr only"
    );
    let with_code = |c: &str| {
        tv.keep(&["get", "A"])
            .env_remove("KEEP_PASSPHRASE_FILE")
            .env("KEEP_RECOVERY_KEY", c)
            .output()
            .unwrap()
    };
    assert_eq!(ok(&with_code(&new_code)), "alpha");
    assert_eq!(code(&with_code(&old_code)), 4);
    // And the old recovery row put back opens nothing either.
    copy_back_slot(&tv, &backup, 2);
    let out = with_code(&old_code);
    assert!([4, 5].contains(&code(&out)), "{}", stderr(&out));
    assert!(!stdout(&out).contains("alpha"));
}

#[test]
fn an_age_slot_is_rewrapped_from_its_recipient_without_the_identity() {
    let tv = TestVault::new();
    tv.set("A", "alpha");
    let id = tv.path().join("id.txt");
    let gen = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&id)
        .output()
        .expect("age-keygen");
    assert!(gen.status.success());
    let recipient = String::from_utf8_lossy(&gen.stderr)
        .trim()
        .trim_start_matches("Public key: ")
        .to_string();
    ok(&tv.run(&["slot", "add", "age", "--recipient", &recipient]));
    ok(&tv.run(&["rekey"]));
    let out = tv
        .keep(&["get", "A"])
        .env_remove("KEEP_PASSPHRASE_FILE")
        .env("KEEP_AGE_IDENTITY", &id)
        .output()
        .unwrap();
    assert_eq!(ok(&out), "alpha");
}

#[test]
fn passwd_rekey_changes_the_passphrase_and_revokes_the_old_row() {
    let tv = TestVault::new();
    tv.set("A", "alpha");
    let backup = snapshot(&tv, "backup.db");
    let new_pass = write_file(&tv, "new-pass", "a brand new passphrase\n");
    let out = tv
        .keep(&["passwd", "--rekey"])
        .env("KEEP_NEW_PASSPHRASE_FILE", &new_pass)
        .output()
        .unwrap();
    ok(&out);
    assert!(
        stderr(&out).contains("Changed the passphrase of slot 1"),
        "{}",
        stderr(&out)
    );
    assert_eq!(ok(&with_pass(&tv, &new_pass, &["get", "A"])), "alpha");
    assert_eq!(
        code(&tv.run(&["get", "A"])),
        4,
        "the old passphrase opens nothing"
    );
    // The old slot row with the old passphrase: the old master key, which opens nothing now.
    copy_back_slot(&tv, &backup, 1);
    let out = tv.run(&["get", "A"]);
    assert!([4, 5].contains(&code(&out)), "{}", stderr(&out));
    assert!(!stdout(&out).contains("alpha"));
}

#[test]
fn slot_rm_of_a_passphrase_slot_suggests_rekey() {
    let tv = TestVault::new();
    let other = write_file(&tv, "other-pass", "another passphrase\n");
    add_passphrase_slot(&tv, &other);
    let out = tv.run(&["slot", "rm", "2"]);
    ok(&out);
    assert!(stderr(&out).contains("--rekey"), "{}", stderr(&out));
}

#[test]
fn the_session_cache_is_dropped_by_a_rekey() {
    let tv = TestVault::new();
    tv.set("A", "alpha");
    ok(&tv.run(&["unlock", "--ttl", "2m"]));
    let no_pass = |args: &[&str]| {
        tv.keep(args)
            .env_remove("KEEP_PASSPHRASE_FILE")
            .output()
            .unwrap()
    };
    assert_eq!(ok(&no_pass(&["get", "A"])), "alpha", "cached before");
    // The cache is not a credential for a re-key.
    assert_eq!(code(&no_pass(&["rekey"])), 6);
    let out = tv.run(&["rekey"]);
    ok(&out);
    assert!(stderr(&out).contains("session cache"), "{}", stderr(&out));
    assert_eq!(code(&no_pass(&["unlock", "--status"])), 6, "dropped");
    assert_eq!(code(&no_pass(&["get", "A"])), 6);
    assert_eq!(tv.get("A"), "alpha");
}

#[test]
fn a_tampered_vault_is_not_rekeyed() {
    let tv = TestVault::new();
    tv.set("A", "alpha");
    tv.set("B", "beta");
    let conn = db(&tv.vault_path());
    conn.execute(
        "UPDATE versions SET sealed = CAST(sealed || x'00' AS BLOB) WHERE secret_id = 2",
        [],
    )
    .unwrap();
    drop(conn);
    // The audit log does change (the unlock and the failure are logged); nothing else may.
    let before = records(&tv.vault_path());
    let out = tv.run(&["rekey"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("not re-keyed"), "{}", stderr(&out));
    assert!(stderr(&out).contains("B version 1"), "{}", stderr(&out));
    assert_eq!(records(&tv.vault_path()), before, "nothing was changed");
    assert_eq!(tv.get("A"), "alpha");
}

#[test]
fn sync_state_survives_a_rekey_against_openbao() {
    let bao = sync_support::Bao::start();
    let tv = TestVault::new();
    std::fs::write(
        tv.path().join("keep.toml"),
        "project = \"app\"\n[sync.t]\nprovider = \"vault\"\nmount = \"secret\"\n\
         layout = \"bundle\"\npath = \"app/dev\"\n",
    )
    .unwrap();
    tv.set("X", "x-1");
    tv.set("Y", "y-1");
    let sync = |args: &[&str]| {
        let mut c = tv.keep(args);
        c.envs(bao.env());
        c.output().unwrap()
    };
    ok(&sync(&["push", "t"]));
    let out = tv.run(&["rekey"]);
    ok(&out);
    assert!(!stderr(&out).contains("sync record"), "{}", stderr(&out));
    let out = sync(&["diff", "t"]);
    assert_eq!(code(&out), 0, "in sync after the re-key: {}", stderr(&out));
    // The base survived: a remote change flows in without a conflict (with no base it would be one).
    let (status, body) = bao.api(
        "POST",
        "secret/data/app/dev",
        Some(serde_json::json!({ "data": { "X": "x-remote", "Y": "y-1" } })),
    );
    assert!((200..300).contains(&status), "{body}");
    let out = sync(&["pull", "t"]);
    assert_eq!(code(&out), 0, "{} {}", stdout(&out), stderr(&out));
    assert_eq!(tv.get("X"), "x-remote");
}

#[test]
fn an_hsm_slot_is_rewrapped_by_the_token_with_its_pin_and_refused_without() {
    let token = custody_support::SoftToken::new("rekey");
    let tv = TestVault::empty();
    token.init_vault(&tv, "k");
    token.set(&tv, "KEPT", "safe");
    token.add_passphrase_slot(&tv);
    // The passphrase alone cannot re-wrap the HSM slot: refused, naming it and what it needs.
    let out = tv.run(&["rekey"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("slot 1 (hsm)"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("KEEP_PKCS11_PIN_FILE"),
        "{}",
        stderr(&out)
    );
    // With the PIN too, the token re-wraps it.
    let out = token
        .keep(&tv, &["rekey"])
        .env("KEEP_PASSPHRASE_FILE", tv.pass_file())
        .output()
        .unwrap();
    ok(&out);
    assert!(
        stderr(&out).contains("slot(s) 1, 2 re-wrapped"),
        "{}",
        stderr(&out)
    );
    assert_eq!(ok(&token.run(&tv, &["get", "KEPT"])), "safe");
    assert_eq!(tv.get("KEPT"), "safe");
    ok(&tv.run(&["verify"]));
}

#[test]
fn a_progress_bar_is_drawn_on_a_terminal() {
    let tv = TestVault::new();
    let lines: String = (0..40).map(|k| format!("P{k}=value-{k}\n")).collect();
    write_file(&tv, "in.env", &lines);
    ok(&tv.run(&["import", "in.env"]));
    // `script` (util-linux) runs keep on a pseudo-terminal of its own.
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{} rekey", env!("CARGO_BIN_EXE_keep")),
            "/dev/null",
        ])
        .current_dir(tv.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", tv.path())
        .env("XDG_DATA_HOME", tv.path().join("xdg"))
        .env("KEEP_VAULT", tv.vault_path())
        .env("KEEP_PASSPHRASE_FILE", tv.pass_file())
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script (util-linux)");
    let shown = stdout(&out);
    assert_eq!(code(&out), 0, "{shown}");
    assert!(shown.contains("Re-keying ["), "{shown:?}");
    assert!(shown.contains("Re-keyed"), "{shown:?}");
    assert_eq!(tv.get("P39"), "value-39");
}

#[test]
fn a_wrong_passphrase_is_exit_4_and_recorded_as_a_failed_unlock() {
    let tv = TestVault::new();
    tv.set("A", "alpha");
    let wrong = write_file(&tv, "wrong-pass", "not the passphrase\n");
    let out = with_pass(&tv, &wrong, &["rekey"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let log = ok(&tv.run(&["audit", "--json"]));
    assert!(log.contains("unlock-failed"), "{log}");
    assert_eq!(tv.get("A"), "alpha");
}
