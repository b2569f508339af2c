//! `SecretValue`: a secret's bytes, zeroized on drop and never shown by `Debug`.

use secrecy::{ExposeSecret, SecretSlice};

use crate::error::{Error, Result};

/// A secret value. Values are bytes; most are UTF-8 text.
pub struct SecretValue(SecretSlice<u8>);

impl SecretValue {
    /// Take ownership of `bytes`; they are wiped when the value is dropped.
    pub fn new(bytes: Vec<u8>) -> SecretValue {
        SecretValue(SecretSlice::from(bytes))
    }

    /// The raw bytes. Each call site that exposes a value is a place a reviewer should look at.
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// The value as text, or a usage error naming `what` (never the value) if it is not UTF-8.
    pub fn expose_str(&self, what: &str) -> Result<&str> {
        std::str::from_utf8(self.expose())
            .map_err(|_| Error::Usage(format!("{what} is binary, not UTF-8 text")))
    }

    pub fn len(&self) -> usize {
        self.expose().len()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl Clone for SecretValue {
    fn clone(&self) -> Self {
        SecretValue::new(self.expose().to_vec())
    }
}

impl From<&str> for SecretValue {
    fn from(s: &str) -> Self {
        SecretValue::new(s.as_bytes().to_vec())
    }
}

impl From<String> for SecretValue {
    fn from(s: String) -> Self {
        SecretValue::new(s.into_bytes())
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretValue([REDACTED; {} bytes])", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let v = SecretValue::from("hunter2-canary");
        let shown = format!("{v:?} {v:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
