//! `push`, `pull` and `diff`: gather the three sides (local values, remote listing and values, the
//! recorded base), plan with [`super::plan`], apply, and record the new base.
//!
//! Order of effects is chosen so that a failure loses nothing: remote writes happen first and the local
//! state is recorded only for what the provider confirmed; a pull writes local versions and the new base
//! in one vault transaction. Conflicts are detected before anything is written and stop the command
//! unless `--prefer` is given.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::plan::{self, Action, Direction, Item, Mark, Operation, Preferences};
use super::state::{Ledger, Record};
use super::{Applied, Changes, Progress, Provider, RemoteMeta, RemoteValue, Target, Upsert};
use crate::error::Result;
use crate::scope::{Name, Scope};
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
    /// The names the project's `keep.toml` allows although they are loader variables
    /// (`crate::using::loader::allowed_names`): a pull refuses any other.
    pub allowed_loaders: std::collections::BTreeSet<String>,
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
    pub mark: Mark,
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
    pub operation: Operation,
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
    /// Local names read from an ancestor environment (`inherited = true`), with that ancestor.
    inherited: BTreeMap<Name, Scope>,
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
    // Unrecorded: a push records what it sends, a pull what it writes (`record_push`, `pull`).
    let mut local: BTreeMap<Name, SecretValue> = vault
        .peek_values(&target.scope)?
        .into_iter()
        .map(|(a, v)| (a.name, v))
        .collect();
    // The environment's own record wins; each ancestor fills in only the names still missing.
    let mut inherited = BTreeMap::new();
    for ancestor in &target.inherited {
        for (a, v) in vault.peek_values(ancestor)? {
            if let std::collections::btree_map::Entry::Vacant(e) = local.entry(a.name) {
                inherited.insert(e.key().clone(), ancestor.clone());
                e.insert(v);
            }
        }
    }
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
        inherited,
        local_hash,
        listing,
        remote,
        base,
        items,
    })
}

