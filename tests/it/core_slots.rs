//! Key slots and unlocking through the real binary: wrong passphrase, no way to unlock, the session
//! cache, passwd, slot add/rm, and file modes.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{code, stderr, stdout, TestVault};

#[test]
fn vault_file_and_folder_are_private_from_creation() {
    let tv = TestVault::new();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&tv.vault_path()), 0o600);
    assert_eq!(mode(tv.vault_path().parent().unwrap()), 0o700);
    tv.set("A", "x");
    let wal = tv.vault_path().with_extension("db-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600);
    }
}

#[test]
fn wrong_passphrase_is_exit_4_with_one_line() {
    let tv = TestVault::new();
    tv.set("A", "x");
    std::fs::write(tv.pass_file(), "wrong\n").unwrap();
    let out = tv.run(&["get", "A"]);
    assert_eq!(code(&out), 4);
    assert_eq!(
        stderr(&out).trim_end().lines().count(),
        1,
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn no_credential_and_no_terminal_is_exit_6_at_once() {
    let tv = TestVault::new();
    let start = Instant::now();
    let out = tv
        .keep(&["get", "A"])
        .env_remove("KEEP_PASSPHRASE_FILE")
        .output()
        .unwrap();
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "must not wait for input"
    );
    assert!(stderr(&out).contains("keep unlock"), "{}", stderr(&out));
}

#[test]
fn passphrase_from_env_var_and_file_forms() {
    let tv = TestVault::new();
    tv.set("A", "x");
    let out = tv
        .keep(&["get", "A"])
        .env_remove("KEEP_PASSPHRASE_FILE")
        .env("KEEP_PASSPHRASE", common::PASSPHRASE)
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "x");
    // CRLF files work too: one trailing newline, of either kind, is removed.
    std::fs::write(tv.pass_file(), format!("{}\r\n", common::PASSPHRASE)).unwrap();
    assert_eq!(tv.get("A"), "x");
    let out = tv
        .keep(&["get", "A"])
        .env("KEEP_PASSPHRASE_FILE", tv.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
}

#[test]
fn unlock_caches_the_key_and_lock_forgets_it() {
    let tv = TestVault::new();
    tv.set("A", "cached");
    assert_eq!(code(&tv.run(&["unlock", "--ttl", "2m"])), 0);
    let no_pass = |args: &[&str]| {
        tv.keep(args)
            .env_remove("KEEP_PASSPHRASE_FILE")
            .output()
            .unwrap()
    };
    let out = no_pass(&["get", "A"]);
    let cached = (code(&out), stdout(&out));
    assert_eq!(code(&tv.run(&["lock"])), 0);
    let after = code(&no_pass(&["get", "A"]));
    assert_eq!(
        cached,
        (0, "cached".to_string()),
        "read through the session cache"
    );
    assert_eq!(after, 6, "locked again");
    assert_eq!(code(&tv.run(&["unlock", "--ttl", "soon"])), 2);
}

#[test]
fn passwd_rewraps_without_touching_secrets() {
    let tv = TestVault::new();
    tv.set("A", "kept");
    let new_pass = tv.path().join("newpass");
    std::fs::write(&new_pass, "a brand new passphrase\n").unwrap();
    let out = tv
        .keep(&["passwd"])
        .env("KEEP_NEW_PASSPHRASE_FILE", &new_pass)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        code(&tv.run(&["get", "A"])),
        4,
        "the old passphrase no longer opens"
    );
    let out = tv
        .keep(&["get", "A"])
        .env("KEEP_PASSPHRASE_FILE", &new_pass)
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "kept");
}

#[test]
fn slots_can_be_added_and_removed_but_never_the_last() {
    let tv = TestVault::new();
    tv.set("A", "v");
    let second = tv.path().join("second");
    std::fs::write(&second, "second passphrase").unwrap();
    let out = tv
        .keep(&[
            "slot",
            "add",
            "passphrase",
            "--kdf-memory",
            "1MiB",
            "--kdf-iterations",
            "1",
        ])
        .env("KEEP_NEW_PASSPHRASE_FILE", &second)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let slots: serde_json::Value =
        serde_json::from_slice(&tv.run(&["slot", "ls", "--json"]).stdout).unwrap();
    assert_eq!(slots.as_array().unwrap().len(), 2);
    assert_eq!(slots[1]["kind"], "passphrase");
    assert!(slots[1]["description"]
        .as_str()
        .unwrap()
        .contains("argon2id m=1MiB t=1"));
    let with_second = |args: &[&str]| {
        tv.keep(args)
            .env("KEEP_PASSPHRASE_FILE", &second)
            .output()
            .unwrap()
    };
    assert_eq!(stdout(&with_second(&["get", "A"])), "v");
    assert_eq!(code(&with_second(&["slot", "rm", "1"])), 0);
    assert_eq!(code(&tv.run(&["get", "A"])), 4, "slot 1 is gone");
    let out = with_second(&["slot", "rm", "2"]);
    assert_eq!(code(&out), 2, "the last slot is refused");
    assert!(stderr(&out).contains("last key slot"), "{}", stderr(&out));
    assert_eq!(code(&with_second(&["slot", "rm", "7"])), 3);
    assert_eq!(stdout(&with_second(&["get", "A"])), "v");
}
