//! Cryptographic building blocks, all from RustCrypto crates: the master key and the subkeys derived
//! from it, the AEAD that seals every stored value and name, and the keyed blind index used for lookups.
//!
//! Nothing here invents a primitive. The only thing keep decides is *what* goes into the associated data
//! and the HKDF labels, and those choices are written down in SECURITY.md ("On-disk format").

pub mod aead;
pub mod keys;
pub mod random;

pub use aead::{open, seal, Aad, NONCE_LEN, TAG_LEN};
pub use keys::{BlindIndex, MasterKey, Subkeys, KEY_LEN};
