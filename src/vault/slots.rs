//! Managing key slots on an unlocked vault. Every operation rewraps the one master key; no secret is
//! re-encrypted.

use super::Vault;
use crate::error::{Error, Result};
use crate::slots::{self, make_slot, SlotWrapper};
use crate::store;

/// A slot as shown by `keep slot ls`: no wrapped key, only public facts.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SlotInfo {
    pub id: u32,
    pub kind: String,
    /// A one-line summary of the public parameters (KDF cost, token and key label, recipient).
    pub description: String,
    /// Unix seconds.
    pub created: i64,
}

impl Vault {
    /// Every slot.
    pub fn slots(&self) -> Result<Vec<SlotInfo>> {
        Ok(store::slots(self.store.conn())?
            .into_iter()
            .map(|s| SlotInfo {
                description: slots::describe(&s),
                id: s.id,
                kind: s.kind,
                created: s.created,
            })
            .collect())
    }

    /// Add a slot made by `wrapper`; returns its id. Records a `slot-add` audit entry (its outcome
    /// on failure) for every kind of slot, so no caller can forget it.
    pub fn add_slot(&mut self, wrapper: &dyn SlotWrapper) -> Result<u32> {
        let (master, vault_id) = (&self.master, &self.vault_id);
        let result = self.store.write(|tx| {
            let id = store::next_slot_id(tx)?;
            store::insert_slot(tx, &make_slot(wrapper, master, vault_id, id)?)?;
            Ok(id)
        });
        crate::audit::recorded(self, crate::audit::Action::SlotAdd, &[], result)
    }

    /// Remove slot `id`, with a `slot-remove` entry (its outcome on failure). Removing the last slot
    /// is refused: the vault could never be opened again.
    pub fn remove_slot(&mut self, id: u32) -> Result<()> {
        let result = self.store.write(|tx| {
            let all = store::slots(tx)?;
            if !all.iter().any(|s| s.id == id) {
                return Err(Error::NotFound(format!(
                    "no key slot {id}; `keep slot ls` lists them"
                )));
            }
            if all.len() == 1 {
                return Err(Error::Usage(format!(
                    "slot {id} is the last key slot; removing it would lock the vault forever. \
                     Add another slot first (`keep slot add ...`)"
                )));
            }
            store::delete_slot(tx, id).map(|_| ())
        });
        crate::audit::recorded(self, crate::audit::Action::SlotRemove, &[], result)
    }

    /// Replace slot `id` with a new one of the same id made by `wrapper` (`keep passwd`, recorded as
    /// a `passwd` entry), in one transaction so that a crash leaves either the old slot or the new
    /// one, never neither.
    pub fn replace_slot(&mut self, id: u32, wrapper: &dyn SlotWrapper) -> Result<()> {
        let (master, vault_id) = (&self.master, &self.vault_id);
        let result = self.store.write(|tx| {
            if !store::delete_slot(tx, id)? {
                return Err(Error::NotFound(format!(
                    "no key slot {id}; `keep slot ls` lists them"
                )));
            }
            store::insert_slot(tx, &make_slot(wrapper, master, vault_id, id)?)
        });
        crate::audit::recorded(self, crate::audit::Action::Passwd, &[], result)
    }
}
