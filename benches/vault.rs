//! Core vault benchmarks on a vault of 10,000 secrets, all with an unlocked vault (no KDF per call):
//! `get` through the library and as a whole `keep get` process via the session cache, `set`
//! throughput in one transaction (the import path), `ls` of 10,000 names, `verify` of the whole
//! vault, and, for reference, one unlock at the default Argon2id cost.
//!
//! Run: `cargo bench --bench vault`

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use keep::slots::passphrase::{KdfParams, Passphrase};
use keep::slots::SlotUnwrapper;
use keep::{Address, Scope, SecretValue, Vault};
use secrecy::SecretString;

const N: usize = 10_000;
const CHEAP: KdfParams = KdfParams {
    m_kib: 1024,
    t: 1,
    p: 1,
};

fn pass(kdf: KdfParams) -> Passphrase {
    Passphrase::new(SecretString::from("bench passphrase".to_string()), kdf)
}

fn address(scope: &Scope, i: usize) -> Address {
    Address::parse(&format!("SECRET_{i:05}"), scope).unwrap()
}

fn filled_vault(dir: &Path) -> Vault {
    let mut vault = Vault::create(&dir.join("vault.db"), &pass(CHEAP), CHEAP).unwrap();
    let scope = Scope::new("bench", "dev").unwrap();
    vault
        .write(|w| {
            for i in 0..N {
                w.set(
                    &address(&scope, i),
                    &SecretValue::from(format!("value-{i}-0123456789abcdef")),
                )?;
            }
            Ok(())
        })
        .unwrap();
    vault
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = filled_vault(dir.path());
    let scope = Scope::new("bench", "dev").unwrap();

    let mut i = 0usize;
    c.bench_function("get (library, 10k vault)", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            vault.get(&address(&scope, i)).unwrap()
        })
    });

    c.bench_function("ls (library, 10k names)", |b| {
        b.iter(|| vault.list(Some(&scope), false).unwrap().len())
    });

    // The whole-vault check: every slot, name, version, head, the manifest and the audit chain.
    let mut group = c.benchmark_group("verify");
    group.sample_size(10);
    group.bench_function("verify (library, 10k vault)", |b| {
        b.iter(|| assert!(vault.verify().unwrap().intact()))
    });
    group.finish();

    let mut group = c.benchmark_group("set");
    group.throughput(Throughput::Elements(1000));
    let mut round = 0usize;
    group.bench_function("1000 sets in one transaction", |b| {
        b.iter(|| {
            round += 1;
            vault
                .write(|w| {
                    for i in 0..1000 {
                        w.set(
                            &address(&scope, i),
                            &SecretValue::from(format!("v{round}-{i}")),
                        )?;
                    }
                    Ok(())
                })
                .unwrap()
        })
    });
    group.finish();

    // Whole process: `keep get` reading the key from the session cache, as a shell user would.
    vault.cache_in_session(Duration::from_secs(600)).unwrap();
    let bin = env!("CARGO_BIN_EXE_keep");
    let vault_path = dir.path().join("vault.db");
    c.bench_function(
        "keep get (whole process, unlocked session, 10k vault)",
        |b| {
            b.iter(|| {
                let out = std::process::Command::new(bin)
                    .args(["get", "--project", "bench", "--env", "dev", "SECRET_04242"])
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
        },
    );
    keep::vault::lock(&vault_path).unwrap();

    // One unlock at the default Argon2id cost (m=64 MiB, t=3, p=1): what a command pays without a session.
    let default_dir = tempfile::tempdir().unwrap();
    let default_path = default_dir.path().join("vault.db");
    Vault::create(
        &default_path,
        &pass(KdfParams::default()),
        KdfParams::default(),
    )
    .unwrap();
    let mut group = c.benchmark_group("unlock");
    group.sample_size(10);
    group.bench_function("default Argon2id (64 MiB, t=3)", |b| {
        b.iter_batched(
            || -> Vec<Box<dyn SlotUnwrapper>> { vec![Box::new(pass(KdfParams::default()))] },
            |u| Vault::open_with(&default_path, &u).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(core, benches);
criterion_main!(core);
