//! Concurrent load: 8 processes at a time mixing `get`, `set`, `rotate` and `exec` on one vault for
//! 60 s (the definition), then no lost update and an intact audit chain.
//!
//! "No lost update": every acknowledged write is a version (version numbers contiguous, one per
//! acknowledged `set`/`rotate` of each name); each worker's own name holds exactly its last
//! acknowledged value; the shared name's current value is one that some worker wrote; and every
//! read (`get`, `exec`) of a worker's own name sees that worker's last acknowledged write (each
//! worker is sequential, so anything else would be a lost or reordered write). Operation counts
//! and rates are printed (`--nocapture`); they are a property of this machine, not an assertion.

use crate::common;
use crate::faults_support;

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{code, stderr, stdout, TestVault};
use faults_support::{audit_ok, integrity_ok, versions, Rng};

const WORKERS: usize = 8;
const RUN: Duration = Duration::from_secs(60);
const KINDS: [&str; 4] = ["get", "set", "rotate", "exec"];

#[derive(Default)]
struct Shared {
    /// Values acknowledged for SHARED.
    shared_acked: HashSet<String>,
    shared_sets: usize,
    rotations: usize,
    /// Rotations that found ROT changed by a concurrent rotation and promoted nothing (exit 1).
    rotation_conflicts: usize,
    /// Operations per kind.
    counts: [usize; 4],
}

#[test]
fn eight_processes_for_60_s_lose_no_update() {
    let tv = TestVault::new();
    std::fs::write(
        tv.path().join("keep.toml"),
        "[secrets.ROT]\ngenerator = \"token:16\"\nmax_age = \"30d\"\n",
    )
    .unwrap();
    tv.set("ROT", "rot-zero");
    tv.set("SHARED", "shared-zero");
    for p in 0..WORKERS {
        tv.set(&format!("OWN_{p}"), &format!("{p}-init"));
    }
    let mut seeder = Rng::new("concurrency");
    let seeds: Vec<u64> = (0..WORKERS).map(|_| seeder.next()).collect();
    let shared = Mutex::new(Shared::default());
    shared
        .lock()
        .unwrap()
        .shared_acked
        .insert("shared-zero".into());
    let start = Instant::now();
    let own_sets: Vec<(usize, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|p| {
                let (tv, shared, seed) = (&tv, &shared, seeds[p]);
                s.spawn(move || {
                    let mut rng = Rng::from_seed(seed);
                    let own = format!("OWN_{p}");
                    let mut last = format!("{p}-init");
                    let mut sets = 0;
                    let mut i = 0;
                    while start.elapsed() < RUN {
                        i += 1;
                        let roll = rng.below(100);
                        let kind = match roll {
                            0..40 => 0,
                            40..70 => 1,
                            70..82 => 2,
                            _ => 3,
                        };
                        match kind {
                            0 => {
                                let out = tv.run(&["get", &own]);
                                assert_eq!(code(&out), 0, "get: {}", stderr(&out));
                                assert_eq!(stdout(&out), last, "worker {p} read a stale value");
                            }
                            1 => {
                                // Own name and the shared one, alternately.
                                let value = format!("{p}-{i}");
                                let name = if i % 2 == 0 { own.as_str() } else { "SHARED" };
                                let out = tv.run_with_stdin(&["set", name], value.as_bytes());
                                assert_eq!(code(&out), 0, "set {name}: {}", stderr(&out));
                                if name == own {
                                    last = value;
                                    sets += 1;
                                } else {
                                    let mut sh = shared.lock().unwrap();
                                    sh.shared_acked.insert(value);
                                    sh.shared_sets += 1;
                                }
                            }
                            2 => {
                                let out = tv.run(&["rotate", "ROT"]);
                                if code(&out) == 1
                                    && stderr(&out).contains("nothing was overwritten")
                                {
                                    shared.lock().unwrap().rotation_conflicts += 1;
                                } else {
                                    assert_eq!(code(&out), 0, "rotate: {}", stderr(&out));
                                    shared.lock().unwrap().rotations += 1;
                                }
                            }
                            _ => {
                                let out = tv.run(&["exec", "--only", &own, "--", "printenv", &own]);
                                assert_eq!(code(&out), 0, "exec: {}", stderr(&out));
                                assert_eq!(
                                    stdout(&out).trim_end(),
                                    last,
                                    "worker {p}: exec saw a stale value"
                                );
                            }
                        }
                        shared.lock().unwrap().counts[kind] += 1;
                    }
                    (sets, last)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    let sh = shared.into_inner().unwrap();

    // No lost update.
    for (p, (sets, last)) in own_sets.iter().enumerate() {
        let name = format!("OWN_{p}");
        assert_eq!(tv.get(&name), *last, "{name}: the last acknowledged write");
        assert_eq!(
            versions(&tv, &name),
            (1..=(*sets as u64 + 1)).collect::<Vec<_>>(),
            "{name}: one version per acknowledged set, contiguous"
        );
    }
    assert_eq!(
        versions(&tv, "SHARED"),
        (1..=(sh.shared_sets as u64 + 1)).collect::<Vec<_>>(),
        "SHARED: one version per acknowledged set, contiguous"
    );
    assert!(sh.shared_acked.contains(&tv.get("SHARED")));
    assert_eq!(
        versions(&tv, "ROT"),
        (1..=(sh.rotations as u64 + 1)).collect::<Vec<_>>(),
        "ROT: one version per acknowledged rotation, contiguous"
    );
    let status = tv.run(&["status", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&status.stdout).unwrap();
    let rot = list.iter().find(|s| s["name"] == "ROT").unwrap();
    // A rotation that lost the race to another keeps its value pending, by design.
    assert!(
        rot["pending"].is_null() || sh.rotation_conflicts > 0,
        "a rotation was left pending: {rot}"
    );
    integrity_ok(&tv.vault_path());
    audit_ok(&tv, "after the load");

    let total: usize = sh.counts.iter().sum();
    eprintln!(
        "concurrency: {WORKERS} processes, {elapsed:.1} s, {total} operations, {:.1} ops/s",
        total as f64 / elapsed
    );
    for (k, n) in KINDS.iter().zip(sh.counts) {
        eprintln!(
            "concurrency:   {k:<6} {n:>6} ops  {:>7.1} ops/s",
            n as f64 / elapsed
        );
    }
    assert!(sh.counts.iter().all(|&n| n > 0), "every kind ran");
}

/// `keep verify` reads every record in many queries. With a writer committing beside it, each
/// verify must still see one state of the file: a head read before a commit and the manifest after
/// it would otherwise be reported as tampering (exit 5) on an intact vault.
#[test]
fn verify_beside_a_writer_never_reports_damage() {
    let tv = TestVault::new();
    for i in 0..40 {
        tv.set(&format!("NAME_{i}"), &format!("first-{i}"));
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let verifies = std::thread::scope(|s| {
        s.spawn(|| {
            for round in 0..150 {
                let name = format!("NAME_{}", round % 40);
                let out = tv.run_with_stdin(&["set", &name], format!("round-{round}").as_bytes());
                assert_eq!(code(&out), 0, "set {name}: {}", stderr(&out));
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut verifies = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let out = tv.run(&["verify"]);
            assert_eq!(
                code(&out),
                0,
                "verify {verifies} beside a writer: {}{}",
                stdout(&out),
                stderr(&out)
            );
            verifies += 1;
        }
        verifies
    });
    assert!(verifies > 0, "no verify ran beside the writer");
    println!("{verifies} verifies beside 150 sets");
}
