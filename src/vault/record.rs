//! The sealed forms of a secret's name and of each of its versions.
//!
//! A name is sealed as the UTF-8 text `PROJECT/ENV/NAME` under the names key, with associated data
//! `("keep/v1/name", vault_id, lookup)`. A version is sealed under the values key with associated data
//! `("keep/v1/value", vault_id, lookup, secret_id, version)`; its plaintext is
//! `kind (1 byte) || created (u64 ms since the epoch, big-endian) || value bytes`, kind 0 for a value
//! and 1 for a deletion (tombstone). Keeping the kind and time inside the ciphertext means the file does
//! not reveal when secrets were changed or which are deleted.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::crypto::{self, Aad, Subkeys};
use crate::error::{Error, Result};
use crate::scope::{Address, Name, Scope};
use crate::value::SecretValue;

/// What one version of a secret holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Value = 0,
    Tombstone = 1,
}

/// An opened version.
pub struct Version {
    pub version: u32,
    pub kind: Kind,
    pub created: SystemTime,
    pub value: SecretValue,
}

fn name_aad(vault_id: &[u8], lookup: &[u8]) -> Aad {
    Aad::new("keep/v1/name").bytes(vault_id).bytes(lookup)
}

fn value_aad(vault_id: &[u8], lookup: &[u8], secret_id: i64, version: u32) -> Aad {
    Aad::new("keep/v1/value")
        .bytes(vault_id)
        .bytes(lookup)
        .u64(secret_id as u64)
        .u64(u64::from(version))
}

pub fn seal_name(keys: &Subkeys, vault_id: &[u8], lookup: &[u8], address: &Address) -> Vec<u8> {
    let text = format!(
        "{}/{}/{}",
        address.scope.project(),
        address.scope.env(),
        address.name
    );
    crypto::seal(
        keys.names.expose_secret(),
        &name_aad(vault_id, lookup),
        text.as_bytes(),
    )
}

/// Open a sealed name and check it against the lookup tag it was found under.
pub fn open_name(
    keys: &Subkeys,
    vault_id: &[u8],
    secret_id: i64,
    lookup: &[u8],
    sealed: &[u8],
) -> Result<Address> {
    let bad = || {
        Error::Integrity(format!(
            "secret record #{secret_id}: its name failed authentication (the row was altered or \
             copied from elsewhere); other secrets are unaffected"
        ))
    };
    let plain = crypto::open(
        keys.names.expose_secret(),
        &name_aad(vault_id, lookup),
        sealed,
    )
    .ok_or_else(bad)?;
    let text = std::str::from_utf8(&plain).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '/');
    let (p, e, n) = (
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
    );
    let address = Scope::new(p, e)
        .and_then(|scope| Ok(scope.address(Name::new(n)?)))
        .map_err(|_| bad())?;
    if keys.index.secret(p, e, n).as_slice() != lookup {
        return Err(bad());
    }
    Ok(address)
}

pub fn seal_version(
    keys: &Subkeys,
    vault_id: &[u8],
    lookup: &[u8],
    secret_id: i64,
    version: u32,
    kind: Kind,
    value: &[u8],
) -> Vec<u8> {
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let mut plain = Zeroizing::new(Vec::with_capacity(9 + value.len()));
    plain.push(kind as u8);
    plain.extend_from_slice(&created.to_be_bytes());
    plain.extend_from_slice(value);
    crypto::seal(
        keys.values.expose_secret(),
        &value_aad(vault_id, lookup, secret_id, version),
        &plain,
    )
}

/// Open a sealed version. `what` names the secret in the error if it fails.
pub fn open_version(
    keys: &Subkeys,
    vault_id: &[u8],
    lookup: &[u8],
    secret_id: i64,
    version: u32,
    sealed: &[u8],
    what: &dyn std::fmt::Display,
) -> Result<Version> {
    let bad = || {
        Error::Integrity(format!(
            "{what} version {version}: the ciphertext failed authentication (it was altered, or moved \
             from another row or version); other secrets are unaffected. Restore it with \
             `keep rollback` to an intact version, or from a backup"
        ))
    };
    let plain = crypto::open(
        keys.values.expose_secret(),
        &value_aad(vault_id, lookup, secret_id, version),
        sealed,
    )
    .ok_or_else(bad)?;
    decode(&plain, version).ok_or_else(bad)
}

/// Parse an opened version's plaintext; `None` when it is malformed.
fn decode(plain: &[u8], version: u32) -> Option<Version> {
    let (&kind, rest) = plain.split_first()?;
    let (ms, value) = rest.split_first_chunk::<8>()?;
    let kind = match kind {
        0 => Kind::Value,
        1 => Kind::Tombstone,
        _ => return None,
    };
    Some(Version {
        version,
        kind,
        created: UNIX_EPOCH + Duration::from_millis(u64::from_be_bytes(*ms)),
        value: SecretValue::new(value.to_vec()),
    })
}

