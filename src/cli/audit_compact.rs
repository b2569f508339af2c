//! `keep audit compact --before D [--dry-run] [--no-witness]`: audit retention (src/audit/compact.rs).

use std::time::SystemTime;

use super::exit::Exit;
use super::{output, Context};
use crate::audit::compact::{self, Outcome};
use crate::audit::entry::time_of;
use crate::audit::{self};
use crate::error::Result;

pub fn run(ctx: &Context, before: SystemTime, dry_run: bool, no_witness: bool) -> Result<Exit> {
    // As for every `keep audit` command, the open logs nothing: the log is checked first.
    let mut vault = ctx.opener().log_unlock(false).open()?;
    let outcome = compact::run(&mut vault, before, dry_run, !no_witness)?;
    if outcome.entry.is_some() {
        // As `keep audit` does: fold failed unlocks and log a slot's unlock, now that the log is
        // known to be intact. Best effort: the compaction is committed either way. A dry run, or a
        // compaction that removes nothing, changes nothing at all.
        let _ = audit::fold_and_log_unlock(&mut vault);
    }
    if ctx.json {
        output::json(&json(&outcome))?;
    } else {
        print!("{}", text(&outcome));
    }
    Ok(Exit::Success)
}

fn json(o: &Outcome) -> serde_json::Value {
    serde_json::json!({
        "dry_run": o.dry_run,
        "compacted": !o.dry_run && o.removed.is_some(),
        "before": output::time(time_of(o.before)),
        "first": o.removed.map(|r| r.first),
        "last": o.removed.map(|r| r.through),
        "count": o.count,
        "starts_at": o.starts_at,
        "entry": o.entry,
    })
}

fn text(o: &Outcome) -> String {
    let before = output::time(time_of(o.before));
    match (o.removed, o.dry_run) {
        (None, _) => format!(
            "nothing to compact: no entry older than {before} except the newest (the log starts \
             at #{}); nothing was changed\n",
            o.starts_at
        ),
        (Some(r), true) => format!(
            "would compact entries #{} to #{} ({} older than {before}); the log would start at \
             #{} after a checkpoint (dry run: nothing was changed)\n",
            r.first, r.through, o.count, o.starts_at
        ),
        (Some(r), false) => format!(
            "compacted entries #{} to #{} ({} older than {before}); the log now starts at #{} after \
             a checkpoint, entry #{} records the compaction, and the witness keeps the full history\n",
            r.first,
            r.through,
            o.count,
            o.starts_at,
            o.entry.unwrap_or_default()
        ),
    }
}
