//! `keep verify`: the whole-vault integrity check (src/vault/verify.rs).

use super::{output, Context};
use crate::error::{Error, Result};

pub fn run(ctx: &Context) -> Result<i32> {
    let mut vault = ctx.open()?;
    let report = vault.verify()?;
    if ctx.json {
        output::json(&serde_json::json!({
            "intact": report.intact(),
            "secrets": report.secrets,
            "versions": report.versions,
            "slots": report.slots,
            "audit_entries": report.audit_entries,
            "problems": report.problems,
        }))?;
        return Ok(if report.intact() {
            0
        } else {
            crate::error::exit::INTEGRITY
        });
    }
    if report.intact() {
        println!(
            "vault intact: {} secrets, {} versions, {} key slots, {} audit entries",
            report.secrets, report.versions, report.slots, report.audit_entries
        );
        return Ok(0);
    }
    Err(Error::Integrity(format!(
        "the vault is not intact ({} problem(s)):\n  {}",
        report.problems.len(),
        report.problems.join("\n  ")
    )))
}
