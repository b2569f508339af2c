//! Baselines: findings a team has looked at and accepted (test fixtures, revoked keys), stored as
//! fingerprints so the file itself holds no secret and can be committed.
//!
//! A fingerprint hashes rule, path and value (see `detect::fingerprint`), so moving a secret to another
//! line keeps it accepted while copying it to a new file does not. A low-entropy password could be
//! guessed back from its fingerprint by brute force; baselines are for accepted findings, not a vault.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::detect::Finding;
use crate::error::{Error, Result};

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
        if b.keep_scan_baseline != 1 {
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
            keep_scan_baseline: 1,
            fingerprints: findings.iter().map(|f| f.fingerprint.clone()).collect(),
        }
    }

    /// Drop accepted findings; returns how many were dropped.
    pub fn filter(&self, findings: &mut Vec<Finding>) -> u64 {
        let before = findings.len();
        findings.retain(|f| !self.fingerprints.contains(&f.fingerprint));
        (before - findings.len()) as u64
    }

    /// Write atomically (temp file in the same folder, fsync, rename). A baseline holds only
    /// fingerprints and is meant to be committed, so it gets an ordinary 0644 mode.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(self).map_err(|e| Error::Io {
            context: format!("cannot write the baseline {}", path.display()),
            source: e.into(),
        })?;
        text.push(b'\n');
        crate::env::atomic::write(path, &text, 0o644)
    }
}
