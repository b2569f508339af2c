//! Typed settings read from a real vault through the library API (the same calls
//! `examples/settings.rs` makes), with every problem reported at once.

use keep::slots::passphrase::{KdfParams, Passphrase};
use keep::using::settings::{Loader, Source};
use keep::{Address, Scope, SecretValue, Vault};

#[test]
fn settings_load_from_the_vault_and_report_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let kdf = KdfParams {
        m_kib: 1024,
        t: 1,
        p: 1,
    };
    let slot = Passphrase::new("pw".to_string().into(), kdf);
    let mut vault = Vault::create(&dir.path().join("v.db"), &slot, kdf).unwrap();
    let scope = Scope::new("billing", "prod").unwrap();
    for (name, value) in [
        ("DATABASE_URL", "postgres://db/app"),
        ("PORT", "not-a-port-canary"),
    ] {
        let address = Address::parse(name, &scope).unwrap();
        vault.set(&address, &SecretValue::from(value)).unwrap();
    }
    let source = Source::vault(vault, scope);
    let mut l = Loader::new(&source);
    let url: String = l.required("DATABASE_URL");
    let _key: String = l.required("STRIPE_KEY");
    let _port: u16 = l.optional("PORT", 8080);
    let workers: u32 = l.optional("WORKERS", 4);
    assert_eq!(url, "postgres://db/app");
    assert_eq!(workers, 4);
    let err = l.finish().unwrap_err();
    let names: Vec<&str> = err.problems.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["STRIPE_KEY", "PORT"]);
    assert!(!err.to_string().contains("canary"), "{err}");
    // It converts into keep's error type for applications that use `keep::Result`.
    let as_keep: keep::Error = err.into();
    assert_eq!(as_keep.exit_code(), 3);
}
