//! The cost audit adds to a command: appending one entry (sealed name, chain MAC, head update, its
//! witness line, one committed SQLite transaction), on a log that already holds 10,000 entries, and
//! verifying that whole chain and comparing it with the witness. The budget is <= 1 ms per append of a read's entry.
//!
//! Run: `cargo bench --bench audit`

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use keep::audit::{self, Action};
use keep::slots::passphrase::{KdfParams, Passphrase};
use keep::{Address, Scope, Vault};
use secrecy::SecretString;

const CHEAP: KdfParams = KdfParams {
    m_kib: 1024,
    t: 1,
    p: 1,
};

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    // The audit witness ($XDG_STATE_HOME/keep/...) goes to the temp dir too, for this process and
    // the `keep` children below, never into the real home.
    std::env::set_var("XDG_STATE_HOME", dir.path().join("state"));
    let pass = Passphrase::new(SecretString::from("bench passphrase".to_string()), CHEAP);
    let mut vault = Vault::create(&dir.path().join("vault.db"), &pass, CHEAP).unwrap();
    let scope = Scope::new("bench", "prod").unwrap();
    let address = Address::parse("DATABASE_URL", &scope).unwrap();
    let many: Vec<Address> = (0..10_000)
        .map(|i| Address::parse(&format!("S_{i}"), &scope).unwrap())
        .collect();
    audit::record(&mut vault, Action::Read, &many, audit::OK).unwrap();

    c.bench_function("audit append (1 entry, own transaction, 10k log)", |b| {
        b.iter(|| {
            audit::record(
                &mut vault,
                Action::Read,
                std::slice::from_ref(&address),
                audit::OK,
            )
            .unwrap()
        })
    });
    // For comparison: entries of changes (slot, policy, failures) commit with synchronous=FULL,
    // one fsync each. `set`/`rm`/`rollback` share the change's own transaction instead.
    c.bench_function("audit append, fsync'd (non-read entry)", |b| {
        b.iter(|| audit::record(&mut vault, Action::Policy, &[], audit::OK).unwrap())
    });
    // Whole processes, side by side in one run: `keep get` (reads a value and appends its entry) and
    // `keep history` (opens the same record, appends nothing). The difference is what audit adds to a
    // read as a user sees it, whatever else the machine is doing.
    vault
        .set(&address, &keep::SecretValue::from("postgres://bench"))
        .unwrap();
    vault.cache_in_session(Duration::from_secs(600)).unwrap();
    let vault_path = dir.path().join("vault.db");
    let mut group = c.benchmark_group("whole process, unlocked session");
    for (label, cmd) in [
        ("keep get (audited)", "get"),
        ("keep history (not audited)", "history"),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| {
                let out = std::process::Command::new(env!("CARGO_BIN_EXE_keep"))
                    .args([cmd, "--project", "bench", "--env", "prod", "DATABASE_URL"])
                    .env("KEEP_VAULT", &vault_path)
                    .env_remove("KEEP_PASSPHRASE")
                    .env_remove("KEEP_PASSPHRASE_FILE")
                    .stdin(std::process::Stdio::null())
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            })
        });
    }
    group.finish();
    keep::vault::lock(&vault_path).unwrap();

    let mut group = c.benchmark_group("audit verify");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("verify chain of 10k entries", |b| {
        b.iter(|| assert!(audit::verify(&mut vault).unwrap().problem.is_none()))
    });
    group.bench_function("compare 10k entries with the witness", |b| {
        b.iter(|| assert!(audit::verify_witness(&mut vault).unwrap().problem.is_none()))
    });
    group.finish();
}

criterion_group!(audit_benches, benches);
criterion_main!(audit_benches);
