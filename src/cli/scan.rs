//! `keep scan` and `keep hook install`: arguments in, library calls, output out.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::args::{HookCommand, ScanArgs, ScanFormat};
use super::context::Context;
use super::exit::Exit;
use super::output;
use crate::error::{Error, Result};
use crate::scan::{self, hook, report, Baseline, Detector, Options, RuleSet};

/// The baseline read when `--baseline` is not given, if it exists in the working directory.
const DEFAULT_BASELINE: &str = ".keep-baseline.json";

pub fn scan(ctx: &Context, a: ScanArgs) -> Result<Exit> {
    let set = RuleSet::builtin()?;
    let format = if ctx.json { ScanFormat::Json } else { a.format };
    if a.rules {
        return list_rules(&set, format);
    }
    let (needles, key) = if a.no_vault {
        (Vec::new(), None)
    } else {
        match ctx.opener().open_if_cached() {
            Ok(Some(mut v)) => (
                scan::vault_needles(&mut v)?,
                Some(scan::fingerprint_key(&v)),
            ),
            Ok(None) => (Vec::new(), None),
            Err(e) => {
                if ctx.verbose {
                    output::warn(&format!("not looking for vault values: {e}"));
                }
                (Vec::new(), None)
            }
        }
    };
    let mut det = Detector::new(set, needles)?;
    if let Some(k) = &key {
        det = det.with_fingerprint_key(k);
    }
    let opts = Options {
        max_file_size: a.max_file_mib.saturating_mul(1 << 20),
        threads: a.threads.unwrap_or(Options::default().threads).max(1),
    };
    let here = PathBuf::from(".");
    let started = Instant::now();
    let mut rep = if a.staged || a.git {
        if a.paths.len() > 1 {
            return Err(Error::Usage(
                "--staged and --git take at most one path: the repository".into(),
            ));
        }
        let repo = a.paths.first().unwrap_or(&here);
        if a.staged {
            scan::git::scan_staged(&det, repo, &opts)?
        } else {
            scan::git::scan_history(&det, repo, a.since.as_deref(), &opts)?
        }
    } else if a.paths.iter().any(|p| p == Path::new("-")) {
        if a.paths.len() > 1 {
            return Err(Error::Usage(
                "`-` (stdin) cannot be mixed with paths".into(),
            ));
        }
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Error::Io {
                context: "cannot read stdin".into(),
                source: e,
            })?;
        scan::walk::scan_bytes(&det, "-", &buf)
    } else if a.paths.is_empty() {
        scan::walk::scan_paths(&det, &[here], &opts)?
    } else {
        scan::walk::scan_paths(&det, &a.paths, &opts)?
    };
    let elapsed = started.elapsed();
    rep.finish();
    for w in &rep.warnings {
        output::warn(&format!("skipped {}", report::escape(w)));
    }

    let baseline_path = a.baseline.clone().or_else(|| {
        let p = PathBuf::from(DEFAULT_BASELINE);
        p.exists().then_some(p)
    });
    let baseline = match &baseline_path {
        Some(path) => Some(Baseline::load(path)?),
        None => None,
    };
    if let Some(path) = &a.write_baseline {
        // Accept the current findings on top of what the baseline in use already accepts, less the
        // unsalted vault-value fingerprints of a version 1 baseline: they are replaced by keyed ones.
        let mut new = Baseline::from_findings(&rep.findings);
        if let Some(mut old) = baseline {
            old.drop_legacy(&rep.findings);
            new.fingerprints.extend(old.fingerprints);
        }
        new.write(path)?;
        output::note(&format!(
            "wrote {} fingerprint(s) to {}; pass --baseline {} to accept them",
            new.fingerprints.len(),
            path.display(),
            path.display()
        ));
        return Ok(Exit::Success);
    }
    if let (Some(b), Some(path)) = (&baseline, &baseline_path) {
        let (suppressed, legacy) = b.filter(&mut rep.findings);
        rep.suppressed = suppressed;
        if legacy > 0 {
            output::warn(&format!(
                "{} accepted {legacy} vault value(s) by unsalted fingerprints (a version 1 baseline): \
                 a weak value can be guessed from them; rewrite it with `keep scan --baseline {} \
                 --write-baseline {}` to key them, and drop the old file from history",
                report::escape(&path.display().to_string()),
                report::escape(&path.display().to_string()),
                report::escape(&path.display().to_string()),
            ));
        }
    }

    match format {
        ScanFormat::Text => {
            let on = output::color_stdout();
            print!(
                "{}",
                report::text(&rep.findings, &|t, c| output::paint(t, c, on))
            );
        }
        ScanFormat::Json => output::json(&report::json(&rep))?,
        ScanFormat::Sarif => output::json(&report::sarif(&rep, det.rules()))?,
    }
    let mib = rep.bytes as f64 / (1 << 20) as f64;
    let mut summary = format!(
        "{} leak(s) in {} file(s), {:.1} MiB in {:.2}s",
        rep.findings.len(),
        rep.files,
        mib,
        elapsed.as_secs_f64()
    );
    if rep.suppressed > 0 {
        summary.push_str(&format!("; {} accepted by the baseline", rep.suppressed));
    }
    if det.needles() > 0 {
        summary.push_str(&format!("; checked {} vault value(s)", det.needles()));
    }
    output::note(&summary);
    Ok(Exit::findings_if(!rep.findings.is_empty()))
}

