//! Shared by the fault-injection families (`tests/faults_*.rs`): a seeded random source whose seed
//! is printed (so a failing run can be replayed with `KEEP_FAULT_SEED=...`), and the checks every
//! family runs after a fault: SQLite's own integrity check, read-only from outside keep, and
//! `keep audit verify`.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::{code, stderr, stdout, TestVault};

/// xorshift64*: enough to spread kill points; not for keys.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `KEEP_FAULT_SEED`, else the clock; the seed is printed either way.
    pub fn new(family: &str) -> Rng {
        let seed = std::env::var("KEEP_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("{family}: seed {seed} (replay with KEEP_FAULT_SEED={seed})");
        Rng(seed | 1)
    }

    /// A generator from a seed drawn elsewhere (one per worker thread).
    pub fn from_seed(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `PRAGMA integrity_check` on the vault file, opened read-only.
pub fn integrity_ok(path: &Path) {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "integrity_check of {}", path.display());
}

/// `keep audit verify` exits 0.
pub fn audit_ok(tv: &TestVault, when: &str) {
    let out = tv.run(&["audit", "verify"]);
    assert_eq!(
        code(&out),
        0,
        "{when}: audit verify: {}{}",
        stdout(&out),
        stderr(&out)
    );
}

/// The version numbers of `name` (`keep history --json`), empty when it does not exist.
pub fn versions(tv: &TestVault, name: &str) -> Vec<u64> {
    let out = tv.run(&["history", name, "--json"]);
    if code(&out) == 3 {
        return Vec::new();
    }
    assert_eq!(code(&out), 0, "history {name}: {}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect()
}

/// `keep ls --json` succeeds (the vault opens) and returns the names.
pub fn names(tv: &TestVault) -> Vec<String> {
    let out = tv.run(&["ls", "--json"]);
    assert_eq!(code(&out), 0, "ls --json: {}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = doc.as_array().cloned().unwrap_or_else(|| {
        doc["secrets"]
            .as_array()
            .cloned()
            .expect("ls --json is a list")
    });
    list.iter()
        .map(|e| {
            e.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| e["name"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Run `cmd` with `stdin` as its input; stdout and stderr captured. (keep may stop reading early.)
pub fn feed(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}
