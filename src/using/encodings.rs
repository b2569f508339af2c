//! The forms a secret commonly takes in program output besides its raw bytes: base64 (standard and
//! URL-safe, padded or not, also when the value sits inside a longer encoded string such as HTTP basic
//! auth), percent-encoding (as in URLs and form bodies) and JSON string escaping. The redactor looks for
//! all of them, because a program that logs `Authorization: Basic ...` or a JSON body leaks the secret
//! just as surely as one that prints it.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use zeroize::Zeroizing;

/// Shortest encoded form worth searching for; shorter ones would mask ordinary text.
const MIN_FORM_LEN: usize = 4;

/// Characters `encodeURIComponent` leaves alone.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// One encoded form of a secret: wiped when dropped.
pub type Form = Zeroizing<Vec<u8>>;

/// Every distinct form of `value` to redact, the raw bytes first.
///
/// Every buffer that holds a form, final or intermediate, is sized before it is filled and wiped when
/// dropped: a buffer that grows leaves its earlier copy in freed memory (tests/canary_zeroize.rs).
pub fn forms(value: &[u8]) -> Vec<Form> {
    let mut out: Vec<Form> = vec![Zeroizing::new(value.to_vec())];
    let mut add = |form: Form| {
        if form.len() >= MIN_FORM_LEN && !out.contains(&form) {
            out.push(form);
        }
    };
    for engine in [&STANDARD, &URL_SAFE] {
        add(Zeroizing::new(engine.encode(value).into_bytes()));
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        // The value at each of the three byte offsets inside a longer base64 string: keep only the
        // characters that depend on the value's bytes alone.
        for offset in 0..3usize {
            let mut shifted = Zeroizing::new(Vec::with_capacity(offset + value.len()));
            shifted.resize(offset, 0);
            shifted.extend_from_slice(value);
            let encoded = Zeroizing::new(engine.encode(&*shifted).into_bytes());
            let skip = match offset {
                0 => 0,
                1 => 2,
                _ => 3,
            };
            let total_bits = shifted.len() * 8;
            let stable_end = total_bits / 6; // characters made only of bits before the end
            if stable_end > skip {
                add(Zeroizing::new(encoded[skip..stable_end].to_vec()));
            }
            if offset == 0 {
                add(encoded);
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(value) {
        // Percent-encoding at most triples the length; JSON escaping at most sextuples it (\u00XX).
        let mut component = Zeroizing::new(String::with_capacity(text.len() * 3));
        for part in utf8_percent_encode(text, URI_COMPONENT) {
            component.push_str(part);
        }
        add(lowercase_hex(&component));
        let mut form = Zeroizing::new(Vec::with_capacity(component.len()));
        let mut rest = component.as_bytes();
        while !rest.is_empty() {
            if rest.starts_with(b"%20") {
                form.push(b'+');
                rest = &rest[3..];
            } else {
                form.push(rest[0]);
                rest = &rest[1..];
            }
        }
        add(lowercase_hex(std::str::from_utf8(&form).expect("ASCII")));
        add(form);
        add(Zeroizing::new(component.as_bytes().to_vec()));
        let mut json = Zeroizing::new(Vec::with_capacity(2 + text.len() * 6));
        serde_json::to_writer(&mut *json, text).expect("a string serialises");
        add(Zeroizing::new(json[1..json.len() - 1].to_vec()));
        add(json_ascii(&json[1..json.len() - 1]));
    }
    out
}

/// JSON escaping with every non-ASCII character as `\uXXXX` (Python's `json.dumps` default), from
/// the escaped body of a JSON string.
fn json_ascii(escaped: &[u8]) -> Form {
    let text = std::str::from_utf8(escaped).expect("serde_json writes UTF-8");
    // A non-ASCII char is at most two UTF-16 units of 6 bytes each, from at least 2 bytes of UTF-8.
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 6));
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c as u8);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[usize::from((*u >> shift) & 0xf)]);
                }
            }
        }
    }
    out
}

/// The same percent-encoding with lowercase hex digits (`%2f`), which some encoders emit.
fn lowercase_hex(encoded: &str) -> Form {
    let bytes = encoded.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.extend_from_slice(&[
                b'%',
                bytes[i + 1].to_ascii_lowercase(),
                bytes[i + 2].to_ascii_lowercase(),
            ]);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(forms: &[Form], s: &str) -> bool {
        forms.iter().any(|f| f.as_slice() == s.as_bytes())
    }

    #[test]
    fn includes_the_common_encodings() {
        let f = forms("p@ss word/é\"".as_bytes());
        assert!(has(&f, "p@ss word/é\""));
        assert!(has(&f, &STANDARD.encode("p@ss word/é\"")));
        assert!(has(&f, "p%40ss%20word%2F%C3%A9%22"));
        assert!(has(&f, "p%40ss%20word%2f%c3%a9%22"));
        assert!(has(&f, "p%40ss+word%2F%C3%A9%22"));
        assert!(has(&f, "p@ss word/é\\\""));
        assert!(has(&f, "p@ss word/\\u00e9\\\""));
    }

    #[test]
    fn finds_the_value_inside_basic_auth() {
        let value = b"s3cr3t-passw0rd";
        let header = STANDARD.encode(b"alice:s3cr3t-passw0rd");
        let f = forms(value);
        assert!(
            f.iter().any(|form| header
                .as_bytes()
                .windows(form.len())
                .any(|w| w == &form[..])),
            "{header}"
        );
    }
}
