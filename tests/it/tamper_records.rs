//! An attacker who can write the vault file but holds no passphrase, PIN or identity (sqlite3 on the
//! file): every attack of issue 13 on the vault's records and slots, through the real binary. Each
//! test asserts the exit code, that the message names what failed, and that nothing else was lost.

use crate::common;
use crate::custody_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{code, stderr, stdout, TestVault};
use custody_support::SoftToken;
use rusqlite::Connection;

pub(crate) fn db(tv: &TestVault) -> Connection {
    Connection::open(tv.vault_path()).unwrap()
}

/// `tests/data/planted_module.c` built into `dir`, writing `marker` when loaded.
fn planted_module(dir: &Path, marker: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/planted_module.c");
    let out = dir.join("planted.so");
    let cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(format!("-DMARKER=\"{}\"", marker.display()))
        .arg(&src)
        .output()
        .expect("run cc (a C compiler is needed to build the bundled SQLite too)");
    assert!(cc.status.success(), "cc: {}", stderr(&cc));
    out
}

#[test]
fn a_planted_module_path_is_never_loaded() {
    let token = SoftToken::new("planted");
    let tv = TestVault::empty();
    token.init_vault(&tv, "k");
    token.set(&tv, "KEPT", "safe-value");
    token.set(&tv, "OTHER", "other-value");
    let marker = token.dir.path().join("planted-ran");
    let so = planted_module(token.dir.path(), &marker);
    // The planted module works when loaded on purpose (so its absence below means something).
    let probe = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import ctypes; ctypes.CDLL({:?})",
            so.display().to_string()
        ))
        .output()
        .expect("run python3");
    assert!(probe.status.success(), "{}", stderr(&probe));
    assert!(
        marker.exists(),
        "loading the planted module writes the marker"
    );
    std::fs::remove_file(&marker).unwrap();
    let n = db(&tv)
        .execute(
            "UPDATE slots SET params = json_set(params, '$.module', ?1) WHERE kind = 'hsm'",
            [so.display().to_string()],
        )
        .unwrap();
    assert_eq!(n, 1);
    // No --module, no KEEP_PKCS11_MODULE, no settings file: the well-known SoftHSM path is used.
    let out = token.run(&tv, &["get", "KEPT"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "safe-value");
    assert!(
        !marker.exists(),
        "the module named by the vault file was loaded"
    );
    assert_eq!(token.run(&tv, &["get", "OTHER"]).stdout, b"other-value");

    // When no module loads, the recorded path is named as a hint, still without loading it.
    let out = token
        .keep(&tv, &["get", "KEPT"])
        .env("KEEP_PKCS11_MODULE", "/nonexistent/p11.so")
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/nonexistent/p11.so"),
        "{}",
        stderr(&out)
    );
    assert!(!marker.exists());
}

#[test]
fn the_per_user_setting_chooses_the_module_and_is_parsed_strictly() {
    let token = SoftToken::new("setting");
    let tv = TestVault::empty();
    token.init_vault(&tv, "k");
    token.set(&tv, "KEPT", "safe-value");
    let conf_dir = tv.path().join("config").join("keep");
    std::fs::create_dir_all(&conf_dir).unwrap();
    let conf = conf_dir.join("config.toml");
    let run = || {
        token
            .keep(&tv, &["get", "KEPT"])
            .env("XDG_CONFIG_HOME", tv.path().join("config"))
            .output()
            .unwrap()
    };
    // The setting names the module: it is the only candidate.
    std::fs::write(
        &conf,
        format!("pkcs11_module = {:?}\n", token.module.display().to_string()),
    )
    .unwrap();
    let out = run();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    std::fs::write(&conf, "pkcs11_module = \"/nonexistent/from-settings.so\"\n").unwrap();
    let out = run();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/nonexistent/from-settings.so"),
        "{}",
        stderr(&out)
    );
    // A misspelt key, a relative path or a file others may write: usage errors naming the file.
    for (text, mode, says) in [
        ("pkcs11_modul = \"/x.so\"\n", 0o600, "pkcs11_modul"),
        ("pkcs11_module = \"lib/x.so\"\n", 0o600, "absolute"),
        (
            &*format!("pkcs11_module = {:?}\n", token.module.display().to_string()),
            0o666,
            "writable",
        ),
    ] {
        std::fs::write(&conf, text).unwrap();
        std::fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap();
        let out = run();
        assert_eq!(code(&out), 2, "{text}: {}", stderr(&out));
        assert!(stderr(&out).contains("config.toml"), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{says}: {}", stderr(&out));
    }
}