fn report(item: &Item, mark: Mark, action: Option<Action>, note: Option<String>) -> ChangeReport {
    ChangeReport {
        name: item.name.to_string(),
        mark,
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
        .filter_map(|i| Some(report(i, i.mark?, None, Some(side_note(i, &hints)))))
        .collect();
    Ok(Outcome {
        target: target.name.clone(),
        operation: Operation::Diff,
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
        Action::Inherited => None,
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
    for (item, mark) in s.items.iter().filter_map(|i| Some((i, i.mark?))) {
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
        let ancestor = s.inherited.get(&item.name);
        let note = match ancestor {
            // A pull never deletes an ancestor's record: that would change every environment that
            // extends it. The ancestor's own target, or `rm` there, does.
            Some(from) if action == Action::Delete && direction == Direction::Pull => {
                action = Action::Inherited;
                Some(format!(
                    "deleted remotely, but inherited from {}: a pull never deletes an \
                     ancestor's secret (`keep rm {}` does)",
                    from.env(),
                    from.address(item.name.clone())
                ))
            }
            _ => note,
        };
        if action == Action::Conflict {
            conflicts.push(item.name.to_string());
        }
        reports.push(report(item, mark, Some(action), note));
        acts.push((item.clone(), action));
    }
    (acts, reports, conflicts)
}

/// Names in sync whose recorded base is missing or stale: record them.
fn refresh_base(s: &Snapshot, ledger: &Ledger, conn: &crate::store::Connection) -> Result<()> {
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
        operation: Operation::Push,
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
    // Recorded before anything is sent: a push that fails half-way has still disclosed values.
    record_push(vault, target, &s.inherited, &changes)?;
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
        operation: Operation::Pull,
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
    crate::using::loader::refuse_except(
        &opts.allowed_loaders,
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
    // The vault records the pull's changes in this transaction, as one `write` entry (deletions
    // included), naming the environment's own records (an inherited name's too: its own copy now).
    vault.write(|w| {
        w.log_as(crate::audit::Action::Write);
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
    Ok(outcome)
}

/// A push's `read` entry, recorded before the provider is called: the values it is about to send
/// (an inherited one under its ancestor's address) and the names it is about to delete remotely.
/// (A pull's `write` entry commits with its changes, `pull`.) A dry run sends nothing and logs
/// nothing.
fn record_push(
    vault: &mut Vault,
    target: &Target,
    inherited: &BTreeMap<Name, Scope>,
    changes: &[ChangeReport],
) -> Result<()> {
    let addresses: Vec<_> = changes
        .iter()
        .filter(|c| matches!(c.action, Some(Action::Write) | Some(Action::Delete)))
        .filter_map(|c| Name::new(&c.name).ok())
        .map(|n| target.owner_of(&n, inherited).address(n.clone()))
        .collect();
    crate::audit::record(
        vault,
        crate::audit::Action::Read,
        &addresses,
        crate::audit::OK,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::sync::memory::{vault_and_target, Memory};
    use crate::sync::plan::Prefer;

    fn set(vault: &mut Vault, target: &Target, name: &str, value: &str) {
        let a = target.scope.address(Name::new(name).unwrap());
        vault.set(&a, &SecretValue::from(value)).unwrap();
    }

    fn local(vault: &mut Vault, target: &Target, name: &str) -> Option<String> {
        let a = target.scope.address(Name::new(name).unwrap());
        match vault.current(&a) {
            Ok((_, v)) => Some(v.expose_str("test").unwrap().to_string()),
            Err(Error::NotFound(_)) => None,
            Err(e) => panic!("{e}"),
        }
    }

    fn marks(o: &Outcome) -> Vec<(String, Mark)> {
        o.changes.iter().map(|c| (c.name.clone(), c.mark)).collect()
    }

    fn opts() -> SyncOptions {
        SyncOptions::default()
    }

    fn name(n: &str) -> Name {
        Name::new(n).unwrap()
    }

    #[test]
    fn diff_plans_every_side_and_changes_nothing() {
        let (_d, mut vault, t) = vault_and_target();
        set(&mut vault, &t, "A", "local-a");
        set(&mut vault, &t, "B", "local-b");
        let mut remote = Memory::with(&[("B", "remote-b"), ("C", "remote-c")]);
        let o = diff(&mut vault, &t, &mut remote, &opts()).unwrap();
        assert_eq!(o.operation, Operation::Diff);
        assert_eq!(o.compared, 3);
        assert_eq!(
            marks(&o),
            vec![
                ("A".into(), Mark::Added),
                ("B".into(), Mark::Changed),
                ("C".into(), Mark::Removed)
            ]
        );
        // Never synced and different on both sides: a conflict, not a guess.
        assert_eq!(o.conflicts, vec!["B".to_string()]);
        assert_eq!(remote.applies, 0);
        assert_eq!(remote.get("B").as_deref(), Some("remote-b"));
        assert_eq!(local(&mut vault, &t, "C"), None);
        // The JSON carries the marks as printed.
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["operation"], "diff");
        assert_eq!(json["changes"][0]["mark"], "+");
    }

    /// `inherited = true`: the ancestor's names fill in what the environment lacks, its own record
    /// wins, and a pull never deletes the ancestor's record.
    #[test]
    fn an_inherited_target_pushes_the_ancestors_names_and_a_pull_leaves_them() {
        let (_d, mut vault, mut t) = vault_and_target();
        let base = t.scope.with_env("base").unwrap();
        t.inherited = vec![base.clone()];
        let mut at_base = t.clone();
        at_base.scope = base.clone();
        set(&mut vault, &at_base, "SHARED", "from-base");
        set(&mut vault, &at_base, "BOTH", "base-value");
        set(&mut vault, &t, "BOTH", "own-value");
        let mut remote = Memory::default();
        push(&mut vault, &t, &mut remote, &opts()).unwrap();
        assert_eq!(remote.get("SHARED").as_deref(), Some("from-base"));
        assert_eq!(remote.get("BOTH").as_deref(), Some("own-value"));
        remote.entries.remove(&name("SHARED"));
        let prune = SyncOptions {
            prune: true,
            ..opts()
        };
        let o = pull(&mut vault, &t, &mut remote, &prune).unwrap();
        assert_eq!(o.changes[0].action, Some(Action::Inherited));
        assert!(o.changes[0]
            .note
            .as_deref()
            .unwrap()
            .contains("inherited from base"));
        assert_eq!(o.deleted, 0);
        assert_eq!(
            local(&mut vault, &at_base, "SHARED").as_deref(),
            Some("from-base")
        );
        assert_eq!(local(&mut vault, &t, "SHARED"), None);
        // Without the option the ancestor is invisible: a push would prune nothing of it either.
        t.inherited.clear();
        let o = diff(&mut vault, &t, &mut remote, &opts()).unwrap();
        assert_eq!(o.compared, 1, "only BOTH is the environment's own");
    }

    #[test]
    fn push_then_pull_carry_one_sided_changes() {
        let (_d, mut vault, t) = vault_and_target();
        set(&mut vault, &t, "A", "one");
        set(&mut vault, &t, "B", "two");
        let mut remote = Memory::default();
        let o = push(&mut vault, &t, &mut remote, &opts()).unwrap();
        assert_eq!((o.written, o.deleted, o.operation), (2, 0, Operation::Push));
        assert_eq!(remote.get("A").as_deref(), Some("one"));
        assert!(remote.entries[&name("A")].managed);
        // In sync now: nothing to do either way.
        assert!(diff(&mut vault, &t, &mut remote, &opts())
            .unwrap()
            .changes
            .is_empty());

        // A teammate changes A and adds C; a local edit of B is not overwritten by the pull.
        remote.put(&name("A"), Some("one-remote"), true);
        remote.put(&name("C"), Some("three"), false);
        set(&mut vault, &t, "B", "two-local");
        let o = pull(&mut vault, &t, &mut remote, &opts()).unwrap();
        assert_eq!(o.written, 2, "{:?}", o.changes);
        assert_eq!(local(&mut vault, &t, "A").as_deref(), Some("one-remote"));
        assert_eq!(local(&mut vault, &t, "C").as_deref(), Some("three"));
        assert_eq!(local(&mut vault, &t, "B").as_deref(), Some("two-local"));
        let b = o.changes.iter().find(|c| c.name == "B").unwrap();
        assert_eq!(b.action, Some(Action::OtherSideNewer));
        // And the push that follows sends B only.
        let o = push(&mut vault, &t, &mut remote, &opts()).unwrap();
        assert_eq!(o.written, 1);
        assert_eq!(remote.get("B").as_deref(), Some("two-local"));
    }

    #[test]
    fn a_conflict_stops_both_directions_until_a_side_is_preferred() {
        let (_d, mut vault, t) = vault_and_target();
        set(&mut vault, &t, "A", "base");
        let mut remote = Memory::default();
        push(&mut vault, &t, &mut remote, &opts()).unwrap();
        set(&mut vault, &t, "A", "mine");
        remote.put(&name("A"), Some("theirs"), true);
        let applies = remote.applies;
        let o = push(&mut vault, &t, &mut remote, &opts()).unwrap();
        assert_eq!((o.conflicts.clone(), o.written), (vec!["A".to_string()], 0));
        assert_eq!(remote.applies, applies, "a conflicting push sends nothing");
        let o = pull(&mut vault, &t, &mut remote, &opts()).unwrap();
        assert_eq!(o.conflicts, vec!["A".to_string()]);
        assert_eq!(local(&mut vault, &t, "A").as_deref(), Some("mine"));

        let prefer_local = SyncOptions {
            prefer: plan::Preferences {
                all: Some(Prefer::Local),
                ..Default::default()
            },
            ..opts()
        };
        let o = push(&mut vault, &t, &mut remote, &prefer_local).unwrap();
        assert!(o.conflicts.is_empty());
        assert_eq!(remote.get("A").as_deref(), Some("mine"));
    }

    #[test]
    fn a_remote_change_between_plan_and_write_is_a_conflict_not_a_lost_update() {
        let (_d, mut vault, t) = vault_and_target();
        set(&mut vault, &t, "A", "one");
        let mut remote = Memory::default();
        push(&mut vault, &t, &mut remote, &opts()).unwrap();
        set(&mut vault, &t, "A", "two");
        remote.race = vec![(name("A"), Some(SecretValue::from("racer")))];
        let o = push(&mut vault, &t, &mut remote, &opts()).unwrap();
        assert_eq!(o.conflicts, vec!["A".to_string()]);
        assert_eq!(o.written, 0);
        assert_eq!(remote.get("A").as_deref(), Some("racer"));
        // The base was not moved: the next push sees both sides changed.
        let o = push(&mut vault, &t, &mut remote, &opts()).unwrap();
        assert_eq!(o.conflicts, vec!["A".to_string()]);
    }

    #[test]
    fn prune_deletes_only_marked_entries_and_only_when_asked() {
        let (_d, mut vault, t) = vault_and_target();
        set(&mut vault, &t, "A", "one");
        let mut remote = Memory::with(&[("THEIRS", "not keep's")]);
        push(&mut vault, &t, &mut remote, &opts()).unwrap();
        vault
            .write(|w| w.remove(&t.scope.address(name("A"))))
            .unwrap();
        let o = push(&mut vault, &t, &mut remote, &opts()).unwrap();
        assert_eq!(o.deleted, 0);
        assert!(remote.get("A").is_some());
        let prune = SyncOptions {
            prune: true,
            ..opts()
        };
        let o = push(&mut vault, &t, &mut remote, &prune).unwrap();
        assert_eq!(o.deleted, 1);
        assert_eq!(remote.get("A"), None);
        let theirs = o.changes.iter().find(|c| c.name == "THEIRS").unwrap();
        assert_eq!(theirs.action, Some(Action::NeedsPrune));
        assert!(theirs.note.as_deref().unwrap().contains("never pruned"));
        assert_eq!(remote.get("THEIRS").as_deref(), Some("not keep's"));
    }

    #[test]
    fn a_push_failing_half_way_loses_nothing_and_the_next_one_finishes() {
        let (_d, mut vault, t) = vault_and_target();
        for n in ["A", "B", "C"] {
            set(&mut vault, &t, n, &format!("{n}-value"));
        }
        let mut remote = Memory::default();
        remote.fail_apply_after = Some(1);
        let e = push(&mut vault, &t, &mut remote, &opts()).unwrap_err();
        assert!(matches!(e, Error::Remote(_)), "{e}");
        assert_eq!(
            remote.entries.len(),
            1,
            "one write landed before the failure"
        );
        // The read entry was committed before anything was sent, so the failed push that still
        // disclosed a value is on the record, naming all three.
        let log = crate::audit::list(&mut vault, &crate::audit::Filter::default()).unwrap();
        let read: Vec<String> = log
            .iter()
            .filter(|r| r.body.action == crate::audit::Action::Read)
            .filter_map(|r| r.address.as_ref().map(|a| a.name.to_string()))
            .collect();
        assert_eq!(read, ["A", "B", "C"]);
        remote.fail_apply_after = None;
        let o = push(&mut vault, &t, &mut remote, &opts()).unwrap();
        assert!(o.conflicts.is_empty(), "{:?}", o.conflicts);
        assert_eq!(o.written, 2, "the landed write is recognised as in sync");
        for n in ["A", "B", "C"] {
            assert_eq!(remote.get(n), Some(format!("{n}-value")));
        }
    }

    #[test]
    fn a_pull_from_a_remote_that_is_down_changes_nothing() {
        let (_d, mut vault, t) = vault_and_target();
        set(&mut vault, &t, "A", "one");
        let mut remote = Memory::default();
        push(&mut vault, &t, &mut remote, &opts()).unwrap();
        remote.fail_list = true;
        let prune = SyncOptions {
            prune: true,
            ..opts()
        };
        assert!(matches!(
            pull(&mut vault, &t, &mut remote, &prune),
            Err(Error::Remote(_))
        ));
        assert_eq!(local(&mut vault, &t, "A").as_deref(), Some("one"));
        // An empty remote deletes locally only with --prune.
        remote.fail_list = false;
        remote.entries.clear();
        pull(&mut vault, &t, &mut remote, &opts()).unwrap();
        assert_eq!(local(&mut vault, &t, "A").as_deref(), Some("one"));
        pull(&mut vault, &t, &mut remote, &prune).unwrap();
        assert_eq!(local(&mut vault, &t, "A"), None);
    }
}
