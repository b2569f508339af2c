//! The audit log: an append-only record of every access and change, kept in the vault file and made
//! tamper-evident by a MAC chain keyed from the master key (`chain.rs`).
//!
//! Why in the vault and not a text file: the entries need the same key custody as the secrets (the
//! chain is authenticated with `subkeys().audit`, names are sealed with the names key), and one SQLite
//! transaction can append to the log as atomically as it changes a secret.
//!
//! Commands never call this module to record: the vault records its own accesses
//! (src/vault/access.rs): its reads through `Vault::read`, its changes inside `Vault::write`'s
//! transaction, slot changes, rekey and unlocks where they happen. A library feature that knows an
//! outcome the vault cannot (a rotation's hooks) records it with [`record`]. Opening the vault calls
//! [`after_unlock`], which folds failed unlocks (recorded unauthenticated by `failed.rs`, since no
//! key existed) into the chain and logs the unlock itself.
//!
//! Every append also writes a line to the witness outside the vault file (`witness.rs`), inside the
//! same transaction and before it commits; [`append_in`] is the one place that does both.

pub mod addresses;
pub mod chain;
pub mod checkpoint;
pub mod compact;
pub mod context;
pub mod entry;
pub mod failed;
pub mod generation;
pub mod unusual;
pub mod witness;

pub use chain::{Problem, Verdict};
pub use entry::{Action, Body};

use std::time::SystemTime;

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::crypto::KEY_LEN;
use crate::error::Result;
use crate::scope::Address;
use crate::store::{Connection, Sync};
use crate::vault::Vault;

/// The outcome string of a successful operation.
pub const OK: &str = "ok";

/// The outcome to record for a result: `ok`, or the error's kind (`not_found`, `auth`, ...).
pub fn outcome_of<T>(result: &Result<T>) -> String {
    match result {
        Ok(_) => OK.to_string(),
        Err(e) => e.kind().to_string(),
    }
}

/// A copy of the audit key, so the store can be borrowed mutably while it is used. Wiped on drop.
fn audit_key(vault: &Vault) -> Zeroizing<[u8; KEY_LEN]> {
    Zeroizing::new(*vault.subkeys().audit.expose_secret())
}

/// Append one entry for the command, its `addresses` (none, one or many) sealed inside it, in one
/// transaction: the vault's reads and failed changes, and outcomes only a feature knows. Public only
/// as the seam of the audit benchmarks (benches/audit.rs): commands and applications never call it,
/// since the vault records its own accesses.
#[doc(hidden)]
pub fn record(
    vault: &mut Vault,
    action: Action,
    addresses: &[Address],
    outcome: &str,
) -> Result<()> {
    let vault_id = vault.id().to_vec();
    let bodies = bodies(vault, action, addresses, outcome);
    let key = audit_key(vault);
    let store = vault.store();
    // Reads must stay fast (the budget is 1 ms per entry), and an fsync per read costs several. A
    // read's entry is therefore committed with synchronous=NORMAL: atomic and durable against a
    // crash of keep, but the last entries can be lost on a power cut (never leaving the chain
    // inconsistent: rows and head commit together). Every other entry keeps FULL. SECURITY.md.
    let relaxed = action == Action::Read;
    if relaxed {
        store.set_synchronous(Sync::Normal)?;
        // Closing the last connection would otherwise checkpoint the WAL (two more fsyncs) at the
        // exit of every `keep get`. The store's truncating checkpoint after a commit that leaves
        // the WAL over 256 KiB (`Store::write`) still bounds it, at a cost spread over dozens of
        // reads.
        store.skip_checkpoint_on_close()?;
    }
    // The witness line follows the entry's durability: fsync'd unless the entry is relaxed.
    let result = store.write(|tx| append_in(tx, &key, &vault_id, &bodies, !relaxed));
    if relaxed {
        store.set_synchronous(Sync::Full)?;
    }
    result.map(committed)
}

