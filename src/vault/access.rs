//! The vault records its own accesses, so no command can forget one.
//!
//! - **Reads** go through [`Vault::read`]: `f` gets a [`Reader`], and every value the reader hands
//!   out is named in one `read` audit entry (issue 17: one entry per command, its addresses sealed
//!   inside it), appended before `read` returns. Nothing reaches the caller before its entry is
//!   committed. The single reads of the library's API (`Vault::get`, `values`, ...) are `read`s of
//!   one call each.
//! - **Writes** go through `Vault::write`: the [`Writer`](super::Writer) notes each change it makes
//!   (`set` a `write`, `remove` a `delete`, `rollback` a `rollback`) in a [`Log`], whose entries are
//!   appended inside the same transaction, so a change never commits without its entry. A change
//!   that fails is recorded on its own afterwards (best effort), naming what it attempted.
//! - Slot changes, rekey and the unlock record themselves where they happen (slots.rs, rekey.rs,
//!   mod.rs).
//!
//! Metadata (`list`, `contains`, `history`) discloses no value and is not recorded, as before.

use std::cell::RefCell;
use std::collections::HashSet;

use super::Vault;
use crate::audit::{self, Action, Body};
use crate::crypto::Subkeys;
use crate::error::Result;
use crate::scope::{Address, Scope};
use crate::store::{self, Snapshot};
use crate::value::SecretValue;

impl Vault {
    /// Run a command's reads: `f` reads through the [`Reader`], on one snapshot of the file, and the
    /// values it handed out are recorded in one `read` entry before its result is returned. A failed
    /// `f` is recorded with its error's kind when it had attempted a read (`keep get` of a missing
    /// name); a failure before any read, or a success that read nothing, writes no entry.
    pub fn read<T>(&mut self, f: impl FnOnce(&Reader<'_>) -> Result<T>) -> Result<T> {
        let (out, read) = {
            let reader = Reader {
                vault: self,
                _snapshot: store::snapshot(self.store.conn())?,
                read: RefCell::default(),
            };
            let out = f(&reader);
            (out, reader.read.into_inner().addresses)
        };
        if !read.is_empty() {
            let outcome = out.as_ref().map_or_else(|e| e.kind(), |_| audit::OK);
            audit::record(self, Action::Read, &read, outcome)?;
        }
        out
    }

    /// Whether `address` currently holds `value` (not found when it has none). It hands out no
    /// value, so it is not recorded; crate-only, so it is no unrecorded guessing oracle either
    /// (`keep cp` checks whether a destination already holds the value).
    pub(crate) fn holds(&self, address: &Address, value: &SecretValue) -> Result<bool> {
        Ok(self.peek(address)?.expose() == value.expose())
    }

    /// The current value of a secret (a recorded read).
    pub fn get(&mut self, address: &Address) -> Result<SecretValue> {
        self.read(|r| r.get(address))
    }

    /// The current value of a secret with its version number (a recorded read).
    pub fn current(&mut self, address: &Address) -> Result<(u32, SecretValue)> {
        self.read(|r| r.current(address))
    }

    /// A given version of a secret, which may be a deletion, returned as an error (a recorded read).
    pub fn get_version(&mut self, address: &Address, version: u32) -> Result<SecretValue> {
        self.read(|r| r.get_version(address, version))
    }

    /// Every current value in a scope, sorted by name (a recorded read).
    pub fn values(&mut self, scope: &Scope) -> Result<Vec<(Address, SecretValue)>> {
        self.read(|r| r.values(scope))
    }

    /// Every current value in every scope, sorted by address (a recorded read).
    pub fn all_values(&mut self) -> Result<Vec<(Address, SecretValue)>> {
        self.read(|r| r.all_values())
    }
}

/// The reads of one [`Vault::read`]. Every value it returns is recorded; [`Reader::vault`] gives the
/// metadata (`list`, `contains`, `history`), which discloses no value.
pub struct Reader<'v> {
    vault: &'v Vault,
    _snapshot: Snapshot<'v>,
    read: RefCell<Marked>,
}

/// The addresses read so far, in the order first read.
#[derive(Default)]
struct Marked {
    addresses: Vec<Address>,
    seen: HashSet<Address>,
}

