//! The three-way plan: local value, remote value, and the base recorded at the last sync.
//!
//! Comparing only local with remote cannot tell "I changed it" from "a teammate changed it"; with the
//! base it can. A name changed on one side since the last sync flows to the other side; a name changed
//! on both sides (to different values) is a conflict, which stops the command unless the user says
//! which side wins. With no base (never synced), a name on one side only is an addition on that side
//! and two different values are a conflict.
//!
//! Everything here works on keyed hashes, never values, so a plan can be printed or serialised safely.

use serde::Serialize;

use super::state::Record;
use crate::scope::Name;

/// How local and remote differ, from local's point of view (the `diff` marks). Serialised, as
/// printed, as its symbol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Mark {
    /// Only local has the name (`+`).
    #[serde(rename = "+")]
    Added,
    /// Only remote has the name (`-`).
    #[serde(rename = "-")]
    Removed,
    /// Both have it, with different values (`~`).
    #[serde(rename = "~")]
    Changed,
}

impl Mark {
    pub fn symbol(self) -> &'static str {
        match self {
            Mark::Added => "+",
            Mark::Removed => "-",
            Mark::Changed => "~",
        }
    }
}

/// Which side wins a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Prefer {
    Local,
    Remote,
}

/// One `--prefer` value: `local`/`remote` for every conflicting name, or `NAME=local|remote` for
/// one of them (repeatable; a per-name choice wins over the global one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preference {
    pub name: Option<Name>,
    pub side: Prefer,
}

impl std::str::FromStr for Preference {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Preference, String> {
        let side = |v: &str| match v {
            "local" => Ok(Prefer::Local),
            "remote" => Ok(Prefer::Remote),
            other => Err(format!(
                "{other:?} is not a side: use local or remote (or NAME=local|remote)"
            )),
        };
        match s.split_once('=') {
            None => Ok(Preference {
                name: None,
                side: side(s)?,
            }),
            Some((name, v)) => Ok(Preference {
                name: Some(Name::new(name).map_err(|e| e.to_string())?),
                side: side(v)?,
            }),
        }
    }
}

/// Which side wins each conflicting name, from the `--prefer` values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preferences {
    pub all: Option<Prefer>,
    pub names: std::collections::BTreeMap<Name, Prefer>,
}

impl Preferences {
    /// Collect `--prefer` values; two different answers for the same name (or two global ones) are
    /// a usage error rather than a silent last-one-wins.
    pub fn new(list: &[Preference]) -> crate::error::Result<Preferences> {
        let mut p = Preferences::default();
        for pref in list {
            let previous = match &pref.name {
                None => p.all.replace(pref.side),
                Some(n) => p.names.insert(n.clone(), pref.side),
            };
            if previous.is_some_and(|old| old != pref.side) {
                return Err(crate::error::Error::Usage(format!(
                    "--prefer gives two sides for {}",
                    pref.name.as_ref().map_or("every name", |n| n.as_str())
                )));
            }
        }
        Ok(p)
    }

    /// The side that wins `name`, if one was given.
    pub fn for_name(&self, name: &Name) -> Option<Prefer> {
        self.names.get(name).copied().or(self.all)
    }
}

/// The plan for one name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub name: Name,
    /// `None` when both sides hold the same value (or neither holds one).
    pub mark: Option<Mark>,
    /// Local changed since the last sync (or, never synced, local has it).
    pub local_changed: bool,
    /// Remote changed since the last sync (or, never synced, remote has it).
    pub remote_changed: bool,
    /// Both changed, to different values.
    pub conflict: bool,
}

/// Classify one name from the local hash, the remote hash and the base.
pub fn classify(
    name: &Name,
    local: Option<[u8; 32]>,
    remote: Option<[u8; 32]>,
    base: Option<&Record>,
) -> Item {
    let mark = match (local, remote) {
        (Some(l), Some(r)) if l != r => Some(Mark::Changed),
        (Some(_), None) => Some(Mark::Added),
        (None, Some(_)) => Some(Mark::Removed),
        _ => None,
    };
    let (local_changed, remote_changed) = match base {
        None => (local.is_some(), remote.is_some()),
        Some(b) => (local != Some(b.hash), remote != Some(b.hash)),
    };
    Item {
        name: name.clone(),
        mark,
        local_changed,
        remote_changed,
        conflict: mark.is_some() && local_changed && remote_changed,
    }
}

/// What a push or pull does with one differing name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Write this side's value to the other side.
    Write,
    /// Delete the name on the other side.
    Delete,
    /// Nothing: the other side is the newer one (the opposite command takes it).
    OtherSideNewer,
    /// Nothing: a deletion `--prune` was not given for (push: the name exists only remotely; pull:
    /// it was deleted remotely since the last sync).
    NeedsPrune,
    /// Nothing: unresolved conflict.
    Conflict,
    /// Nothing: a pull found an inherited name deleted remotely; the ancestor's record stays.
    Inherited,
}

/// The direction of a sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Push,
    Pull,
}

/// Which command produced an outcome: a sync in one direction, or a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Push,
    Pull,
    Diff,
}

impl Operation {
    /// The command's name, as the user typed it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Push => "push",
            Operation::Pull => "pull",
            Operation::Diff => "diff",
        }
    }
}

