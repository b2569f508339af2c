//! Standard age files, for the age key slot and for `keep export --age` / `keep import FILE.age`.
//!
//! Everything goes through the `age` crate with X25519 recipients, so what keep writes is exactly what
//! the `age` CLI reads and the other way round. The plaintext is held in zeroizing buffers.

use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The first bytes of a binary age file.
pub const BINARY_HEADER: &[u8] = b"age-encryption.org/";
/// The first line of an ASCII-armored age file.
pub const ARMOR_HEADER: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";

/// Whether `bytes` look like an age file (binary or armored), for `keep import` to pick its reader.
pub fn is_age(bytes: &[u8]) -> bool {
    let trimmed = bytes.trim_ascii_start();
    trimmed.starts_with(BINARY_HEADER) || trimmed.starts_with(ARMOR_HEADER)
}

/// Parse an X25519 recipient (`age1...`).
pub fn recipient(text: &str) -> Result<age::x25519::Recipient> {
    age::x25519::Recipient::from_str(text.trim()).map_err(|e| {
        Error::Usage(format!(
            "{:?} is not an age X25519 recipient ({e}); it looks like age1... (see `age-keygen -y`)",
            text.trim()
        ))
    })
}

/// The recipients of an age recipients file (`age -R FILE`): one a line, blank lines and `#`
/// comments skipped. Each is checked by [`recipient`], which names the file's line on failure.
pub fn recipients_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::NotFound(format!("recipients file {} does not exist", path.display()))
        }
        _ => Error::io("read the recipients file", path, e),
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        HandOff::parse(line)
            .map_err(|e| Error::Usage(format!("{} line {}: {e}", path.display(), i + 1)))?;
        out.push(line.to_string());
    }
    if out.is_empty() {
        return Err(Error::Usage(format!(
            "recipients file {} lists no recipient",
            path.display()
        )));
    }
    Ok(out)
}

/// Read identities from an age identity file (as written by `age-keygen`).
pub fn identities(path: &Path) -> Result<Vec<Box<dyn age::Identity>>> {
    if !path.is_file() {
        return Err(Error::NotFound(format!(
            "age identity file {} does not exist",
            path.display()
        )));
    }
    let file = age::IdentityFile::from_file(path.to_string_lossy().into_owned())
        .map_err(|e| Error::io("read the age identity file", path, e))?;
    let ids = file.into_identities().map_err(|e| {
        Error::Usage(format!(
            "{} is not a usable age identity file ({e}); make one with age-keygen",
            path.display()
        ))
    })?;
    if ids.is_empty() {
        return Err(Error::Usage(format!(
            "{} holds no age identity",
            path.display()
        )));
    }
    Ok(ids)
}

/// Encrypt `plaintext` to `recipients`, optionally ASCII-armored.
pub fn encrypt(
    plaintext: &[u8],
    recipients: &[age::x25519::Recipient],
    armor: bool,
) -> Result<Vec<u8>> {
    let dyns: Vec<&dyn age::Recipient> = recipients
        .iter()
        .map(|r| r as &dyn age::Recipient)
        .collect();
    encrypt_to(plaintext, &dyns, armor)
}

/// A hand-off recipient, as the age CLI takes them: an age X25519 key, or an SSH public key
/// (`ssh-ed25519`, `ssh-rsa` of 2048 bits or more), so a colleague can decrypt with the key they
/// already have (`age -d -i ~/.ssh/id_ed25519`).
pub enum HandOff {
    X25519(age::x25519::Recipient),
    Ssh(age::ssh::Recipient),
}

