//! `push`, `pull` and `diff`: gather the three sides (local values, remote listing and values, the
//! recorded base), plan with [`super::plan`], apply, and record the new base.
//!
//! Order of effects is chosen so that a failure loses nothing: remote writes happen first and the local
//! state is recorded only for what the provider confirmed; a pull writes local versions and the new base
//! in one vault transaction. Conflicts are detected before anything is written and stop the command
//! unless `--prefer` is given.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::plan::{self, Action, Direction, Item, Preferences};
use super::state::{Ledger, Record};
use super::{Applied, Changes, Progress, Provider, RemoteMeta, RemoteValue, Target, Upsert};
use crate::error::Result;
use crate::scope::Name;
use crate::value::SecretValue;
use crate::vault::Vault;

/// Flags of push and pull.
#[derive(Clone, Debug, Default)]
pub struct SyncOptions {
    pub dry_run: bool,
    pub prune: bool,
    pub force_delete: bool,
    /// Overwrite remote entries that lack keep's marker (`push --force`).
    pub force: bool,
    /// `--prefer`: which side wins conflicting names (all of them, or name by name).
    pub prefer: Preferences,
    /// Allow a progress bar (off for --json).
    pub progress: bool,
    /// The project's `keep.toml`, which may allow loader variables a pull would otherwise refuse
    /// (`crate::env::loader`).
    pub config: Option<crate::config::Config>,
    /// The commands the notes suggest, in the caller's scope; [`Hints::plain`] when empty.
    pub hints: Option<Hints>,
}

/// The `keep push T` / `keep pull T` commands a note suggests, spelled for the scope the target was
/// resolved in (with `--env`/`--project` when that is not the default), so a hint acts on the same
/// secrets the command just compared.
#[derive(Clone, Debug)]
pub struct Hints {
    pub push: String,
    pub pull: String,
}

impl Hints {
    /// `keep push T` and `keep pull T`, with no scope flags.
    pub fn plain(target: &Target) -> Hints {
        Hints {
            push: format!("keep push {}", target.name),
            pull: format!("keep pull {}", target.name),
        }
    }
}

/// One differing name in a report. Names and marks only, never values.
#[derive(Clone, Debug, Serialize)]
pub struct ChangeReport {
    pub name: String,
    /// `+` local only, `-` remote only, `~` both, different.
    pub mark: String,
    pub local_changed: bool,
    pub remote_changed: bool,
    pub conflict: bool,
    /// What push/pull did (or would do, with --dry-run); absent for diff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// Why nothing was done, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The result of push, pull or diff.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub target: String,
    pub operation: &'static str,
    pub dry_run: bool,
    /// Names compared (in sync or not).
    pub compared: usize,
    pub changes: Vec<ChangeReport>,
    /// Names that changed on both sides (nothing was changed when this is not empty, except names
    /// that hit a check-and-set conflict at write time, listed here too).
    pub conflicts: Vec<String>,
    pub written: usize,
    pub deleted: usize,
}

/// The three sides, gathered.
struct Snapshot {
    local: BTreeMap<Name, SecretValue>,
    local_hash: BTreeMap<Name, [u8; 32]>,
    listing: BTreeMap<Name, RemoteMeta>,
    remote: BTreeMap<Name, RemoteValue>,
    base: BTreeMap<Name, Record>,
    items: Vec<Item>,
}

