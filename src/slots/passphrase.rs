//! The passphrase slot: Argon2id turns the passphrase into a key-encryption key, which seals the master
//! key with XChaCha20-Poly1305.
//!
//! Defaults are RFC 9106's second recommended option (m = 64 MiB, t = 3, p = 1). The parameters and a
//! fresh 16-byte salt are stored per slot, in the clear and bound as associated data, so each slot can
//! have its own cost and raising the default later does not touch existing slots.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{SlotContext, SlotUnwrapper, SlotWrapper, WrappedSlot};
use crate::crypto::{self, random, MasterKey, KEY_LEN};
use crate::error::{Error, Result};
use crate::store::SlotRow;

pub const KIND: &str = "passphrase";

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
}

impl Default for KdfParams {
    /// RFC 9106 §4, second recommended option.
    fn default() -> Self {
        KdfParams {
            m_kib: 64 * 1024,
            t: 3,
            p: 1,
        }
    }
}

impl KdfParams {
    /// The most memory a slot may ask for: 4 GiB.
    pub const MAX_M_KIB: u32 = 4 * 1024 * 1024;
    /// The most iterations a slot may ask for.
    pub const MAX_T: u32 = 64;
    /// The most lanes a slot may ask for.
    pub const MAX_P: u32 = 16;

    /// Check the parameters against Argon2's limits and keep's own ceilings.
    ///
    /// The ceilings matter on the unwrap side: slot parameters are stored in the clear, and although
    /// editing them makes the unwrap fail (they are bound as AAD), the KDF runs *before* that check. An
    /// edited slot asking for a terabyte of memory must be refused, not allocated.
    pub fn validate(&self) -> Result<()> {
        if self.m_kib > Self::MAX_M_KIB || self.t > Self::MAX_T || self.p > Self::MAX_P {
            return Err(Error::Usage(format!(
                "Argon2id parameters out of range (memory {} KiB, iterations {}, parallelism {}; \
                 at most 4 GiB, {} iterations, {} lanes)",
                self.m_kib,
                self.t,
                self.p,
                Self::MAX_T,
                Self::MAX_P
            )));
        }
        Params::new(self.m_kib, self.t, self.p, Some(KEY_LEN))
            .map(|_| ())
            .map_err(|e| {
                Error::Usage(format!(
                "invalid Argon2id parameters (memory {} KiB, iterations {}, parallelism {}): {e}",
                self.m_kib, self.t, self.p
            ))
            })
    }

    /// Whether these are weaker than the default in memory or time.
    pub fn is_below_default(&self) -> bool {
        let d = KdfParams::default();
        self.m_kib < d.m_kib || self.t < d.t
    }

    fn derive(&self, passphrase: &SecretString, salt: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>> {
        let params = Params::new(self.m_kib, self.t, self.p, Some(KEY_LEN)).map_err(|e| {
            Error::Integrity(format!(
                "passphrase slot has invalid Argon2id parameters: {e}"
            ))
        })?;
        // The working memory is allocated here, fallibly: a slot may ask for up to MAX_M_KIB, and on
        // a machine that cannot provide it an infallible allocation aborts the process instead of
        // saying so. The blocks are wiped afterwards (they are derived from the passphrase).
        let mut memory: Zeroizing<Vec<Block>> = Zeroizing::new(Vec::new());
        memory
            .try_reserve_exact(params.block_count())
            .map_err(|_| {
                Error::Integrity(format!(
                    "this passphrase slot asks Argon2id for {} MiB of memory, which this machine \
                     cannot allocate; unlock with another slot, or on a machine with more memory",
                    self.m_kib / 1024
                ))
            })?;
        memory.resize(params.block_count(), Block::default());
        let mut kek = Zeroizing::new([0u8; KEY_LEN]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into_with_memory(
                passphrase.expose_secret().as_bytes(),
                salt,
                &mut kek[..],
                &mut memory[..],
            )
            .map_err(|e| Error::Integrity(format!("Argon2id failed: {e}")))?;
        Ok(kek)
    }
}

/// Public parameters of a passphrase slot, stored as JSON.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotParams {
    kdf: String,
    m_kib: u32,
    t: u32,
    p: u32,
    salt: String,
}

/// Wraps or unwraps with one passphrase.
pub struct Passphrase {
    passphrase: SecretString,
    kdf: KdfParams,
}

impl Passphrase {
    /// `kdf` is used when wrapping a new slot; unwrapping reads each slot's own parameters.
    pub fn new(passphrase: SecretString, kdf: KdfParams) -> Passphrase {
        Passphrase { passphrase, kdf }
    }
}

impl SlotWrapper for Passphrase {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn wrap(&self, master: &MasterKey, ctx: &SlotContext<'_>) -> Result<WrappedSlot> {
        if self.passphrase.expose_secret().is_empty() {
            return Err(Error::Usage(
                "the passphrase is empty; choose a non-empty passphrase".into(),
            ));
        }
        self.kdf.validate()?;
        let salt: [u8; 16] = random::bytes();
        let params = serde_json::to_string(&SlotParams {
            kdf: "argon2id".into(),
            m_kib: self.kdf.m_kib,
            t: self.kdf.t,
            p: self.kdf.p,
            salt: B64.encode(salt),
        })
        .expect("slot params serialise");
        let kek = self.kdf.derive(&self.passphrase, &salt)?;
        let wrapped = crypto::seal(&kek, &ctx.aad(KIND, &params), master.expose());
        Ok(WrappedSlot { params, wrapped })
    }
}

impl SlotUnwrapper for Passphrase {
    fn unwrap(&self, slot: &SlotRow, ctx: &SlotContext<'_>) -> Result<Option<MasterKey>> {
        if slot.kind != KIND {
            return Ok(None);
        }
        let params: SlotParams = super::parse_params(slot)?;
        let salt = super::decode_salt(slot, &params.salt)?;
        let kdf = KdfParams {
            m_kib: params.m_kib,
            t: params.t,
            p: params.p,
        };
        kdf.validate().map_err(|_| {
            Error::Integrity(format!(
                "key slot {} asks for out-of-range Argon2id parameters (memory {} KiB, {} iterations, \
                 {} lanes); it was edited or is damaged. Unlock with another slot",
                slot.id, kdf.m_kib, kdf.t, kdf.p
            ))
        })?;
        let kek = kdf.derive(&self.passphrase, &salt)?;
        // A failed open means another passphrase (or a tampered slot); another slot may still open.
        Ok(
            crypto::open(&kek, &ctx.aad(KIND, &slot.params), &slot.wrapped)
                .and_then(|mut bytes| MasterKey::from_bytes(&mut bytes[..])),
        )
    }
}

/// `argon2id m=64MiB t=3 p=1`
pub fn describe(params: &str) -> String {
    match serde_json::from_str::<SlotParams>(params) {
        Ok(p) if p.m_kib % 1024 == 0 => {
            format!("argon2id m={}MiB t={} p={}", p.m_kib / 1024, p.t, p.p)
        }
        Ok(p) => format!("argon2id m={}KiB t={} p={}", p.m_kib, p.t, p.p),
        Err(_) => "unreadable parameters".into(),
    }
}

/// Parse a memory size such as `64MiB`, `64M`, `512KiB` or `1GiB` into KiB. A bare number is MiB.
pub fn parse_memory(text: &str) -> Result<u32> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad_size(text))?;
    let kib = match unit.trim().to_ascii_lowercase().as_str() {
        "k" | "kib" | "kb" => n,
        "" | "m" | "mib" | "mb" => n * 1024,
        "g" | "gib" | "gb" => n * 1024 * 1024,
        _ => return Err(bad_size(text)),
    };
    u32::try_from(kib).map_err(|_| bad_size(text))
}

