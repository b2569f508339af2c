//! `keep verify`: the whole-vault integrity check (src/vault/verify.rs).

use super::exit::Exit;
use super::{output, Context};
use crate::error::{Error, Result};

pub fn run(ctx: &Context) -> Result<Exit> {
    let mut vault = ctx.open()?;
    let report = vault.verify()?;
    if ctx.json {
        /// The report as `--json` prints it: its verdict first, then its own fields.
        #[derive(serde::Serialize)]
        struct Json<'a> {
            intact: bool,
            #[serde(flatten)]
            report: &'a crate::vault::VerifyReport,
        }
        output::json(&Json {
            intact: report.intact(),
            report: &report,
        })?;
        return Ok(if report.intact() {
            Exit::Success
        } else {
            Exit::Status(crate::error::exit::INTEGRITY)
        });
    }
    if report.intact() {
        println!(
            "vault intact: {} secrets, {} versions, {} key slots, {} audit entries",
            report.secrets, report.versions, report.slots, report.audit_entries
        );
        return Ok(Exit::Success);
    }
    Err(Error::Integrity(format!(
        "the vault is not intact ({} problem(s)):\n  {}",
        report.problems.len(),
        report.problems.join("\n  ")
    )))
}
