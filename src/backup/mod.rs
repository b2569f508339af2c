//! Backup and team hand-off through standard age files: `keep export --age` and the age half of
//! `keep import`.
//!
//! The plaintext inside the age file is one JSON document, versioned so later releases can still read
//! old backups:
//!
//! ```json
//! {"format": "keep-export", "version": 1,
//!  "secrets": [{"address": "keep://billing/prod/DB_URL", "value": "postgres://..."},
//!              {"address": "keep://billing/prod/CERT", "value_base64": "MIIB..."}]}
//! ```
//!
//! A value that is valid UTF-8 is stored as `value`, any other as `value_base64`. Only current values
//! are exported (no history, no deleted secrets). Import writes everything in one transaction, so a
//! bad file changes nothing; a secret whose current value is already equal is left alone (no new
//! version).

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::agefile;
use crate::error::{Error, Result};
use crate::scope::{Address, Scope};
use crate::value::SecretValue;
use crate::vault::Vault;

/// The `format` field of an export document.
pub const FORMAT: &str = "keep-export";
/// The current document version.
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: String,
    version: u32,
    secrets: Vec<Item>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    address: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    value_base64: Option<String>,
}

impl Drop for Item {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.value.zeroize();
        self.value_base64.zeroize();
    }
}

/// What to export.
pub enum Selection {
    /// One scope (the current one, or `--env E`).
    Scope(Scope),
    /// Every project and environment (`--all`).
    All,
}

/// Export current values as an age file for `recipients`. Returns the file bytes and the addresses
/// exported (for the audit log).
pub fn export_age(
    vault: &Vault,
    selection: &Selection,
    recipients: &[age::x25519::Recipient],
    armor: bool,
) -> Result<(Vec<u8>, Vec<Address>)> {
    // One pass over the vault either way: `all_values` opens every record once.
    let pairs = match selection {
        Selection::Scope(s) => vault.values(s)?,
        Selection::All => vault.all_values()?,
    };
    let mut secrets = Vec::new();
    let mut exported = Vec::with_capacity(pairs.len());
    for (address, value) in pairs {
        let bytes = value.expose();
        secrets.push(match std::str::from_utf8(bytes) {
            Ok(s) => Item {
                address: address.to_string(),
                value: Some(s.to_string()),
                value_base64: None,
            },
            Err(_) => Item {
                address: address.to_string(),
                value: None,
                value_base64: Some(B64.encode(bytes)),
            },
        });
        exported.push(address);
    }
    let doc = Document {
        format: FORMAT.into(),
        version: VERSION,
        secrets,
    };
    let plain = Zeroizing::new(serde_json::to_vec(&doc).expect("export document serialises"));
    Ok((agefile::encrypt(&plain, recipients, armor)?, exported))
}

/// What an import did.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    /// Secrets written as a new version.
    pub written: usize,
    /// Secrets whose current value was already the same.
    pub unchanged: usize,
}

/// Import an age file made by [`export_age`] (or by the `age` CLI from such a document), with one
/// audit write entry per secret in the same transaction.
pub fn import_age(
    vault: &mut Vault,
    file: &[u8],
    identities: &[Box<dyn age::Identity>],
) -> Result<ImportReport> {
    let plain = agefile::decrypt(file, identities)?.ok_or_else(|| {
        Error::Auth(
            "none of the age identities given opens this file (wrong identity?); pass the \
             matching one with --identity FILE or KEEP_AGE_IDENTITY"
                .into(),
        )
    })?;
    let doc: Document = serde_json::from_slice(&plain).map_err(|e| {
        Error::Usage(format!(
            "the age file decrypted but does not hold a keep export document (line {}, column {}); \
             expected {{\"format\": \"keep-export\", \"version\": 1, \"secrets\": [...]}}",
            e.line(),
            e.column()
        ))
    })?;
    if doc.format != FORMAT || doc.version != VERSION {
        return Err(Error::Usage(format!(
            "unsupported export document (format {:?}, version {}); this keep reads {FORMAT:?} \
             version {VERSION}",
            doc.format, doc.version
        )));
    }
    let mut items = Vec::with_capacity(doc.secrets.len());
    for item in &doc.secrets {
        let address = Address::parse_uri(&item.address)?;
        let value = match (&item.value, &item.value_base64) {
            (Some(v), None) => SecretValue::from(v.as_str()),
            (None, Some(b)) => SecretValue::new(B64.decode(b).map_err(|_| {
                Error::Usage(format!("{} has an invalid value_base64", item.address))
            })?),
            _ => {
                return Err(Error::Usage(format!(
                    "{} needs exactly one of value and value_base64",
                    item.address
                )))
            }
        };
        items.push((address, value));
    }
    let addresses: Vec<Address> = items.iter().map(|(a, _)| a.clone()).collect();
    // The secrets and the audit entries naming them commit together, or not at all.
    crate::audit::write(vault, crate::audit::Action::Write, &addresses, |w| {
        let mut report = ImportReport::default();
        for (address, value) in &items {
            match w.get(address) {
                Ok(current) if current.expose() == value.expose() => report.unchanged += 1,
                _ => {
                    w.set(address, value)?;
                    report.written += 1;
                }
            }
        }
        Ok(report)
    })
}

/// Write an export to `path` atomically and owner-only (it is encrypted, but who may read even the
/// ciphertext is the owner's choice to widen, not keep's).
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    crate::env::atomic::write(path, bytes, 0o600)
}