impl Reader<'_> {
    /// The vault, for metadata and this crate's unrecorded reads (whose callers [`mark`] what they
    /// disclose).
    ///
    /// [`mark`]: Reader::mark
    pub fn vault(&self) -> &Vault {
        self.vault
    }

    /// The current value of a secret. Recorded even when it fails (not found is worth knowing).
    pub fn get(&self, address: &Address) -> Result<SecretValue> {
        self.mark([address]);
        self.vault.peek(address)
    }

    /// The current value of a secret with its version number.
    pub fn current(&self, address: &Address) -> Result<(u32, SecretValue)> {
        self.mark([address]);
        self.vault.peek_current(address)
    }

    /// A given version of a secret (a deletion is a not-found error).
    pub fn get_version(&self, address: &Address, version: u32) -> Result<SecretValue> {
        self.mark([address]);
        self.vault.peek_version(address, version)
    }

    /// Every current value in a scope, sorted by name.
    pub fn values(&self, scope: &Scope) -> Result<Vec<(Address, SecretValue)>> {
        let values = self.vault.peek_values(scope)?;
        self.mark_pairs(&values);
        Ok(values)
    }

    /// Every current value in every scope, sorted by address.
    pub fn all_values(&self) -> Result<Vec<(Address, SecretValue)>> {
        let values = self.vault.peek_all_values()?;
        self.mark_pairs(&values);
        Ok(values)
    }

    /// Record `addresses` as read: for this crate's features that read more than they disclose (an
    /// environment's view reads each layer and hands out the names that win).
    pub(crate) fn mark<'a>(&self, addresses: impl IntoIterator<Item = &'a Address>) {
        let mut m = self.read.borrow_mut();
        for a in addresses {
            if m.seen.insert(a.clone()) {
                m.addresses.push(a.clone());
            }
        }
    }

    fn mark_pairs(&self, values: &[(Address, SecretValue)]) {
        self.mark(values.iter().map(|(a, _)| a));
    }
}

/// The audit entries of one write transaction, noted by the [`Writer`](super::Writer) as it acts.
#[derive(Default)]
pub(crate) struct Log {
    mode: Mode,
    groups: Vec<(Action, Vec<Address>)>,
}

/// How a transaction's changes are logged.
#[derive(Default, Clone, Copy)]
enum Mode {
    /// One entry per kind of change (`write`, `delete`, `rollback`).
    #[default]
    Each,
    /// One entry of this action for every change (a pull's `write`).
    As(Action),
    /// None: the feature writes its own entry once it knows the outcome (a rotation's `rotate`).
    Caller,
}

impl Log {
    /// Note a change of `address` (in order; an import of 100,000 names notes each once).
    pub(crate) fn note(&mut self, action: Action, address: &Address) {
        let action = match self.mode {
            Mode::Caller => return,
            Mode::As(a) => a,
            Mode::Each => action,
        };
        match self.groups.iter_mut().find(|(a, _)| *a == action) {
            Some((_, list)) => list.push(address.clone()),
            None => self.groups.push((action, vec![address.clone()])),
        }
    }

    /// Log every change of this transaction as one entry of `action`.
    pub(crate) fn log_as(&mut self, action: Action) {
        self.mode = Mode::As(action);
        let all: Vec<Address> = std::mem::take(&mut self.groups)
            .into_iter()
            .flat_map(|(_, list)| list)
            .collect();
        for a in &all {
            self.note(action, a);
        }
    }

    /// Log nothing: the caller records the outcome itself.
    pub(crate) fn leave_to_caller(&mut self) {
        self.mode = Mode::Caller;
        self.groups.clear();
    }

    /// The entries, each with `outcome`.
    pub(crate) fn bodies(
        &self,
        command: &str,
        keys: &Subkeys,
        vault_id: &[u8],
        outcome: &str,
    ) -> Vec<Body> {
        self.groups
            .iter()
            .map(|(action, list)| {
                Body::by(command, *action, outcome).with_addresses(keys, vault_id, list)
            })
            .collect()
    }

    /// Each group, for recording a failed transaction.
    pub(crate) fn groups(&self) -> impl Iterator<Item = (Action, &[Address])> {
        self.groups.iter().map(|(a, l)| (*a, l.as_slice()))
    }
}
