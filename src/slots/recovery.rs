//! The recovery slot: a high-entropy code shown once at `init` (or `slot add recovery`), meant to be
//! written on paper and locked away, that opens the vault when the passphrase is forgotten or the
//! token is lost.
//!
//! The code is 160 random bits written as 32 Crockford base32 characters in 8 groups of 4. With that
//! much entropy a slow KDF adds nothing, so the key-encryption key is HKDF-SHA256(code, salt =
//! per-slot random 16 bytes, info = `keep/v1/recovery`), and it seals the master key with
//! XChaCha20-Poly1305 bound to the slot context. Unlocking reads the code from
//! `KEEP_RECOVERY_KEY_FILE` (preferred) or `KEEP_RECOVERY_KEY`; case, spaces and dashes do not
//! matter, and the look-alikes I/L and O are read as 1 and 0.

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use hkdf::Hkdf;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{SlotContext, SlotUnwrapper, SlotWrapper, WrappedSlot};
use crate::crypto::{self, random, MasterKey, KEY_LEN};
use crate::error::{Error, Result};
use crate::store::SlotRow;

pub const KIND: &str = "recovery";
/// Random bytes in a code (160 bits).
pub const CODE_BYTES: usize = 20;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotParams {
    kdf: String,
    salt: String,
}

/// A recovery code.
pub struct RecoveryCode(Zeroizing<[u8; CODE_BYTES]>);

impl RecoveryCode {
    pub fn generate() -> RecoveryCode {
        RecoveryCode(Zeroizing::new(random::bytes()))
    }

    /// Parse a code as typed from paper.
    pub fn parse(text: &SecretString) -> Result<RecoveryCode> {
        let bad = || {
            Error::Usage(
                "the recovery key is malformed: expected 32 characters of 0-9 and A-Z in groups \
                 of 4, as printed at init"
                    .into(),
            )
        };
        let mut bits: u64 = 0;
        let mut nbits = 0;
        let mut out = Zeroizing::new([0u8; CODE_BYTES]);
        let mut n = 0;
        for c in text.expose_secret().chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let c = match c.to_ascii_uppercase() {
                'I' | 'L' => '1',
                'O' => '0',
                c => c,
            };
            let v = ALPHABET
                .iter()
                .position(|&a| a as char == c)
                .ok_or_else(bad)? as u64;
            bits = (bits << 5) | v;
            nbits += 5;
            if nbits >= 8 {
                nbits -= 8;
                if n == CODE_BYTES {
                    return Err(bad());
                }
                out[n] = (bits >> nbits) as u8;
                n += 1;
            }
        }
        if n != CODE_BYTES || nbits != 0 {
            return Err(bad());
        }
        Ok(RecoveryCode(out))
    }

    /// `ABCD-EFGH-...`, 8 groups of 4.
    pub fn display(&self) -> Zeroizing<String> {
        // Both strings get their final size up front: a growing String would leave its earlier,
        // unwiped buffers (prefixes of the code) in freed memory.
        const CHARS: usize = CODE_BYTES * 8 / 5;
        let mut chars = Zeroizing::new(String::with_capacity(CHARS));
        let mut bits: u64 = 0;
        let mut nbits = 0;
        for &b in self.0.iter() {
            bits = (bits << 8) | u64::from(b);
            nbits += 8;
            while nbits >= 5 {
                nbits -= 5;
                chars.push(ALPHABET[((bits >> nbits) & 31) as usize] as char);
            }
        }
        let mut out = Zeroizing::new(String::with_capacity(CHARS + CHARS / 4));
        for (i, c) in chars.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            out.push(c);
        }
        out
    }

    fn kek(&self, salt: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
        let hk = Hkdf::<Sha256>::new(Some(salt), &self.0[..]);
        let mut kek = Zeroizing::new([0u8; KEY_LEN]);
        hk.expand(b"keep/v1/recovery", &mut kek[..])
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        kek
    }
}

impl SlotWrapper for RecoveryCode {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn wrap(&self, master: &MasterKey, ctx: &SlotContext<'_>) -> Result<WrappedSlot> {
        let salt: [u8; 16] = random::bytes();
        let params = serde_json::to_string(&SlotParams {
            kdf: "hkdf-sha256".into(),
            salt: B64.encode(salt),
        })
        .expect("slot params serialise");
        let wrapped = crypto::seal(&self.kek(&salt), &ctx.aad(KIND, &params), master.expose());
        Ok(WrappedSlot { params, wrapped })
    }
}

impl SlotUnwrapper for RecoveryCode {
    fn unwrap(&self, slot: &SlotRow, ctx: &SlotContext<'_>) -> Result<Option<MasterKey>> {
        if slot.kind != KIND {
            return Ok(None);
        }
        let params: SlotParams = super::parse_params(slot)?;
        let salt = super::decode_salt(slot, &params.salt)?;
        Ok(crypto::open(
            &self.kek(&salt),
            &ctx.aad(KIND, &slot.params),
            &slot.wrapped,
        )
        .and_then(|mut bytes| MasterKey::from_bytes(&mut bytes[..])))
    }
}

pub fn describe(_params: &str) -> String {
    "recovery code (160 bits, HKDF-SHA256)".into()
}

/// The code laid out for printing on paper, with instructions.
pub fn paper(code: &RecoveryCode, vault: &std::path::Path) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "\n  keep recovery key for {}\n\n      {}\n\n  Write it down and keep it offline. It opens the vault on its own:\n  \
         KEEP_RECOVERY_KEY_FILE=<file holding it> keep unlock\n  It is shown only this once.\n",
        vault.display(),
        code.display().as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_round_trips_through_paper_form() {
        let c = RecoveryCode::generate();
        let shown = c.display();
        assert_eq!(shown.len(), 32 + 7);
        let typed = SecretString::from(shown.to_lowercase().replace('-', " ").replace('1', "l"));
        let back = RecoveryCode::parse(&typed).unwrap();
        assert_eq!(&back.0[..], &c.0[..]);
        assert!(RecoveryCode::parse(&SecretString::from("ABCD".to_string())).is_err());
    }
}
