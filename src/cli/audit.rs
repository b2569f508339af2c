//! `keep audit`, `keep audit verify`, `keep audit --unusual`.

use super::args::{AuditArgs, AuditCommand};
use super::exit::Exit;
use super::{output, Context};
use crate::audit::entry::{printable, time_of};
use crate::audit::{self, unusual, witness, Filter};
use crate::error::Result;

pub fn run(ctx: &Context, a: AuditArgs) -> Result<Exit> {
    match a.command {
        Some(AuditCommand::Verify { no_witness }) => verify(ctx, no_witness),
        Some(AuditCommand::Compact {
            before,
            dry_run,
            no_witness,
        }) => super::audit_compact::run(ctx, before, dry_run, no_witness),
        None if a.unusual => unusual_report(ctx, &a),
        None => list(ctx, &a),
    }
}

/// Open the vault and fold pending failed unlocks when the chain allows it; a damaged chain is
/// reported by what follows, not by this step.
/// Reading the log must work on a damaged log, which appends would refuse: the open itself logs
/// nothing (`Opener::log_unlock`).
pub(super) fn open(ctx: &Context) -> Result<crate::vault::Vault> {
    let mut vault = ctx.opener().log_unlock(false).open()?;
    let _ = audit::fold_and_log_unlock(&mut vault);
    Ok(vault)
}

fn filter(a: &AuditArgs) -> Result<Filter> {
    Ok(Filter {
        since: a.since,
        name: a.name.clone(),
        action: a.action,
    })
}

fn list(ctx: &Context, a: &AuditArgs) -> Result<Exit> {
    let f = filter(a)?;
    let mut vault = open(ctx)?;
    let records = audit::list(&mut vault, &f)?;
    let compacted = audit::compacted(&mut vault)?;
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
                    "authenticated": r.authenticated(),
                    "time": output::time(time_of(r.body.t)),
                    "user": r.body.user,
                    "host": r.body.host,
                    "pid": r.body.pid,
                    "command": r.body.command,
                    "action": r.body.action.as_str(),
                    "secret": r.address.as_ref().map(|a| a.to_string()),
                    "outcome": r.body.outcome,
                    "folded_at": r.body.folded_at.map(|t| output::time(time_of(t))),
                    "claimed_time": r.body.claimed_t.map(|t| output::time(time_of(t))),
                    "damaged": r.damaged,
                })
            })
            .collect();
        return output::json(&items).map(|_| Exit::Success);
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
            output::time(time_of(r.body.t)),
            format!("{}@{}", printable(&r.body.user), printable(&r.body.host)),
            r.body.pid.to_string(),
            printable(&r.body.command),
            r.body.action.as_str().to_string(),
            address(r),
            format!("{}{}", printable(&r.body.outcome), unauthenticated_mark(r)),
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
    if let Some(c) = compacted {
        output::note(&format!(
            "Entries 1 to #{} were compacted on {} (`keep audit compact`); the log starts at #{}.",
            c.last,
            output::time(time_of(c.at)),
            c.last + 1
        ));
    }
    Ok(Exit::Success)
}

/// The text marker of an entry whose content no key vouches for (a failed unlock).
fn unauthenticated_mark(r: &audit::Record) -> String {
    if r.authenticated() {
        return String::new();
    }
    let claimed = r
        .body
        .claimed_t
        .map(|t| format!(", claimed {}", output::time(time_of(t))))
        .unwrap_or_default();
    match r.body.folded_at {
        Some(t) if r.seq.is_some() => format!(
            " [UNAUTHENTICATED: written without the key, folded in {}{claimed}]",
            output::time(time_of(t))
        ),
        _ => format!(" [UNAUTHENTICATED: not yet folded{claimed}]"),
    }
}

