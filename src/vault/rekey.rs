//! `keep rekey`: replace the master key and re-seal or re-MAC every record under the new one, in one
//! write transaction.
//!
//! Why: every slot wraps the same master key, so removing a slot or changing a passphrase does not
//! revoke anything: a slot row copied back from an old copy of the file still unwraps the key, and
//! the key opens everything written since. After a re-key the old key opens nothing in the file:
//! names, values, blind-index tags, heads and manifest, rotation metadata, sync state, the audit
//! chain and the header MAC are all under the new key's subkeys, and each kept slot wraps the new key.
//! The vault id stays (the audit witness is named for it).
//!
//! The vault is checked whole (`keep verify`) first: re-sealing a damaged or tampered record would
//! launder it. Slots are wrapped before the transaction starts (a KDF, a token), so a failure there
//! changes nothing. A crash at any point leaves the old vault or the new one: the transaction is
//! SQLite's.

use std::collections::{BTreeMap, HashMap};

use secrecy::ExposeSecret;

use super::manifest::{self, Manifest};
use super::record::{self, Kind};
use super::{check_parts, read_header, Vault};
use crate::crypto::{self, MasterKey};
use crate::error::{Error, Result};
use crate::scope::Address;
use crate::slots::{make_slot, SlotWrapper};
use crate::store::{self, HeadRow};
use crate::sync::progress::Progress;
use crate::value::SecretValue;

/// What a re-key did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Outcome {
    pub secrets: u64,
    pub versions: u64,
    pub audit_entries: u64,
    /// Slots re-wrapped under the new key, by id.
    pub slots_kept: Vec<u32>,
    /// Slots removed because their credential was not at hand (`--drop-other-slots`).
    pub slots_dropped: Vec<u32>,
    pub sync_records: u64,
    /// Sync records that could not be attributed to a target and were removed.
    pub sync_records_dropped: u64,
    /// Rotation records of secrets that do not exist (a policy set before its secret), removed.
    pub rotation_records_dropped: u64,
}

impl Vault {
    /// Replace the master key (see the module doc). `wrappers` holds one wrapper per slot to keep, by
    /// slot id; every other slot is removed, so the caller decides (and asks) which may go.
    /// `sync_targets` are the sync target names whose state should survive (keep.toml's `[sync.*]`).
    /// The progress bar counts secrets plus audit entries. The `rekey` entry commits with the re-key,
    /// under the new key; a re-key that fails is recorded afterwards (best effort).
    pub fn rekey(
        &mut self,
        wrappers: &BTreeMap<u32, Box<dyn SlotWrapper>>,
        sync_targets: &[String],
        progress: &Progress,
    ) -> Result<Outcome> {
        let result = self.rekey_inner(wrappers, sync_targets, progress);
        if let Err(e) = &result {
            let _ = crate::audit::record(self, crate::audit::Action::Rekey, &[], e.kind());
        }
        result
    }