fn list_rules(set: &RuleSet, format: ScanFormat) -> Result<Exit> {
    match format {
        ScanFormat::Text => {
            for r in &set.rules {
                println!("{:<36} {}", r.id, r.description);
            }
        }
        _ => {
            let rules: Vec<_> = set
                .rules
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.id,
                        "description": r.description,
                        "keywords": r.keywords,
                        "entropy": r.entropy,
                        "validate": r.validate,
                        "confidence": r.confidence,
                    })
                })
                .collect();
            output::json(&serde_json::json!({ "rules": rules }))?;
        }
    }
    Ok(Exit::Success)
}

pub fn hook(ctx: &Context, c: HookCommand) -> Result<Exit> {
    match c {
        HookCommand::Install => {
            let done = hook::install(Path::new("."))?;
            let (path, chained, already) = match &done {
                hook::Installed::Fresh(p) | hook::Installed::Updated(p) => (p, None, false),
                hook::Installed::Chained { hook, previous } => (hook, Some(previous), false),
                hook::Installed::AlreadyThere(p) => (p, None, true),
            };
            if ctx.json {
                output::json(&serde_json::json!({
                    "hook": path,
                    "chained": chained,
                    "already_installed": already,
                    "updated": matches!(done, hook::Installed::Updated(_)),
                }))?;
            } else if already {
                output::note(&format!(
                    "the keep hook is already installed at {}",
                    path.display()
                ));
            } else if matches!(done, hook::Installed::Updated(_)) {
                output::note(&format!("updated the keep hook at {}", path.display()));
            } else {
                output::note(&format!("installed {}", path.display()));
                if let Some(p) = chained {
                    output::note(&format!(
                        "the previous hook now runs first, from {}",
                        p.display()
                    ));
                }
            }
            Ok(Exit::Success)
        }
        HookCommand::Uninstall => {
            let done = hook::uninstall(Path::new("."))?;
            if ctx.json {
                let (path, restored, removed) = match &done {
                    hook::Uninstalled::Removed(p) => (p, None, true),
                    hook::Uninstalled::Restored { hook, from } => (hook, Some(from), true),
                    hook::Uninstalled::NotInstalled(p) => (p, None, false),
                };
                output::json(&serde_json::json!({
                    "hook": path,
                    "removed": removed,
                    "restored_from": restored,
                }))?;
            } else {
                match &done {
                    hook::Uninstalled::Removed(p) => {
                        output::note(&format!("removed the keep hook {}", p.display()))
                    }
                    hook::Uninstalled::Restored { hook, from } => output::note(&format!(
                        "removed the keep hook; the previous hook is back at {} (from {})",
                        hook.display(),
                        from.display()
                    )),
                    hook::Uninstalled::NotInstalled(p) => output::note(&format!(
                        "no keep hook at {}; nothing to remove",
                        p.display()
                    )),
                }
            }
            Ok(Exit::Success)
        }
    }
}