// ---- Heads and manifest: deletion and replay of records ---------------------------------------

/// The secret row ids in insertion order.
pub(crate) fn secret_ids(conn: &Connection) -> Vec<i64> {
    let mut stmt = conn.prepare("SELECT id FROM secrets ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Every row of a table as SQL values, to put back later (a replay from an older copy).
pub(crate) type Rows = Vec<Vec<rusqlite::types::Value>>;

pub(crate) fn rows(conn: &Connection, sql: &str) -> Rows {
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| (0..n).map(|i| r.get(i)).collect())
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

pub(crate) fn put_back(conn: &Connection, table: &str, rows: &Rows) {
    for row in rows {
        let marks = vec!["?"; row.len()].join(", ");
        conn.execute(
            &format!("INSERT OR REPLACE INTO {table} VALUES ({marks})"),
            rusqlite::params_from_iter(row.iter()),
        )
        .unwrap();
    }
}

/// Exit 5, and stderr contains every one of `says`.
pub(crate) fn fails(out: &std::process::Output, says: &[&str], what: &str) {
    assert_eq!(code(out), 5, "{what}: {}{}", stdout(out), stderr(out));
    for s in says {
        assert!(
            stderr(out).contains(s),
            "{what}: expected {s:?} in: {}",
            stderr(out)
        );
    }
}

/// Delete one version row, as `sqlite3 vault.db "DELETE FROM versions ..."` would.
pub(crate) fn delete_version(tv: &TestVault, id: i64, version: u32) {
    let n = db(tv)
        .execute(
            "DELETE FROM versions WHERE secret_id = ?1 AND version = ?2",
            rusqlite::params![id, version],
        )
        .unwrap();
    assert_eq!(n, 1, "version {version} of record #{id} existed");
}

fn two_secrets_one_rotated() -> TestVault {
    let tv = TestVault::new();
    tv.set("ROTATED", "old");
    tv.set("ROTATED", "new");
    tv.set("OTHER", "other");
    tv
}

#[test]
fn a_deleted_newest_version_is_exit_5_naming_the_secret_not_a_silent_rollback() {
    let tv = two_secrets_one_rotated();
    let id = secret_ids(&db(&tv))[0];
    delete_version(&tv, id, 2);
    let out = tv.run(&["get", "ROTATED"]);
    fails(&out, &["ROTATED", "version 2", "missing"], "get");
    assert!(
        !stdout(&out).contains("old"),
        "the old value must not be printed"
    );
    fails(&tv.run(&["ls"]), &["ROTATED"], "ls");
    fails(&tv.run(&["env"]), &["ROTATED"], "env");
    fails(&tv.run(&["verify"]), &["ROTATED", "version 2"], "verify");
    // Nothing else was lost.
    assert_eq!(tv.get("OTHER"), "other");
    // A write on top is refused too (it would otherwise make the rollback permanent).
    let out = tv.run_with_stdin(&["set", "ROTATED"], b"newer");
    fails(&out, &["ROTATED"], "set");
}

/// Found by the `vault_rows` fuzz target: an older (not the newest) version row deleted left
/// `verify` saying intact while `history` silently skipped it. Versions run 1..=head with no hole.
#[test]
fn a_deleted_older_version_fails_verify_naming_the_secret() {
    let tv = two_secrets_one_rotated();
    let id = secret_ids(&db(&tv))[0];
    delete_version(&tv, id, 1);
    fails(
        &tv.run(&["verify"]),
        &["ROTATED", "versions 1 to 2 but holds 2"],
        "verify",
    );
    // The current value is still the newest one; the other secret is untouched.
    assert_eq!(tv.get("ROTATED"), "new");
    assert_eq!(tv.get("OTHER"), "other");
}

#[test]
fn deleting_the_tombstone_does_not_bring_a_deleted_secret_back() {
    let tv = two_secrets_one_rotated();
    tv.set("GONE", "was here");
    assert_eq!(code(&tv.run(&["rm", "GONE"])), 0);
    let id = secret_ids(&db(&tv))[2];
    delete_version(&tv, id, 2);
    let out = tv.run(&["get", "GONE"]);
    fails(&out, &["GONE", "version 2"], "get");
    assert!(!stdout(&out).contains("was here"));
    let out = tv.run(&["ls"]);
    fails(&out, &["GONE"], "ls");
    assert!(!stdout(&out).contains("GONE"));
    let out = tv.run(&["exec", "--", "printenv", "GONE"]);
    fails(&out, &["GONE"], "exec");
    assert!(!stdout(&out).contains("was here"));
    fails(&tv.run(&["verify"]), &["GONE"], "verify");
    assert_eq!(tv.get("OTHER"), "other");
}

#[test]
fn a_deleted_secret_fails_ls_env_exec_and_verify_instead_of_vanishing() {
    let tv = two_secrets_one_rotated();
    let conn = db(&tv);
    let id = secret_ids(&conn)[0];
    conn.execute_batch(&format!(
        "DELETE FROM versions WHERE secret_id = {id}; DELETE FROM heads WHERE secret_id = {id};
         DELETE FROM secrets WHERE id = {id};"
    ))
    .unwrap();
    drop(conn);
    fails(&tv.run(&["ls"]), &["manifest", "removed"], "ls");
    fails(&tv.run(&["env"]), &["manifest"], "env");
    let out = tv.run(&["exec", "--", "true"]);
    fails(&out, &["manifest"], "exec");
    let out = tv.run(&["verify"]);
    fails(
        &out,
        &["manifest lists 2 secrets but the file holds 1"],
        "verify",
    );
    let out = tv.run(&["verify", "--json"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intact"], false);
    assert!(v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p.as_str().unwrap().contains("manifest")));
    // The other secret (another group of heads) still reads.
    assert_eq!(tv.get("OTHER"), "other");
    // Asking for it by name does not pretend it never existed: looking for a "did you mean" hint
    // lists the scope, and that check of the manifest fails too.
    fails(
        &tv.run(&["get", "ROTATED"]),
        &["manifest"],
        "get of the removed secret",
    );
}

#[test]
fn a_replayed_old_head_is_caught_with_or_without_the_newer_versions() {
    let tv = TestVault::new();
    tv.set("ROTATED", "old");
    tv.set("OTHER", "other");
    let conn = db(&tv);
    let id = secret_ids(&conn)[0];
    let old_head = rows(
        &conn,
        &format!("SELECT * FROM heads WHERE secret_id = {id}"),
    );
    drop(conn);
    tv.set("ROTATED", "new");

    // The old head put back, the newer version left in place.
    let conn = db(&tv);
    put_back(&conn, "heads", &old_head);
    drop(conn);
    let out = tv.run(&["get", "ROTATED"]);
    fails(
        &out,
        &["ROTATED", "holds version 2 but its head says 1"],
        "get",
    );
    fails(&tv.run(&["ls"]), &["manifest"], "ls");
    fails(&tv.run(&["verify"]), &["ROTATED"], "verify");
    assert_eq!(tv.get("OTHER"), "other");

    // And with the newer version deleted too: the head is consistent with the rows, the manifest is not.
    delete_version(&tv, id, 2);
    let out = tv.run(&["get", "ROTATED"]);
    fails(&out, &["ROTATED", "manifest", "rolled back"], "get");
    assert!(!stdout(&out).contains("old"));
    fails(&tv.run(&["ls"]), &["manifest"], "ls");
    fails(&tv.run(&["env"]), &["manifest"], "env");
    fails(&tv.run(&["verify"]), &["manifest"], "verify");
    assert_eq!(tv.get("OTHER"), "other");
}

#[test]
fn a_replayed_old_version_row_or_manifest_is_caught() {
    let tv = TestVault::new();
    tv.set("ROTATED", "old");
    tv.set("OTHER", "other");
    let conn = db(&tv);
    let id = secret_ids(&conn)[0];
    let old_manifest = rows(&conn, "SELECT * FROM meta WHERE key = 'manifest'");
    let old_version = rows(
        &conn,
        &format!("SELECT * FROM versions WHERE secret_id = {id}"),
    );
    drop(conn);
    tv.set("ROTATED", "new");
    tv.set("OTHER", "changed");

    // An older manifest alone.
    let conn = db(&tv);
    let now_manifest = rows(&conn, "SELECT * FROM meta WHERE key = 'manifest'");
    put_back(&conn, "meta", &old_manifest);
    drop(conn);
    fails(
        &tv.run(&["get", "ROTATED"]),
        &["ROTATED", "manifest"],
        "get",
    );
    fails(&tv.run(&["ls"]), &["manifest"], "ls");
    fails(&tv.run(&["verify"]), &["manifest"], "verify");
    let conn = db(&tv);
    put_back(&conn, "meta", &now_manifest);
    drop(conn);
    assert_eq!(tv.get("ROTATED"), "new");

    // The secret's version rows replaced by the old copy's (newer ones gone).
    let conn = db(&tv);
    conn.execute("DELETE FROM versions WHERE secret_id = ?1", [id])
        .unwrap();
    put_back(&conn, "versions", &old_version);
    drop(conn);
    let out = tv.run(&["get", "ROTATED"]);
    fails(&out, &["ROTATED", "version 2", "missing"], "get");
    assert_eq!(tv.get("OTHER"), "changed");
    // A version row moved into the newest position fails its own authentication as well.
    let conn = db(&tv);
    conn.execute(
        "UPDATE versions SET version = 2 WHERE secret_id = ?1 AND version = 1",
        [id],
    )
    .unwrap();
    drop(conn);
    fails(
        &tv.run(&["get", "ROTATED"]),
        &["ROTATED", "version 2"],
        "get",
    );
    assert_eq!(tv.get("OTHER"), "changed");
}

#[test]
fn an_intact_vault_verifies_as_intact_in_text_and_json() {
    let tv = two_secrets_one_rotated();
    tv.set("GONE", "x");
    assert_eq!(code(&tv.run(&["rm", "GONE"])), 0);
    let out = tv.run(&["verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("vault intact: 3 secrets, 5 versions, 1 key slots"),
        "{}",
        stdout(&out)
    );
    let out = tv.run(&["verify", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intact"], true);
    assert_eq!(v["secrets"], 3);
    assert_eq!(v["problems"], serde_json::json!([]));
    // An audit row edited: verify names the audit chain.
    db(&tv)
        .execute("UPDATE audit SET body = x'00' WHERE seq = 2", [])
        .unwrap();
    fails(&tv.run(&["verify"]), &["audit log"], "verify");
}

// ---- Slot parameters: authenticated before the key they give is used -------------------------

fn recovery_code(err: &str) -> String {
    err.split_whitespace()
        .find(|w| w.len() == 39 && w.matches('-').count() == 7)
        .unwrap_or_else(|| panic!("no recovery code in: {err}"))
        .to_string()
}

/// A vault with a passphrase slot (1) and a recovery slot (2); returns the recovery code's file.
fn vault_with_recovery() -> (TestVault, PathBuf) {
    let tv = TestVault::new();
    let out = tv.run(&["slot", "add", "recovery"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let file = tv.path().join("recovery");
    std::fs::write(&file, recovery_code(&stderr(&out))).unwrap();
    tv.set("KEPT", "kept");
    (tv, file)
}

fn edit_params(tv: &TestVault, slot: u32, path: &str, value: impl rusqlite::ToSql) {
    let n = db(tv)
        .execute(
            &format!("UPDATE slots SET params = json_set(params, '{path}', ?2) WHERE id = ?1"),
            rusqlite::params![slot, value],
        )
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn edited_passphrase_and_recovery_params_open_nothing_and_the_other_slot_still_opens() {
    // Passphrase slot: a lowered cost or another salt is bound as AAD: no key comes out of it.
    use rusqlite::types::Value;
    for (path, value) in [
        ("$.t", Value::Integer(2)),
        ("$.salt", Value::Text("AAAAAAAAAAAAAAAAAAAAAA==".into())),
    ] {
        let (tv, recovery) = vault_with_recovery();
        edit_params(&tv, 1, path, value);
        let out = tv.run(&["get", "KEPT"]);
        assert_eq!(code(&out), 4, "{path}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("no key slot opened"),
            "{}",
            stderr(&out)
        );
        let by_recovery = |args: &[&str]| {
            tv.keep(args)
                .env_remove("KEEP_PASSPHRASE_FILE")
                .env("KEEP_RECOVERY_KEY_FILE", &recovery)
                .output()
                .unwrap()
        };
        let out = by_recovery(&["get", "KEPT"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_eq!(stdout(&out), "kept");
        // verify names the edited slot.
        fails(
            &by_recovery(&["verify"]),
            &["key slot 1 (passphrase)"],
            path,
        );
    }
    // Recovery slot: another salt makes the code open nothing; the passphrase still opens.
    let (tv, recovery) = vault_with_recovery();
    edit_params(&tv, 2, "$.salt", "AAAAAAAAAAAAAAAAAAAAAA==");
    let out = tv
        .keep(&["get", "KEPT"])
        .env_remove("KEEP_PASSPHRASE_FILE")
        .env("KEEP_RECOVERY_KEY_FILE", &recovery)
        .output()
        .unwrap();
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert_eq!(tv.get("KEPT"), "kept");
    fails(&tv.run(&["verify"]), &["key slot 2 (recovery)"], "verify");
}

#[test]
fn an_edited_slot_row_that_still_unwraps_is_refused_before_its_key_is_used() {
    // The passphrase AEAD does not cover the row's date; the row MAC does.
    let (tv, recovery) = vault_with_recovery();
    db(&tv)
        .execute(
            "UPDATE slots SET created = created - 86400 WHERE id = 1",
            [],
        )
        .unwrap();
    let out = tv.run(&["get", "KEPT"]);
    fails(
        &out,
        &["key slot 1 (passphrase) failed authentication"],
        "get",
    );
    assert!(!stdout(&out).contains("kept"));
    // Through the intact slot the vault opens, and verify names the edited one.
    let by_recovery = |args: &[&str]| {
        tv.keep(args)
            .env_remove("KEEP_PASSPHRASE_FILE")
            .env("KEEP_RECOVERY_KEY_FILE", &recovery)
            .output()
            .unwrap()
    };
    assert_eq!(stdout(&by_recovery(&["get", "KEPT"])), "kept");
    fails(&by_recovery(&["verify"]), &["key slot 1"], "verify");
    // A stripped MAC is no better than a wrong one.
    db(&tv)
        .execute(
            "UPDATE slots SET created = created + 86400, mac = NULL WHERE id = 1",
            [],
        )
        .unwrap();
    fails(
        &tv.run(&["get", "KEPT"]),
        &["key slot 1"],
        "get without a MAC",
    );
}

#[test]
fn an_edited_age_slot_recipient_is_exit_5_and_the_passphrase_still_opens() {
    let tv = TestVault::new();
    let (id, recipient) = custody_support::age_identity(tv.path(), "id.txt");
    let out = tv.run(&["slot", "add", "age", "--recipient", &recipient]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    tv.set("KEPT", "kept");
    let (_, other) = custody_support::age_identity(tv.path(), "other.txt");
    edit_params(&tv, 2, "$.recipient", other);
    let out = tv
        .keep(&["get", "KEPT"])
        .env_remove("KEEP_PASSPHRASE_FILE")
        .env("KEEP_AGE_IDENTITY", &id)
        .output()
        .unwrap();
    fails(&out, &["age key slot 2"], "get");
    assert_eq!(tv.get("KEPT"), "kept");
    fails(&tv.run(&["verify"]), &["key slot 2 (age)"], "verify");
}

#[test]
fn edited_hsm_slot_params_are_refused_for_both_mechanisms() {
    let token = SoftToken::new("params");
    for mech in ["aes-gcm", "aes-key-wrap"] {
        let tv = TestVault::new();
        let key = format!("k-{mech}");
        let mut cmd = tv.keep(&[
            "slot",
            "add",
            "hsm",
            "--token",
            "params",
            "--key",
            &key,
            "--generate",
            "--mechanism",
            mech,
        ]);
        token.env(&mut cmd);
        let out = cmd.output().unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        tv.set("KEPT", "kept");
        assert_eq!(stdout(&token.run(&tv, &["get", "KEPT"])), "kept", "{mech}");
        // Turn on `allow_weak_key`: the token still unwraps, but the slot must not be accepted.
        db(&tv)
            .execute(
                "UPDATE slots SET params = json_set(params, '$.allow_weak_key', json('true')) WHERE id = 2",
                [],
            )
            .unwrap();
        let out = token.run(&tv, &["get", "KEPT"]);
        assert_eq!(code(&out), 5, "{mech}: {}", stderr(&out));
        assert!(!stdout(&out).contains("kept"));
        let err = stderr(&out);
        assert!(
            err.contains("key slot 2 (hsm) failed authentication") || err.contains("AES-GCM"),
            "{mech}: {err}"
        );
        if mech == "aes-key-wrap" {
            assert!(err.contains("key slot 2 (hsm)"), "{err}");
        }
        // The passphrase slot still opens, and verify names the slot.
        assert_eq!(tv.get("KEPT"), "kept");
        fails(&tv.run(&["verify"]), &["key slot 2 (hsm)"], mech);
    }
}

// ---- Migration from format 3 ---------------------------------------------------------------

/// `tests/data/vault_format3.db` was written by keep before format 4 (passphrase "fixture
/// passphrase", Argon2id 1 MiB / t=1): default/dev ROTATED (v1..v3 = "v1".."v3"), DELETED (a value,
/// then deleted), PLAIN ("plain"), and default/prod PROD_ONLY ("prodval").
fn fixture_vault() -> TestVault {
    fixture("vault_format3.db")
}

/// A vault written by an older keep, `tests/data/FILE` (passphrase "fixture passphrase").
pub(crate) fn fixture(file: &str) -> TestVault {
    let tv = TestVault::empty();
    std::fs::create_dir_all(tv.vault_path().parent().unwrap()).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file);
    std::fs::copy(src, tv.vault_path()).unwrap();
    std::fs::write(tv.pass_file(), "fixture passphrase\n").unwrap();
    tv
}

/// The vault file's format (`PRAGMA user_version`).
pub(crate) fn format_of(tv: &TestVault) -> i64 {
    db(tv)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_format_3_vault_migrates_verifies_and_reads() {
    let tv = fixture_vault();
    let version = format_of;
    assert_eq!(version(&tv), 3);
    assert_eq!(tv.get("ROTATED"), "v3");
    assert_eq!(version(&tv), i64::from(keep::store::FORMAT_VERSION));
    let out = tv.run(&["verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("4 secrets, 7 versions, 1 key slots"),
        "{}",
        stdout(&out)
    );
    assert_eq!(tv.get("PLAIN"), "plain");
    assert_eq!(stdout(&tv.run(&["ls"])), "PLAIN\nROTATED\n");
    assert_eq!(
        stdout(&tv.run(&["--env", "prod", "get", "PROD_ONLY"])),
        "prodval"
    );
    assert_eq!(code(&tv.run(&["get", "DELETED"])), 3);
    assert_eq!(stdout(&tv.run(&["get", "ROTATED", "--version", "1"])), "v1");
    let out = tv.run(&["audit", "verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Writes after the upgrade are authenticated like any other.
    tv.set("ROTATED", "v4");
    assert_eq!(tv.get("ROTATED"), "v4");
    let id: i64 = db(&tv)
        .query_row("SELECT secret_id FROM heads WHERE version = 4", [], |r| {
            r.get(0)
        })
        .unwrap();
    delete_version(&tv, id, 4);
    fails(
        &tv.run(&["get", "ROTATED"]),
        &["ROTATED", "version 4"],
        "get after upgrade",
    );
}

#[test]
fn the_pre_upgrade_header_put_back_is_refused() {
    let tv = fixture_vault();
    let old = rows(&db(&tv), "SELECT * FROM meta WHERE key = 'check'");
    assert_eq!(tv.get("PLAIN"), "plain");
    tv.set("PLAIN", "changed");
    // The attacker restores the old header to have the next unlock re-derive heads from the rows
    // as they then are (with the newest version deleted).
    let conn = db(&tv);
    put_back(&conn, "meta", &old);
    drop(conn);
    fails(&tv.run(&["get", "PLAIN"]), &["header", "older copy"], "get");
}