    fn rekey_inner(
        &mut self,
        wrappers: &BTreeMap<u32, Box<dyn SlotWrapper>>,
        sync_targets: &[String],
        progress: &Progress,
    ) -> Result<Outcome> {
        if wrappers.is_empty() {
            return Err(Error::Usage(
                "a re-key must keep at least one key slot, or the vault could never be opened again"
                    .into(),
            ));
        }
        let report = self.verify()?;
        if !report.intact() {
            return Err(Error::Integrity(format!(
                "the vault is not intact, so it was not re-keyed (re-sealing would hide the damage); \
                 nothing was changed. `keep verify` found: {}",
                report.problems.join("; ")
            )));
        }
        let existing = store::slots(self.store.conn())?;
        for id in wrappers.keys() {
            if !existing.iter().any(|s| s.id == *id) {
                return Err(Error::NotFound(format!(
                    "no key slot {id}; `keep slot ls` lists them"
                )));
            }
        }
        let master = MasterKey::generate();
        let vault_id = self.vault_id.clone();
        let new = master.subkeys(&vault_id);
        // Wrap first: a passphrase KDF or a token call has no business inside the write lock, and a
        // failure here must leave the vault as it was.
        let slots = wrappers
            .iter()
            .map(|(id, w)| make_slot(w.as_ref(), &master, &vault_id, *id))
            .collect::<Result<Vec<_>>>()?;
        let header = read_header(&self.store)?;
        let check =
            crypto::keys::hmac_parts(new.check.expose_secret(), &check_parts(&header, true));
        let old = &self.keys;
        let mut outcome = Outcome {
            slots_kept: wrappers.keys().copied().collect(),
            slots_dropped: existing
                .iter()
                .map(|s| s.id)
                .filter(|id| !wrappers.contains_key(id))
                .collect(),
            ..Outcome::default()
        };
        let floor = self.floor;
        let command = self.acting.command.clone();
        let mut witnessed = None;
        let generation = self.store.write(|tx| {
            let mut lookups: HashMap<Vec<u8>, [u8; 32]> = HashMap::new();
            let mut heads: Vec<([u8; 32], HeadRow)> = Vec::new();
            // The old heads, checked against the old manifest inside this transaction: the whole-vault
            // check ran before the write lock was taken, and what is re-sealed must be what it saw.
            let mut old_heads: Vec<(Vec<u8>, HeadRow)> = Vec::new();
            let mut known: Vec<(Address, Vec<SecretValue>)> = Vec::new();
            for row in store::all_secrets(tx)? {
                let address =
                    record::open_name(old, &vault_id, row.id, &row.lookup, &row.sealed_name)?;
                let lookup = record::lookup_tag(&new, &address);
                let head = store::head(tx, row.id)?;
                let mut values = Vec::new();
                for v in store::versions(tx, row.id)? {
                    let (sealed, opened) = record::reseal_version(
                        old,
                        &new,
                        &vault_id,
                        &row.lookup,
                        &lookup,
                        row.id,
                        v.version,
                        &v.sealed,
                        &address,
                    )?;
                    store::update_version(tx, row.id, v.version, &sealed)?;
                    if let Some(h) = head.as_ref().filter(|h| h.version == v.version) {
                        if h.digest != manifest::digest(&v.sealed) {
                            return Err(Error::Integrity(format!(
                                "{address}: its head does not name its newest version's blob, so \
                                 the vault was not re-keyed (nothing was changed); `keep verify` \
                                 says more"
                            )));
                        }
                        old_heads.push((row.lookup.clone(), h.clone()));
                        let h = HeadRow {
                            digest: manifest::digest(&sealed),
                            ..h.clone()
                        };
                        store::put_head(tx, &h)?;
                        heads.push((lookup, h));
                    }
                    if opened.kind == Kind::Value {
                        values.push(opened.value);
                    }
                    outcome.versions += 1;
                }
                let name = record::seal_name(&new, &vault_id, &lookup, &address);
                store::update_secret(tx, row.id, &lookup, &name)?;
                lookups.insert(row.lookup, lookup);
                known.push((address, values));
                outcome.secrets += 1;
                progress.inc();
            }
            let before = Manifest::load(tx, old, &vault_id, floor)?;
            before.check_all(
                &Manifest::compute(
                    old,
                    &vault_id,
                    old_heads.iter().map(|(l, h)| (l.as_slice(), h)),
                ),
                outcome.secrets,
            )?;
            let mut after = Manifest::compute(
                &new,
                &vault_id,
                heads.iter().map(|(l, h)| (l.as_slice(), h)),
            );
            // The re-keyed manifest continues the count: it is the next write, not a new vault.
            after.generation = before.generation;
            let generation = after.store(tx, &new, &vault_id)?;
            outcome.rotation_records_dropped =
                crate::rotate::meta::rekey_rows(tx, old, &new, &vault_id, &lookups)?;
            let known: Vec<_> = known
                .iter()
                .map(|(address, values)| crate::sync::state::Known { address, values })
                .collect();
            (outcome.sync_records, outcome.sync_records_dropped) =
                crate::sync::state::rekey_rows(tx, old, &new, sync_targets, &known)?;
            outcome.audit_entries = crate::audit::chain::rekey(
                tx,
                old.audit.expose_secret(),
                new.audit.expose_secret(),
                &vault_id,
                |body| {
                    progress.inc();
                    crate::audit::entry::Body::reseal_address(body, old, &new, &vault_id)
                },
            )?;
            store::set_meta(tx, "check", &check)?;
            for s in &existing {
                store::delete_slot(tx, s.id)?;
            }
            for s in &slots {
                store::insert_slot(tx, s)?;
            }
            let entry = [crate::audit::Body::by(
                &command,
                crate::audit::Action::Rekey,
                crate::audit::OK,
            )];
            let key = zeroize::Zeroizing::new(*new.audit.expose_secret());
            witnessed = crate::audit::append_in(tx, &key, &vault_id, &entry, true)?;
            Ok(generation)
        })?;
        crate::audit::committed(witnessed);
        progress.finish();
        self.opened_by = self.opened_by.filter(|id| wrappers.contains_key(id));
        self.keys = new;
        self.master = master;
        self.committed_generation(generation)?;
        Ok(outcome)
    }

    /// How many items the re-key's progress bar counts (secrets plus audit entries).
    pub fn rekey_work(&self) -> Result<u64> {
        Ok(store::count(self.store.conn(), "secrets")? + store::count(self.store.conn(), "audit")?)
    }

    /// The raw slot rows, for planning which slots a re-key can re-wrap.
    pub fn slot_rows(&self) -> Result<Vec<store::SlotRow>> {
        store::slots(self.store.conn())
    }

    /// Whether `master` is this vault's master key (a slot unwrapped with another credential).
    pub fn is_master(&self, master: &MasterKey) -> bool {
        // A MAC under one key checked under the other: equal exactly when the keys are, and the
        // comparison is constant-time.
        let probe: &[&[u8]] = &[b"keep/v2/rekey-same-key"];
        let tag = crypto::keys::hmac_parts(self.master.expose(), probe);
        crypto::keys::hmac_parts_verify(master.expose(), probe, &tag)
    }
}
