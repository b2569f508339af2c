//! The HSM slot: the master key wrapped *by a PKCS#11 token* under an AES-256 key that never leaves
//! it.
//!
//! Stored parameters (JSON, bound as AAD together with vault id, slot id and kind): the module path
//! used at creation, the token label and serial, the key label and CKA_ID, the mechanism (`aes-gcm`
//! or `aes-key-wrap`), the 96-bit GCM IV, and whether the slot was made with `--allow-weak-key`. The
//! wrapped blob is the GCM ciphertext with its 16-byte tag.
//!
//! The module path is only a hint for error messages: it is never loaded (src/hsm/module.rs). Slots
//! made since format 4 say so with `module_is_hint`, and their AAD covers the parameters with the
//! module blanked ([`bound_params`]), so a vault moved to a machine where the module lives elsewhere,
//! or an edited hint, still opens. Older slots bound the full text and keep doing so.
//!
//! On every open the key's attributes are checked again: a key that became (or was replaced by one
//! that is) extractable, not sensitive or not private is refused, or accepted with a warning when the
//! slot records `--allow-weak-key`.

use std::path::PathBuf;

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use cryptoki::mechanism::MechanismType;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{SlotContext, SlotUnwrapper, SlotWrapper, WrappedSlot};
use crate::crypto::{random, MasterKey};
use crate::error::{Error, Result};
use crate::hsm::{keys, wrap, Token, TokenSelector};
use crate::store::SlotRow;

pub const KIND: &str = "hsm";

/// How the token wraps the master key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mech {
    /// CKM_AES_GCM with a random 96-bit IV and the slot context as AAD (preferred).
    AesGcm,
    /// CKM_AES_KEY_WRAP (RFC 3394), for tokens without GCM. No AAD: the vault header MAC still
    /// rejects a master key from another vault.
    AesKeyWrap,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotParams {
    module: PathBuf,
    token: TokenSelector,
    key: String,
    key_id: String,
    mech: Mech,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    iv: Option<String>,
    allow_weak_key: bool,
    /// Set on slots made since format 4: `module` is left out of the bound parameters.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    module_is_hint: bool,
}

/// The parameters as the slot-row MAC covers them: with the module path blanked, whatever
/// `module_is_hint` says (the MAC is new in format 4, and the path is never used). Serialised from the
/// typed struct, so the text does not depend on JSON map ordering. `None` when unreadable.
pub fn mac_params(params: &str) -> Option<String> {
    let mut p: SlotParams = serde_json::from_str(params).ok()?;
    p.module = PathBuf::new();
    Some(serde_json::to_string(&p).expect("slot params serialise"))
}

/// The parameters as authenticated by the GCM wrap's AAD: the stored text,
/// or for a slot with `module_is_hint` the same parameters with the module path blanked. `None`
/// when the text is not readable parameters.
pub fn bound_params(params: &str) -> Option<String> {
    let mut p: SlotParams = serde_json::from_str(params).ok()?;
    if !p.module_is_hint {
        return Some(params.to_string());
    }
    p.module = PathBuf::new();
    Some(serde_json::to_string(&p).expect("slot params serialise"))
}

/// How to reach the token and key.
#[derive(Clone, Debug)]
pub struct HsmTarget {
    /// `--module`; `None` means discovery.
    pub module: Option<PathBuf>,
    pub token: TokenSelector,
    pub key: String,
}

/// Makes an HSM slot.
pub struct HsmWrapper {
    pub target: HsmTarget,
    pub pin: SecretString,
    /// Create the key first (`--generate`).
    pub generate: bool,
    pub allow_weak_key: bool,
    /// Force a mechanism; `None` picks GCM when the token has it.
    pub mech: Option<Mech>,
}

impl SlotWrapper for HsmWrapper {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn wrap(&self, master: &MasterKey, ctx: &SlotContext<'_>) -> Result<WrappedSlot> {
        let t = &self.target;
        let token = Token::open(t.module.as_deref(), None, &t.token, Some(&self.pin), true)?;
        let key = if self.generate {
            let id: [u8; 8] = random::bytes();
            keys::generate(&token, &t.key, &id)?
        } else {
            keys::find(&token, &t.key, None)?
        };
        keys::check(&key, self.allow_weak_key)?;
        let handle = key.handle.expect("a found key has a handle");
        let mech = match self.mech {
            Some(m) => m,
            None if token.has_mechanism(MechanismType::AES_GCM)? => Mech::AesGcm,
            None => Mech::AesKeyWrap,
        };
        let iv: [u8; wrap::IV_LEN] = random::bytes();
        let params = serde_json::to_string(&SlotParams {
            module: token.module.path.clone(),
            token: TokenSelector {
                label: Some(token.label.clone()),
                serial: Some(token.serial.clone()),
            },
            key: key.label.clone(),
            key_id: key.id.clone(),
            mech,
            iv: (mech == Mech::AesGcm).then(|| B64.encode(iv)),
            allow_weak_key: self.allow_weak_key,
            module_is_hint: true,
        })
        .expect("slot params serialise");
        let bound = bound_params(&params).expect("own params parse");
        let wrapped = match mech {
            Mech::AesGcm => wrap::gcm_encrypt(
                &token,
                handle,
                &iv,
                ctx.aad(KIND, &bound).as_bytes(),
                master.expose(),
            )?,
            Mech::AesKeyWrap => wrap::kw_encrypt(&token, handle, master.expose())?,
        };
        Ok(WrappedSlot { params, wrapped })
    }
}

