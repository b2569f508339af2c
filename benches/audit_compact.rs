//! Audit retention, measured: a log of 10,000 entries, then `keep audit compact` of all but the
//! newest ones. Prints the vault file's size (after a WAL checkpoint: page_count x page_size, and
//! how many of those pages are free), the witness file's size, and how long `audit verify`'s chain
//! walk and witness comparison take (median of 5 each),
//! before and after, then after 10,000 more entries (freed pages are reused before the file grows).
//!
//! Run: `cargo bench --profile dev --bench audit_compact` (a debug build; the sizes do not depend on
//! the profile, the times do). No criterion: one run.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use keep::audit::{self, Action};
use keep::slots::passphrase::{KdfParams, Passphrase};
use keep::{Address, Scope, Vault};
use secrecy::SecretString;

const CHEAP: KdfParams = KdfParams {
    m_kib: 1024,
    t: 1,
    p: 1,
};
const ENTRIES: usize = 10_000;

/// (file bytes, free bytes) after folding the WAL into the file.
fn size(path: &Path) -> (i64, i64) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let q = |p: &str| {
        c.query_row(&format!("PRAGMA {p}"), [], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    let page = q("page_size");
    (q("page_count") * page, q("freelist_count") * page)
}

/// Median times of `audit verify`'s two halves: the chain walk, then the witness comparison.
fn verify_time(vault: &mut Vault) -> (Duration, Duration) {
    let mut chain = Vec::new();
    let mut witness = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let v = audit::verify(vault).unwrap();
        assert!(v.problem.is_none(), "{v:?}");
        chain.push(start.elapsed());
        let start = Instant::now();
        let w = audit::verify_witness(vault).unwrap();
        assert!(w.problem.is_none(), "{w:?}");
        witness.push(start.elapsed());
    }
    chain.sort();
    witness.sort();
    (chain[2], witness[2])
}

fn fill(vault: &mut Vault, address: &Address, n: usize) {
    for _ in 0..n {
        audit::record(
            vault,
            Action::Read,
            std::slice::from_ref(address),
            audit::OK,
        )
        .unwrap();
    }
}

fn report(label: &str, path: &Path, entries: u64, vault: &mut Vault) {
    let (bytes, free) = size(path);
    let (chain, witness) = verify_time(vault);
    let witness_bytes = std::fs::metadata(audit::witness::path(vault.id()).unwrap())
        .unwrap()
        .len();
    println!(
        "| {label} | {entries} | {bytes} B | {free} B | {witness_bytes} B | {:.1} ms | {:.1} ms |",
        chain.as_secs_f64() * 1e3,
        witness.as_secs_f64() * 1e3
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("XDG_STATE_HOME", dir.path().join("state"));
    let path = dir.path().join("vault.db");
    let pass = Passphrase::new(SecretString::from("bench passphrase".to_string()), CHEAP);
    let mut vault = Vault::create(&path, &pass, CHEAP).unwrap();
    let address = Address::parse("DATABASE_URL", &Scope::new("bench", "prod").unwrap()).unwrap();
    println!(
        "| log | entries held | vault file | of which free | witness file | verify: chain | verify: witness |"
    );
    println!("|---|---|---|---|---|---|---|");
    fill(&mut vault, &address, ENTRIES);
    report("10,000 entries", &path, ENTRIES as u64, &mut vault);
    std::thread::sleep(Duration::from_millis(5));
    let cutoff = SystemTime::now();
    std::thread::sleep(Duration::from_millis(5));
    fill(&mut vault, &address, 10);
    let start = Instant::now();
    let outcome = audit::compact::run(&mut vault, cutoff, false, true).unwrap();
    let took = start.elapsed();
    let held = audit::verify(&mut vault).unwrap().entries;
    report("after compacting the first 10,000", &path, held, &mut vault);
    fill(&mut vault, &address, ENTRIES);
    let held = audit::verify(&mut vault).unwrap().entries;
    report("then 10,000 more", &path, held, &mut vault);
    println!(
        "\ncompaction of {} entries: {:.1} ms (one transaction, witness compared first)",
        outcome.count,
        took.as_secs_f64() * 1e3
    );
}
