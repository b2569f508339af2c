//! HashiCorp Vault (and OpenBao) KV v1 and v2, over the HTTP API with token auth.
//!
//! Settings come from the variables the `vault` CLI reads: `VAULT_ADDR`, `VAULT_TOKEN` (else
//! `~/.vault-token`), `VAULT_NAMESPACE`, `VAULT_CACERT`. The KV version of the mount is detected via
//! `sys/internal/ui/mounts/<mount>`, as the CLI does.
//!
//! The client is a small one over `ureq` rather than `vaultrs`: keep needs six KV calls, and ureq is a
//! blocking client that shares rustls/ring with the AWS SDK's HTTP stack, whereas vaultrs would bring
//! reqwest and its own middleware stack for the same six calls.
//!
//! Layouts: `bundle` (one path, every name a field: the usual convention) and `per-key` (one path per
//! name, the value in field `value`). On KV v2 every write sends `cas` = the version seen in the plan,
//! so a concurrent change becomes a conflict instead of a lost update; keep's marker is the custom
//! metadata `managed-by = keep`. KV v1 has neither versions nor metadata: there the marker is a
//! `managed-by` field (not a valid secret name, so it never clashes with one) and writes are not
//! conditional.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use super::answer;
use super::bundle::{self, Bundle, BundleBacked, TwoLayouts};
use super::retry::{self, Attempt};
use super::target::Location;
use super::{
    parallel, Applied, Changes, Progress, Provider, RemoteMeta, RemoteValue, Target, MARKER_KEY,
    MARKER_VALUE,
};
use crate::error::{Error, Result};
use crate::scope::Name;
use crate::value::SecretValue;

/// Field holding the value in the per-key layout.
const VALUE_FIELD: &str = "value";

/// A connected KV mount.
pub struct VaultKv {
    http: Http,
    mount: String,
    v2: bool,
    location: Location,
    concurrency: usize,
    /// Bundle layout: the fields, version and marker as last read.
    bundle: Option<Bundle>,
    /// Per-key layout on KV v1: values read while listing (v1 has no metadata to list instead).
    v1_values: BTreeMap<Name, SecretValue>,
    managed: BTreeMap<Name, bool>,
}

/// One KV entry as read: its fields and (v2) version.
type Entry = (Map<String, Value>, Option<u64>);

/// What KV v2 metadata says about a path.
struct Meta {
    current: u64,
    /// The current version exists and is neither deleted nor destroyed.
    live: bool,
    managed: bool,
}

/// The HTTP side: address, token, namespace, agent, and error wording.
struct Http {
    agent: ureq::Agent,
    addr: String,
    token: Zeroizing<String>,
    namespace: Option<String>,
    target: String,
}

enum Method {
    Get,
    List,
    Post(Value),
    Delete,
}

impl Http {
    fn remote(&self, op: &str, path: &str, why: impl std::fmt::Display) -> Error {
        Error::Remote(format!(
            "sync target {}: {op} {path} on Vault at {} failed: {why}",
            self.target, self.addr
        ))
    }

    /// One request with retries on 429/5xx and transport errors. Returns (status, JSON body or Null).
    fn call(&self, op: &str, path: &str, method: &Method) -> Result<(u16, Value)> {
        let url = format!("{}/v1/{}", self.addr, path.trim_start_matches('/'));
        retry::run(|| {
            let with = |mut r: ureq::RequestBuilder<ureq::typestate::WithoutBody>| {
                r = r
                    .header("X-Vault-Token", self.token.as_str())
                    .header("X-Vault-Request", "true");
                if let Some(ns) = &self.namespace {
                    r = r.header("X-Vault-Namespace", ns);
                }
                r
            };
            let sent = match method {
                Method::Get => with(self.agent.get(&url)).call(),
                Method::List => with(self.agent.get(&url)).query("list", "true").call(),
                Method::Delete => with(self.agent.delete(&url)).call(),
                Method::Post(body) => {
                    let mut r = self
                        .agent
                        .post(&url)
                        .header("X-Vault-Token", self.token.as_str())
                        .header("X-Vault-Request", "true");
                    if let Some(ns) = &self.namespace {
                        r = r.header("X-Vault-Namespace", ns);
                    }
                    r.send_json(body)
                }
            };
            let mut resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    return Err(Attempt::Retry(self.remote(
                        op,
                        path,
                        format!("{e} (is VAULT_ADDR right and the server up?)"),
                    )))
                }
            };
            let status = resp.status().as_u16();
            let body = answer::json(&mut resp, status)
                .map_err(|why| Attempt::Fail(self.remote(op, path, why)))?;
            if retry::retryable_status(status) {
                return Err(Attempt::Retry(self.remote(
                    op,
                    path,
                    describe(status, &body),
                )));
            }
            Ok((status, body))
        })
    }

    /// A call where anything but 2xx (and 404 when `absent_ok`) is an error.
    fn expect(
        &self,
        op: &str,
        path: &str,
        method: Method,
        absent_ok: bool,
    ) -> Result<Option<Value>> {
        let (status, body) = self.call(op, path, &method)?;
        match status {
            200..=299 => Ok(Some(body)),
            404 if absent_ok => Ok(None),
            _ => Err(self.remote(op, path, describe(status, &body))),
        }
    }
}

