//! The library in a dozen lines: create a vault, write two secrets in one transaction, read them back.
//!
//! Run: `cargo run --example basic` (it works in a temp folder and leaves nothing behind).

use keep::{Address, KdfParams, Passphrase, Scope, SecretValue, Vault};
use secrecy::SecretString;

fn main() -> keep::Result<()> {
    let dir = tempfile::tempdir().map_err(|e| keep::Error::Io {
        context: "temp dir".into(),
        source: e,
    })?;
    let path = dir.path().join("vault.db");
    // A real application would take the passphrase from a prompt or KEEP_PASSPHRASE_FILE.
    let passphrase = Passphrase::new(
        SecretString::from("example passphrase".to_string()),
        KdfParams::default(),
    );
    let mut vault = Vault::create(&path, &passphrase, KdfParams::default())?;

    let scope = Scope::new("shop", "dev")?;
    let db = Address::parse("DATABASE_URL", &scope)?;
    let key = Address::parse("STRIPE_KEY", &scope)?;
    vault.write(|w| {
        w.set(&db, &SecretValue::from("postgres://localhost/shop"))?;
        w.set(&key, &SecretValue::from("sk_test_example"))
    })?;

    for (address, value) in vault.values(&scope)? {
        // Print lengths, not values: examples get copied, and values do not belong in logs.
        println!("{address}: {} bytes", value.len());
    }
    Ok(())
}