/// Append `bodies` to the chain inside the caller's transaction, then write their witness line
/// (fsync'd when `durable`) before the transaction commits. After the commit, pass the result to
/// [`committed`]. An error (the witness cannot be written) rolls the transaction back: no entry
/// without its witness line.
pub(crate) fn append_in(
    conn: &Connection,
    key: &[u8; KEY_LEN],
    vault_id: &[u8],
    bodies: &[Body],
    durable: bool,
) -> Result<Option<witness::Pending>> {
    let encoded: Vec<Vec<u8>> = bodies.iter().map(Body::encode).collect();
    let count = chain::append(conn, key, vault_id, &encoded)?;
    if bodies.is_empty() {
        return Ok(None);
    }
    let first = count + 1 - bodies.len() as u64;
    let prev = match first {
        1 => None,
        _ => chain::body_at(conn, first - 1)?
            .and_then(|b| Body::decode(&b))
            .and_then(|b| b.id),
    };
    let entries = bodies
        .iter()
        .zip(first..)
        .map(|(b, seq)| witness::Witnessed {
            seq,
            id: b.id.clone().unwrap_or_default(),
            t: b.t,
        })
        .collect();
    witness::append(vault_id, prev, entries, durable).map(Some)
}

/// Once the transaction of [`append_in`] committed: mark it so in the witness.
pub(crate) fn committed(pending: Option<witness::Pending>) {
    if let Some(p) = pending {
        p.committed();
    }
}

/// Record `result`'s outcome for `addresses`, then hand `result` back.
pub(crate) fn recorded<T>(
    vault: &mut Vault,
    action: Action,
    addresses: &[Address],
    result: Result<T>,
) -> Result<T> {
    record(vault, action, addresses, &outcome_of(&result))?;
    result
}

/// The one entry of a command: an `exec` of 100 secrets is one chain row and one witness entry,
/// not 100 (issue 17). Listing expands it back to one record per secret (`list`).
fn bodies(vault: &Vault, action: Action, addresses: &[Address], outcome: &str) -> Vec<Body> {
    vec![Body::by(vault.command(), action, outcome).with_addresses(
        vault.subkeys(),
        vault.id(),
        addresses,
    )]
}

/// Called by every open once the key is known: fold failed unlocks into the chain and, when a key
/// slot (not the session cache) opened the vault, log the unlock. Switched off by
/// `Opener::log_unlock(false)` (`keep audit ...`, which must read a log that appends would refuse).
pub(crate) fn after_unlock(vault: &mut Vault) -> Result<()> {
    if !vault.logs_unlock() {
        return Ok(());
    }
    fold_and_log_unlock(vault)
}

/// Fold failed unlocks into the chain and log the unlock if a slot opened the vault. `keep audit`
/// calls this itself, best effort, after opening with the automatic logging switched off.
pub fn fold_and_log_unlock(vault: &mut Vault) -> Result<()> {
    let slot_opened = vault.opened_by().is_some();
    let pending = failed::any(vault.store().conn())?;
    if !slot_opened && !pending {
        return Ok(());
    }
    let vault_id = vault.id().to_vec();
    let key = audit_key(vault);
    let unlock = Body::by(vault.command(), Action::Unlock, OK);
    vault
        .store()
        .write(|tx| {
            let mut bodies = failed::take(tx, last_time(tx)?)?;
            if slot_opened {
                bodies.push(unlock);
            }
            append_in(tx, &key, &vault_id, &bodies, true)
        })
        .map(committed)
}

/// The time of the last entry in the chain (0 for an empty log): folded and pending failed
/// unlocks are never placed before it.
fn last_time(conn: &Connection) -> Result<u64> {
    Ok(chain::last_body(conn)?
        .and_then(|b| Body::decode(&b))
        .map_or(0, |b| b.t))
}

/// Walk the chain (`keep audit verify`).
pub fn verify(vault: &mut Vault) -> Result<Verdict> {
    let vault_id = vault.id().to_vec();
    let key = audit_key(vault);
    vault.store().read(|tx| chain::verify(tx, &key, &vault_id))
}

/// Compare the chain with its witness outside the file (`keep audit verify`, after [`verify`]).
/// The witness is never compacted: a checkpoint that authenticates explains its lines for the
/// entries the compaction removed.
pub fn verify_witness(vault: &mut Vault) -> Result<witness::Report> {
    let vault_id = vault.id().to_vec();
    let key = audit_key(vault);
    let (rows, compacted) = vault.store().read(|tx| {
        let c = match checkpoint::read(tx, &key, &vault_id)? {
            checkpoint::State::Valid(c) => Some(c),
            _ => None,
        };
        Ok((chain::rows(tx)?, c))
    })?;
    let ids = ids_after(&rows, compacted.as_ref());
    witness::compare(&vault_id, &ids, &witness_view(compacted.as_ref()))
}