fn gather(
    vault: &mut Vault,
    target: &Target,
    provider: &mut dyn Provider,
    ledger: &Ledger,
    opts: &SyncOptions,
) -> Result<Snapshot> {
    let local: BTreeMap<Name, SecretValue> = vault
        .values(&target.scope)?
        .into_iter()
        .map(|(a, v)| (a.name, v))
        .collect();
    let local_hash: BTreeMap<Name, [u8; 32]> = local
        .iter()
        .map(|(n, v)| (n.clone(), ledger.value_hash(n, v)))
        .collect();
    let listing = provider.list()?;
    let names: BTreeSet<Name> = local.keys().chain(listing.keys()).cloned().collect();
    let base = ledger.load(vault.store().conn(), &names)?;
    // A remote value whose version equals the recorded one is known unchanged: no need to read it.
    let need: Vec<Name> = listing
        .iter()
        .filter(|(n, m)| !matches!(base.get(*n), Some(b) if b.version.is_some() && b.version == m.version))
        .map(|(n, _)| n.clone())
        .collect();
    let bar = Progress::new(need.len(), "reading", opts.progress);
    let remote = provider.read(&need, &bar)?;
    bar.finish();
    let need: BTreeSet<Name> = need.into_iter().collect();
    let items = names
        .iter()
        .map(|n| {
            let r = if !listing.contains_key(n) {
                None
            } else if let Some(v) = remote.get(n) {
                Some(ledger.value_hash(n, &v.value))
            } else if need.contains(n) {
                None // listed but gone by the time it was read
            } else {
                base.get(n).map(|b| b.hash)
            };
            plan::classify(n, local_hash.get(n).copied(), r, base.get(n))
        })
        .collect();
    Ok(Snapshot {
        local,
        local_hash,
        listing,
        remote,
        base,
        items,
    })
}

fn report(item: &Item, action: Option<Action>, note: Option<String>) -> ChangeReport {
    ChangeReport {
        name: item.name.to_string(),
        mark: item
            .mark
            .map(|m| m.symbol().to_string())
            .unwrap_or_default(),
        local_changed: item.local_changed,
        remote_changed: item.remote_changed,
        conflict: item.conflict,
        action,
        note,
    }
}

/// Compare local with remote. Changes nothing, locally or remotely.
pub fn diff(
    vault: &mut Vault,
    target: &Target,
    provider: &mut dyn Provider,
    opts: &SyncOptions,
) -> Result<Outcome> {
    let ledger = Ledger::new(vault.subkeys(), target);
    let s = gather(vault, target, provider, &ledger, opts)?;
    let hints = opts.hints.clone().unwrap_or_else(|| Hints::plain(target));
    let changes: Vec<ChangeReport> = s
        .items
        .iter()
        .filter(|i| i.mark.is_some())
        .map(|i| report(i, None, Some(side_note(i, &hints))))
        .collect();
    Ok(Outcome {
        target: target.name.clone(),
        operation: "diff",
        dry_run: true,
        compared: s.items.len(),
        conflicts: changes
            .iter()
            .filter(|c| c.conflict)
            .map(|c| c.name.clone())
            .collect(),
        changes,
        written: 0,
        deleted: 0,
    })
}

/// Which side changed a differing name since the last sync, and the command that fits: the side
/// that changed flows to the other. A name only remote has is a teammate's addition unless local
/// deleted it since the last sync, so `--prune` is suggested only for a deletion made here.
fn side_note(item: &Item, h: &Hints) -> String {
    use plan::Mark;
    if item.conflict {
        return format!(
            "changed on both sides since the last sync; `{} --prefer local` or `{} --prefer remote` \
             decides",
            h.push, h.pull
        );
    }
    match (item.mark, item.local_changed) {
        (Some(Mark::Added), true) => format!("added locally; `{}` sends it", h.push),
        (Some(Mark::Added), false) => format!(
            "deleted remotely since the last sync; `{} --prune` deletes it here",
            h.pull
        ),
        (Some(Mark::Removed), true) => format!(
            "deleted locally since the last sync; `{} --prune` deletes it remotely",
            h.push
        ),
        (Some(Mark::Removed), false) => format!("added remotely; `{}` takes it", h.pull),
        (_, true) => format!("changed locally; `{}` sends it", h.push),
        (_, false) => format!("changed remotely; `{}` takes it", h.pull),
    }
}

/// Why push or pull did nothing for a name (`None` when it acted on it).
fn note_for(
    item: &Item,
    action: Action,
    direction: Direction,
    managed: bool,
    h: &Hints,
) -> Option<String> {
    match action {
        Action::Write => None,
        Action::Delete if direction == Direction::Push && !managed => {
            Some("not marked as managed by keep; never pruned".into())
        }
        Action::Delete => None,
        Action::OtherSideNewer | Action::NeedsPrune | Action::Conflict => Some(side_note(item, h)),
    }
}

