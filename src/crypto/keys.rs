//! The master key and the purpose-bound subkeys derived from it.
//!
//! The master key is 32 random bytes made once at `init`. It never touches disk in the clear: key slots
//! wrap it. Every use goes through a subkey derived with HKDF-SHA256 (salt = vault id, info = a label
//! naming the purpose), so a key used to seal values can never double as the key of the blind index or
//! of the audit chain.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::random;

/// Length of the master key and of every subkey.
pub const KEY_LEN: usize = 32;

/// HKDF labels. Changing one is a format change.
mod label {
    pub const VALUES: &[u8] = b"keep/v1/values";
    pub const NAMES: &[u8] = b"keep/v1/names";
    pub const INDEX: &[u8] = b"keep/v1/blind-index";
    pub const AUDIT: &[u8] = b"keep/v1/audit";
    pub const CHECK: &[u8] = b"keep/v1/check";
    pub const SYNC: &[u8] = b"keep/v1/sync";
    pub const SCAN: &[u8] = b"keep/v1/scan-fingerprint";
    pub const RECORDS: &[u8] = b"keep/v1/records";
}

/// The vault's master key. Zeroized on drop; never printed.
pub struct MasterKey(SecretBox<[u8; KEY_LEN]>);

impl MasterKey {
    /// A fresh random master key, for `init`.
    pub fn generate() -> MasterKey {
        let mut key = Box::new([0u8; KEY_LEN]);
        random::fill(&mut key[..]);
        MasterKey(SecretBox::new(key))
    }

    /// Take ownership of key bytes produced by unwrapping a slot. The caller's buffer is wiped.
    pub fn from_bytes(bytes: &mut [u8]) -> Option<MasterKey> {
        use zeroize::Zeroize;
        if bytes.len() != KEY_LEN {
            bytes.zeroize();
            return None;
        }
        let mut key = Box::new([0u8; KEY_LEN]);
        key.copy_from_slice(bytes);
        bytes.zeroize();
        Some(MasterKey(SecretBox::new(key)))
    }

    /// The raw key bytes, for a slot to wrap or the session cache to hold.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        self.0.expose_secret()
    }

    /// Derive the subkeys of this vault.
    pub fn subkeys(&self, vault_id: &[u8]) -> Subkeys {
        let hk = Hkdf::<Sha256>::new(Some(vault_id), self.expose());
        let derive = |info: &[u8]| {
            let mut okm = Box::new([0u8; KEY_LEN]);
            hk.expand(info, &mut okm[..])
                .expect("32 bytes is a valid HKDF-SHA256 output length");
            SecretBox::new(okm)
        };
        Subkeys {
            values: derive(label::VALUES),
            names: derive(label::NAMES),
            index: BlindIndex(derive(label::INDEX)),
            audit: derive(label::AUDIT),
            check: derive(label::CHECK),
            sync: derive(label::SYNC),
            scan: derive(label::SCAN),
            records: derive(label::RECORDS),
        }
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

/// The purpose-bound keys derived from the master key. Each is zeroized on drop.
pub struct Subkeys {
    /// Seals secret values.
    pub values: SecretBox<[u8; KEY_LEN]>,
    /// Seals secret names and scopes.
    pub names: SecretBox<[u8; KEY_LEN]>,
    /// Keys the blind index that lets lookups find a record without storing its name.
    pub index: BlindIndex,
    /// Authenticates the audit log's hash chain.
    pub audit: SecretBox<[u8; KEY_LEN]>,
    /// Authenticates the vault header, and lets a cached key prove it belongs to this vault.
    pub check: SecretBox<[u8; KEY_LEN]>,
    /// Keys the value hashes recorded at each sync, so they reveal nothing about the value.
    pub sync: SecretBox<[u8; KEY_LEN]>,
    /// Keys the fingerprints of vault-value findings in `keep scan` output and baselines, so a weak
    /// value cannot be guessed back from a SARIF file or a committed baseline.
    pub scan: SecretBox<[u8; KEY_LEN]>,
    /// Authenticates which version of each secret is the newest (heads), the set of secrets (the
    /// manifest) and each key slot row (src/vault/manifest.rs, src/vault/slots.rs).
    pub records: SecretBox<[u8; KEY_LEN]>,
}

impl Subkeys {
    /// The memory holding each subkey, for a long-lived process to lock into RAM
    /// (`keep exec --watch`, src/watch/memory.rs).
    pub fn regions(&self) -> [&[u8]; 8] {
        [
            &self.values.expose_secret()[..],
            &self.names.expose_secret()[..],
            &self.index.0.expose_secret()[..],
            &self.audit.expose_secret()[..],
            &self.check.expose_secret()[..],
            &self.sync.expose_secret()[..],
            &self.scan.expose_secret()[..],
            &self.records.expose_secret()[..],
        ]
    }
}

impl std::fmt::Debug for Subkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subkeys([REDACTED])")
    }
}

