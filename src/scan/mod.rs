//! `keep scan`: a secret scanner that knows the vault.
//!
//! Generic scanners guess from shapes (a provider's token format, a high-entropy assignment); keep can
//! also look for the exact values it stores, because it holds them. Those are found by name whatever
//! their shape, which catches the database password that no regex would. The vault part runs only
//! when the vault is already unlocked for the session: scanning never prompts.
//!
//! Layout: [`rules`] (the embedded rule file), [`detect`] (the Aho-Corasick + regex engine),
//! [`vault_match`] (the vault values' automaton behind a filter that copies no value),
//! [`filters`] (entropy, checksums, placeholders), [`walk`] (files and stdin), [`git`] (index and
//! history), [`baseline`], [`report`] (text, JSON, SARIF) and [`hook`] (the pre-commit hook).

pub mod baseline;
pub mod detect;
pub mod filters;
pub mod git;
pub mod hook;
pub mod report;
pub mod rules;
pub mod vault_match;
pub mod walk;

pub use baseline::Baseline;
pub use detect::{Detector, Finding, Needle, Origin};
pub use rules::RuleSet;

use zeroize::Zeroizing;

use crate::error::Result;
use crate::vault::Vault;

/// Vault values shorter than this are not looked for: they would match by chance.
pub const MIN_VAULT_VALUE: usize = 8;

/// Default per-file size limit.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 << 20;

/// How to scan.
#[derive(Clone, Debug)]
pub struct Options {
    /// Files larger than this are skipped.
    pub max_file_size: u64,
    /// Worker threads.
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// What a scan found and covered.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Files (or file-in-commit chunks) scanned.
    pub files: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Files skipped as binary or too large.
    pub skipped: u64,
    /// Findings dropped by the baseline.
    pub suppressed: u64,
    /// Files that could not be read.
    pub warnings: Vec<String>,
}

impl Report {
    /// Sort findings into a stable order and drop exact duplicates.
    pub fn finish(&mut self) {
        self.findings.sort_by(|a, b| {
            (&a.path, a.line, a.column, &a.rule, &a.commit)
                .cmp(&(&b.path, b.line, b.column, &b.rule, &b.commit))
        });
        self.findings.dedup();
    }
}

/// The key of vault-value fingerprints: the vault's scan subkey.
pub fn fingerprint_key(vault: &Vault) -> Zeroizing<[u8; 32]> {
    use secrecy::ExposeSecret;
    Zeroizing::new(*vault.subkeys().scan.expose_secret())
}

/// The values of an unlocked vault, in every project and environment, as needles named by address.
/// Values shorter than [`MIN_VAULT_VALUE`] bytes are skipped.
pub fn vault_needles(vault: &mut Vault) -> Result<Vec<Needle>> {
    // Reading every value is a read like `env`'s: the vault records it, naming what was read.
    let values = vault.all_values()?;
    Ok(values
        .into_iter()
        .filter(|(_, value)| value.len() >= MIN_VAULT_VALUE)
        .map(|(address, value)| Needle {
            name: address.to_string(),
            value: Zeroizing::new(value.expose().to_vec()),
        })
        .collect())
}