/// Vault's error text (`errors` array) with the status, plus a hint for denials.
fn describe(status: u16, body: &Value) -> String {
    let errors: Vec<&str> = body["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut msg = format!("HTTP {status}");
    if !errors.is_empty() {
        msg.push_str(": ");
        msg.push_str(&errors.join("; "));
    }
    if status == 403 {
        if !msg.contains("permission denied") {
            msg.push_str(": permission denied");
        }
        msg.push_str(
            " (check VAULT_TOKEN or ~/.vault-token, VAULT_NAMESPACE and the token's policy)",
        );
    }
    msg
}

fn cas_failed(status: u16, body: &Value) -> bool {
    status == 400 && body.to_string().contains("check-and-set")
}

/// Where and how to reach Vault (from `VAULT_*` in [`VaultKv::connect`]).
pub struct Settings {
    pub addr: String,
    pub token: Option<Zeroizing<String>>,
    pub namespace: Option<String>,
    pub cacert: Option<std::path::PathBuf>,
}

fn agent(timeout: Duration, cacert: Option<&std::path::Path>) -> Result<ureq::Agent> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(path) = cacert {
        let pem = std::fs::read(path).map_err(|e| Error::io("read VAULT_CACERT", path, e))?;
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(Error::Usage(format!(
                "VAULT_CACERT {} holds no PEM certificate",
                path.display()
            )));
        }
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
    }
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .tls_config(tls.build())
        .build()
        .into())
}

fn token() -> Option<Zeroizing<String>> {
    if let Some(t) = std::env::var("VAULT_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        return Some(Zeroizing::new(t.trim().to_string()));
    }
    let file = dirs::home_dir()?.join(".vault-token");
    let t = Zeroizing::new(std::fs::read_to_string(file).ok()?);
    let t = t.trim();
    (!t.is_empty()).then(|| Zeroizing::new(t.to_string()))
}

fn text(name: &Name, v: &SecretValue) -> Result<String> {
    v.expose_str(&format!("{name} (Vault KV holds text values only)"))
        .map(str::to_string)
}

