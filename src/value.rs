//! `SecretValue`: a secret's bytes, zeroized on drop and never shown by `Debug`; and
//! `WipingString`, the text buffer that renders secrets (`keep env`, `inject`) without leaving copies.
//!
//! Wiping on drop is not enough for a buffer that grows: each time a `Vec` or `String` outgrows its
//! capacity the allocator may move it and free the old block with the secret still in it. Both types
//! here therefore size their buffers before filling them, or grow by copying into a new buffer and
//! wiping the old one. `tests/canary_zeroize.rs` checks this by scanning every freed block.

use secrecy::{ExposeSecret, SecretSlice};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// A secret value. Values are bytes; most are UTF-8 text.
pub struct SecretValue(SecretSlice<u8>);

impl SecretValue {
    /// Take ownership of `bytes`; they are wiped when the value is dropped.
    ///
    /// A `Vec` with spare capacity would be shrunk by a reallocation on the way into the boxed slice,
    /// which may leave the bytes in the freed block; such a `Vec` is copied to an exact-size buffer
    /// and wiped instead.
    pub fn new(mut bytes: Vec<u8>) -> SecretValue {
        if bytes.capacity() != bytes.len() {
            let exact = bytes.as_slice().to_vec();
            bytes.zeroize();
            bytes = exact;
        }
        SecretValue(SecretSlice::from(bytes))
    }

    /// Read all of `reader` (stdin for `keep set`), at most [`MAX_VALUE_LEN`] bytes: more is an
    /// error of kind `FileTooLarge`, after reading only one byte past the limit. With
    /// `trim_newline`, one trailing `\n` or `\r\n` is dropped.
    pub fn read_from(
        reader: impl std::io::Read,
        trim_newline: bool,
    ) -> std::io::Result<SecretValue> {
        let buf = read_wiping_limited(reader, MAX_VALUE_LEN)?;
        let mut len = buf.len();
        if trim_newline && buf.last() == Some(&b'\n') {
            len -= 1;
            if len > 0 && buf[len - 1] == b'\r' {
                len -= 1;
            }
        }
        Ok(SecretValue::new(buf[..len].to_vec()))
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

/// The largest value `keep set` reads from stdin (16 MiB): far above any credential, certificate
/// bundle or kubeconfig, and small enough that a runaway pipe (`yes | keep set X`) stops at once
/// instead of filling memory and the vault.
pub const MAX_VALUE_LEN: usize = 16 << 20;

/// [`read_wiping`], refusing more than `limit` bytes: it reads at most `limit + 1` and then fails with
/// an error of kind `FileTooLarge` (the partial buffer is wiped).
pub fn read_wiping_limited(
    reader: impl std::io::Read,
    limit: usize,
) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let buf = read_wiping(std::io::Read::take(reader, limit as u64 + 1))?;
    if buf.len() > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("more than {} bytes (the limit)", limit),
        ));
    }
    Ok(buf)
}

/// Read all of `reader` into a wiped buffer that grows by copying into a larger one and wiping the
/// old, never by reallocation (`read_to_end` would leave a partial copy behind at each growth).
pub fn read_wiping(mut reader: impl std::io::Read) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(256));
    let mut chunk = Zeroizing::new([0u8; 8192]);
    loop {
        let n = match reader.read(&mut chunk[..]) {
            Ok(0) => return Ok(buf),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.len() + n > buf.capacity() {
            let mut bigger =
                Zeroizing::new(Vec::with_capacity((buf.len() + n).max(buf.capacity() * 2)));
            bigger.extend_from_slice(&buf);
            buf = bigger;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A growing text buffer for rendered secrets: grows by copy-and-wipe, wiped on drop.
#[derive(Default)]
pub struct WipingString(Zeroizing<Vec<u8>>);

impl WipingString {
    pub fn with_capacity(n: usize) -> WipingString {
        WipingString(Zeroizing::new(Vec::with_capacity(n)))
    }

    /// Make room for `extra` more bytes; the old buffer is wiped as it is replaced.
    pub fn reserve(&mut self, extra: usize) {
        let need = self.0.len() + extra;
        if need > self.0.capacity() {
            let mut bigger =
                Zeroizing::new(Vec::with_capacity(need.max(self.0.capacity() * 2).max(64)));
            bigger.extend_from_slice(&self.0);
            self.0 = bigger;
        }
    }

    pub fn push_str(&mut self, s: &str) {
        self.reserve(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    pub fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0u8; 4]));
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("WipingString holds UTF-8 (see into_string)")
    }

    /// The text, still wiped on drop. Panics if bytes written through `io::Write` were not UTF-8,
    /// which is a bug in the writer (serde_json only writes UTF-8).
    pub fn into_string(mut self) -> Zeroizing<String> {
        let bytes = std::mem::take(&mut *self.0);
        Zeroizing::new(String::from_utf8(bytes).expect("WipingString was given UTF-8 only"))
    }
}

impl std::fmt::Write for WipingString {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

impl std::io::Write for WipingString {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.reserve(buf.len());
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_from_trims_one_newline_when_asked() {
        let v = SecretValue::read_from(&b"abc\r\n"[..], true).unwrap();
        assert_eq!(v.expose(), b"abc");
        let v = SecretValue::read_from(&b"abc\n\n"[..], true).unwrap();
        assert_eq!(v.expose(), b"abc\n");
        let long = vec![b'x'; 20_000];
        let v = SecretValue::read_from(&long[..], false).unwrap();
        assert_eq!(v.expose(), &long[..]);
    }

    #[test]
    fn wiping_string_grows_and_keeps_text() {
        let mut s = WipingString::default();
        for _ in 0..100 {
            s.push_str("abc");
            s.push('é');
        }
        assert_eq!(s.as_str().len(), 500);
        assert!(s.into_string().starts_with("abcé"));
    }

    #[test]
    fn debug_never_shows_the_value() {
        let v = SecretValue::from("hunter2-canary");
        let shown = format!("{v:?} {v:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
