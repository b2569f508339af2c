//! The library API that applications and `examples/` use: create, batch writes that are all-or-nothing,
//! scoped values, and opening with an explicit credential.

use keep::slots::passphrase::{KdfParams, Passphrase};
use keep::slots::SlotUnwrapper;
use keep::{Address, Error, Scope, SecretValue, Vault};
use secrecy::SecretString;

const CHEAP: KdfParams = KdfParams {
    m_kib: 64,
    t: 1,
    p: 1,
};

fn pass(p: &str) -> Passphrase {
    Passphrase::new(SecretString::from(p.to_string()), CHEAP)
}

#[test]
fn batch_writes_are_all_or_nothing_and_values_are_scoped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let mut vault = Vault::create(&path, &pass("pw"), CHEAP).unwrap();
    let dev = Scope::new("app", "dev").unwrap();
    let prod = Scope::new("app", "prod").unwrap();
    let addr = |s: &Scope, n: &str| Address::parse(n, s).unwrap();
    vault
        .write(|w| {
            w.set(&addr(&dev, "B"), &SecretValue::from("b-dev"))?;
            w.set(&addr(&dev, "A"), &SecretValue::from("a-dev"))?;
            w.set(&addr(&prod, "A"), &SecretValue::from("a-prod"))?;
            w.set(&addr(&dev, "GONE"), &SecretValue::from("x"))?;
            w.remove(&addr(&dev, "GONE"))
        })
        .unwrap();
    // A failure half-way through a batch leaves nothing of it behind.
    let err = vault
        .write(|w| {
            w.set(&addr(&dev, "C"), &SecretValue::from("c"))?;
            w.set(&addr(&dev, "A"), &SecretValue::from("changed"))?;
            w.rollback(&addr(&dev, "B"), 42)
        })
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    let values: Vec<(String, String)> = vault
        .values(&dev)
        .unwrap()
        .into_iter()
        .map(|(a, v)| {
            (
                a.name.to_string(),
                v.expose_str("test").unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        values,
        vec![("A".into(), "a-dev".into()), ("B".into(), "b-dev".into())]
    );
    assert_eq!(vault.values(&prod).unwrap().len(), 1);
    assert!(!vault.contains(&addr(&dev, "C")).unwrap());
    assert!(!vault.contains(&addr(&dev, "GONE")).unwrap());
    drop(vault);

    let good: Vec<Box<dyn SlotUnwrapper>> = vec![Box::new(pass("pw"))];
    let mut vault = Vault::open_with(&path, &good).unwrap();
    assert_eq!(vault.get(&addr(&prod, "A")).unwrap().expose(), b"a-prod");
    assert_eq!(vault.opened_by(), Some(1));
    let bad: Vec<Box<dyn SlotUnwrapper>> = vec![Box::new(pass("nope"))];
    assert!(matches!(Vault::open_with(&path, &bad), Err(Error::Auth(_))));
}

/// The vault records its own accesses: an application that never calls the audit module still
/// leaves `init`, `write`, `unlock` and `read` entries (a failed read too), one per call, and the
/// chain verifies. (Before, library reads and `open_with` left nothing, and `init` no entry.)
#[test]
fn the_vault_records_a_library_users_opens_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let dev = Scope::new("app", "dev").unwrap();
    let a = Address::parse("A", &dev).unwrap();
    let missing = Address::parse("MISSING", &dev).unwrap();
    let mut vault = Vault::create(&path, &pass("pw"), CHEAP).unwrap();
    vault.set(&a, &SecretValue::from("v")).unwrap();
    drop(vault);
    let unwrappers: Vec<Box<dyn SlotUnwrapper>> = vec![Box::new(pass("pw"))];
    let mut vault = Vault::open_with(&path, &unwrappers).unwrap();
    vault.get(&a).unwrap();
    assert_eq!(vault.values(&dev).unwrap().len(), 1);
    assert!(matches!(vault.get(&missing), Err(Error::NotFound(_))));
    // Metadata hands out no value and is not recorded.
    assert!(vault.contains(&a).unwrap());
    assert_eq!(vault.list(None, false).unwrap().len(), 1);
    let log = keep::audit::list(&mut vault, &keep::audit::Filter::default()).unwrap();
    let seen: Vec<(String, Option<String>, String)> = log
        .iter()
        .map(|r| {
            (
                r.body.action.as_str().to_string(),
                r.address.as_ref().map(|a| a.to_string()),
                r.body.outcome.clone(),
            )
        })
        .collect();
    let entry = |action: &str, address: Option<&str>, outcome: &str| {
        (
            action.to_string(),
            address.map(String::from),
            outcome.to_string(),
        )
    };
    assert_eq!(
        seen,
        [
            entry("init", None, "ok"),
            entry("write", Some("keep://app/dev/A"), "ok"),
            entry("unlock", None, "ok"),
            entry("read", Some("keep://app/dev/A"), "ok"),
            entry("read", Some("keep://app/dev/A"), "ok"),
            entry("read", Some("keep://app/dev/MISSING"), "not_found"),
        ]
    );
    assert!(log.iter().all(|r| r.body.command == "library"));
    let verdict = keep::audit::verify(&mut vault).unwrap();
    assert!(verdict.problem.is_none(), "{:?}", verdict.problem);
    assert_eq!(verdict.entries, 6);
}
