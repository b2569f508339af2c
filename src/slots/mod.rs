//! Key slots: independent ways to recover the one master key, modelled on LUKS.
//!
//! Each slot stores the master key wrapped under something the user holds: a passphrase (this file's
//! sibling `passphrase.rs`), and in later modules an HSM key, an age identity or a recovery code.
//! Adding, changing or removing a slot rewraps only that slot; the data is never re-encrypted.
//!
//! The shape follows age's `Recipient`/`Identity` pair: a [`SlotWrapper`] makes a slot, a
//! [`SlotUnwrapper`] tries to open one. A failed unwrap is *not* an error in itself: a vault can hold
//! several slots and the credential in hand may simply belong to another one, so callers try every
//! slot and only report a failure when none opened.

pub mod age;
pub mod hsm;
pub mod passphrase;
pub mod recovery;

use std::time::{SystemTime, UNIX_EPOCH};

use secrecy::ExposeSecret;

use crate::crypto::keys::{hmac_parts, hmac_parts_verify};
use crate::crypto::{Aad, MasterKey, KEY_LEN};
use crate::error::{Error, Result};
use crate::store::SlotRow;

/// What a slot binds as associated data besides its own kind and parameters.
#[derive(Clone, Copy, Debug)]
pub struct SlotContext<'a> {
    pub vault_id: &'a [u8],
    pub slot_id: u32,
}

impl SlotContext<'_> {
    /// The associated data of a slot: vault id, slot id, kind and public parameters. Editing any of
    /// them (for instance lowering the KDF cost, or moving the slot to another vault) breaks the unwrap.
    pub fn aad(&self, kind: &str, params: &str) -> Aad {
        Aad::new("keep/v1/slot")
            .bytes(self.vault_id)
            .u64(u64::from(self.slot_id))
            .bytes(kind.as_bytes())
            .bytes(params.as_bytes())
    }
}

/// A new slot's stored form.
pub struct WrappedSlot {
    /// Public, kind-specific parameters as JSON.
    pub params: String,
    /// The wrapped master key.
    pub wrapped: Vec<u8>,
}

