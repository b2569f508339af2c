//! The forms a secret commonly takes in program output besides its raw bytes: base64 (standard and
//! URL-safe, padded or not, also when the value sits inside a longer encoded string such as HTTP basic
//! auth), percent-encoding (as in URLs and form bodies) and JSON string escaping. The redactor looks for
//! all of them, because a program that logs `Authorization: Basic ...` or a JSON body leaks the secret
//! just as surely as one that prints it.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

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

/// Every distinct form of `value` to redact, the raw bytes first.
pub fn forms(value: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = vec![value.to_vec()];
    let mut add = |form: Vec<u8>| {
        if form.len() >= MIN_FORM_LEN && !out.contains(&form) {
            out.push(form);
        }
    };
    for engine in [&STANDARD, &URL_SAFE] {
        add(engine.encode(value).into_bytes());
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        // The value at each of the three byte offsets inside a longer base64 string: keep only the
        // characters that depend on the value's bytes alone.
        for offset in 0..3usize {
            let mut shifted = vec![0u8; offset];
            shifted.extend_from_slice(value);
            let encoded = engine.encode(&shifted).into_bytes();
            let skip = match offset {
                0 => 0,
                1 => 2,
                _ => 3,
            };
            let total_bits = shifted.len() * 8;
            let stable_end = total_bits / 6; // characters made only of bits before the end
            if stable_end > skip {
                add(encoded[skip..stable_end].to_vec());
            }
            if offset == 0 {
                add(encoded);
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(value) {
        let component = utf8_percent_encode(text, URI_COMPONENT).to_string();
        add(lowercase_hex(&component));
        let form = component.replace("%20", "+");
        add(lowercase_hex(&form));
        add(form.into_bytes());
        add(component.into_bytes());
        let json = serde_json::to_string(text).expect("a string serialises");
        add(json.as_bytes()[1..json.len() - 1].to_vec());
        add(json_ascii(text).into_bytes());
    }
    out
}

/// JSON escaping with every non-ASCII character as `\uXXXX` (Python's `json.dumps` default).
fn json_ascii(text: &str) -> String {
    let json = serde_json::to_string(text).expect("a string serialises");
    let mut out = String::new();
    for c in json[1..json.len() - 1].chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// The same percent-encoding with lowercase hex digits (`%2f`), which some encoders emit.
fn lowercase_hex(encoded: &str) -> Vec<u8> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
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

    fn has(forms: &[Vec<u8>], s: &str) -> bool {
        forms.iter().any(|f| f == s.as_bytes())
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
            f.iter()
                .any(|form| header.as_bytes().windows(form.len()).any(|w| w == form)),
            "{header}"
        );
    }
}