impl VaultKv {
    /// Connect with the settings the `vault` CLI reads from the environment.
    pub fn connect(target: &Target) -> Result<VaultKv> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let settings = Settings {
            addr: env("VAULT_ADDR").unwrap_or_else(|| "https://127.0.0.1:8200".into()),
            token: token(),
            namespace: env("VAULT_NAMESPACE"),
            cacert: env("VAULT_CACERT").map(std::path::PathBuf::from),
        };
        VaultKv::new(target, settings)
    }

    /// Connect with explicit settings and detect the mount's KV version.
    pub fn new(target: &Target, settings: Settings) -> Result<VaultKv> {
        let token = settings.token.ok_or_else(|| {
            Error::Remote(format!(
                "sync target {}: no Vault token: set VAULT_TOKEN or log in so that ~/.vault-token exists",
                target.name
            ))
        })?;
        let http = Http {
            agent: agent(target.timeout, settings.cacert.as_deref())?,
            addr: settings.addr.trim_end_matches('/').to_string(),
            token,
            namespace: settings.namespace,
            target: target.name.clone(),
        };
        let path = format!("sys/internal/ui/mounts/{}", target.mount);
        let mount = http
            .expect("detect the KV version of", &path, Method::Get, true)?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "sync target {}: Vault has no mount {:?}",
                    target.name, target.mount
                ))
            })?;
        let data = &mount["data"];
        if !data["type"].is_string() {
            return Err(http.remote(
                "detect the KV version of",
                &path,
                answer::missing("data.type (the mount's engine)"),
            ));
        }
        if data["type"]
            .as_str()
            .is_some_and(|t| t != "kv" && t != "generic")
        {
            return Err(Error::Usage(format!(
                "sync target {}: mount {:?} is a {} engine, not KV",
                target.name, target.mount, data["type"]
            )));
        }
        let v2 = data["options"]["version"].as_str() == Some("2");
        // The mount may be given with a sub-path (`secret/team`); its real path comes back here.
        let mount_path = data["path"]
            .as_str()
            .map(|p| p.trim_matches('/').to_string())
            .filter(|p| !p.is_empty());
        let mut location = target.location.clone();
        let mount = match mount_path {
            Some(real) if target.mount.starts_with(&real) && target.mount.len() > real.len() => {
                let rest = target.mount[real.len()..].trim_matches('/').to_string();
                location = match location {
                    Location::PerKey { prefix } => Location::PerKey {
                        prefix: format!("{rest}/{prefix}"),
                    },
                    Location::Bundle { path } => Location::Bundle {
                        path: format!("{rest}/{path}"),
                    },
                };
                real
            }
            _ => target.mount.clone(),
        };
        Ok(VaultKv {
            http,
            mount,
            v2,
            location,
            concurrency: target.concurrency,
            bundle: None,
            v1_values: BTreeMap::new(),
            managed: BTreeMap::new(),
        })
    }

    /// Whether the mount is KV v2.
    pub fn is_v2(&self) -> bool {
        self.v2
    }

    fn data_path(&self, rel: &str) -> String {
        if self.v2 {
            format!("{}/data/{}", self.mount, rel.trim_matches('/'))
        } else {
            format!("{}/{}", self.mount, rel.trim_matches('/'))
        }
    }

    fn meta_path(&self, rel: &str) -> String {
        format!("{}/metadata/{}", self.mount, rel.trim_matches('/'))
    }

    /// Read one path: its fields and (v2) version; `None` when absent or soft-deleted. A 200 whose
    /// body lacks the fields object is an error, not an empty entry. The body is wiped after use;
    /// the caller wipes the fields it gets ([`answer::wipe_map`]).
    fn read_path(&self, rel: &str) -> Result<Option<Entry>> {
        let path = self.data_path(rel);
        let (status, mut body) = self.http.call("read", &path, &Method::Get)?;
        match status {
            200 => {}
            404 => {
                answer::wipe(&mut body);
                return Ok(None);
            }
            _ => return Err(self.http.remote("read", &path, describe(status, &body))),
        }
        let lacks = |what: &str| self.http.remote("read", &path, answer::missing(what));
        let result = if self.v2 {
            let version = body["data"]["metadata"]["version"].as_u64();
            match body["data"]["data"].take() {
                Value::Object(fields) => Ok(Some((fields, version))),
                // A deleted or destroyed current version: metadata, no data.
                Value::Null if body["data"]["metadata"].is_object() => Ok(None),
                _ => Err(lacks("data.data (the secret's fields)")),
            }
        } else {
            match body["data"].take() {
                Value::Object(fields) => Ok(Some((fields, None))),
                _ => Err(lacks("data (the secret's fields)")),
            }
        };
        answer::wipe(&mut body);
        result
    }

    /// v2 metadata of one path, `None` when the path has none.
    fn read_meta(&self, rel: &str) -> Result<Option<Meta>> {
        let path = self.meta_path(rel);
        let Some(body) = self
            .http
            .expect("read metadata of", &path, Method::Get, true)?
        else {
            return Ok(None);
        };
        let d = &body["data"];
        let current = d["current_version"].as_u64().ok_or_else(|| {
            self.http.remote(
                "read metadata of",
                &path,
                answer::missing("data.current_version"),
            )
        })?;
        let v = &d["versions"][current.to_string()];
        let deleted = v["deletion_time"].as_str().is_some_and(|t| !t.is_empty())
            || v["destroyed"].as_bool() == Some(true);
        Ok(Some(Meta {
            current,
            live: current > 0 && !deleted,
            managed: d["custom_metadata"][MARKER_KEY].as_str() == Some(MARKER_VALUE),
        }))
    }

    /// The `cas` for writing a path the plan saw as absent: 0, or the current version when the path
    /// exists with its current version deleted (a soft delete, e.g. an earlier prune).
    fn cas_for_absent(&self, rel: &str) -> Result<u64> {
        if !self.v2 {
            return Ok(0);
        }
        Ok(self.read_meta(rel)?.map_or(0, |m| m.current))
    }

    /// Write one path; `cas` is the expected version on v2 (0 = must not exist). Returns the new version,
    /// or `None` on a check-and-set conflict.
    fn write_path(
        &self,
        rel: &str,
        mut fields: Map<String, Value>,
        cas: u64,
        mark: bool,
    ) -> Result<Option<Option<u64>>> {
        let path = self.data_path(rel);
        let body = if self.v2 {
            json!({ "options": { "cas": cas }, "data": fields })
        } else {
            fields.insert(MARKER_KEY.into(), MARKER_VALUE.into());
            Value::Object(fields)
        };
        let mut method = Method::Post(body);
        let sent = self.http.call("write", &path, &method);
        if let Method::Post(b) = &mut method {
            answer::wipe(b);
        }
        let (status, resp) = sent?;
        if self.v2 && cas_failed(status, &resp) {
            return Ok(None);
        }
        if !(200..=299).contains(&status) {
            return Err(self.http.remote("write", &path, describe(status, &resp)));
        }
        if self.v2 && mark {
            let meta = self.meta_path(rel);
            let body = json!({ "custom_metadata": { MARKER_KEY: MARKER_VALUE } });
            self.http.expect("mark", &meta, Method::Post(body), false)?;
        }
        Ok(Some(resp["data"]["version"].as_u64()))
    }

    fn delete_path(&self, rel: &str, force: bool) -> Result<()> {
        // v2: a soft delete of the current version (recoverable with `undelete`) unless forced;
        // forced removes every version and the metadata.
        let path = if self.v2 && force {
            self.meta_path(rel)
        } else {
            self.data_path(rel)
        };
        self.http
            .expect("delete", &path, Method::Delete, true)
            .map(|_| ())
    }

    fn load_bundle(&mut self, path: &str) -> Result<Bundle> {
        let mut b = Bundle::default();
        if self.v2 {
            // Even a soft-deleted entry has a version, which the next write's `cas` must name.
            if let Some(m) = self.read_meta(path)? {
                b.managed = m.managed;
                b.version = Some(m.current.to_string());
            }
        }
        if let Some((fields, version)) = self.read_path(path)? {
            b.exists = true;
            if !self.v2 {
                b.managed = fields.get(MARKER_KEY).and_then(Value::as_str) == Some(MARKER_VALUE);
            }
            b.version = version.map(|v| v.to_string()).or(b.version.take());
            b.fields = fields;
        }
        self.bundle = Some(b.clone());
        Ok(b)
    }
}

