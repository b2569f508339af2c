//! The one HTTP layer of the REST providers (Vault KV, GCP Secret Manager): request building, the
//! auth headers, retries, status mapping and the reading of answers, written once.
//!
//! A provider describes its service once ([`Service`]: how it is named in messages, where its error
//! text lives, what to check on a denial) and then makes calls with [`Client::call`] (any status back)
//! or [`Client::expect`] (2xx, or 404 as "absent" when asked). Every answer is read through
//! [`super::answer`]: bounded, strict (an answer keep cannot parse is an error, never "empty") and
//! held in wiped memory ([`Answer`] wipes its strings when dropped), so no provider can forget to
//! wipe a body that held values.
//!
//! Errors name the target, the operation and the status, plus the server's own error text. That text
//! is bounded, stripped of control characters (a hostile server must not drive the terminal), and
//! withheld entirely when it repeats any value of the request it answers: a server that echoes the
//! payload it refused would otherwise put a secret in keep's error message.

use std::time::Duration;

use serde_json::Value;
use zeroize::Zeroizing;

use super::answer::{self, Answer};
use super::retry::{self, Attempt};
use crate::error::{Error, Result};

/// The most of a server's error text an error message quotes.
pub const MAX_QUOTED: usize = 300;

/// The shortest request value that withholds a server message repeating it (shorter strings, such
/// as a version number, appear in ordinary messages by chance).
const MIN_ECHO: usize = 4;

/// What a request does.
pub enum Method<'a> {
    Get,
    /// `GET ...?list=true` (Vault's LIST).
    List,
    Delete,
    /// POST a JSON body. The caller wipes the body afterwards if it holds values.
    Post(&'a Value),
}

impl<'a> Method<'a> {
    /// The JSON body the request sends, if any (what an error message must never echo).
    fn body(&self) -> Option<&'a Value> {
        match self {
            Method::Post(b) => Some(*b),
            _ => None,
        }
    }
}

/// How a provider's service is named and how it reports errors.
pub struct Service {
    /// In messages: "on {name} failed", e.g. "Vault at https://vault:8200".
    pub name: String,
    /// The target, for messages.
    pub target: String,
    /// Appended to a transport failure, e.g. "is VAULT_ADDR right and the server up?".
    pub unreachable: &'static str,
    /// Appended to a 401/403, e.g. "check VAULT_TOKEN ...".
    pub denied: &'static str,
    /// The error strings of an error answer (Vault's `errors`, Google's `error.message`).
    pub errors: fn(&Value) -> Vec<String>,
}

/// A finished request: its status and JSON body (`Null` when empty), wiped when dropped.
pub struct Reply {
    pub status: u16,
    pub body: Answer,
}

impl Reply {
    /// A 2xx status.
    pub fn ok(&self) -> bool {
        (200..=299).contains(&self.status)
    }
}

/// A blocking client for one service: the agent, the base URL and the headers every request carries.
pub struct Client {
    agent: ureq::Agent,
    /// Prefix of every path, e.g. `https://vault:8200/v1/`.
    base: String,
    /// Sent with every request (the token among them, so wiped on drop).
    headers: Vec<(&'static str, Zeroizing<String>)>,
    service: Service,
}

/// An agent that returns every status as a response (the client maps them) and gives up after
/// `timeout`, optionally trusting extra roots.
pub fn agent(timeout: Duration, tls: Option<ureq::tls::TlsConfig>) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout));
    if let Some(tls) = tls {
        config = config.tls_config(tls);
    }
    config.build().into()
}

impl Client {
    pub fn new(agent: ureq::Agent, base: String, service: Service) -> Client {
        Client {
            agent,
            base,
            headers: Vec::new(),
            service,
        }
    }

    /// Send `name: value` with every request.
    pub fn header(mut self, name: &'static str, value: Zeroizing<String>) -> Client {
        self.headers.push((name, value));
        self
    }

    /// The target this client serves, for messages.
    pub fn target(&self) -> &str {
        &self.service.target
    }

    /// The error for `op` on `what` (a path or an id) failing because of `why`.
    pub fn remote(&self, op: &str, what: &str, why: impl std::fmt::Display) -> Error {
        Error::Remote(format!(
            "sync target {}: {op} {what} on {} failed: {why}",
            self.service.target, self.service.name
        ))
    }

    /// The error for an answer with an unexpected status.
    pub fn status_error(&self, op: &str, what: &str, r: &Reply, sent: Option<&Value>) -> Error {
        self.remote(op, what, self.describe(r.status, &r.body, sent))
    }

    /// "HTTP 403: the server's text (hint)" for an answer; see the module doc for what is quoted.
    pub fn describe(&self, status: u16, body: &Value, sent: Option<&Value>) -> String {
        let mut msg = format!("HTTP {status}");
        let errors = (self.service.errors)(body);
        if !errors.is_empty() {
            msg.push_str(": ");
            msg.push_str(&quote(&errors.join("; "), sent));
        }
        if status == 403 && !msg.contains("permission denied") {
            msg.push_str(": permission denied");
        }
        if matches!(status, 401 | 403) {
            msg.push_str(" (");
            msg.push_str(self.service.denied);
            msg.push(')');
        }
        msg
    }

