//! Baselines: findings a team has looked at and accepted (test fixtures, revoked keys), stored as
//! fingerprints so the file itself holds no secret and can be committed.
//!
//! A fingerprint hashes rule, path and value (see `detect::fingerprint`), so moving a secret to another
//! line keeps it accepted while copying it to a new file does not. For rule matches it is SHA-256 (the
//! value is in the scanned file anyway); for vault values it is an HMAC under the vault's scan subkey
//! (`detect::keyed_fingerprint`), so a weak vault value cannot be guessed back from a baseline.
//!
//! Versions: 2 is written. A version 1 baseline (unsalted SHA-256 for vault values too) still loads
//! and still accepts what it accepted, by the old fingerprint; rewriting it (`--write-baseline`)
//! replaces those with keyed ones.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::detect::Finding;
use crate::error::{Error, Result};

/// The baseline format written (see the module doc for version 1).
pub const VERSION: u32 = 2;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Format marker and version.
    pub keep_scan_baseline: u32,
    pub fingerprints: BTreeSet<String>,
}

impl Baseline {
    /// Read a baseline file.
    pub fn load(path: &Path) -> Result<Baseline> {
        let text = std::fs::read(path).map_err(|e| Error::Io {
            context: format!("cannot read the baseline {}", path.display()),
            source: e,
        })?;
        let b: Baseline = serde_json::from_slice(&text).map_err(|e| {
            Error::Usage(format!(
                "{} is not a keep scan baseline ({e}); make one with --write-baseline",
                path.display()
            ))
        })?;
        if !(1..=VERSION).contains(&b.keep_scan_baseline) {
            return Err(Error::Usage(format!(
                "{}: unsupported baseline version {}",
                path.display(),
                b.keep_scan_baseline
            )));
        }
        Ok(b)
    }

    /// A baseline accepting `findings`.
    pub fn from_findings(findings: &[Finding]) -> Baseline {
        Baseline {
            keep_scan_baseline: VERSION,
            fingerprints: findings.iter().map(|f| f.fingerprint.clone()).collect(),
        }
    }

    /// Whether a version 1 baseline accepts `f` by its unsalted vault-value fingerprint.
    fn legacy_match(&self, f: &Finding) -> bool {
        self.keep_scan_baseline == 1
            && f.legacy_fingerprint
                .as_ref()
                .is_some_and(|l| self.fingerprints.contains(l))
    }

    /// Drop accepted findings; returns how many were dropped, and how many of those only by a
    /// version 1 (unsalted) vault-value fingerprint.
    pub fn filter(&self, findings: &mut Vec<Finding>) -> (u64, u64) {
        let before = findings.len();
        let mut legacy = 0;
        findings.retain(|f| {
            if self.fingerprints.contains(&f.fingerprint) {
                false
            } else if self.legacy_match(f) {
                legacy += 1;
                false
            } else {
                true
            }
        });
        ((before - findings.len()) as u64, legacy)
    }

    /// Remove the unsalted fingerprints of `findings`' vault values (a version 1 baseline being
    /// rewritten: their keyed fingerprints take their place).
    pub fn drop_legacy(&mut self, findings: &[Finding]) {
        for f in findings {
            if let Some(l) = &f.legacy_fingerprint {
                self.fingerprints.remove(l);
            }
        }
    }

    /// Write atomically (temp file in the same folder, fsync, rename). A baseline holds only
    /// fingerprints and is meant to be committed, so it gets an ordinary 0644 mode.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(self).map_err(|e| Error::Io {
            context: format!("cannot write the baseline {}", path.display()),
            source: e.into(),
        })?;
        text.push(b'\n');
        crate::using::atomic::write(path, &text, 0o644)
    }
}
