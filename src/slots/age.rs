//! The age slot: the master key wrapped to an age X25519 recipient, opened with the matching
//! identity (`--identity FILE` or `KEEP_AGE_IDENTITY`).
//!
//! age has no associated data, so the slot does not age-encrypt the master key directly. It
//! age-encrypts a fresh random 32-byte key-encryption key (KEK), and seals the master key under that
//! KEK with XChaCha20-Poly1305 bound to the slot context (vault id, slot id, kind, parameters) like
//! every other slot. Stored blob: `u32 BE length || age file || sealed master key`.

use serde::{Deserialize, Serialize};

use super::{SlotContext, SlotUnwrapper, SlotWrapper, WrappedSlot};
use crate::agefile;
use crate::crypto::{self, random, MasterKey, KEY_LEN};
use crate::error::{Error, Result};
use crate::store::SlotRow;

pub const KIND: &str = "age";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotParams {
    recipient: String,
}

/// Makes an age slot for one recipient.
pub struct AgeRecipient {
    recipient: age::x25519::Recipient,
}

impl AgeRecipient {
    pub fn parse(text: &str) -> Result<AgeRecipient> {
        Ok(AgeRecipient {
            recipient: agefile::recipient(text)?,
        })
    }
}

impl SlotWrapper for AgeRecipient {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn wrap(&self, master: &MasterKey, ctx: &SlotContext<'_>) -> Result<WrappedSlot> {
        let params = serde_json::to_string(&SlotParams {
            recipient: self.recipient.to_string(),
        })
        .expect("slot params serialise");
        let kek = zeroize::Zeroizing::new(random::bytes::<KEY_LEN>());
        let file = agefile::encrypt(&kek[..], std::slice::from_ref(&self.recipient), false)?;
        let sealed = crypto::seal(&kek, &ctx.aad(KIND, &params), master.expose());
        let mut wrapped = Vec::with_capacity(4 + file.len() + sealed.len());
        wrapped.extend_from_slice(&(file.len() as u32).to_be_bytes());
        wrapped.extend_from_slice(&file);
        wrapped.extend_from_slice(&sealed);
        Ok(WrappedSlot { params, wrapped })
    }
}

/// Opens age slots with the identities of one identity file.
pub struct AgeIdentity {
    identities: Vec<Box<dyn age::Identity>>,
}

impl AgeIdentity {
    pub fn from_file(path: &std::path::Path) -> Result<AgeIdentity> {
        Ok(AgeIdentity {
            identities: agefile::identities(path)?,
        })
    }
}

impl SlotUnwrapper for AgeIdentity {
    fn unwrap(&self, slot: &SlotRow, ctx: &SlotContext<'_>) -> Result<Option<MasterKey>> {
        if slot.kind != KIND {
            return Ok(None);
        }
        let damaged = || Error::Integrity(format!("age key slot {} is damaged", slot.id));
        let blob = &slot.wrapped;
        let len = blob
            .first_chunk::<4>()
            .map(|b| u32::from_be_bytes(*b) as usize)
            .ok_or_else(damaged)?;
        let file = blob.get(4..4 + len).ok_or_else(damaged)?;
        let sealed = &blob[4 + len..];
        let Some(mut kek) = agefile::decrypt(file, &self.identities)? else {
            return Ok(None); // another recipient's slot
        };
        let kek_arr: [u8; KEY_LEN] = kek[..].try_into().map_err(|_| damaged())?;
        zeroize::Zeroize::zeroize(&mut kek[..]);
        let kek_arr = zeroize::Zeroizing::new(kek_arr);
        let opened = crypto::open(&kek_arr, &ctx.aad(KIND, &slot.params), sealed)
            .ok_or_else(|| {
                Error::Integrity(format!(
                    "age key slot {} failed authentication: it was edited or moved from another vault",
                    slot.id
                ))
            })?;
        let mut bytes = opened;
        Ok(MasterKey::from_bytes(&mut bytes[..]))
    }
}

/// `age1...`
pub fn describe(params: &str) -> String {
    serde_json::from_str::<SlotParams>(params)
        .map(|p| format!("recipient {}", p.recipient))
        .unwrap_or_else(|_| "unreadable parameters".into())
}

/// A wrapper for the recipient of the age slot with `params` (`keep rekey`): wrapping needs only
/// the public recipient, so the slot is re-made without its identity. `None` when unreadable.
pub fn rewrapper(params: &str) -> Option<AgeRecipient> {
    let p: SlotParams = serde_json::from_str(params).ok()?;
    AgeRecipient::parse(&p.recipient).ok()
}
