//! `keep verify`: the whole-vault check. Every slot row, every secret's name, every version, every
//! head, the manifest and the audit chain, with each problem found named (not only the first).
//!
//! The header was already checked when the vault was opened. Nothing here writes to the file.

use std::collections::HashSet;

use secrecy::ExposeSecret;
use serde::Serialize;

use super::manifest::Manifest;
use super::record;
use super::Vault;
use crate::error::Result;
use crate::store::{self, bucket_of};

/// What `keep verify` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub secrets: u64,
    pub versions: u64,
    pub slots: u64,
    pub audit_entries: u64,
    /// One line per problem; empty when the vault is intact.
    pub problems: Vec<String>,
}

impl Report {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

fn note(problems: &mut Vec<String>, r: Result<()>) {
    if let Err(e) = r {
        problems.push(e.to_string());
    }
}

impl Vault {
    /// Check every record of the vault (see the module doc).
    pub fn verify(&mut self) -> Result<Report> {
        let mut report = Report::default();
        let problems = &mut report.problems;
        let conn = self.store.conn();
        let (keys, vault_id) = (&self.keys, self.vault_id.as_slice());
        // Every record query below sees one snapshot: another process's commit between two of
        // them (a head read before it, the manifest after) would otherwise read as tampering.
        let snapshot = store::snapshot(conn)?;

        let slots = store::slots(conn)?;
        report.slots = slots.len() as u64;
        for slot in &slots {
            note(
                problems,
                crate::slots::check_row_mac(keys.records.expose_secret(), vault_id, slot),
            );
        }

        let ctx = self.ctx();
        let secrets = store::all_secrets(conn)?;
        report.secrets = secrets.len() as u64;
        let ids: HashSet<i64> = secrets.iter().map(|s| s.id).collect();
        let mut heads = Vec::new();
        for row in &secrets {
            let address =
                match record::open_name(keys, vault_id, row.id, &row.lookup, &row.sealed_name) {
                    Ok(a) => a,
                    Err(e) => {
                        problems.push(e.to_string());
                        continue;
                    }
                };
            let versions = store::versions(conn, row.id)?;
            for v in &versions {
                report.versions += 1;
                note(
                    problems,
                    ctx.open(row, v.version, &v.sealed, &address).map(|_| ()),
                );
            }
            match ctx.head(row, &address) {
                Ok((head, _)) => {
                    // Versions are numbered 1, 2, ... with no hole up to the head; a missing older
                    // row would otherwise vanish from `history` without a word.
                    let numbers: Vec<u32> = versions.iter().map(|v| v.version).collect();
                    if numbers != (1..=head.version).collect::<Vec<u32>>() {
                        problems.push(format!(
                            "{address}: its history should hold versions 1 to {} but holds {}",
                            head.version,
                            describe_versions(&numbers)
                        ));
                    }
                    heads.push((row.lookup.clone(), head));
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        for (bucket, head) in store::all_heads(conn)? {
            if !ids.contains(&head.secret_id) {
                problems.push(format!(
                    "a head names secret record #{} but there is no such secret (its rows were deleted)",
                    head.secret_id
                ));
            } else if bucket != bucket_of(head.secret_id) {
                problems.push(format!(
                    "the head of secret record #{} is filed under the wrong group ({bucket})",
                    head.secret_id
                ));
            }
        }
        let orphans = store::orphan_versions(conn)?;
        if orphans > 0 {
            problems.push(format!(
                "{orphans} version row(s) belong to no secret (their secret's row was deleted)"
            ));
        }
        match Manifest::load(conn, keys, vault_id, self.floor) {
            Ok(m) => {
                let computed =
                    Manifest::compute(keys, vault_id, heads.iter().map(|(l, h)| (l.as_slice(), h)));
                note(problems, m.check_all(&computed, report.secrets));
            }
            Err(e) => problems.push(e.to_string()),
        }
        drop(snapshot);

        let verdict = crate::audit::verify(self)?;
        report.audit_entries = verdict.entries;
        if let Some(p) = verdict.problem {
            report
                .problems
                .push(format!("the audit log is not intact: {}", p.what));
        }
        Ok(report)
    }
}

/// Version numbers as a short list for a message: `1, 2, 4`, or `none`.
fn describe_versions(numbers: &[u32]) -> String {
    if numbers.is_empty() {
        return "none".into();
    }
    numbers
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
