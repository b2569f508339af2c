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

use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use super::answer::{self, Answer};
use super::bundle::{self, Bundle, BundleBacked, TwoLayouts};
use super::http::{self, Client, Method, Reply, Service};
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
pub struct HashicorpKv {
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

/// The shared client, called with Vault's paths (which also name what a message is about).
struct Http(Client);

impl Http {
    fn remote(&self, op: &str, path: &str, why: impl std::fmt::Display) -> Error {
        self.0.remote(op, path, why)
    }

    fn call(&self, op: &str, path: &str, method: Method) -> Result<Reply> {
        self.0.call(op, path, path, &[], method)
    }

    fn expect(
        &self,
        op: &str,
        path: &str,
        method: Method,
        absent_ok: bool,
    ) -> Result<Option<Answer>> {
        self.0.expect(op, path, path, &[], method, absent_ok)
    }
}

/// Vault's error text: its `errors` array.
fn errors(body: &Value) -> Vec<String> {
    http::strings(&body["errors"])
}

/// A KV v2 write refused because `cas` no longer names the current version.
fn cas_failed(r: &Reply) -> bool {
    r.status == 400 && errors(&r.body).iter().any(|e| e.contains("check-and-set"))
}

/// Where and how to reach Vault (from `VAULT_*` in [`HashicorpKv::connect`]).
pub struct Settings {
    pub addr: String,
    pub token: Option<Zeroizing<String>>,
    pub namespace: Option<String>,
    pub cacert: Option<std::path::PathBuf>,
}

/// The TLS settings: the system roots, or the PEM certificates of `VAULT_CACERT`.
fn tls(cacert: Option<&std::path::Path>) -> Result<Option<ureq::tls::TlsConfig>> {
    let Some(path) = cacert else {
        return Ok(None);
    };
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
    Ok(Some(
        ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
            .build(),
    ))
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

impl HashicorpKv {
    /// Connect with the settings the `vault` CLI reads from the environment.
    pub fn connect(target: &Target) -> Result<HashicorpKv> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let settings = Settings {
            addr: env("VAULT_ADDR").unwrap_or_else(|| "https://127.0.0.1:8200".into()),
            token: token(),
            namespace: env("VAULT_NAMESPACE"),
            cacert: env("VAULT_CACERT").map(std::path::PathBuf::from),
        };
        HashicorpKv::new(target, settings)
    }

    /// Connect with explicit settings and detect the mount's KV version.
    pub fn new(target: &Target, settings: Settings) -> Result<HashicorpKv> {
        let token = settings.token.ok_or_else(|| {
            Error::Remote(format!(
                "sync target {}: no Vault token: set VAULT_TOKEN or log in so that ~/.vault-token exists",
                target.name
            ))
        })?;
        let addr = settings.addr.trim_end_matches('/').to_string();
        let service = Service {
            name: format!("Vault at {addr}"),
            target: target.name.clone(),
            unreachable: "is VAULT_ADDR right and the server up?",
            denied: "check VAULT_TOKEN or ~/.vault-token, VAULT_NAMESPACE and the token's policy",
            errors,
        };
        let agent = http::agent(target.timeout, tls(settings.cacert.as_deref())?);
        let mut client = Client::new(agent, format!("{addr}/v1/"), service)
            .header("X-Vault-Token", token)
            .header("X-Vault-Request", Zeroizing::new("true".into()));
        if let Some(ns) = settings.namespace {
            client = client.header("X-Vault-Namespace", Zeroizing::new(ns));
        }
        let http = Http(client);
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
        Ok(HashicorpKv {
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
        let mut r = self.http.call("read", &path, Method::Get)?;
        match r.status {
            200 => {}
            404 => return Ok(None),
            _ => return Err(self.http.0.status_error("read", &path, &r, None)),
        }
        let body = &mut r.body;
        let lacks = |what: &str| self.http.remote("read", &path, answer::missing(what));
        // Fields are taken out only when they are an object; anything else stays in the answer,
        // which wipes it.
        let version = body["data"]["metadata"]["version"].as_u64();
        let has_meta = body["data"]["metadata"].is_object();
        let fields = if self.v2 {
            &mut body["data"]["data"]
        } else {
            &mut body["data"]
        };
        match fields {
            Value::Object(fields) => {
                Ok(Some((std::mem::take(fields), version.filter(|_| self.v2))))
            }
            // A deleted or destroyed current version: metadata, no data.
            Value::Null if self.v2 && has_meta => Ok(None),
            _ if self.v2 => Err(lacks("data.data (the secret's fields)")),
            _ => Err(lacks("data (the secret's fields)")),
        }
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
        // The body holds the values: an `Answer` wipes it however this ends.
        let body = Answer::from(body);
        let r = self.http.call("write", &path, Method::Post(&body))?;
        if self.v2 && cas_failed(&r) {
            return Ok(None);
        }
        if !r.ok() {
            return Err(self.http.0.status_error("write", &path, &r, Some(&*body)));
        }
        if self.v2 && mark {
            let meta = self.meta_path(rel);
            let body = json!({ "custom_metadata": { MARKER_KEY: MARKER_VALUE } });
            self.http
                .expect("mark", &meta, Method::Post(&body), false)?;
        }
        Ok(Some(r.body["data"]["version"].as_u64()))
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

impl BundleBacked for HashicorpKv {
    fn cached_bundle(&self) -> Option<&Bundle> {
        self.bundle.as_ref()
    }

    fn fetch_bundle(&mut self, path: &str) -> Result<Bundle> {
        self.load_bundle(path)
    }
}

impl TwoLayouts for HashicorpKv {
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

impl Provider for HashicorpKv {
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