impl From<Direction> for Operation {
    fn from(d: Direction) -> Operation {
        match d {
            Direction::Push => Operation::Push,
            Direction::Pull => Operation::Pull,
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decide what `direction` does with a differing item (`item.mark` is `Some`).
pub fn decide(item: &Item, direction: Direction, prefer: Option<Prefer>, prune: bool) -> Action {
    let (ours_changed, ours_present) = match direction {
        Direction::Push => (item.local_changed, item.mark != Some(Mark::Removed)),
        Direction::Pull => (item.remote_changed, item.mark != Some(Mark::Added)),
    };
    let absent = || match direction {
        // A push deletes remotely only with --prune (and the engine only deletes marked entries).
        Direction::Push if prune => Action::Delete,
        Direction::Push => Action::NeedsPrune,
        // A pull deletes locally only with --prune too: an empty or broken answer must never be
        // able to wipe local secrets.
        Direction::Pull if prune => Action::Delete,
        Direction::Pull => Action::NeedsPrune,
    };
    if item.conflict {
        let ours = matches!(
            (prefer, direction),
            (Some(Prefer::Local), Direction::Push) | (Some(Prefer::Remote), Direction::Pull)
        );
        return match (prefer, ours, ours_present) {
            (None, _, _) => Action::Conflict,
            (Some(_), false, _) => Action::OtherSideNewer,
            (Some(_), true, true) => Action::Write,
            (Some(_), true, false) => absent(),
        };
    }
    match (ours_present, direction) {
        (true, _) if ours_changed => Action::Write,
        (true, _) => Action::OtherSideNewer,
        // Remote-only names: prune candidates whether or not they were ever synced.
        (false, Direction::Push) => absent(),
        // Local-only names: a remote deletion since the last sync flows; a local addition stays.
        (false, Direction::Pull) if ours_changed => absent(),
        (false, Direction::Pull) => Action::OtherSideNewer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n() -> Name {
        Name::new("A").unwrap()
    }
    const X: [u8; 32] = [1; 32];
    const Y: [u8; 32] = [2; 32];
    const Z: [u8; 32] = [3; 32];

    fn base(h: [u8; 32]) -> Record {
        Record {
            version: Some("1".into()),
            hash: h,
        }
    }

    #[test]
    fn one_sided_changes_flow_and_two_sided_changes_conflict() {
        let local_edit = classify(&n(), Some(Y), Some(X), Some(&base(X)));
        assert_eq!(local_edit.mark, Some(Mark::Changed));
        assert!(!local_edit.conflict);
        assert_eq!(
            decide(&local_edit, Direction::Push, None, false),
            Action::Write
        );
        assert_eq!(
            decide(&local_edit, Direction::Pull, None, false),
            Action::OtherSideNewer
        );

        let remote_edit = classify(&n(), Some(X), Some(Y), Some(&base(X)));
        assert_eq!(
            decide(&remote_edit, Direction::Pull, None, false),
            Action::Write
        );
        assert_eq!(
            decide(&remote_edit, Direction::Push, None, false),
            Action::OtherSideNewer
        );

        let both = classify(&n(), Some(Y), Some(Z), Some(&base(X)));
        assert!(both.conflict);
        assert_eq!(
            decide(&both, Direction::Push, None, false),
            Action::Conflict
        );
        assert_eq!(
            decide(&both, Direction::Pull, Some(Prefer::Remote), false),
            Action::Write
        );
        assert_eq!(
            decide(&both, Direction::Pull, Some(Prefer::Local), false),
            Action::OtherSideNewer
        );
        assert_eq!(
            decide(&both, Direction::Push, Some(Prefer::Local), false),
            Action::Write
        );

        let same = classify(&n(), Some(Y), Some(Y), Some(&base(X)));
        assert_eq!(same.mark, None);
        assert!(!same.conflict);
    }

    #[test]
    fn deletions_need_prune_on_push_and_on_pull() {
        let local_rm = classify(&n(), None, Some(X), Some(&base(X)));
        assert_eq!(local_rm.mark, Some(Mark::Removed));
        assert_eq!(
            decide(&local_rm, Direction::Push, None, false),
            Action::NeedsPrune
        );
        assert_eq!(
            decide(&local_rm, Direction::Push, None, true),
            Action::Delete
        );
        let remote_rm = classify(&n(), Some(X), None, Some(&base(X)));
        assert_eq!(
            decide(&remote_rm, Direction::Pull, None, false),
            Action::NeedsPrune
        );
        assert_eq!(
            decide(&remote_rm, Direction::Pull, None, true),
            Action::Delete
        );
        let never_synced_local = classify(&n(), Some(X), None, None);
        assert_eq!(
            decide(&never_synced_local, Direction::Pull, None, false),
            Action::OtherSideNewer
        );
        assert_eq!(
            decide(&never_synced_local, Direction::Push, None, false),
            Action::Write
        );
        let never_synced_remote = classify(&n(), None, Some(X), None);
        assert_eq!(
            decide(&never_synced_remote, Direction::Pull, None, false),
            Action::Write
        );
        assert_eq!(
            decide(&never_synced_remote, Direction::Push, None, true),
            Action::Delete
        );
    }
}