fn bad_size(text: &str) -> Error {
    Error::Usage(format!(
        "invalid memory size {text:?}: use e.g. 64MiB, 512KiB or 1GiB"
    ))
}

/// The KDF cost of the passphrase slot with `params`, so that a re-wrapped slot (`keep rekey`) keeps
/// the cost its owner chose. `None` when unreadable.
pub fn kdf_of(params: &str) -> Option<KdfParams> {
    let p: SlotParams = serde_json::from_str(params).ok()?;
    Some(KdfParams {
        m_kib: p.m_kib,
        t: p.t,
        p: p.p,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slots::{make_slot, open_any};

    const FAST: KdfParams = KdfParams {
        m_kib: 64,
        t: 1,
        p: 1,
    };

    fn pass(s: &str) -> Passphrase {
        Passphrase::new(SecretString::from(s.to_string()), FAST)
    }

    #[test]
    fn wrap_unwrap_and_wrong_passphrase() {
        let mk = MasterKey::generate();
        let slot = make_slot(&pass("right"), &mk, b"vault", 1).unwrap();
        let good: Vec<Box<dyn SlotUnwrapper>> = vec![Box::new(pass("right"))];
        let (opened, id) = open_any(std::slice::from_ref(&slot), &good, b"vault").unwrap();
        assert_eq!((opened.expose(), id), (mk.expose(), 1));
        let bad: Vec<Box<dyn SlotUnwrapper>> = vec![Box::new(pass("wrong"))];
        assert!(matches!(
            open_any(&[slot], &bad, b"vault"),
            Err(Error::Auth(_))
        ));
    }

    #[test]
    fn slot_is_bound_to_vault_id_and_params() {
        let mk = MasterKey::generate();
        let slot = make_slot(&pass("pw"), &mk, b"vault-a", 1).unwrap();
        let u: Vec<Box<dyn SlotUnwrapper>> = vec![Box::new(pass("pw"))];
        assert!(
            open_any(std::slice::from_ref(&slot), &u, b"vault-b").is_err(),
            "copied to another vault"
        );
        let mut moved = slot.clone();
        moved.id = 2;
        assert!(
            open_any(&[moved], &u, b"vault-a").is_err(),
            "renumbered slot"
        );
        let mut weakened = slot;
        weakened.params = weakened.params.replace("\"t\":1", "\"t\":2");
        assert!(
            open_any(&[weakened], &u, b"vault-a").is_err(),
            "edited parameters"
        );
    }

    #[test]
    fn an_edited_slot_cannot_demand_absurd_kdf_cost() {
        let mk = MasterKey::generate();
        let mut slot = make_slot(&pass("pw"), &mk, b"vault", 1).unwrap();
        slot.params = slot.params.replace("\"m_kib\":64", "\"m_kib\":4294967295");
        let u: Vec<Box<dyn SlotUnwrapper>> = vec![Box::new(pass("pw"))];
        let err = open_any(&[slot], &u, b"vault").expect_err("refused");
        assert!(matches!(err, Error::Integrity(_)), "{err}");
        assert!(KdfParams {
            m_kib: 8 * 1024 * 1024,
            t: 1,
            p: 1
        }
        .validate()
        .is_err());
        assert!(KdfParams::default().validate().is_ok());
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("64MiB").unwrap(), 65536);
        assert_eq!(parse_memory("64").unwrap(), 65536);
        assert_eq!(parse_memory("512KiB").unwrap(), 512);
        assert_eq!(parse_memory("1G").unwrap(), 1 << 20);
        assert!(parse_memory("lots").is_err());
        assert!(parse_memory("5TiB").is_err());
    }
}