impl BundleBacked for VaultKv {
    fn cached_bundle(&self) -> Option<&Bundle> {
        self.bundle.as_ref()
    }

    fn fetch_bundle(&mut self, path: &str) -> Result<Bundle> {
        self.load_bundle(path)
    }
}

impl TwoLayouts for VaultKv {
    fn location(&self) -> &Location {
        &self.location
    }

    fn list_per_key(&mut self, prefix: &str) -> Result<BTreeMap<Name, RemoteMeta>> {
        let (dir, stem) = match prefix.rfind('/') {
            Some(i) => (&prefix[..=i], &prefix[i + 1..]),
            None => ("", prefix),
        };
        let list_path = if self.v2 {
            self.meta_path(dir)
        } else {
            self.data_path(dir)
        };
        let keys: Vec<String> = match self.http.expect("list", &list_path, Method::List, true)? {
            Some(body) => body["data"]["keys"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .ok_or_else(|| {
                    self.http
                        .remote("list", &list_path, answer::missing("data.keys"))
                })?,
            None => Vec::new(),
        };
        let names: Vec<Name> = keys
            .iter()
            .filter_map(|k| k.strip_prefix(stem))
            .filter_map(|n| Name::new(n).ok())
            .collect();
        let me = &*self;
        let metas = parallel::map(&names, self.concurrency, |name| {
            let rel = format!("{prefix}{name}");
            if me.v2 {
                Ok(me.read_meta(&rel)?.filter(|m| m.live).map(|m| {
                    (
                        RemoteMeta {
                            version: Some(m.current.to_string()),
                            managed: m.managed,
                        },
                        None,
                    )
                }))
            } else {
                Ok(me.read_path(&rel)?.map(|(mut f, _)| {
                    let managed = f.get(MARKER_KEY).and_then(Value::as_str) == Some(MARKER_VALUE);
                    let value = f
                        .get(VALUE_FIELD)
                        .and_then(Value::as_str)
                        .map(SecretValue::from);
                    answer::wipe_map(&mut f);
                    (
                        RemoteMeta {
                            version: None,
                            managed,
                        },
                        value,
                    )
                }))
            }
        })?;
        let mut out = BTreeMap::new();
        for (name, meta) in names.into_iter().zip(metas) {
            if let Some((meta, value)) = meta {
                if let Some(v) = value {
                    self.v1_values.insert(name.clone(), v);
                }
                self.managed.insert(name.clone(), meta.managed);
                out.insert(name, meta);
            }
        }
        Ok(out)
    }

    fn read_per_key(
        &mut self,
        prefix: &str,
        names: &[Name],
        progress: &Progress,
    ) -> Result<BTreeMap<Name, RemoteValue>> {
        let me = &*self;
        bundle::read_each(names, self.concurrency, progress, |name| {
            // KV v1 has no metadata endpoint: `list` already read every value, so reuse it.
            if let Some(v) = me.v1_values.get(name).filter(|_| !me.v2) {
                return Ok(Some(RemoteValue {
                    value: v.clone(),
                    version: None,
                }));
            }
            Ok(me
                .read_path(&format!("{prefix}{name}"))?
                .and_then(|(mut f, version)| {
                    let value = f
                        .get(VALUE_FIELD)
                        .and_then(Value::as_str)
                        .map(SecretValue::from);
                    answer::wipe_map(&mut f);
                    Some(RemoteValue {
                        value: value?,
                        version: version.map(|v| v.to_string()),
                    })
                }))
        })
    }
}

impl Provider for VaultKv {
    fn list(&mut self) -> Result<BTreeMap<Name, RemoteMeta>> {
        self.list_either()
    }