/// Plan the differing names for `direction`; returns the reports and whether there are conflicts.
fn decide_all(
    s: &Snapshot,
    target: &Target,
    direction: Direction,
    opts: &SyncOptions,
) -> (Vec<(Item, Action)>, Vec<ChangeReport>, Vec<String>) {
    let mut acts = Vec::new();
    let mut reports = Vec::new();
    let mut conflicts = Vec::new();
    let hints = opts.hints.clone().unwrap_or_else(|| Hints::plain(target));
    for item in s.items.iter().filter(|i| i.mark.is_some()) {
        let mut action = plan::decide(
            item,
            direction,
            opts.prefer.for_name(&item.name),
            opts.prune,
        );
        let managed = s.listing.get(&item.name).is_none_or(|m| m.managed);
        let note = note_for(item, action, direction, managed, &hints);
        if action == Action::Delete && direction == Direction::Push && !managed {
            action = Action::NeedsPrune;
        }
        if action == Action::Conflict {
            conflicts.push(item.name.to_string());
        }
        reports.push(report(item, Some(action), note));
        acts.push((item.clone(), action));
    }
    (acts, reports, conflicts)
}

/// Names in sync whose recorded base is missing or stale: record them.
fn refresh_base(s: &Snapshot, ledger: &Ledger, conn: &rusqlite::Connection) -> Result<()> {
    for item in s.items.iter().filter(|i| i.mark.is_none()) {
        let (Some(hash), Some(meta)) = (s.local_hash.get(&item.name), s.listing.get(&item.name))
        else {
            continue;
        };
        let version = s
            .remote
            .get(&item.name)
            .map(|r| r.version.clone())
            .unwrap_or_else(|| meta.version.clone());
        let rec = Record {
            version,
            hash: *hash,
        };
        if s.base.get(&item.name) != Some(&rec) {
            ledger.save(conn, &item.name, &rec)?;
        }
    }
    Ok(())
}

/// Make remote match local for names changed locally (see `plan::decide`).
pub fn push(
    vault: &mut Vault,
    target: &Target,
    provider: &mut dyn Provider,
    opts: &SyncOptions,
) -> Result<Outcome> {
    let ledger = Ledger::new(vault.subkeys(), target);
    let s = gather(vault, target, provider, &ledger, opts)?;
    let (acts, mut changes, mut conflicts) = decide_all(&s, target, Direction::Push, opts);
    let mut outcome = Outcome {
        target: target.name.clone(),
        operation: "push",
        dry_run: opts.dry_run,
        compared: s.items.len(),
        changes: Vec::new(),
        conflicts: conflicts.clone(),
        written: acts.iter().filter(|(_, a)| *a == Action::Write).count(),
        deleted: acts.iter().filter(|(_, a)| *a == Action::Delete).count(),
    };
    if opts.dry_run || !conflicts.is_empty() {
        if !conflicts.is_empty() {
            outcome.written = 0;
            outcome.deleted = 0;
        }
        outcome.changes = changes;
        return Ok(outcome);
    }
    let mut set = Changes {
        force_delete: opts.force_delete,
        force: opts.force,
        ..Default::default()
    };
    for (item, action) in &acts {
        let expected = s.listing.get(&item.name).and_then(|m| m.version.clone());
        match action {
            Action::Write => set.upserts.push(Upsert {
                name: item.name.clone(),
                value: s.local[&item.name].clone(),
                expected,
            }),
            Action::Delete => set.deletes.push(item.name.clone()),
            _ => {}
        }
    }
    let applied = if set.upserts.is_empty() && set.deletes.is_empty() {
        BTreeMap::new()
    } else {
        let bar = Progress::new(
            set.upserts.len() + set.deletes.len(),
            "pushing",
            opts.progress,
        );
        let r = provider.apply(&set, &bar);
        bar.finish();
        r?
    };
    vault.store().write(|tx| {
        for (name, result) in &applied {
            match result {
                Applied::Written(version) => ledger.save(
                    tx,
                    name,
                    &Record {
                        version: version.clone(),
                        hash: s.local_hash[name],
                    },
                )?,
                Applied::Deleted => ledger.forget(tx, name)?,
                Applied::Conflict => {}
            }
        }
        refresh_base(&s, &ledger, tx)
    })?;
    for (name, result) in &applied {
        if *result == Applied::Conflict {
            conflicts.push(name.to_string());
            if let Some(c) = changes.iter_mut().find(|c| c.name == name.as_str()) {
                c.action = Some(Action::Conflict);
                c.note = Some(
                    "changed remotely while pushing (check-and-set failed); nothing written".into(),
                );
            }
        }
    }
    outcome.written = applied
        .values()
        .filter(|a| matches!(a, Applied::Written(_)))
        .count();
    outcome.deleted = applied.values().filter(|a| **a == Applied::Deleted).count();
    outcome.conflicts = conflicts;
    outcome.changes = changes;
    audit_hook(vault, target, &outcome)?;
    Ok(outcome)
}

