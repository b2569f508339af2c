//! Reading a provider's HTTP answer (Vault KV, GCP Secret Manager): bounded, wiped, and strict.
//!
//! An answer keep cannot parse is an error, never "empty": a proxy's HTML page or a truncated body
//! that read as no secrets would otherwise look like a remote where everything was deleted. Bodies
//! hold secret values, so the raw text lives in wiped memory and parsed bodies are wiped with
//! [`wipe`] once the values have been taken out.

use serde_json::Value;
use zeroize::{Zeroize, Zeroizing};

/// The largest answer keep reads (16 MiB: far above any real listing page or secret; Vault's own
/// default request limit is 32 MiB for writes, GCP's secret payload limit 64 KiB).
pub const MAX_BYTES: u64 = 16 << 20;

/// The body of `resp` as JSON. A 2xx answer must be empty or valid JSON; a non-2xx answer that is
/// not JSON becomes `Null` (its status says what failed). Over [`MAX_BYTES`], or unreadable, is an
/// error too. The error text describes the answer, never its content.
pub fn json(resp: &mut ureq::http::Response<ureq::Body>, status: u16) -> Result<Value, String> {
    let text = match resp
        .body_mut()
        .with_config()
        .limit(MAX_BYTES)
        .read_to_string()
    {
        Ok(t) => Zeroizing::new(t),
        Err(ureq::Error::BodyExceedsLimit(_)) => {
            return Err(format!(
                "HTTP {status}: the answer is larger than {} MiB, which keep does not read",
                MAX_BYTES >> 20
            ))
        }
        Err(e) => return Err(format!("HTTP {status}: the answer could not be read ({e})")),
    };
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    match serde_json::from_str(&text) {
        Ok(v) => Ok(v),
        Err(_) if !(200..=299).contains(&status) => Ok(Value::Null),
        Err(e) => Err(format!(
            "HTTP {status}: the answer is not JSON ({} bytes, {}; {}); is the address that of \
             the provider's API and not a proxy or web page?",
            text.len(),
            if e.is_eof() { "truncated" } else { "malformed" },
            match text.trim_start().as_bytes().first() {
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