/// Makes a slot: wraps the master key under a credential (age's `Recipient`).
pub trait SlotWrapper {
    /// The slot kind, stored in the clear: `passphrase`, `hsm`, `age`, `recovery`.
    fn kind(&self) -> &'static str;
    /// Wrap `master` for the slot described by `ctx`.
    fn wrap(&self, master: &MasterKey, ctx: &SlotContext<'_>) -> Result<WrappedSlot>;
}

/// Tries to open slots with a credential in hand (age's `Identity`).
pub trait SlotUnwrapper {
    /// Open `slot`, or `Ok(None)` when this credential does not open it (another kind, another
    /// passphrase). `Err` is for failures that need the user's attention even if another slot opens
    /// later, such as an HSM that cannot be reached.
    fn unwrap(&self, slot: &SlotRow, ctx: &SlotContext<'_>) -> Result<Option<MasterKey>>;
}

/// Build a slot row from a wrapper, ready to insert.
pub fn make_slot(
    wrapper: &dyn SlotWrapper,
    master: &MasterKey,
    vault_id: &[u8],
    slot_id: u32,
) -> Result<SlotRow> {
    let ctx = SlotContext { vault_id, slot_id };
    let WrappedSlot { params, wrapped } = wrapper.wrap(master, &ctx)?;
    let mut row = SlotRow {
        id: slot_id,
        kind: wrapper.kind().to_string(),
        params,
        wrapped,
        created: now_secs(),
        mac: None,
    };
    let keys = master.subkeys(vault_id);
    row.mac = Some(row_mac(keys.records.expose_secret(), vault_id, &row).to_vec());
    Ok(row)
}

/// The MAC of a whole slot row under the records key: vault id, slot id, kind, parameters, wrapped
/// key and creation time (format 4).
///
/// The AEAD of the passphrase, recovery, age and GCM slots already binds their parameters, but an
/// AES key-wrap HSM slot has no associated data at all, and no slot bound its `created` time. This MAC
/// is checked right after a slot opens, before the key it gave is used for anything, and for every
/// slot by `keep verify`. An HSM slot's module path is left out (it is only a hint, never loaded).
pub fn row_mac(records_key: &[u8; KEY_LEN], vault_id: &[u8], slot: &SlotRow) -> [u8; 32] {
    let params = mac_params(slot);
    let parts = mac_parts(vault_id, slot, &params);
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    hmac_parts(records_key, &parts)
}

/// The parameters as the row MAC covers them: an HSM slot's without its module path.
fn mac_params(slot: &SlotRow) -> String {
    if slot.kind == hsm::KIND {
        if let Some(p) = hsm::mac_params(&slot.params) {
            return p;
        }
    }
    slot.params.clone()
}

fn mac_parts<'a>(vault_id: &'a [u8], slot: &'a SlotRow, params: &'a str) -> [Vec<u8>; 7] {
    [
        b"keep/v2/slot".to_vec(),
        vault_id.to_vec(),
        slot.id.to_be_bytes().to_vec(),
        slot.kind.as_bytes().to_vec(),
        params.as_bytes().to_vec(),
        slot.wrapped.clone(),
        slot.created.to_be_bytes().to_vec(),
    ]
}

/// Check a slot row's MAC; an integrity failure naming the slot when it is missing or wrong.
pub fn check_row_mac(records_key: &[u8; KEY_LEN], vault_id: &[u8], slot: &SlotRow) -> Result<()> {
    let params = mac_params(slot);
    let parts = mac_parts(vault_id, slot, &params);
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let ok = slot
        .mac
        .as_deref()
        .is_some_and(|tag| hmac_parts_verify(records_key, &parts, tag));
    if ok {
        Ok(())
    } else {
        Err(Error::Integrity(format!(
            "key slot {} ({}) failed authentication: its row (parameters, wrapped key or date) was \
             edited, or copied from elsewhere. Nothing was unlocked with it; remove it with \
             `keep slot rm {}` after opening the vault with another slot",
            slot.id, slot.kind, slot.id
        )))
    }
}

/// Try every unwrapper on every slot; the first that opens wins.
///
/// When nothing opens, a hard error from an unwrapper (an unreachable token, say) is more useful to the
/// user than "wrong passphrase", so it is returned in preference.
pub fn open_any(
    slots: &[SlotRow],
    unwrappers: &[Box<dyn SlotUnwrapper>],
    vault_id: &[u8],
) -> Result<(MasterKey, u32)> {
    let mut hard_error = None;
    for unwrapper in unwrappers {
        for slot in slots {
            let ctx = SlotContext {
                vault_id,
                slot_id: slot.id,
            };
            match unwrapper.unwrap(slot, &ctx) {
                Ok(Some(key)) => return Ok((key, slot.id)),
                Ok(None) => {}
                Err(e) => hard_error = hard_error.or(Some(e)),
            }
        }
    }
    Err(hard_error.unwrap_or_else(|| {
        Error::Auth(
            "no key slot opened with the credential given (wrong passphrase?); try again, \
             or unlock with another slot (`keep slot ls` lists them)"
                .to_string(),
        )
    }))
}

/// A one-line description of a slot's public parameters, for `keep slot ls`.
pub fn describe(slot: &SlotRow) -> String {
    match slot.kind.as_str() {
        passphrase::KIND => passphrase::describe(&slot.params),
        hsm::KIND => hsm::describe(&slot.params),
        age::KIND => age::describe(&slot.params),
        recovery::KIND => recovery::describe(&slot.params),
        _ => String::new(),
    }
}

/// A slot's JSON parameters; unreadable ones are an integrity failure naming the slot.
pub(crate) fn parse_params<T: serde::de::DeserializeOwned>(slot: &SlotRow) -> Result<T> {
    serde_json::from_str(&slot.params)
        .map_err(|_| Error::Integrity(format!("key slot {} has unreadable parameters", slot.id)))
}

/// A base64 salt from a slot's parameters.
pub(crate) fn decode_salt(slot: &SlotRow, salt: &str) -> Result<Vec<u8>> {
    use base64::{engine::general_purpose::STANDARD as B64, Engine};
    B64.decode(salt)
        .map_err(|_| Error::Integrity(format!("key slot {} has an unreadable salt", slot.id)))
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
