//! Per-secret rotation state, sealed like everything else: the policy set with `keep policy set`, the
//! public part of a generated key, and a pending (not yet promoted) rotation.
//!
//! Rows are keyed by the secret's blind-index tag, so the file does not say which secret has a policy,
//! and sealed as the vault's side records (`vault::SideRecord`: the values key, associated data
//! `(purpose, vault id, tag)`): a row moved to another secret or vault fails to open. A policy can
//! exist before the secret does. The rows themselves are `store::rotation`'s.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::generator::{Generator, PublicPart};
use crate::crypto;
use crate::error::{Error, Result};
use crate::scope::Address;
use crate::store::{rotation, rotation::Table, Connection};
use crate::value::SecretValue;
use crate::vault::{reseal_side, SideRecord, Vault};

/// A rotation policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// The longest a value may live, in seconds.
    pub max_age_secs: u64,
    /// The generator `keep rotate` uses, if any (else the secret is rotated by hand).
    pub generator: Option<Generator>,
}

impl Policy {
    pub fn max_age(&self) -> Duration {
        Duration::from_secs(self.max_age_secs)
    }
}

/// What is kept about a secret besides its versions.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SecretMeta {
    #[serde(default)]
    pub policy: Option<Policy>,
    /// The public part of the current generated key (age recipient, SSH public key).
    #[serde(default)]
    pub public: Option<PublicPart>,
    /// The generator of the current value, when a generator made it.
    #[serde(default)]
    pub generator: Option<Generator>,
}

/// A rotation whose hooks have not all succeeded: the new value, kept for inspection or a retry.
pub struct Pending {
    pub created_ms: u64,
    pub generator: Generator,
    pub public: Option<PublicPart>,
    /// The hook that failed, if one did.
    pub failed_hook: Option<String>,
    pub value: SecretValue,
}

#[derive(Serialize, Deserialize)]
struct PendingHeader {
    created_ms: u64,
    generator: Generator,
    public: Option<PublicPart>,
    failed_hook: Option<String>,
}

/// The blind-index tag of a secret.
pub fn lookup(vault: &Vault, address: &Address) -> [u8; 32] {
    vault.lookup(address)
}

/// A sealed row ready to write inside a transaction.
pub struct SealedRow {
    pub lookup: [u8; 32],
    pub sealed: Vec<u8>,
}

/// Read a secret's metadata (empty when none was stored).
pub fn load(vault: &mut Vault, address: &Address) -> Result<SecretMeta> {
    let tag = lookup(vault, address);
    let raw = rotation::get(vault.store().conn(), Table::SecretMeta, &tag)?;
    let Some(raw) = raw else {
        return Ok(SecretMeta::default());
    };
    let bad = || {
        Error::Integrity(format!(
            "the rotation metadata of {address} failed authentication (altered, or copied from \
             another secret); other secrets are unaffected"
        ))
    };
    let plain = vault
        .open_side(SideRecord::SecretMeta, &tag, &raw)
        .ok_or_else(bad)?;
    serde_json::from_slice(&plain).map_err(|_| bad())
}

/// Seal metadata for `address`, to write with [`put_meta`].
pub fn seal_meta(vault: &Vault, address: &Address, meta: &SecretMeta) -> SealedRow {
    let tag = lookup(vault, address);
    let plain = serde_json::to_vec(meta).expect("metadata serialises");
    SealedRow {
        sealed: vault.seal_side(SideRecord::SecretMeta, &tag, &plain),
        lookup: tag,
    }
}

/// Write sealed metadata inside a transaction.
pub fn put_meta(conn: &Connection, row: &SealedRow) -> Result<()> {
    rotation::put(conn, Table::SecretMeta, &row.lookup, &row.sealed)
}

/// Store metadata in its own transaction.
pub fn save(vault: &mut Vault, address: &Address, meta: &SecretMeta) -> Result<()> {
    let row = seal_meta(vault, address, meta);
    vault.store().write(|tx| put_meta(tx, &row))
}

