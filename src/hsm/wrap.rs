//! Wrapping the master key with a token key: AES-256-GCM with a random 96-bit IV and the slot's
//! context as AAD, or RFC 3394 AES key wrap for tokens without GCM.
//!
//! SoftHSM2 reports a GCM tag mismatch as CKR_GENERAL_ERROR rather than ENCRYPTED_DATA_INVALID, so
//! both (and a few neighbours) mean "this key did not make this blob": an integrity failure, which is
//! what a key replaced under the same label looks like.

use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use zeroize::Zeroizing;

use super::p11_error;
use super::token::Token;
use crate::error::{Error, Result};

/// GCM IV length (96 bits, as NIST SP 800-38D recommends).
pub const IV_LEN: usize = 12;
/// GCM tag length in bits.
pub const TAG_BITS: u64 = 128;

/// The CKM_AES_GCM mechanism with a 128-bit tag. (The token may write to the IV buffer, hence `mut`.)
fn gcm<'a>(iv: &'a mut [u8; IV_LEN], aad: &'a [u8]) -> Result<Mechanism<'a>> {
    GcmParams::new(iv, aad, TAG_BITS.into())
        .map(Mechanism::AesGcm)
        .map_err(|e| p11_error("set up AES-GCM", e))
}

/// Encrypt `plaintext` with AES-GCM in the token under `key`, binding `aad`.
pub fn gcm_encrypt(
    token: &Token,
    key: ObjectHandle,
    iv: &[u8; IV_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let mut iv = *iv;
    token
        .session
        .encrypt(&gcm(&mut iv, aad)?, key, plaintext)
        .map_err(|e| p11_error("wrap the master key (AES-GCM)", e))
}

/// Decrypt with AES-GCM in the token. A tag mismatch is an integrity failure (exit 5).
pub fn gcm_decrypt(
    token: &Token,
    key: ObjectHandle,
    iv: &[u8; IV_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let mut iv = *iv;
    token
        .session
        .decrypt(&gcm(&mut iv, aad)?, key, ciphertext)
        .map(Zeroizing::new)
        .map_err(|e| unwrap_error(e, "AES-GCM"))
}

/// RFC 3394 AES key wrap in the token (the fallback for tokens without GCM).
///
/// Tokens implement CKM_AES_KEY_WRAP for C_WrapKey, not C_Encrypt, so the master key is first made a
/// short-lived *session* object (never stored on the token), wrapped, and destroyed.
pub fn kw_encrypt(token: &Token, key: ObjectHandle, plaintext: &[u8]) -> Result<Vec<u8>> {
    let s = &token.session;
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Value(plaintext.to_vec()),
    ];
    let created = s.create_object(&template);
    // The template held a copy of the master key: wipe it before anything else can fail.
    for a in &mut template {
        if let Attribute::Value(v) = a {
            zeroize::Zeroize::zeroize(v);
        }
    }
    let temp = created.map_err(|e| p11_error("load the master key into a session object", e))?;
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, key, temp);
    let _ = s.destroy_object(temp);
    wrapped.map_err(|e| p11_error("wrap the master key (AES key wrap)", e))
}

/// Undo [`kw_encrypt`]: unwrap into a session object, read its value, destroy it. An integrity-check
/// failure is exit 5.
pub fn kw_decrypt(
    token: &Token,
    key: ObjectHandle,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let s = &token.session;
    let temp = s
        .unwrap_key(
            &Mechanism::AesKeyWrap,
            key,
            ciphertext,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::Token(false),
                Attribute::Private(true),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
            ],
        )
        .map_err(|e| unwrap_error(e, "AES key wrap"))?;
    let value = s.get_attributes(temp, &[AttributeType::Value]);
    let _ = s.destroy_object(temp);
    let value = value.map_err(|e| p11_error("read the unwrapped master key", e))?;
    value
        .into_iter()
        .find_map(|a| match a {
            Attribute::Value(v) => Some(Zeroizing::new(v)),
            _ => None,
        })
        .ok_or_else(|| Error::Integrity("the token returned no unwrapped key value".into()))
}

fn unwrap_error(e: P11Error, mech: &str) -> Error {
    match &e {
        P11Error::Pkcs11(
            RvError::GeneralError
            | RvError::EncryptedDataInvalid
            | RvError::EncryptedDataLenRange
            | RvError::DataInvalid
            | RvError::WrappedKeyInvalid
            | RvError::WrappedKeyLenRange,
            _,
        ) => Error::Integrity(format!(
            "the HSM key did not open this slot ({mech} authentication failed): the key on the \
             token was replaced (same label, different key) or the slot was tampered with. Open \
             the vault with another slot"
        )),
        _ => p11_error("unwrap the master key", e),
    }
}
