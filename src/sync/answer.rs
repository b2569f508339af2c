//! Reading a provider's HTTP answer (Vault KV, GCP Secret Manager): bounded, wiped, and strict.
//!
//! An answer keep cannot parse is an error, never "empty": a proxy's HTML page or a truncated body
//! that read as no secrets would otherwise look like a remote where everything was deleted. Bodies
//! hold secret values, so the raw text lives in wiped memory and parsed bodies are wiped with
//! [`wipe`] once the values have been taken out.

use serde_json::Value;
use zeroize::Zeroize;

use crate::value::{read_wiping_limited, WipingString};

/// The largest answer keep reads (16 MiB: far above any real listing page or secret; Vault's own
/// default request limit is 32 MiB for writes, GCP's secret payload limit 64 KiB).
pub const MAX_BYTES: usize = 16 << 20;

/// A parsed answer whose strings are wiped when it is dropped (see [`wipe`]). Providers take values
/// out of it (cloning them into [`crate::value::SecretValue`]s) and let it go.
#[derive(Default)]
pub struct Answer(Value);

/// An answer may hold values: its Debug form says only what kind of JSON it is.
impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.0 {
            Value::Null => "null",
            Value::Object(_) => "object",
            Value::Array(_) => "array",
            _ => "scalar",
        };
        write!(f, "Answer({kind}, redacted)")
    }
}

impl From<Value> for Answer {
    fn from(v: Value) -> Answer {
        Answer(v)
    }
}

impl std::ops::Deref for Answer {
    type Target = Value;
    fn deref(&self) -> &Value {
        &self.0
    }
}

impl std::ops::DerefMut for Answer {
    fn deref_mut(&mut self) -> &mut Value {
        &mut self.0
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// `body` as JSON text in wiped memory (what keep sends holds values).
pub fn to_wiped(body: &Value) -> WipingString {
    let mut buf = WipingString::default();
    // Writing to memory cannot fail, and a `Value` always serialises.
    let _ = serde_json::to_writer(&mut buf, body);
    buf
}

/// The body of `resp` as JSON. A 2xx answer must be empty or valid JSON; a non-2xx answer that is
/// not JSON becomes `Null` (its status says what failed). Over [`MAX_BYTES`], or unreadable, is an
/// error too. The error text describes the answer, never its content. The raw bytes are read into
/// wiped memory and the parsed answer wipes itself.
pub fn json(resp: &mut ureq::http::Response<ureq::Body>, status: u16) -> Result<Answer, String> {
    let reader = resp.body_mut().as_reader();
    let bytes = match read_wiping_limited(reader, MAX_BYTES) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
            return Err(format!(
                "HTTP {status}: the answer is larger than {} MiB, which keep does not read",
                MAX_BYTES >> 20
            ))
        }
        Err(e) => return Err(format!("HTTP {status}: the answer could not be read ({e})")),
    };
    parse(&bytes, status)
}

/// Parse an answer's bytes (see [`json`]).
pub fn parse(bytes: &[u8], status: u16) -> Result<Answer, String> {
    if bytes.trim_ascii().is_empty() {
        return Ok(Answer(Value::Null));
    }
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(Answer(v)),
        Err(_) if !(200..=299).contains(&status) => Ok(Answer(Value::Null)),
        Err(e) => Err(format!(
            "HTTP {status}: the answer is not JSON ({} bytes, {}; {}); is the address that of \
             the provider's API and not a proxy or web page?",
            bytes.len(),
            if e.is_eof() { "truncated" } else { "malformed" },
            match bytes.trim_ascii_start().first() {
                Some(b'<') => "it looks like HTML",
                _ => "it does not start like a JSON document",
            }
        )),
    }
}

/// An error for a 2xx answer that is JSON but lacks what the API always sends.
pub fn missing(what: &str) -> String {
    format!("the answer lacks {what}, which this API always sends; nothing was changed")
}

/// Overwrite every string in `v` (values, and the text around them) before it is freed.
pub fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(wipe),
        Value::Object(o) => o.values_mut().for_each(wipe),
        _ => {}
    }
}

/// Wipe every string value of a JSON object's fields.
pub fn wipe_map(m: &mut serde_json::Map<String, Value>) {
    m.values_mut().for_each(wipe);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_keep_cannot_parse_are_errors_never_empty() {
        assert!(parse(b"", 200).unwrap().is_null());
        assert!(parse(b"  \n", 200).unwrap().is_null());
        let html = parse(b"<html>Sign in</html>", 200).unwrap_err();
        assert!(
            html.contains("looks like HTML") && !html.contains("Sign in"),
            "{html}"
        );
        let cut = parse(br#"{"data":{"A":"sec"#, 200).unwrap_err();
        assert!(cut.contains("truncated") && !cut.contains("sec\""), "{cut}");
        // A non-2xx answer that is not JSON: its status says what failed.
        assert!(parse(b"<html>bad gateway</html>", 502).unwrap().is_null());
        assert_eq!(parse(br#"{"a":1}"#, 200).unwrap()["a"], 1);
        let secret = parse(br#"{"data":{"A":"debug-canary"}}"#, 200).unwrap();
        assert_eq!(format!("{secret:?}"), "Answer(object, redacted)");
    }

    #[test]
    fn what_keep_sends_is_serialised_whole() {
        let v = serde_json::json!({"k": "v"});
        assert_eq!(to_wiped(&v).as_str(), r#"{"k":"v"}"#);
    }
}