/// Seal a pending rotation.
pub fn seal_pending(vault: &Vault, address: &Address, p: &Pending) -> SealedRow {
    let tag = lookup(vault, address);
    let header = serde_json::to_vec(&PendingHeader {
        created_ms: p.created_ms,
        generator: p.generator.clone(),
        public: p.public.clone(),
        failed_hook: p.failed_hook.clone(),
    })
    .expect("a pending header serialises");
    let mut plain = Zeroizing::new(Vec::with_capacity(4 + header.len() + p.value.len()));
    plain.extend_from_slice(&(header.len() as u32).to_be_bytes());
    plain.extend_from_slice(&header);
    plain.extend_from_slice(p.value.expose());
    SealedRow {
        sealed: vault.seal_side(SideRecord::RotationPending, &tag, &plain),
        lookup: tag,
    }
}

/// Write a pending rotation inside a transaction, replacing an earlier one.
pub fn put_pending(conn: &Connection, row: &SealedRow) -> Result<()> {
    rotation::put(conn, Table::RotationPending, &row.lookup, &row.sealed)
}

/// Remove a pending rotation inside a transaction.
pub fn delete_pending(conn: &Connection, lookup: &[u8]) -> Result<()> {
    rotation::delete(conn, Table::RotationPending, lookup)
}

/// The pending rotation of a secret, if any.
/// The pending value of `address` for a person to read (`keep rotate NAME --show-pending`): a
/// recorded read, `missing()` (a not-found error) when there is none.
pub fn read_pending(
    vault: &mut Vault,
    address: &Address,
    missing: impl FnOnce() -> Error,
) -> Result<Pending> {
    let result = pending(vault, address).and_then(|p| p.ok_or_else(missing));
    let read = std::slice::from_ref(address);
    crate::audit::recorded(vault, crate::audit::Action::Read, read, result)
}

pub fn pending(vault: &mut Vault, address: &Address) -> Result<Option<Pending>> {
    let tag = lookup(vault, address);
    let raw = rotation::get(vault.store().conn(), Table::RotationPending, &tag)?;
    let Some(raw) = raw else {
        return Ok(None);
    };
    let bad = || {
        Error::Integrity(format!(
            "the pending rotation of {address} failed authentication; `keep rotate {address} \
             --discard` removes it"
        ))
    };
    let plain = vault
        .open_side(SideRecord::RotationPending, &tag, &raw)
        .ok_or_else(bad)?;
    let (n, rest) = plain.split_first_chunk::<4>().ok_or_else(bad)?;
    let n = u32::from_be_bytes(*n) as usize;
    let header_bytes = rest.get(..n).ok_or_else(bad)?;
    let header: PendingHeader = serde_json::from_slice(header_bytes).map_err(|_| bad())?;
    Ok(Some(Pending {
        created_ms: header.created_ms,
        generator: header.generator,
        public: header.public,
        failed_hook: header.failed_hook,
        value: SecretValue::new(plain[4 + n..].to_vec()),
    }))
}

/// Re-seal every metadata and pending-rotation row under new keys (`keep rekey`), inside the
/// caller's transaction. `lookups` maps each secret's old blind-index tag to its new one. A row
/// whose tag names no secret (a policy set before its secret was) cannot be re-keyed, since its name
/// is not stored anywhere: it is removed, and the count of those is returned so the caller can say
/// so. A row that fails to open aborts the re-key.
pub fn rekey_rows(
    conn: &Connection,
    old: &crypto::Subkeys,
    new: &crypto::Subkeys,
    vault_id: &[u8],
    lookups: &std::collections::HashMap<Vec<u8>, [u8; 32]>,
) -> Result<u64> {
    let mut dropped = 0;
    for (table, kind) in [
        (Table::SecretMeta, SideRecord::SecretMeta),
        (Table::RotationPending, SideRecord::RotationPending),
    ] {
        for (lookup, sealed) in rotation::take_all(conn, table)? {
            let Some(new_lookup) = lookups.get(&lookup) else {
                dropped += 1;
                continue;
            };
            let resealed = reseal_side(old, new, vault_id, kind, (&lookup, new_lookup), &sealed)
                .ok_or_else(|| {
                    Error::Integrity(format!(
                        "a {} row failed authentication, so the vault was not re-keyed \
                         (nothing was changed)",
                        table.name()
                    ))
                })?;
            rotation::insert(conn, table, new_lookup, &resealed)?;
        }
    }
    Ok(dropped)
}