impl HandOff {
    /// Parse one recipient line; the message says which forms are accepted.
    pub fn parse(text: &str) -> Result<HandOff> {
        let text = text.trim();
        if text.starts_with("ssh-") {
            return age::ssh::Recipient::from_str(text)
                .map(HandOff::Ssh)
                .map_err(|e| {
                    let why = match e {
                        age::ssh::ParseRecipientKeyError::RsaModulusTooSmall => {
                            "an ssh-rsa key under 2048 bits is too weak".to_string()
                        }
                        age::ssh::ParseRecipientKeyError::RsaModulusTooLarge => {
                            "the ssh-rsa key is larger than age supports".to_string()
                        }
                        age::ssh::ParseRecipientKeyError::Unsupported(kind) => {
                            format!("{kind} keys are not supported (use ssh-ed25519 or ssh-rsa)")
                        }
                        _ => "not a valid SSH public key".to_string(),
                    };
                    let kind = text.split_whitespace().next().unwrap_or_default();
                    Error::Usage(format!("the {kind} recipient is not usable: {why}"))
                });
        }
        recipient(text).map(HandOff::X25519).map_err(|_| {
            Error::Usage(format!(
                "{text:?} is not a recipient: give an age key (age1..., see `age-keygen -y`) or an \
                 SSH public key (ssh-ed25519 ... or ssh-rsa ...)"
            ))
        })
    }

    pub fn as_dyn(&self) -> &dyn age::Recipient {
        match self {
            HandOff::X25519(r) => r,
            HandOff::Ssh(r) => r,
        }
    }
}

/// Encrypt to any age recipients (X25519 or SSH).
pub fn encrypt_to(
    plaintext: &[u8],
    recipients: &[&dyn age::Recipient],
    armor: bool,
) -> Result<Vec<u8>> {
    let fail = |e: std::io::Error| Error::Io {
        context: "age encryption failed".into(),
        source: e,
    };
    let encryptor = age::Encryptor::with_recipients(recipients.iter().copied())
        .map_err(|e| Error::Usage(format!("cannot encrypt to these recipients: {e}")))?;
    let mut out = Vec::new();
    let format = if armor {
        age::armor::Format::AsciiArmor
    } else {
        age::armor::Format::Binary
    };
    let armored = age::armor::ArmoredWriter::wrap_output(&mut out, format).map_err(fail)?;
    let mut w = encryptor.wrap_output(armored).map_err(fail)?;
    w.write_all(plaintext).map_err(fail)?;
    w.finish().and_then(|a| a.finish()).map_err(fail)?;
    Ok(out)
}

/// Decrypt an age file (binary or armored). `Ok(None)` when none of `identities` opens it, so
/// callers can decide between "another slot" and "wrong identity" (exit 4).
pub fn decrypt(
    ciphertext: &[u8],
    identities: &[Box<dyn age::Identity>],
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let reader = age::armor::ArmoredReader::new(ciphertext);
    let decryptor = age::Decryptor::new(reader).map_err(|e| {
        Error::Integrity(format!(
            "not a readable age file ({e}); it is damaged or not age"
        ))
    })?;
    let mut stream = match decryptor.decrypt(identities.iter().map(|i| i.as_ref())) {
        Ok(s) => s,
        Err(age::DecryptError::NoMatchingKeys) => return Ok(None),
        Err(e) => {
            return Err(Error::Integrity(format!(
                "the age file failed to decrypt ({e}); it is damaged"
            )))
        }
    };
    let out = crate::value::read_wiping(&mut stream).map_err(|e| {
        Error::Integrity(format!(
            "the age file failed authentication while decrypting ({e}); it is damaged or truncated"
        ))
    })?;
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_armor_detection_and_wrong_identity() {
        let me = age::x25519::Identity::generate();
        let other = age::x25519::Identity::generate();
        for armor in [false, true] {
            let file = encrypt(b"payload", &[me.to_public()], armor).unwrap();
            assert!(is_age(&file));
            let mine: Vec<Box<dyn age::Identity>> = vec![Box::new(me.clone())];
            assert_eq!(&decrypt(&file, &mine).unwrap().unwrap()[..], b"payload");
            let theirs: Vec<Box<dyn age::Identity>> = vec![Box::new(other.clone())];
            assert!(decrypt(&file, &theirs).unwrap().is_none());
        }
        assert!(!is_age(b"KEY=value\n"));
        assert!(recipient("age1notarecipient").is_err());
    }
}