    fn read(&mut self, names: &[Name], progress: &Progress) -> Result<BTreeMap<Name, RemoteValue>> {
        self.read_either(names, progress)
    }

    fn apply(&mut self, changes: &Changes, progress: &Progress) -> Result<BTreeMap<Name, Applied>> {
        let mut out = BTreeMap::new();
        match self.location.clone() {
            Location::Bundle { path } => {
                // One conditional write of the whole entry: every name lands, or (CAS) none does.
                let b = self.bundle_at(&path)?;
                let cas = b
                    .version
                    .as_deref()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let written = self.write_path(&path, b.merged(changes)?, cas, !b.managed)?;
                out.extend(Bundle::outcome(
                    changes,
                    written.map(|v| v.map(|v| v.to_string())),
                    progress,
                ));
                self.bundle = None;
            }
            Location::PerKey { prefix } => {
                let me = &*self;
                let writes = parallel::map(&changes.upserts, self.concurrency, |u| {
                    let mut fields = Map::new();
                    fields.insert(VALUE_FIELD.into(), Value::String(text(&u.name, &u.value)?));
                    let rel = format!("{prefix}{}", u.name);
                    let cas = match u.expected.as_deref().and_then(|v| v.parse().ok()) {
                        Some(v) => v,
                        None => me.cas_for_absent(&rel)?,
                    };
                    let mark = !me.managed.get(&u.name).copied().unwrap_or(false);
                    let r = me.write_path(&rel, fields, cas, mark)?;
                    progress.inc();
                    Ok(match r {
                        Some(v) => Applied::Written(v.map(|v| v.to_string())),
                        None => Applied::Conflict,
                    })
                })?;
                out.extend(changes.upserts.iter().map(|u| u.name.clone()).zip(writes));
                parallel::map(&changes.deletes, self.concurrency, |name| {
                    me.delete_path(&format!("{prefix}{name}"), changes.force_delete)?;
                    progress.inc();
                    Ok(())
                })?;
                out.extend(
                    changes
                        .deletes
                        .iter()
                        .map(|n| (n.clone(), Applied::Deleted)),
                );
            }
        }
        Ok(out)
    }
}
