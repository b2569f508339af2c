//! Wrapping keys on a token: finding them by label, reading the attributes that make them safe,
//! listing them, and generating one with the safe template.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use serde::Serialize;

use super::p11_error;
use super::token::Token;
use crate::error::{Error, Result};

/// The attributes that decide whether a wrapping key may hold a vault's master key.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct KeyFlags {
    pub sensitive: bool,
    pub extractable: bool,
    pub private: bool,
    pub local: bool,
}

impl KeyFlags {
    /// The reasons this key is weak, empty when it is safe.
    pub fn weaknesses(&self) -> Vec<&'static str> {
        let mut w = Vec::new();
        if !self.sensitive {
            w.push("not sensitive (CKA_SENSITIVE false: its value can be read out)");
        }
        if self.extractable {
            w.push("extractable (CKA_EXTRACTABLE true: it can be wrapped off the token)");
        }
        if !self.private {
            w.push("not private (CKA_PRIVATE false: usable without logging in)");
        }
        w
    }
}

/// A secret key on a token, as `keep hsm keys` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct KeyInfo {
    pub label: String,
    /// CKA_ID in hex.
    pub id: String,
    pub key_type: String,
    #[serde(flatten)]
    pub flags: KeyFlags,
    #[serde(skip)]
    pub handle: Option<ObjectHandle>,
}

/// Read one key's public facts.
pub fn info(token: &Token, handle: ObjectHandle) -> Result<KeyInfo> {
    let attrs = token
        .session
        .get_attributes(
            handle,
            &[
                AttributeType::Label,
                AttributeType::Id,
                AttributeType::KeyType,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::Private,
                AttributeType::Local,
            ],
        )
        .map_err(|e| p11_error("read the key's attributes", e))?;
    let mut k = KeyInfo {
        label: String::new(),
        id: String::new(),
        key_type: "unknown".into(),
        flags: KeyFlags::default(),
        handle: Some(handle),
    };
    for a in attrs {
        match a {
            Attribute::Label(l) => k.label = String::from_utf8_lossy(&l).into_owned(),
            Attribute::Id(id) => k.id = id.iter().map(|b| format!("{b:02x}")).collect(),
            Attribute::KeyType(t) => {
                let t = t.to_string();
                k.key_type = t.strip_prefix("CKK_").unwrap_or(&t).to_string();
            }
            Attribute::Sensitive(b) => k.flags.sensitive = b,
            Attribute::Extractable(b) => k.flags.extractable = b,
            Attribute::Private(b) => k.flags.private = b,
            Attribute::Local(b) => k.flags.local = b,
            _ => {}
        }
    }
    Ok(k)
}

/// Every secret key visible in the session.
pub fn list(token: &Token) -> Result<Vec<KeyInfo>> {
    let handles = token
        .session
        .find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])
        .map_err(|e| p11_error("list the keys", e))?;
    handles.into_iter().map(|h| info(token, h)).collect()
}

/// The secret key labelled `label` (and with CKA_ID `id`, when one is recorded). Missing is exit 3;
/// several keys with one label and no id to choose is a usage error.
pub fn find(token: &Token, label: &str, id: Option<&str>) -> Result<KeyInfo> {
    let handles = token
        .session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(|e| p11_error("look up the key", e))?;
    let mut keys = handles
        .into_iter()
        .map(|h| info(token, h))
        .collect::<Result<Vec<_>>>()?;
    if let Some(id) = id.filter(|i| !i.is_empty()) {
        keys.retain(|k| k.id == id);
    }
    match keys.len() {
        0 => Err(Error::NotFound(format!(
            "no secret key labelled {label:?} on token {:?}; it was deleted or never created \
             (`keep hsm keys` lists the keys; `--generate` creates one). Open the vault with \
             another slot",
            token.label
        ))),
        1 => Ok(keys.remove(0)),
        n => Err(Error::Usage(format!(
            "{n} secret keys are labelled {label:?} on token {:?}; give each a distinct label",
            token.label
        ))),
    }
}

/// Refuse a weak key, or with `allow_weak` accept it with a warning (every time: security teams
/// rely on seeing it).
pub fn check(key: &KeyInfo, allow_weak: bool) -> Result<()> {
    let weak = key.flags.weaknesses();
    if weak.is_empty() {
        return Ok(());
    }
    let what = format!("HSM key {:?} is {}", key.label, weak.join(", "));
    if allow_weak {
        eprintln!("warning: {what}; accepted because the slot was made with --allow-weak-key");
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{what}. keep refuses such a key: make one with `keep hsm keygen` (sensitive, private, \
             not extractable), or accept the risk with --allow-weak-key"
        )))
    }
}

/// Generate an AES-256 wrapping key with the safe template: on the token, private, sensitive, not
/// extractable, usable only to encrypt/decrypt and wrap/unwrap.
pub fn generate(token: &Token, label: &str, id: &[u8]) -> Result<KeyInfo> {
    if find(token, label, None).is_ok() {
        return Err(Error::Usage(format!(
            "a key labelled {label:?} already exists on token {:?}; choose another label, or \
             drop --generate to use it",
            token.label
        )));
    }
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(32.into()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(true),
        Attribute::Unwrap(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ];
    let handle = token
        .session
        .generate_key(&Mechanism::AesKeyGen, &template)
        .map_err(|e| p11_error("generate the key", e))?;
    info(token, handle)
}