/// Make local match remote for names changed remotely. Each changed value becomes a new local version
/// (so `keep rollback` undoes a pull), written with the new base in one transaction.
pub fn pull(
    vault: &mut Vault,
    target: &Target,
    provider: &mut dyn Provider,
    opts: &SyncOptions,
) -> Result<Outcome> {
    let ledger = Ledger::new(vault.subkeys(), target);
    let s = gather(vault, target, provider, &ledger, opts)?;
    let (acts, changes, conflicts) = decide_all(&s, target, Direction::Pull, opts);
    let mut outcome = Outcome {
        target: target.name.clone(),
        operation: "pull",
        dry_run: opts.dry_run,
        compared: s.items.len(),
        changes,
        conflicts: conflicts.clone(),
        written: 0,
        deleted: 0,
    };
    if !conflicts.is_empty() {
        return Ok(outcome);
    }
    // A remote can plant names too: a loader variable is refused before anything is written.
    crate::env::loader::refuse(
        opts.config.as_ref(),
        acts.iter()
            .filter(|(_, a)| *a == Action::Write)
            .map(|(item, _)| item.name.as_str()),
        &format!("pull from {}", target.name),
    )?;
    outcome.written = acts.iter().filter(|(_, a)| *a == Action::Write).count();
    outcome.deleted = acts.iter().filter(|(_, a)| *a == Action::Delete).count();
    if opts.dry_run {
        return Ok(outcome);
    }
    let scope = target.scope.clone();
    vault.write(|w| {
        for (item, action) in &acts {
            let address = scope.address(item.name.clone());
            match action {
                Action::Write => {
                    let r = &s.remote[&item.name];
                    w.set(&address, &r.value)?;
                    let rec = Record {
                        version: r.version.clone(),
                        hash: ledger.value_hash(&item.name, &r.value),
                    };
                    ledger.save(w.conn(), &item.name, &rec)?;
                }
                Action::Delete => {
                    w.remove(&address)?;
                    ledger.forget(w.conn(), &item.name)?;
                }
                _ => {}
            }
        }
        refresh_base(&s, &ledger, w.conn())
    })?;
    audit_hook(vault, target, &outcome)?;
    Ok(outcome)
}

/// The one place a completed push or pull is reported to the audit log: a push reads the values it
/// sends (`read`), a pull writes the values it takes (`write`). A dry run moves nothing and logs nothing.
fn audit_hook(vault: &mut Vault, target: &Target, outcome: &Outcome) -> Result<()> {
    if outcome.dry_run {
        return Ok(());
    }
    let addresses: Vec<_> = outcome
        .changes
        .iter()
        .filter(|c| matches!(c.action, Some(Action::Write) | Some(Action::Delete)))
        .filter_map(|c| Name::new(&c.name).ok())
        .map(|n| target.scope.address(n))
        .collect();
    let action = if outcome.operation == "pull" {
        crate::audit::Action::Write
    } else {
        crate::audit::Action::Read
    };
    crate::audit::record(vault, action, &addresses, crate::audit::OK)
}
