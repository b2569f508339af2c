//! The format-4 upgrade of an older vault, at its first unlock.
//!
//! The schema migration (src/store/schema.rs) adds the `heads` table and `slots.mac` but cannot fill
//! them: that needs the keys. So the first unlock after the migration authenticates the vault as it
//! stands, in one transaction: a MAC for every slot row, a head for every secret (its highest
//! version), the manifest, and last the header MAC under the format-4 label, which is what marks the
//! vault as upgraded. A vault whose header verifies under the format-4 label never takes this path
//! again, and an attacker without the key cannot turn a format-4 header back into an older one. An
//! older header MAC is accepted only while `meta.upgrade_pending` (written by the schema migration)
//! is there: a format-4 vault whose header was swapped for its pre-upgrade one is refused.
//!
//! Rows tampered with *before* the upgrade cannot be told apart (older formats did not authenticate
//! which version is newest); that is the state the upgrade starts from (SECURITY.md).

use secrecy::ExposeSecret;

use super::manifest;
use crate::crypto::Subkeys;
use crate::error::Result;
use crate::slots;
use crate::store::{self, Transaction};

/// Authenticate an older vault's slots, heads and manifest and write its format-4 header MAC.
pub fn to_format4(
    tx: &Transaction<'_>,
    keys: &Subkeys,
    vault_id: &[u8],
    check: &[u8],
) -> Result<()> {
    for slot in store::slots(tx)? {
        let mac = slots::row_mac(keys.records.expose_secret(), vault_id, &slot);
        store::set_slot_mac(tx, slot.id, &mac)?;
    }
    manifest::rebuild(tx, keys, vault_id)?;
    store::delete_meta(tx, PENDING)?;
    store::set_meta(tx, "check", check)
}

/// Set by the schema migration to format 4, removed by the upgrade (and by `init`).
pub const PENDING: &str = "upgrade_pending";
