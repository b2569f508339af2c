//! `keep audit`, `keep audit verify`, `keep audit --unusual`.

use std::time::SystemTime;

use super::args::{AuditArgs, AuditCommand};
use super::{output, Context};
use crate::audit::{self, unusual, Action, Filter};
use crate::error::{Error, Result};

fn since(text: &str) -> Result<SystemTime> {
    if let Ok(t) = humantime::parse_rfc3339_weak(text) {
        return Ok(t);
    }
    let d = humantime::parse_duration(text).map_err(|_| {
        Error::Usage(format!(
            "invalid --since {text:?}: give a duration (1h, 7d) or a time (2026-01-31T12:00:00Z)"
        ))
    })?;
    Ok(SystemTime::now()
        .checked_sub(d)
        .unwrap_or(SystemTime::UNIX_EPOCH))
}

pub fn run(ctx: &Context, a: AuditArgs) -> Result<i32> {
    // Reading the log must work on a damaged log, which appends would refuse (see audit::context).
    audit::context::disable_auto_log();
    match a.command {
        Some(AuditCommand::Verify) => verify(ctx),
        None if a.unusual => unusual_report(ctx, &a),
        None => list(ctx, &a),
    }
}

/// Open the vault and fold pending failed unlocks when the chain allows it; a damaged chain is
/// reported by what follows, not by this step.
fn open(ctx: &Context) -> Result<crate::vault::Vault> {
    let mut vault = ctx.open()?;
    let _ = audit::fold_and_log_unlock(&mut vault);
    Ok(vault)
}

fn filter(a: &AuditArgs) -> Result<Filter> {
    Ok(Filter {
        since: a.since.as_deref().map(since).transpose()?,
        name: a.name.clone(),
        action: a.action.as_deref().map(Action::parse).transpose()?,
    })
}

fn list(ctx: &Context, a: &AuditArgs) -> Result<i32> {
    let f = filter(a)?;
    let mut vault = open(ctx)?;
    let records = audit::list(&mut vault, &f)?;
    let address = |r: &audit::Record| match (&r.address, r.damaged) {
        (_, true) => "(damaged)".to_string(),
        (Some(a), _) => a.to_string(),
        (None, _) => "-".to_string(),
    };
    if ctx.json {
        let items: Vec<_> = records
            .iter()
            .map(|r| {
                serde_json::json!({
                    "seq": r.seq,
                    "authenticated": r.seq.is_some(),
                    "time": output::time(audit::entry::time_of(r.body.t)),
                    "user": r.body.user,
                    "host": r.body.host,
                    "pid": r.body.pid,
                    "command": r.body.command,
                    "action": r.body.action.as_str(),
                    "secret": r.address.as_ref().map(|a| a.to_string()),
                    "outcome": r.body.outcome,
                    "folded_at": r.body.folded_at.map(|t| output::time(audit::entry::time_of(t))),
                    "damaged": r.damaged,
                })
            })
            .collect();
        return output::json(&items).map(|_| 0);
    }
    let mut rows = vec![[
        "SEQ",
        "TIME",
        "USER@HOST",
        "PID",
        "COMMAND",
        "ACTION",
        "SECRET",
        "OUTCOME",
    ]
    .map(String::from)];
    for r in &records {
        rows.push([
            r.seq.map_or("-".to_string(), |s| s.to_string()),
            output::time(audit::entry::time_of(r.body.t)),
            format!("{}@{}", r.body.user, r.body.host),
            r.body.pid.to_string(),
            r.body.command.clone(),
            r.body.action.as_str().to_string(),
            address(r),
            if r.seq.is_none() {
                format!("{} (unauthenticated, not yet folded)", r.body.outcome)
            } else {
                r.body.outcome.clone()
            },
        ]);
    }
    let mut widths = [0usize; 8];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    print!("{out}");
    Ok(0)
}

fn verify(ctx: &Context) -> Result<i32> {
    // Verification writes nothing, not even its own unlock: it must see the log as it was found.
    let mut vault = ctx.open()?;
    let verdict = audit::verify(&mut vault)?;
    if ctx.json {
        output::json(&serde_json::json!({
            "intact": verdict.problem.is_none(),
            "entries": verdict.entries,
            "head_count": verdict.head_count,
            "first_bad": verdict.problem,
        }))?;
        return Ok(if verdict.problem.is_none() { 0 } else { 1 });
    }
    match verdict.problem {
        None => {
            println!("intact: {} entries", verdict.entries);
            Ok(0)
        }
        Some(p) => Err(Error::Findings(format!(
            "the audit log is not intact: {} (entries 1 to {} check out)",
            p.what,
            p.seq.saturating_sub(1)
        ))),
    }
}

fn unusual_report(ctx: &Context, a: &AuditArgs) -> Result<i32> {
    let rules = unusual::Rules::from_config(ctx.config.as_ref())?;
    let f = filter(a)?;
    let mut vault = open(ctx)?;
    // Rules look at the whole log (a user is only "new" against everything before); --since etc.
    // then narrow which findings are shown.
    let records = audit::list(&mut vault, &Filter::default())?;
    let shown: std::collections::HashSet<Option<u64>> =
        audit::list(&mut vault, &f)?.iter().map(|r| r.seq).collect();
    let findings: Vec<_> = unusual::check(&records, &rules)
        .into_iter()
        .filter(|x| shown.contains(&x.seq))
        .collect();
    if ctx.json {
        output::json(&findings)?;
    } else {
        let mut out = String::new();
        for x in &findings {
            let seq = x.seq.map_or("-".to_string(), |s| format!("#{s}"));
            out.push_str(&format!(
                "{}  {seq}  {}  {}@{}  {}\n",
                x.rule, x.time, x.user, x.host, x.detail
            ));
        }
        print!("{out}");
        output::note(&format!("{} unusual event(s).", findings.len()));
    }
    Ok(if findings.is_empty() { 0 } else { 1 })
}