/// The checkpoint of the log's compaction, when it has one that authenticates (`keep audit` notes
/// where the listing starts).
pub fn compacted(vault: &mut Vault) -> Result<Option<checkpoint::Checkpoint>> {
    let vault_id = vault.id().to_vec();
    let key = audit_key(vault);
    let state = vault
        .store()
        .read(|tx| checkpoint::read(tx, &key, &vault_id))?;
    Ok(match state {
        checkpoint::State::Valid(c) => Some(c),
        _ => None,
    })
}

/// The entry ids of the rows after a compaction's checkpoint (all rows when there is none), in
/// position order: what the witness is compared with.
fn ids_after(
    rows: &[chain::Row],
    compacted: Option<&checkpoint::Checkpoint>,
) -> Vec<Option<String>> {
    let through = compacted.map_or(0, |c| c.last);
    rows.iter()
        .filter(|r| r.seq > through)
        .map(|r| Body::decode(&r.body).and_then(|b| b.id))
        .collect()
}

/// What the witness comparison needs of a checkpoint.
fn witness_view(compacted: Option<&checkpoint::Checkpoint>) -> witness::Compacted {
    compacted.map_or_else(witness::Compacted::default, |c| witness::Compacted {
        through: c.last,
        last_id: c.last_id.clone(),
    })
}

/// One entry as listed, per secret: an entry naming N secrets lists as N records sharing `seq` and
/// `body`, so filters and `--unusual` rules count reads exactly as when each had its own entry.
#[derive(Clone, Debug)]
pub struct Record {
    /// Position in the chain; `None` for a failed unlock not yet folded in (unauthenticated).
    pub seq: Option<u64>,
    /// The entry's body; once its addresses are opened, without their sealed copies.
    pub body: Body,
    /// The opened address this record stands for, if the entry has any.
    pub address: Option<Address>,
    /// The entry's body or sealed name could not be read: `keep audit verify` says why.
    pub damaged: bool,
}

impl Record {
    /// Whether what the entry says is vouched for by the key: false for a failed unlock, folded or
    /// not, since it was written without the key by whoever could write the file (`failed.rs`).
    pub fn authenticated(&self) -> bool {
        self.seq.is_some() && self.body.folded_at.is_none()
    }
}

/// Which entries `keep audit` shows.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub since: Option<SystemTime>,
    /// A bare name (matches in every scope) or a `keep://` address.
    pub name: Option<String>,
    pub action: Option<Action>,
}

impl Filter {
    fn matches(&self, r: &Record) -> bool {
        if let Some(since) = self.since {
            if entry::time_of(r.body.t) < since {
                return false;
            }
        }
        if let Some(a) = self.action {
            if r.body.action != a {
                return false;
            }
        }
        if let Some(n) = &self.name {
            match &r.address {
                Some(addr) if addr.name.as_str() == n || &addr.to_string() == n => {}
                _ => return false,
            }
        }
        true
    }
}

/// Every entry, oldest first, then failed unlocks not yet folded in, filtered.
pub fn list(vault: &mut Vault, filter: &Filter) -> Result<Vec<Record>> {
    let vault_id = vault.id().to_vec();
    let (rows, pending) = vault
        .store()
        .read(|tx| Ok((chain::rows(tx)?, failed::pending(tx, last_time(tx)?)?)))?;
    let mut out = Vec::with_capacity(rows.len() + pending.len());
    for row in rows {
        let seq = Some(row.seq);
        let damaged = |body| Record {
            seq,
            body,
            address: None,
            damaged: true,
        };
        let Some(body) = Body::decode(&row.body) else {
            out.push(damaged(Body::by("unknown", Action::Read, "unreadable")));
            continue;
        };
        match body.open_addresses(vault.subkeys(), &vault_id) {
            Err(_) => out.push(damaged(body)),
            Ok(addresses) if addresses.is_empty() => out.push(Record {
                seq,
                body,
                address: None,
                damaged: false,
            }),
            Ok(addresses) => {
                // Opened: the records need no sealed copy (an `env` of 10,000 secrets would
                // otherwise clone its 40 KB list 10,000 times).
                let body = Body {
                    address: None,
                    addresses: None,
                    ..body
                };
                out.extend(addresses.into_iter().map(|a| Record {
                    seq,
                    body: body.clone(),
                    address: Some(a),
                    damaged: false,
                }))
            }
        }
    }
    out.extend(pending.into_iter().map(|body| Record {
        seq: None,
        body,
        address: None,
        damaged: false,
    }));
    out.retain(|r| filter.matches(r));
    Ok(out)
}
