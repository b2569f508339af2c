//! Concurrency and crashes: separate processes writing at once lose no update, and `kill -9` in the
//! middle of a write leaves a vault that opens with every committed value intact.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{code, stderr, TestVault};

#[test]
fn eight_processes_times_200_sets_lose_no_update() {
    const PROCS: usize = 8;
    const SETS: usize = 200;
    let tv = TestVault::new();
    std::thread::scope(|s| {
        for p in 0..PROCS {
            let tv = &tv;
            s.spawn(move || {
                for i in 0..SETS {
                    // Everyone writes the same name (so version numbers contend) and a name of its own.
                    for name in ["SHARED".to_string(), format!("OWN_{p}")] {
                        let out = tv.run_with_stdin(&["set", &name], format!("{p}-{i}").as_bytes());
                        assert_eq!(code(&out), 0, "process {p} set {i}: {}", stderr(&out));
                    }
                }
            });
        }
    });
    let hist: serde_json::Value =
        serde_json::from_slice(&tv.run(&["history", "SHARED", "--json"]).stdout).unwrap();
    let versions: Vec<u64> = hist["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(
        versions,
        (1..=(PROCS * SETS) as u64).collect::<Vec<_>>(),
        "one version per set, no gaps"
    );
    for p in 0..PROCS {
        assert_eq!(tv.get(&format!("OWN_{p}")), format!("{p}-{}", SETS - 1));
        let own: serde_json::Value =
            serde_json::from_slice(&tv.run(&["history", &format!("OWN_{p}"), "--json"]).stdout)
                .unwrap();
        assert_eq!(own["versions"].as_array().unwrap().len(), SETS);
    }
}

#[test]
fn kill_9_during_writes_leaves_an_intact_vault() {
    const ROUNDS: usize = 60;
    let tv = TestVault::new();
    tv.set("STABLE", "committed-before-the-storm");
    let big = "x".repeat(256 * 1024);
    let mut completed = 0u64;
    for round in 0..ROUNDS {
        let value = format!("round-{round}-{big}");
        let mut child = tv
            .keep(&["set", "CRASHY"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            let _ = stdin.write_all(value.as_bytes());
        }
        // Kill at a different point of each run: before the unlock, during the KDF, mid-transaction.
        std::thread::sleep(Duration::from_micros((round as u64 * 397) % 12_000));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.success() {
            completed += 1;
        }
        // After every kill the vault opens and every committed value decrypts.
        let out = tv.run(&["ls", "--json"]);
        assert_eq!(code(&out), 0, "round {round}: {}", stderr(&out));
        assert_eq!(tv.get("STABLE"), "committed-before-the-storm");
        let out = tv.run(&["get", "CRASHY"]);
        match code(&out) {
            0 => assert!(String::from_utf8(out.stdout).unwrap().starts_with("round-")),
            3 => {} // nothing committed yet
            c => panic!("round {round}: get CRASHY exited {c}: {}", stderr(&out)),
        }
    }
    let conn = rusqlite::Connection::open(tv.vault_path()).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    // Every version that was committed (killed late or completed) still decrypts.
    let hist: serde_json::Value =
        serde_json::from_slice(&tv.run(&["history", "CRASHY", "--json"]).stdout)
            .unwrap_or(serde_json::json!({ "versions": [] }));
    let versions = hist["versions"].as_array().cloned().unwrap_or_default();
    assert!(
        versions.len() as u64 >= completed,
        "{} versions, {completed} completed",
        versions.len()
    );
    for v in &versions {
        let n = v["version"].as_u64().unwrap().to_string();
        let out = tv.run(&["get", "CRASHY", "--version", &n]);
        assert_eq!(code(&out), 0, "version {n}: {}", stderr(&out));
    }
}