/// HMAC-SHA256 under `key` over the length-prefixed `parts`.
///
/// Each part is prefixed with its length (u32, big-endian) so that ("ab", "c") and ("a", "bc") never
/// collide.
pub fn hmac_parts(key: &[u8; KEY_LEN], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(&(part.len() as u32).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time check of an HMAC over length-prefixed parts.
pub fn hmac_parts_verify(key: &[u8; KEY_LEN], parts: &[&[u8]], tag: &[u8]) -> bool {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(&(part.len() as u32).to_be_bytes());
        mac.update(part);
    }
    mac.verify_slice(tag).is_ok()
}

/// The keyed blind index: HMAC-SHA256 over a record's scope and name.
///
/// The database stores only this tag, so finding `keep://billing/prod/DB_URL` needs the key, and a stolen
/// file does not reveal which names exist.
pub struct BlindIndex(SecretBox<[u8; KEY_LEN]>);

impl BlindIndex {
    /// The lookup tag of a secret in a scope.
    pub fn secret(&self, project: &str, env: &str, name: &str) -> [u8; 32] {
        hmac_parts(
            self.0.expose_secret(),
            &[
                b"secret",
                project.as_bytes(),
                env.as_bytes(),
                name.as_bytes(),
            ],
        )
    }

    /// A tag over arbitrary labelled parts, for other tables that need keyed lookups (audit, sync).
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        hmac_parts(self.0.expose_secret(), parts)
    }
}

/// A zeroizing byte buffer for intermediates that hold plaintext.
pub type SecretBuf = Zeroizing<Vec<u8>>;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn subkeys_differ_by_purpose_and_by_vault() {
        let mk = MasterKey::generate();
        let a = mk.subkeys(b"vault-a");
        let b = mk.subkeys(b"vault-b");
        assert_ne!(a.values.expose_secret(), a.names.expose_secret());
        assert_ne!(a.values.expose_secret(), a.audit.expose_secret());
        assert_ne!(a.values.expose_secret(), b.values.expose_secret());
    }

    #[test]
    fn debug_output_redacts() {
        let mk = MasterKey::generate();
        assert_eq!(format!("{mk:?}"), "MasterKey([REDACTED])");
    }

    proptest! {
        #[test]
        fn blind_index_is_deterministic_and_separates_scopes(
            p in "[a-z]{1,8}", e in "[a-z]{1,8}", n in "[A-Z_]{1,12}", other in "[A-Z_]{1,12}"
        ) {
            let mk = MasterKey::generate();
            let idx = mk.subkeys(b"v").index;
            prop_assert_eq!(idx.secret(&p, &e, &n), idx.secret(&p, &e, &n));
            if other != n {
                prop_assert_ne!(idx.secret(&p, &e, &n), idx.secret(&p, &e, &other));
            }
            // Moving a character between fields must change the tag (length prefixes).
            let joined = format!("{e}{n}");
            prop_assert_ne!(idx.secret(&p, &e, &n), idx.secret(&p, "", &joined));
            // Another master key gives unrelated tags.
            let other_idx = MasterKey::generate().subkeys(b"v").index;
            prop_assert_ne!(idx.secret(&p, &e, &n), other_idx.secret(&p, &e, &n));
        }
    }
}
