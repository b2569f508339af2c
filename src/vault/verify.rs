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
use crate::error::{Error, Result};
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
            for v in store::versions(conn, row.id)? {
                report.versions += 1;
                note(
                    problems,
                    ctx.open(row, v.version, &v.sealed, &address).map(|_| ()),
                );
            }
            match ctx.head(row, &address) {
                Ok((head, _)) => heads.push((row.lookup.clone(), head)),
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
        let orphans: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM versions WHERE secret_id NOT IN (SELECT id FROM secrets)",
                [],
                |r| r.get(0),
            )
            .map_err(|e| Error::db("check the vault's versions", e))?;
        if orphans > 0 {
            problems.push(format!(
                "{orphans} version row(s) belong to no secret (their secret's row was deleted)"
            ));
        }
        match Manifest::load(conn, keys, vault_id) {
            Ok(m) => {
                let computed =
                    Manifest::compute(keys, vault_id, heads.iter().map(|(l, h)| (l.as_slice(), h)));
                note(problems, m.check_all(&computed, report.secrets));
            }
            Err(e) => problems.push(e.to_string()),
        }

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
