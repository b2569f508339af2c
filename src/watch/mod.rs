//! Live secrets: `keep exec --watch` and `keep materialize --watch` keep a program's values current
//! while it runs. The watcher holds the unlocked vault for its lifetime (its key pages locked in RAM,
//! [`memory`]), sleeps in the kernel until the vault's folder changes ([`events`]), settles a burst
//! of writes into one check ([`Watcher::settle`]), asks cheap questions before it decrypts anything
//! ([`change`]), and only when a value it handed over really changed does it act: restart or signal
//! the child ([`supervisor`]), or rewrite the files ([`files`]).
//!
//! Every refresh that reads values writes the same audit read entry `exec` writes at start. The
//! watcher stops, with a message and its own exit code, when `keep lock` runs (6) or the vault file
//! is replaced (5).

pub mod change;
pub mod events;
pub mod files;
pub mod memory;
pub mod supervisor;

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::scope::{Address, Scope};
use crate::using::Pair;
use crate::vault::{Reader, Vault};
pub use events::Msg;

/// After a change, wait until the folder has been quiet this long before checking, so that one
/// command's writes (its commit, the WAL checkpoint, its audit entry) make one check.
pub const QUIET: Duration = Duration::from_millis(40);

/// ...but never longer than this after the first event, so a steady stream of writes still gets
/// checked.
pub const SETTLE_AT_MOST: Duration = Duration::from_millis(200);

/// What a watcher reads from the vault each time.
pub struct Resolved {
    /// The names and values to hand over.
    pub pairs: Vec<Pair>,
    /// Every address whose value went into `pairs`: the audit entry, and what the check watches.
    pub read: Vec<Address>,
    /// The scope whose set of names matters too (no `--only`): a secret added to it is a change.
    pub whole_scope: Option<Scope>,
}

/// Reads the values again, the same way the command read them at start.
pub type Source<'a> = dyn FnMut(&Reader<'_>) -> Result<Resolved> + 'a;

/// The outcome of one refresh.
pub enum Update {
    /// Nothing handed over changed (no value was read, or the values read are the same).
    Same,
    /// New values, already recorded in the audit log.
    Changed(Resolved),
    /// Reading the values failed (say, a watched secret was deleted): the consumer keeps what it
    /// has, and the watcher carries on.
    Failed(Error),
    /// The watcher must stop.
    Stop(Error),
}

/// An unlocked vault being watched. Field order matters: the vault (and its keys, wiped on drop)
/// goes before the lock on its pages.
pub struct Watcher {
    vault: Vault,
    _pinned: memory::Locked,
    check: change::Check,
    salt: [u8; 32],
    digest: [u8; 32],
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    pending: VecDeque<Msg>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("vault", &self.vault)
            .finish_non_exhaustive()
    }
}

/// A keyed digest of the values handed over (a random key per watcher, so the digest says nothing
/// about a value), compared to tell a real change from a rewrite of the same value.
fn digest(salt: &[u8; 32], pairs: &[Pair]) -> [u8; 32] {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(pairs.len() * 2);
    for (name, value) in pairs {
        parts.push(name.as_str().as_bytes());
        parts.push(value.expose());
    }
    crate::crypto::keys::hmac_parts(salt, &parts)
}

impl Watcher {
    /// Start watching: lock the vault's keys into RAM, remember what `first` holds, and start the
    /// folder and signal sources. `first` was read (and audited) by the caller.
    pub fn start(vault: Vault, first: &Resolved) -> Result<Watcher> {
        let mut vault = vault;
        let pinned = memory::lock(&vault.key_memory())?;
        let check = change::Check::new(&mut vault, first)?;
        let salt = crate::crypto::random::bytes::<32>();
        let (tx, rx) = mpsc::channel();
        events::watch_signals(tx.clone())?;
        events::watch_folder(vault.path(), tx.clone())?;
        Ok(Watcher {
            digest: digest(&salt, &first.pairs),
            vault,
            _pinned: pinned,
            check,
            salt,
            tx,
            rx,
            pending: VecDeque::new(),
        })
    }

    /// Where the child's waiter sends [`Msg::Exited`].
    pub fn sender(&self) -> Sender<Msg> {
        self.tx.clone()
    }

    /// The next message; blocks (in the kernel, no timer) until there is one.
    pub fn wait(&mut self) -> Msg {
        if let Some(m) = self.pending.pop_front() {
            return m;
        }
        // The watcher holds a sender itself, so the channel never disconnects.
        self.rx.recv().expect("the watcher holds a sender")
    }

    /// The next message before `deadline`, or `None`.
    pub fn next_before(&mut self, deadline: Instant) -> Option<Msg> {
        if let Some(m) = self.pending.pop_front() {
            return Some(m);
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        self.rx.recv_timeout(wait).ok()
    }

    /// Put a message back, to be handled after the current step.
    pub fn defer(&mut self, msg: Msg) {
        if msg != Msg::Vault || !self.pending.contains(&Msg::Vault) {
            self.pending.push_back(msg);
        }
    }

    /// The exit code of child `pid` if its exit is among the messages kept for later: a command
    /// that exited on its own while a change was being checked is not started again.
    pub fn exited(&self, pid: i32) -> Option<i32> {
        self.pending.iter().find_map(|m| match m {
            Msg::Exited { pid: p, code } if *p == pid => Some(*code),
            _ => None,
        })
    }

    /// After a [`Msg::Vault`]: absorb the burst of events that follows ([`QUIET`], at most
    /// [`SETTLE_AT_MOST`]); anything else that arrives meanwhile is kept for later.
    pub fn settle(&mut self) {
        let started = Instant::now();
        loop {
            let deadline = (Instant::now() + QUIET).min(started + SETTLE_AT_MOST);
            match self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(Msg::Vault) => continue,
                Ok(other) => self.pending.push_back(other),
                Err(_) => break,
            }
        }
        self.pending.retain(|m| *m != Msg::Vault);
    }

    /// Check, and read the values again only when the cheap reads say a watched one moved.
    pub fn refresh(&mut self, source: &mut Source<'_>) -> Update {
        match self.check.look(&mut self.vault) {
            Ok(change::Verdict::Same) => Update::Same,
            Ok(change::Verdict::Moved) => self.reread(source),
            Ok(change::Verdict::Stop(e)) => Update::Stop(e),
            Err(e) => Update::Failed(e),
        }
    }

    fn reread(&mut self, source: &mut Source<'_>) -> Update {
        // The heads are read before the values: a write landing in between makes the next check
        // read again (and find the same values), never miss a change.
        if let Err(e) = self.check.refresh_heads(&mut self.vault) {
            return Update::Failed(e);
        }
        // A recorded read, like the first.
        let resolved = match self.vault.read(|r| source(r)) {
            Ok(r) => r,
            Err(e) => return Update::Failed(e),
        };
        if let Err(e) = self.check.rebase(&mut self.vault, &resolved) {
            return Update::Failed(e);
        }
        let now = digest(&self.salt, &resolved.pairs);
        if now == self.digest {
            return Update::Same;
        }
        self.digest = now;
        Update::Changed(resolved)
    }
}
