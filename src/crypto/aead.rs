//! XChaCha20-Poly1305 sealing with explicit associated data.
//!
//! A sealed blob is `nonce (24 bytes) || ciphertext || tag (16 bytes)`. The nonce is fresh from the OS
//! RNG for every seal; XChaCha's 192-bit nonce makes random nonces safe for any number of messages.
//!
//! The associated data is never stored: the reader rebuilds it from where it found the blob (vault id,
//! record id, version, purpose). A blob copied to another row, version, vault or purpose therefore fails
//! to open. That is what makes swapping ciphertexts between rows detectable.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use super::keys::KEY_LEN;
use super::random;

/// Nonce length of XChaCha20-Poly1305.
pub const NONCE_LEN: usize = 24;
/// Authentication tag length.
pub const TAG_LEN: usize = 16;

/// Associated data: a purpose label followed by length-prefixed context fields.
///
/// Length prefixes keep field boundaries unambiguous, so no two different contexts encode to the same
/// bytes.
#[derive(Clone, Debug)]
pub struct Aad(Vec<u8>);

impl Aad {
    /// Start associated data for a purpose such as `keep/v1/value`.
    pub fn new(purpose: &str) -> Aad {
        let mut aad = Aad(Vec::with_capacity(96));
        aad = aad.bytes(purpose.as_bytes());
        aad
    }

    /// Append a byte field.
    pub fn bytes(mut self, field: &[u8]) -> Aad {
        self.0
            .extend_from_slice(&(field.len() as u32).to_be_bytes());
        self.0.extend_from_slice(field);
        self
    }

    /// Append an integer field (8 bytes, big-endian).
    pub fn u64(self, n: u64) -> Aad {
        self.bytes(&n.to_be_bytes())
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Seal `plaintext` under `key`, binding `aad`.
pub fn seal(key: &[u8; KEY_LEN], aad: &Aad, plaintext: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let nonce: [u8; NONCE_LEN] = random::bytes();
    let ct = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: aad.as_bytes(),
            },
        )
        .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Open a blob made by [`seal`]. `None` means it is truncated, was made under another key, or its
/// associated data does not match: the caller decides which record to name in the error.
pub fn open(key: &[u8; KEY_LEN], aad: &Aad, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ct,
                aad: aad.as_bytes(),
            },
        )
        .ok()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(b: u8) -> [u8; KEY_LEN] {
        [b; KEY_LEN]
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(msg in proptest::collection::vec(any::<u8>(), 0..512), id in any::<u64>()) {
            let aad = Aad::new("keep/v1/value").bytes(b"vault").u64(id);
            let sealed = seal(&key(7), &aad, &msg);
            prop_assert_eq!(sealed.len(), msg.len() + NONCE_LEN + TAG_LEN);
            let opened = open(&key(7), &aad, &sealed).expect("opens");
            prop_assert_eq!(&opened[..], &msg[..]);
        }

        #[test]
        fn any_change_fails(msg in proptest::collection::vec(any::<u8>(), 1..128),
                            id in 0u64..1000, flip in any::<usize>(), bit in 0u8..8) {
            let aad = Aad::new("keep/v1/value").bytes(b"vault").u64(id);
            let sealed = seal(&key(1), &aad, &msg);
            // Another record id, another purpose, another key: all refused.
            prop_assert!(open(&key(1), &Aad::new("keep/v1/value").bytes(b"vault").u64(id + 1), &sealed).is_none());
            prop_assert!(open(&key(1), &Aad::new("keep/v1/name").bytes(b"vault").u64(id), &sealed).is_none());
            prop_assert!(open(&key(2), &aad, &sealed).is_none());
            // Any flipped bit anywhere in the blob: refused.
            let mut tampered = sealed.clone();
            let i = flip % tampered.len();
            tampered[i] ^= 1 << bit;
            prop_assert!(open(&key(1), &aad, &tampered).is_none());
            // Truncation: refused.
            prop_assert!(open(&key(1), &aad, &sealed[..sealed.len() - 1]).is_none());
        }
    }

    #[test]
    fn nonces_are_fresh() {
        let aad = Aad::new("t");
        assert_ne!(seal(&key(0), &aad, b"same"), seal(&key(0), &aad, b"same"));
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        assert_ne!(
            Aad::new("a").bytes(b"bc").as_bytes(),
            Aad::new("ab").bytes(b"c").as_bytes()
        );
    }
}