/// Re-seal one version under new keys and a new lookup tag (`keep rekey`), keeping its plaintext,
/// kind and creation time byte for byte. Returns the new blob and the opened version.
#[allow(clippy::too_many_arguments)]
pub fn reseal_version(
    old: &Subkeys,
    new: &Subkeys,
    vault_id: &[u8],
    old_lookup: &[u8],
    new_lookup: &[u8],
    secret_id: i64,
    version: u32,
    sealed: &[u8],
    what: &dyn std::fmt::Display,
) -> Result<(Vec<u8>, Version)> {
    let bad = || {
        Error::Integrity(format!(
            "{what} version {version}: the ciphertext failed authentication, so the vault was not \
             re-keyed (nothing was changed); `keep verify` names every damaged record"
        ))
    };
    let plain = crypto::open(
        old.values.expose_secret(),
        &value_aad(vault_id, old_lookup, secret_id, version),
        sealed,
    )
    .ok_or_else(bad)?;
    let opened = decode(&plain, version).ok_or_else(bad)?;
    let resealed = crypto::seal(
        new.values.expose_secret(),
        &value_aad(vault_id, new_lookup, secret_id, version),
        &plain,
    );
    Ok((resealed, opened))
}

/// A record kept beside a secret and found by its blind-index tag (src/rotate/meta.rs): sealed under
/// the values key with associated data `(purpose, vault_id, lookup)`, so a row moved to another
/// secret or vault fails to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SideRecord {
    /// Policy, public part and generator (`keep/v1/secret-meta`).
    SecretMeta,
    /// A rotation whose hooks have not all succeeded (`keep/v1/rotation-pending`).
    RotationPending,
}

impl SideRecord {
    fn aad(self, vault_id: &[u8], lookup: &[u8]) -> Aad {
        let purpose = match self {
            SideRecord::SecretMeta => "keep/v1/secret-meta",
            SideRecord::RotationPending => "keep/v1/rotation-pending",
        };
        Aad::new(purpose).bytes(vault_id).bytes(lookup)
    }
}

/// Seal a side record of the secret whose tag is `lookup`.
pub fn seal_side(
    keys: &Subkeys,
    vault_id: &[u8],
    kind: SideRecord,
    lookup: &[u8],
    plain: &[u8],
) -> Vec<u8> {
    crypto::seal(
        keys.values.expose_secret(),
        &kind.aad(vault_id, lookup),
        plain,
    )
}

/// Open a side record; `None` when it fails authentication.
pub fn open_side(
    keys: &Subkeys,
    vault_id: &[u8],
    kind: SideRecord,
    lookup: &[u8],
    sealed: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    crypto::open(
        keys.values.expose_secret(),
        &kind.aad(vault_id, lookup),
        sealed,
    )
}

/// Re-seal a side record under new keys and a new tag (`keep rekey`); `None` when it fails to open
/// under the old ones.
pub fn reseal_side(
    old: &Subkeys,
    new: &Subkeys,
    vault_id: &[u8],
    kind: SideRecord,
    (old_lookup, new_lookup): (&[u8], &[u8]),
    sealed: &[u8],
) -> Option<Vec<u8>> {
    let plain = open_side(old, vault_id, kind, old_lookup, sealed)?;
    Some(seal_side(new, vault_id, kind, new_lookup, &plain))
}

/// The blind-index tag of the secret at `address` under `keys`: the key of its rows and of its side
/// records. Every caller computes it here, so the parts and their order are written once.
pub fn lookup_tag(keys: &Subkeys, address: &Address) -> [u8; 32] {
    keys.index.secret(
        address.scope.project(),
        address.scope.env(),
        address.name.as_str(),
    )
}

impl super::Vault {
    /// The blind-index tag of a secret (the key of its rows here and of its side records).
    pub(crate) fn lookup(&self, address: &Address) -> [u8; 32] {
        lookup_tag(&self.keys, address)
    }

    /// Seal a side record of the secret whose tag is `lookup` under this vault's keys.
    pub(crate) fn seal_side(&self, kind: SideRecord, lookup: &[u8], plain: &[u8]) -> Vec<u8> {
        seal_side(&self.keys, &self.vault_id, kind, lookup, plain)
    }

    /// Open a side record sealed by [`Vault::seal_side`]; `None` when it fails authentication.
    pub(crate) fn open_side(
        &self,
        kind: SideRecord,
        lookup: &[u8],
        sealed: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        open_side(&self.keys, &self.vault_id, kind, lookup, sealed)
    }
}
