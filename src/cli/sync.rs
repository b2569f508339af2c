//! `push`, `pull`, `diff`: resolve the target, open the vault and the provider, print the outcome.

use super::args::{DiffArgs, PullArgs, PushArgs};
use super::exit::Exit;
use super::{output, Context};
use crate::error::{Error, Result};
use crate::sync::engine::Hints;
use crate::sync::plan::{Action, Mark, Operation};
use crate::sync::{self, Outcome, SyncOptions, Target};

/// Name the command in remote failures, so the message says which operation on which target failed.
fn op<T>(name: &str, r: Result<T>) -> Result<T> {
    r.map_err(|e| match e {
        Error::Remote(m) => Error::Remote(format!("{name} failed: {m}")),
        other => other,
    })
}

fn target(ctx: &Context, name: &str) -> Result<Target> {
    Target::resolve(ctx.config.as_ref(), name, &ctx.scope)
}

/// `keep push T` / `keep pull T` spelled for the scope `t` was resolved in.
pub(super) fn hints(ctx: &Context, t: &Target) -> Hints {
    let cmd = |verb: &str| {
        ctx.command(&t.scope, &format!("{verb} {}", t.name))
            .trim_matches('`')
            .to_string()
    };
    Hints {
        push: cmd("push"),
        pull: cmd("pull"),
    }
}

/// Names a push left alone because the remote changed them since the last sync.
fn blocked(o: &Outcome) -> Vec<&str> {
    if o.operation != Operation::Push || o.dry_run {
        return Vec::new();
    }
    o.changes
        .iter()
        .filter(|c| c.action == Some(Action::OtherSideNewer) && c.remote_changed)
        .map(|c| c.name.as_str())
        .collect()
}

/// Names with their marks on stdout, a summary on stderr. Exit 1 when conflicts stopped the command.
/// A push that a remote change blocked exits 1 as well: the remote does not hold what was pushed.
fn print(ctx: &Context, o: &Outcome, h: &Hints) -> Result<Exit> {
    let blocked = blocked(o);
    let code = Exit::findings_if(!o.conflicts.is_empty() || !blocked.is_empty());
    if ctx.json {
        output::json(o)?;
        return Ok(code);
    }
    let color = output::color_stdout();
    let mut out = String::new();
    for c in &o.changes {
        let colour = match c.mark {
            Mark::Added => "32",
            Mark::Removed => "31",
            Mark::Changed => "33",
        };
        let mut line = format!(
            "{} {}",
            output::paint(c.mark.symbol(), colour, color),
            c.name
        );
        if let Some(note) = &c.note {
            line.push_str(&format!("  ({note})"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    print!("{out}");
    let verb = if o.dry_run { "would write" } else { "wrote" };
    if !o.conflicts.is_empty() {
        output::warn(&format!(
            "{}: {} name(s) changed on both sides since the last sync: {}. Nothing was changed for them; \
             rerun with --prefer local|remote, or name by name with --prefer NAME=local|remote.",
            o.target,
            o.conflicts.len(),
            o.conflicts.join(", ")
        ));
    }
    if !blocked.is_empty() {
        output::warn(&format!(
            "{}: {} name(s) changed remotely since the last sync and were not pushed: {}; `{}` \
             takes them",
            o.target,
            blocked.len(),
            blocked.join(", "),
            h.pull
        ));
    }
    if o.changes.is_empty() {
        output::note(&format!(
            "{}: in sync ({} name(s) compared).",
            o.target, o.compared
        ));
    } else if o.operation != Operation::Diff {
        output::note(&format!(
            "{} {}: {} compared, {verb} {}, {} {}.",
            o.operation,
            o.target,
            o.compared,
            o.written,
            if o.dry_run { "would delete" } else { "deleted" },
            o.deleted
        ));
    }
    Ok(code)
}

pub fn push(ctx: &Context, a: PushArgs) -> Result<Exit> {
    let t = target(ctx, &a.target)?;
    let mut vault = ctx.open()?;
    let mut provider = op("push", sync::connect(&t))?;
    let opts = SyncOptions {
        dry_run: a.dry_run,
        prune: a.prune,
        force_delete: a.force_delete_without_recovery,
        force: a.force,
        prefer: crate::sync::plan::Preferences::new(&a.prefer)?,
        progress: !ctx.json,
        allowed_loaders: Default::default(),
        hints: Some(hints(ctx, &t)),
    };
    let o = op("push", sync::push(&mut vault, &t, provider.as_mut(), &opts))?;
    print(ctx, &o, &hints(ctx, &t))
}

pub fn pull(ctx: &Context, a: PullArgs) -> Result<Exit> {
    let t = target(ctx, &a.target)?;
    let mut vault = ctx.open()?;
    let mut provider = op("pull", sync::connect(&t))?;
    let opts = SyncOptions {
        dry_run: a.dry_run,
        prefer: crate::sync::plan::Preferences::new(&a.prefer)?,
        prune: a.prune,
        progress: !ctx.json,
        allowed_loaders: crate::using::loader::allowed_names(ctx.config.as_ref()),
        hints: Some(hints(ctx, &t)),
        ..Default::default()
    };
    let o = op("pull", sync::pull(&mut vault, &t, provider.as_mut(), &opts))?;
    print(ctx, &o, &hints(ctx, &t))
}

pub fn diff(ctx: &Context, a: DiffArgs) -> Result<Exit> {
    let t = target(ctx, &a.target)?;
    let mut vault = ctx.open()?;
    let mut provider = op("diff", sync::connect(&t))?;
    let opts = SyncOptions {
        progress: !ctx.json,
        hints: Some(hints(ctx, &t)),
        ..Default::default()
    };
    let o = op("diff", sync::diff(&mut vault, &t, provider.as_mut(), &opts))?;
    let drift = !o.changes.is_empty();
    // A diff exits on drift, which covers the conflicts `print` would report.
    let _ = print(ctx, &o, &hints(ctx, &t))?;
    Ok(Exit::findings_if(drift))
}