fn verify(ctx: &Context, no_witness: bool) -> Result<Exit> {
    // Verification writes nothing, not even its own unlock: it must see the log as it was found.
    let mut vault = ctx.opener().log_unlock(false).open()?;
    let verdict = audit::verify(&mut vault)?;
    let report = if no_witness {
        None
    } else {
        Some(audit::verify_witness(&mut vault)?)
    };
    let witness_problem = report.as_ref().and_then(|r| r.problem.clone());
    let intact = verdict.problem.is_none() && witness_problem.is_none();
    if ctx.json {
        // `first_bad`: the chain's first bad entry, else the first entry the witness says is missing.
        let first_bad = match (&verdict.problem, &witness_problem) {
            (Some(p), _) => serde_json::to_value(p).ok(),
            (None, Some(w)) => serde_json::to_value(w).ok(),
            (None, None) => None,
        };
        output::json(&serde_json::json!({
            "intact": intact,
            "chain_intact": verdict.problem.is_none(),
            "entries": verdict.entries,
            "head_count": verdict.head_count,
            "compacted": verdict.compacted.as_ref().map(|c| serde_json::json!({
                "first": c.first,
                "last": c.last,
                "count": c.count,
                "before": output::time(time_of(c.before)),
                "at": output::time(time_of(c.at)),
                "by": printable(&c.by),
            })),
            "starts_at": verdict.compacted.as_ref().map_or(1, |c| c.last + 1),
            "first_bad": first_bad,
            "witness": report,
        }))?;
        return Ok(Exit::findings_if(!intact));
    }
    let mut problems = Vec::new();
    if let Some(p) = &verdict.problem {
        let start = verdict.compacted.as_ref().map_or(1, |c| c.last + 1);
        problems.push(if p.seq > start {
            format!(
                "the audit log is not intact: {} (entries {start} to {} check out)",
                p.what,
                p.seq - 1
            )
        } else {
            format!("the audit log is not intact: {}", p.what)
        });
    }
    if let Some(w) = &witness_problem {
        problems.push(format!(
            "the audit log does not match its witness: {}",
            w.what
        ));
    }
    if !problems.is_empty() {
        output::problem(&problems.join("\n"));
        return Ok(Exit::Findings);
    }
    let compacted = verdict.compacted.as_ref().map_or(String::new(), |c| {
        format!(
            " from #{} (entries 1 to #{} compacted on {} by {})",
            c.last + 1,
            c.last,
            output::time(time_of(c.at)),
            printable(&c.by)
        )
    });
    match &report {
        Some(r) => {
            println!(
                "intact: {} entries{compacted}; the witness agrees on {} of them",
                verdict.entries, r.witnessed
            );
            if r.compacted > 0 {
                output::note(&format!(
                    "The witness keeps the lines of the {} compacted entries; the checkpoint \
                     accounts for them.",
                    r.compacted
                ));
            }
            witness_notes(r);
        }
        None => {
            println!("intact: {} entries{compacted}", verdict.entries);
            output::note("The witness was not compared (--no-witness).");
        }
    }
    Ok(Exit::Success)
}

/// What an intact witness still has to say: where it starts, an interrupted transaction.
fn witness_notes(r: &witness::Report) {
    match (r.starts_after, r.start_reason) {
        (Some(k), Some(witness::Reason::Existing)) if k > 0 => output::note(&format!(
            "Entries 1 to #{k} were written before keep kept a witness: the chain alone vouches for them."
        )),
        _ => {}
    }
    if let Some(p) = r.pending {
        output::note(&format!(
            "Pending: the witness {} records entries #{} to #{} of a transaction the vault does              not hold and that left no sign of having committed: keep was interrupted before the              commit. Not tampering (though an older copy of the vault missing exactly that one              interrupted transaction would look the same).",
            r.path, p.first, p.last
        ));
    }
    if r.torn > 0 {
        output::note(&format!(
            "{} line(s) of the witness do not parse: torn by a crash while being written.",
            r.torn
        ));
    }
}

fn unusual_report(ctx: &Context, a: &AuditArgs) -> Result<Exit> {
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
            let mark = if x.authenticated {
                ""
            } else {
                "  [UNAUTHENTICATED]"
            };
            out.push_str(&format!(
                "{}  {seq}  {}  {}@{}  {}{mark}\n",
                x.rule,
                x.time,
                printable(&x.user),
                printable(&x.host),
                printable(&x.detail)
            ));
        }
        print!("{out}");
        output::note(&format!("{} unusual event(s).", findings.len()));
    }
    Ok(Exit::findings_if(!findings.is_empty()))
}
