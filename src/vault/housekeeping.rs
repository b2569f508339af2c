//! `keep purge`: a deleted secret's history dropped for good.
//!
//! `rm` only appends a tombstone, so every earlier value stays in the file (and `rollback` can bring
//! it back). Purging removes the secret's rows and keeps the integrity records consistent in the same
//! transaction as its audit entry: the manifest is first checked against every head (a vault that is
//! already inconsistent is not "repaired" by a purge), then rebuilt from the heads that remain, so
//! `keep verify` is intact afterwards. Only a secret whose authenticated newest version is a
//! tombstone can be purged: a live value is refused.

use super::manifest::{self, Manifest};
use super::record::{self, Kind};
use super::Vault;
use crate::audit::Action;
use crate::crypto::Subkeys;
use crate::error::{Error, Result};
use crate::scope::Address;
use crate::store;

impl Vault {
    /// Drop every version of the deleted secret at `address`, with a `delete` audit entry in the same
    /// transaction. Returns how many versions went. Not found (exit 3) when there is no such secret,
    /// a usage error (exit 2) when it still has a value.
    pub fn purge(&mut self, address: &Address) -> Result<usize> {
        // A copy of the keys for the transaction, which borrows the vault.
        let keys = self.master.subkeys(&self.vault_id);
        let vault_id = self.vault_id.clone();
        let floor = self.floor;
        let (versions, generation) = self.write(|w| {
            w.record(Action::Delete, address);
            purge_rows(w.conn(), &keys, &vault_id, floor, address)
        })?;
        self.committed_generation(generation)?;
        Ok(versions)
    }
}

fn purge_rows(
    conn: &crate::store::Connection,
    keys: &Subkeys,
    vault_id: &[u8],
    floor: u64,
    address: &Address,
) -> Result<(usize, u64)> {
    let lookup = record::lookup_tag(keys, address);
    let row = store::find_secret(conn, &lookup)?.ok_or_else(|| {
        Error::NotFound(format!(
            "no secret {address}; `keep ls --deleted` lists the deleted ones"
        ))
    })?;
    if record::open_name(keys, vault_id, row.id, &row.lookup, &row.sealed_name)? != *address {
        return Err(Error::Integrity(format!(
            "secret record #{}: its name does not match its index entry; nothing was purged",
            row.id
        )));
    }
    // Every head against the manifest before anything changes.
    let (stored, all) = manifest::load_checked_heads(conn, keys, vault_id, floor)?;
    let (_, head, sealed) = all.iter().find(|(r, _, _)| r.id == row.id).ok_or_else(|| {
        Error::Integrity(format!(
            "{address}: its head is missing; nothing was purged"
        ))
    })?;
    let sealed = sealed
        .as_ref()
        .filter(|s| manifest::digest(s) == head.digest)
        .ok_or_else(|| {
            Error::Integrity(format!(
                "{address}: its newest version is missing or was replaced; nothing was purged"
            ))
        })?;
    let newest = record::open_version(
        keys,
        vault_id,
        &row.lookup,
        row.id,
        head.version,
        sealed,
        address,
    )?;
    if newest.kind != Kind::Tombstone {
        return Err(Error::Usage(format!(
            "{address} is not deleted (version {} holds its value): purge only drops the history of \
             a secret `keep rm` deleted. Nothing was purged",
            newest.version
        )));
    }
    let versions = store::purge_secret(conn, row.id, &row.lookup)?;
    let mut after = Manifest::compute(
        keys,
        vault_id,
        all.iter()
            .filter(|(r, _, _)| r.id != row.id)
            .map(|(r, head, _)| (r.lookup.as_slice(), head)),
    );
    // The next write of the same vault: the generation goes on from the stored manifest's.
    after.generation = stored.generation;
    let generation = after.store(conn, keys, vault_id)?;
    Ok((versions, generation))
}
