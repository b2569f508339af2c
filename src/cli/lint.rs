//! `keep lint`.

use super::exit::Exit;
use super::{output, Context};
use crate::error::{Error, Result};
use crate::lint::{self, files::VaultMatch, Level};

pub fn run(ctx: &Context) -> Result<Exit> {
    let root = match ctx
        .config
        .as_ref()
        .and_then(|c| c.path.as_deref())
        .and_then(|p| p.parent())
    {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::env::current_dir().map_err(|e| Error::Io {
            context: "cannot read the working directory".into(),
            source: e,
        })?,
    };
    let mut vault = ctx.open()?;
    let input = lint::Input {
        project: ctx.scope.project(),
        config: ctx.config.as_ref(),
        root,
        scanner: &VaultMatch,
    };
    // Lint reads every value of the project, and the vault records it (lint::run).
    let findings = lint::run(&mut vault, &input)?;
    let errors = findings.iter().filter(|f| f.level == Level::Error).count();
    if ctx.json {
        output::json(&serde_json::json!({ "findings": findings, "errors": errors }))?;
    } else {
        let color = output::color_stdout();
        let mut out = String::new();
        for f in &findings {
            let level = match f.level {
                Level::Error => output::paint("error", "31", color),
                Level::Warning => output::paint("warning", "33", color),
            };
            out.push_str(&format!("{level}[{}]: {}\n", f.rule, f.message));
        }
        print!("{out}");
        output::note(&format!(
            "{} finding(s), {errors} at error level.",
            findings.len()
        ));
    }
    Ok(Exit::findings_if(errors > 0))
}
