//! The write-ahead log stays bounded (issue 17): every read appends an audit entry, and keep `exec`s
//! or exits without closing its connection, so nothing but checkpoints keep `vault.db-wal` from
//! growing. The bound is `src/store/mod.rs`'s `WAL_TRUNCATE_BYTES` plus one transaction;
//! SECURITY.md ("Durability") states it.

use crate::common;

use common::{code, stderr, stdout, TestVault};

/// The bound the store documents (1 MiB of journal kept after a checkpoint) with room for the
/// transaction that triggers the next checkpoint.
const BOUND: u64 = 2 * 1024 * 1024;

fn wal_size(tv: &TestVault) -> u64 {
    let wal = tv.vault_path().with_extension("db-wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

/// The value stored under `NAME_{i}`: long enough that 40 of them make a heavy read.
fn value(i: usize) -> String {
    format!("value-{i}-{}", "x".repeat(200))
}

#[test]
fn reads_do_not_grow_the_wal_past_its_bound_and_every_value_survives() {
    let tv = TestVault::new();
    for i in 0..40 {
        tv.set(&format!("NAME_{i}"), &value(i));
    }
    for round in 0..8 {
        // `env` reads all 40 values: the heaviest audit write per command.
        for _ in 0..40 {
            let out = tv.run(&["env"]);
            assert_eq!(code(&out), 0, "{}", stderr(&out));
        }
        let size = wal_size(&tv);
        assert!(
            size < BOUND,
            "after {} reads the WAL is {size} bytes (bound {BOUND})",
            (round + 1) * 40
        );
    }
    // Checkpointed pages are in the main file: every committed value reads back and the vault verifies.
    for i in [0, 17, 39] {
        let out = tv.run(&["get", &format!("NAME_{i}")]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_eq!(
            stdout(&out).trim_end(),
            format!("value-{i}-{}", "x".repeat(200))
        );
    }
    let out = tv.run(&["verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = tv.run(&["audit", "verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// The common case the test above missed: the vault opened from the session cache, so every `get`
/// writes exactly one transaction (its audit entry). SQLite resets a WAL only when a second write in
/// the same connection finds it checkpointed, so before the truncating checkpoint the WAL grew by
/// every read (about 9 KB each) and every open re-read all of it.
#[test]
fn reads_through_the_session_do_not_grow_the_wal() {
    let tv = TestVault::new();
    for i in 0..10 {
        tv.set(&format!("NAME_{i}"), &value(i));
    }
    let out = tv.run(&["unlock", "--ttl", "10m"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // The store truncates a WAL over 256 KiB after a commit; one read's transaction is a few pages.
    let bound = 512 * 1024;
    for round in 0..6 {
        for _ in 0..50 {
            let out = tv
                .keep(&["get", "NAME_3"])
                .env_remove("KEEP_PASSPHRASE_FILE")
                .output()
                .unwrap();
            assert_eq!(code(&out), 0, "{}", stderr(&out));
            assert_eq!(stdout(&out).trim_end(), value(3));
        }
        let size = wal_size(&tv);
        assert!(
            size < bound,
            "after {} reads through the session the WAL is {size} bytes (bound {bound})",
            (round + 1) * 50
        );
    }
    let out = tv.run(&["lock"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for i in [0, 9] {
        assert_eq!(tv.get(&format!("NAME_{i}")).trim_end(), value(i));
    }
    let out = tv.run(&["verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = tv.run(&["audit", "verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}
