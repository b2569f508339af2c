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
    vault: &mut Vault,
    selection: &Selection,
    recipients: &[age::x25519::Recipient],
    armor: bool,
) -> Result<(Vec<u8>, Vec<Address>)> {
    let dyns: Vec<&dyn age::Recipient> = recipients
        .iter()
        .map(|r| r as &dyn age::Recipient)
        .collect();
    export_age_to(vault, selection, &dyns, armor)
}

/// [`export_age`] for any age recipients, SSH keys included (`keep export --age ssh-ed25519 ...`).
pub fn export_age_to(
    vault: &mut Vault,
    selection: &Selection,
    recipients: &[&dyn age::Recipient],
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
    // Serialised into a buffer that grows by copy-and-wipe: every value passes through it.
    let mut plain = crate::value::WipingString::default();
    serde_json::to_writer(&mut plain, &doc).expect("export document serialises");
    let plain = plain.into_string();
    Ok((
        agefile::encrypt_to(plain.as_bytes(), recipients, armor)?,
        exported,
    ))
}

/// What an import did (or, with `dry_run`, would do), name by name: addresses and actions, never
/// values.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    /// Secrets written as a new version.
    pub written: usize,
    /// Secrets whose current value was already the same.
    pub unchanged: usize,
    /// Secrets of other scopes, not written (without `--all`).
    pub skipped: usize,
    pub dry_run: bool,
    /// Every secret of the file, in file order.
    pub items: Vec<ImportItem>,
}

/// One secret of an imported file and what happened to it.
#[derive(Debug, Serialize)]
pub struct ImportItem {
    pub address: String,
    /// `add` (new name), `change` (new version), `unchanged`, or `skipped` (another scope).
    pub action: &'static str,
}

/// Which secrets of a hand-off file an import may write.
pub struct ImportOptions<'a> {
    /// Only this scope (the current one); `None` writes every scope the file names (`--all`).
    pub scope: Option<&'a Scope>,
    /// Work out and report the actions, write nothing.
    pub dry_run: bool,
    /// The project's keep.toml, which may allow loader variables (`crate::using::loader`).
    pub config: Option<&'a crate::config::Config>,
}

/// Import every secret of an age file made by [`export_age`] (or by the `age` CLI from such a
/// document), whatever its scope. The CLI uses [`import_age_with`], which limits the import to the
/// current scope unless asked.
pub fn import_age(
    vault: &mut Vault,
    file: &[u8],
    identities: &[Box<dyn age::Identity>],
) -> Result<ImportReport> {
    let all = ImportOptions {
        scope: None,
        dry_run: false,
        config: None,
    };
    import_age_with(vault, file, identities, &all)
}

/// Import an age hand-off file with one audit write entry per secret written, in the same
/// transaction. age does not authenticate the sender (anyone with the recipient can make such a
/// file), so only the scope asked for is written, and loader variables are refused.
pub fn import_age_with(
    vault: &mut Vault,
    file: &[u8],
    identities: &[Box<dyn age::Identity>],
    opts: &ImportOptions,
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
    let wanted = |a: &Address| opts.scope.is_none_or(|s| a.scope == *s);
    crate::using::loader::refuse(
        opts.config,
        items
            .iter()
            .filter(|(a, _)| wanted(a))
            .map(|(a, _)| a.name.as_str()),
        "import of the age file",
    )?;
    let mut report = ImportReport {
        dry_run: opts.dry_run,
        ..Default::default()
    };
    let mut actions = Vec::with_capacity(items.len());
    for (address, value) in &items {
        let action = if !wanted(address) {
            "skipped"
        } else {
            match vault.peek(address) {
                Ok(current) if current.expose() == value.expose() => "unchanged",
                Ok(_) => "change",
                Err(Error::NotFound(_)) => "add",
                Err(e) => return Err(e),
            }
        };
        actions.push(action);
    }
    for ((address, _), action) in items.iter().zip(&actions) {
        match *action {
            "skipped" => report.skipped += 1,
            "unchanged" => report.unchanged += 1,
            _ => report.written += 1,
        }
        report.items.push(ImportItem {
            address: address.to_string(),
            action,
        });
    }
    if opts.dry_run || report.written == 0 {
        return Ok(report);
    }
    let writes: Vec<&(Address, SecretValue)> = items
        .iter()
        .zip(&actions)
        .filter(|(_, a)| matches!(**a, "add" | "change"))
        .map(|(i, _)| i)
        .collect();
    // The secrets and the audit entry naming them commit together, or not at all.
    vault.write(|w| {
        for (address, value) in &writes {
            w.set(address, value)?;
        }
        Ok(())
    })?;
    Ok(report)
}

/// Write an export to `path` atomically and owner-only (it is encrypted, but who may read even the
/// ciphertext is the owner's choice to widen, not keep's).
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    crate::using::atomic::write(path, bytes, 0o600)
}