    /// One request to `path` (relative to the base URL), retried on 429/5xx and transport errors.
    /// Any status comes back as a [`Reply`]; an answer that cannot be read is an error.
    pub fn call(
        &self,
        op: &str,
        what: &str,
        path: &str,
        query: &[(&str, &str)],
        method: Method,
    ) -> Result<Reply> {
        let url = format!("{}{}", self.base, path.trim_start_matches('/'));
        retry::run(|| {
            let sent = match &method {
                Method::Get => self.with_headers(self.agent.get(&url), query).call(),
                Method::List => self
                    .with_headers(self.agent.get(&url), query)
                    .query("list", "true")
                    .call(),
                Method::Delete => self.with_headers(self.agent.delete(&url), query).call(),
                Method::Post(body) => {
                    let mut r = self.agent.post(&url);
                    for (name, value) in &self.headers {
                        r = r.header(*name, value.as_str());
                    }
                    // Serialised into wiped memory: the body may hold values.
                    let bytes = answer::to_wiped(body);
                    r.query_pairs(query.iter().copied())
                        .header("Content-Type", "application/json")
                        .send(bytes.as_str().as_bytes())
                }
            };
            let mut resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    return Err(Attempt::Retry(self.remote(
                        op,
                        what,
                        format!("{e} ({})", self.service.unreachable),
                    )))
                }
            };
            let status = resp.status().as_u16();
            let body = answer::json(&mut resp, status)
                .map_err(|why| Attempt::Fail(self.remote(op, what, why)))?;
            let sent = method.body();
            if retry::retryable_status(status) {
                return Err(Attempt::Retry(self.remote(
                    op,
                    what,
                    self.describe(status, &body, sent),
                )));
            }
            Ok(Reply { status, body })
        })
    }

    /// A call where anything but 2xx (and 404 when `absent_ok`) is an error; `None` for that 404.
    pub fn expect(
        &self,
        op: &str,
        what: &str,
        path: &str,
        query: &[(&str, &str)],
        method: Method,
        absent_ok: bool,
    ) -> Result<Option<Answer>> {
        let sent = method.body();
        let r = self.call(op, what, path, query, method)?;
        if r.ok() {
            Ok(Some(r.body))
        } else if r.status == 404 && absent_ok {
            Ok(None)
        } else {
            Err(self.status_error(op, what, &r, sent))
        }
    }

    fn with_headers(
        &self,
        mut r: ureq::RequestBuilder<ureq::typestate::WithoutBody>,
        query: &[(&str, &str)],
    ) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        for (name, value) in &self.headers {
            r = r.header(*name, value.as_str());
        }
        r.query_pairs(query.iter().copied())
    }
}

/// A server's error text as quoted in a message: control characters replaced, at most
/// [`MAX_QUOTED`] characters, and withheld when it repeats a string of `sent` (the request body).
pub fn quote(text: &str, sent: Option<&Value>) -> String {
    let mut echoed = false;
    if let Some(body) = sent {
        visit_strings(body, &mut |s| {
            echoed |= s.len() >= MIN_ECHO && text.contains(s);
        });
    }
    if echoed {
        return "(the server's message repeats part of what keep sent, so it is not shown)".into();
    }
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_QUOTED)
        .collect();
    if text.chars().count() > MAX_QUOTED {
        out.push('…');
    }
    out
}

/// The strings of a JSON array (an error list), ignoring anything else.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn visit_strings(v: &Value, f: &mut dyn FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|v| visit_strings(v, f)),
        Value::Object(o) => o.values().for_each(|v| visit_strings(v, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service() -> Service {
        Service {
            name: "Test".into(),
            target: "t".into(),
            unreachable: "is it up?",
            denied: "check the token",
            errors: |b| strings(&b["errors"]),
        }
    }

    #[test]
    fn a_server_echoing_the_payload_never_puts_it_in_the_message() {
        let sent =
            json!({ "data": { "API_TOKEN": "s3cr3t-value-canary" }, "options": { "cas": 3 } });
        let c = Client::new(
            agent(Duration::from_secs(1), None),
            "http://x/".into(),
            service(),
        );
        let body = json!({ "errors": ["cannot parse {\"API_TOKEN\": \"s3cr3t-value-canary\"}"] });
        let msg = c.describe(400, &body, Some(&sent));
        assert!(!msg.contains("s3cr3t"), "{msg}");
        assert!(
            msg.starts_with("HTTP 400: (the server's message repeats"),
            "{msg}"
        );
        // An ordinary message (which mentions no sent value) is quoted as it is.
        let body =
            json!({ "errors": ["check-and-set parameter did not match the current version"] });
        let msg = c.describe(400, &body, Some(&sent));
        assert!(msg.ends_with("did not match the current version"), "{msg}");
    }

    #[test]
    fn quoted_text_is_bounded_and_has_no_control_characters() {
        let q = quote("evil\x1b[2Jtext\r\nmore", None);
        assert_eq!(q, "evil [2Jtext  more");
        let long = "x".repeat(5000);
        assert_eq!(quote(&long, None).chars().count(), MAX_QUOTED + 1);
    }

    #[test]
    fn denials_say_what_to_check() {
        let c = Client::new(
            agent(Duration::from_secs(1), None),
            "http://x/".into(),
            service(),
        );
        let msg = c.describe(403, &Value::Null, None);
        assert_eq!(msg, "HTTP 403: permission denied (check the token)");
        assert_eq!(
            c.describe(401, &json!({"errors": ["bad token"]}), None),
            "HTTP 401: bad token (check the token)"
        );
    }
}