/// Opens HSM slots with a user PIN.
pub struct HsmPin {
    pub pin: SecretString,
}

impl SlotUnwrapper for HsmPin {
    fn unwrap(&self, slot: &SlotRow, ctx: &SlotContext<'_>) -> Result<Option<MasterKey>> {
        if slot.kind != KIND {
            return Ok(None);
        }
        let p: SlotParams = serde_json::from_str(&slot.params).map_err(|_| {
            Error::Integrity(format!(
                "HSM key slot {} has unreadable parameters",
                slot.id
            ))
        })?;
        crate::hsm::retry_if_session_lost(|| self.unwrap_with(&p, slot, ctx))
    }
}

impl HsmPin {
    /// One attempt: open a session, find the key, unwrap.
    fn unwrap_with(
        &self,
        p: &SlotParams,
        slot: &SlotRow,
        ctx: &SlotContext<'_>,
    ) -> Result<Option<MasterKey>> {
        let token = Token::open(None, Some(&p.module), &p.token, Some(&self.pin), false)?;
        // The recorded module is a hint for the error only (never loaded: src/hsm/module.rs).
        // By label only: a key replaced under the same label must fail on the GCM tag (exit 5),
        // not pass as "not found".
        let key = keys::find(&token, &p.key, None)?;
        keys::check(&key, p.allow_weak_key)?;
        let handle = key.handle.expect("a found key has a handle");
        let mut bytes = match p.mech {
            Mech::AesGcm => {
                let iv = p
                    .iv
                    .as_deref()
                    .and_then(|s| B64.decode(s).ok())
                    .and_then(|v| <[u8; wrap::IV_LEN]>::try_from(v).ok())
                    .ok_or_else(|| {
                        Error::Integrity(format!("HSM key slot {} has an unreadable IV", slot.id))
                    })?;
                let bound = bound_params(&slot.params).ok_or_else(|| {
                    Error::Integrity(format!(
                        "HSM key slot {} has unreadable parameters",
                        slot.id
                    ))
                })?;
                wrap::gcm_decrypt(
                    &token,
                    handle,
                    &iv,
                    ctx.aad(KIND, &bound).as_bytes(),
                    &slot.wrapped,
                )?
            }
            Mech::AesKeyWrap => wrap::kw_decrypt(&token, handle, &slot.wrapped)?,
        };
        MasterKey::from_bytes(&mut bytes[..])
            .map(Some)
            .ok_or_else(|| {
                Error::Integrity(format!(
                    "HSM key slot {} unwrapped to a key of the wrong length",
                    slot.id
                ))
            })
    }
}

/// `token "keep" key "vault-key" (aes-gcm)`
pub fn describe(params: &str) -> String {
    match serde_json::from_str::<SlotParams>(params) {
        Ok(p) => format!(
            "token {:?} key {:?} ({}){}",
            p.token.label.unwrap_or_default(),
            p.key,
            match p.mech {
                Mech::AesGcm => "aes-gcm",
                Mech::AesKeyWrap => "aes-key-wrap",
            },
            if p.allow_weak_key {
                ", weak key allowed"
            } else {
                ""
            }
        ),
        Err(_) => "unreadable parameters".into(),
    }
}

/// A wrapper that makes a new slot on the same token and key as the HSM slot with `params`
/// (`keep rekey`): the token wraps with its key, so only the PIN is needed, not the old wrapped key.
/// The module is found as for any open (never from the stored path). `None` when the parameters
/// are unreadable.
pub fn rewrapper(params: &str, pin: SecretString) -> Option<HsmWrapper> {
    let p: SlotParams = serde_json::from_str(params).ok()?;
    Some(HsmWrapper {
        target: HsmTarget {
            module: None,
            token: p.token,
            key: p.key,
        },
        pin,
        generate: false,
        allow_weak_key: p.allow_weak_key,
        mech: Some(p.mech),
    })
}
