//! GCP Secret Manager, over its v1 REST API with a token from `gcp_auth`.
//!
//! Why REST and not Google's `google-cloud-secretmanager-v1`: keep needs nine calls, and the official
//! crate brings its own HTTP, auth and long-running-operation stack (see ARCHITECTURE.md for the
//! measured build cost). Here the calls go through `ureq`, the blocking client the Vault provider
//! already uses, and `gcp_auth` supplies the token the way Google's tools do: a service-account JSON
//! in `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's application-default credentials, the metadata server
//! on GCE/GKE/Cloud Run, else `gcloud auth print-access-token`.
//!
//! Settings follow the gcloud CLI: the project comes from the target's `project`, else
//! `CLOUDSDK_CORE_PROJECT`, else `GOOGLE_CLOUD_PROJECT`, else the service account's own project; the
//! endpoint can be moved with `CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER` (an emulator, a private
//! endpoint), exactly as gcloud reads it.
//!
//! Layouts:
//! - `per-key`: one secret per name. Secret ids allow `[A-Za-z0-9_-]{1,255}`; keep names already fit,
//!   so the id is `sanitise(prefix) + NAME`, where `sanitise` replaces every other character of the
//!   prefix with `-` (`billing/prod/` becomes `billing-prod-`). The mapping is one-way only for the
//!   prefix, so listing strips the sanitised prefix and keeps what is a valid keep name.
//! - `bundle`: one secret (`path`, sanitised the same way) whose payload is a JSON object NAME -> value.
//!
//! Versions and concurrency: a value's version is the secret version number ("3"). `addVersion` has no
//! precondition in Google's API, so before adding one keep re-reads `versions/latest` and reports a
//! conflict if it moved since the plan; a writer racing in the few milliseconds between that check and
//! the add is not caught (Google offers no way to close that window). Creation is exact (`secretId`
//! collides with ALREADY_EXISTS), and deletion sends the secret's etag, so a secret changed since the
//! listing is not deleted. Payloads carry CRC32C checksums both ways: Google verifies what keep sends,
//! keep verifies what Google returns (a mismatch is an integrity error, exit 5).
//!
//! keep labels what it creates `managed-by=keep`; `--prune` deletes only labelled secrets. Superseded
//! versions stay enabled unless the target sets `old_versions = "disable"` or `"destroy"`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use base64::Engine as _;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::answer::{self, Answer};
use super::bundle::{self, Bundle, BundleBacked, TwoLayouts};
use super::http::{self, Client, Method, Reply, Service};
use super::target::{Location, OldVersions};
use super::{
    parallel, Applied, Changes, Progress, Provider, RemoteMeta, RemoteValue, Target, MARKER_KEY,
    MARKER_VALUE,
};
use crate::error::{Error, Result};
use crate::scope::Name;
use crate::value::SecretValue;

const DEFAULT_ENDPOINT: &str = "https://secretmanager.googleapis.com/";
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The most secrets one list page returns (Google's maximum is 25000; smaller pages keep responses small).
const PAGE_SIZE: u32 = 250;

/// Map a prefix or bundle path onto GCP's secret id alphabet.
pub fn sanitise(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// A connected project.
pub struct GcpProvider {
    http: Client,
    location: Location,
    concurrency: usize,
    old_versions: OldVersions,
    /// What the last listing saw, per secret id: its etag and label, and whether it has a readable version.
    seen: Mutex<BTreeMap<String, Seen>>,
    /// Bundle layout: the decoded object and its version, as last read.
    bundle: Option<Bundle>,
}

#[derive(Clone, Debug)]
struct Seen {
    etag: Option<String>,
    managed: bool,
}

/// Google's error text: `error.message`.
fn errors(body: &Value) -> Vec<String> {
    body["error"]["message"]
        .as_str()
        .map(|m| vec![m.to_string()])
        .unwrap_or_default()
}

/// Google's canonical error status (`ALREADY_EXISTS`, `ABORTED`...), if any.
fn code(r: &Reply) -> &str {
    r.body["error"]["status"].as_str().unwrap_or("")
}

/// A check-and-set style failure: the resource changed under us.
fn conflict(r: &Reply) -> bool {
    matches!(
        code(r),
        "ALREADY_EXISTS" | "ABORTED" | "FAILED_PRECONDITION"
    ) || r.status == 409
}

/// The version number at the end of a version resource name (`projects/p/secrets/s/versions/3`).
fn version_number(name: &str) -> Option<String> {
    name.rsplit_once("/versions/").map(|(_, v)| v.to_string())
}

fn labelled(secret: &Value) -> bool {
    secret["labels"][MARKER_KEY].as_str() == Some(MARKER_VALUE)
}

fn project_of(target: &Target, token_project: Option<String>) -> Result<String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    target
        .project
        .clone()
        .or_else(|| env("CLOUDSDK_CORE_PROJECT"))
        .or_else(|| env("GOOGLE_CLOUD_PROJECT"))
        .or(token_project)
        .ok_or_else(|| {
            Error::Usage(format!(
                "sync target {}: no GCP project: set `project` in [sync.{}], or CLOUDSDK_CORE_PROJECT",
                target.name, target.name
            ))
        })
}

/// An access token and the credentials' own project, from gcp_auth's standard chain.
fn token(target: &Target) -> Result<(Zeroizing<String>, Option<String>)> {
    let fail = |e: gcp_auth::Error| {
        Error::Remote(format!(
            "sync target {}: no GCP credentials: {e} (set GOOGLE_APPLICATION_CREDENTIALS to a service-account \
             key file, run `gcloud auth application-default login`, or run on GCP with a service account)",
            target.name
        ))
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            context: "cannot start the async runtime for GCP auth".into(),
            source: e,
        })?;
    let timeout = target.timeout;
    rt.block_on(async {
        let get = async {
            let provider = gcp_auth::provider().await?;
            let token = provider.token(&[SCOPE]).await?;
            let project = provider.project_id().await.ok().map(|p| p.to_string());
            Ok::<_, gcp_auth::Error>((Zeroizing::new(token.as_str().to_string()), project))
        };
        match tokio::time::timeout(timeout, get).await {
            Ok(r) => r.map_err(fail),
            Err(_) => Err(Error::Remote(format!(
                "sync target {}: getting a GCP access token timed out after {}s",
                target.name,
                timeout.as_secs()
            ))),
        }
    })
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Where and as whom to call: what [`GcpProvider::connect`] resolves from the environment.
pub struct Settings {
    /// Base URL, e.g. `https://secretmanager.googleapis.com/`.
    pub endpoint: String,
    pub token: Zeroizing<String>,
    pub project: String,
}

impl Settings {
    /// Resolve the endpoint, the token and the project as gcloud would.
    pub fn from_env(target: &Target) -> Result<Settings> {
        let endpoint = std::env::var("CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER")
            .ok()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.into());
        let (token, token_project) = token(target)?;
        let project = project_of(target, token_project)?;
        Ok(Settings {
            endpoint,
            token,
            project,
        })
    }
}

impl GcpProvider {
    /// Authenticate and resolve the project from the environment. No request reaches Secret Manager yet.
    pub fn connect(target: &Target) -> Result<GcpProvider> {
        Ok(GcpProvider::new(target, Settings::from_env(target)?))
    }

    /// A provider with explicit settings.
    pub fn new(target: &Target, settings: Settings) -> GcpProvider {
        let endpoint = format!(
            "{}/",
            settings
                .endpoint
                .trim()
                .trim_end_matches('/')
                .trim_end_matches("/v1")
        );
        let location = match &target.location {
            Location::PerKey { prefix } => Location::PerKey {
                prefix: sanitise(prefix),
            },
            Location::Bundle { path } => Location::Bundle {
                path: sanitise(path.trim_matches('/')),
            },
        };
        GcpProvider {
            http: Client::new(
                http::agent(target.timeout, None),
                format!("{endpoint}v1/projects/{}/", settings.project),
                Service {
                    name: "GCP Secret Manager".into(),
                    target: target.name.clone(),
                    unreachable: "is the network up, or CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER right?",
                    denied: "check GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login`, \
                             the project, and the role roles/secretmanager.admin",
                    errors,
                },
            )
            .header(
                "Authorization",
                Zeroizing::new(format!("Bearer {}", settings.token.as_str())),
            ),
            location,
            concurrency: target.concurrency,
            old_versions: target.old_versions,
            seen: Mutex::new(BTreeMap::new()),
            bundle: None,
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Seen>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every secret in the project whose id starts with `prefix` (all pages).
    fn list_secrets(&self, prefix: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut token = String::new();
        let size = PAGE_SIZE.to_string();
        loop {
            let mut q = vec![("pageSize", size.as_str())];
            if !token.is_empty() {
                q.push(("pageToken", token.as_str()));
            }
            let body = self
                .http
                .expect("list", "secrets", "secrets", &q, Method::Get, false)?
                .unwrap_or_default();
            // An empty project answers `{}`; anything but an object of ListSecrets' own fields
            // (with `secrets` a list) is not a listing.
            let listing = body.as_object().is_some_and(|o| {
                o.keys()
                    .all(|k| matches!(k.as_str(), "secrets" | "nextPageToken" | "totalSize"))
            }) && (body["secrets"].is_null() || body["secrets"].is_array());
            if !listing {
                return Err(self.http.remote(
                    "list",
                    "secrets",
                    answer::missing("a `secrets` list"),
                ));
            }
            for s in body["secrets"].as_array().into_iter().flatten() {
                let id = s["name"]
                    .as_str()
                    .and_then(|n| n.rsplit('/').next())
                    .unwrap_or("");
                if id.starts_with(prefix) {
                    out.push(s.clone());
                }
            }
            match body["nextPageToken"].as_str().filter(|t| !t.is_empty()) {
                Some(t) => token = t.to_string(),
                None => return Ok(out),
            }
        }
    }

    /// The latest version of a secret: its number, or `None` when the secret has no version or its
    /// latest one is disabled or destroyed (nothing readable).
    fn latest(&self, id: &str) -> Result<Option<String>> {
        let path = format!("secrets/{id}/versions/latest");
        let Some(v) = self.http.expect(
            "read the latest version of",
            id,
            &path,
            &[],
            Method::Get,
            true,
        )?
        else {
            return Ok(None);
        };
        let Some(state) = v["state"].as_str() else {
            return Err(self.http.remote(
                "read the latest version of",
                id,
                answer::missing("state"),
            ));
        };
        if state != "ENABLED" {
            return Ok(None);
        }
        Ok(v["name"].as_str().and_then(version_number))
    }

    /// The value of the latest version and its number, CRC32C-checked; `None` if nothing is readable.
    fn access(&self, id: &str) -> Result<Option<(SecretValue, String)>> {
        let path = format!("secrets/{id}/versions/latest:access");
        let r = self.http.call("read", id, &path, &[], Method::Get)?;
        let http = &self.http;
        if r.status == 404 || (r.status == 400 && code(&r) == "FAILED_PRECONDITION") {
            return Ok(None);
        }
        if !r.ok() {
            return Err(http.status_error("read", id, &r, None));
        }
        let version = r.body["name"]
            .as_str()
            .and_then(version_number)
            .unwrap_or_default();
        let data = r.body["payload"]["data"]
            .as_str()
            .ok_or_else(|| http.remote("read", id, answer::missing("payload.data")))?;
        let bytes = b64().decode(data).map_err(|_| {
            Error::Integrity(format!(
                "sync target {}: secret {id}: the payload is not valid base64",
                http.target()
            ))
        })?;
        let value = SecretValue::new(bytes);
        // int64 travels as a JSON string in Google's REST mapping; accept a number too.
        let sum = &r.body["payload"]["dataCrc32c"];
        let expected = sum
            .as_str()
            .map(|s| s.parse().unwrap_or(u64::MAX))
            .or(sum.as_u64());
        if let Some(expected) = expected {
            if u64::from(crc32c::crc32c(value.expose())) != expected {
                return Err(Error::Integrity(format!(
                    "sync target {}: secret {id} version {version}: the payload does not match its CRC32C \
                     checksum (corrupted in transit or at rest); nothing was changed locally",
                    http.target()
                )));
            }
        }
        Ok(Some((value, version)))
    }

    /// Create a labelled secret; `false` if it already exists.
    fn create(&self, id: &str) -> Result<bool> {
        let body =
            json!({ "replication": { "automatic": {} }, "labels": { MARKER_KEY: MARKER_VALUE } });
        let r = self.http.call(
            "create",
            id,
            "secrets",
            &[("secretId", id)],
            Method::Post(&body),
        )?;
        if r.ok() {
            return Ok(true);
        }
        if r.status == 409 || code(&r) == "ALREADY_EXISTS" {
            return Ok(false);
        }
        Err(self.http.status_error("create", id, &r, None))
    }

    /// Add a version holding `bytes`, with its checksum; returns the new version number.
    fn add_version(&self, id: &str, bytes: &[u8]) -> Result<String> {
        // The payload is the value, base64-encoded: an `Answer` wipes it however this ends.
        let body = Answer::from(json!({ "payload": {
            "data": b64().encode(bytes),
            "dataCrc32c": crc32c::crc32c(bytes).to_string(),
        }}));
        let path = format!("secrets/{id}:addVersion");
        let v = self
            .http
            .expect("write", id, &path, &[], Method::Post(&body), false)?
            .unwrap_or_default();
        let version = v["name"]
            .as_str()
            .and_then(version_number)
            .unwrap_or_default();
        self.retire_old_versions(id, &version)?;
        Ok(version)
    }

    /// Disable or destroy the enabled versions older than `keep`, if the target asks for it.
    fn retire_old_versions(&self, id: &str, keep: &str) -> Result<()> {
        let verb = match self.old_versions {
            OldVersions::Keep => return Ok(()),
            OldVersions::Disable => "disable",
            OldVersions::Destroy => "destroy",
        };
        let path = format!("secrets/{id}/versions");
        let body = self
            .http
            .expect(
                "list versions of",
                id,
                &path,
                &[("filter", "state:ENABLED")],
                Method::Get,
                false,
            )?
            .unwrap_or_default();
        for v in body["versions"].as_array().into_iter().flatten() {
            let Some(number) = v["name"].as_str().and_then(version_number) else {
                continue;
            };
            if number == keep || v["state"].as_str() != Some("ENABLED") {
                continue;
            }
            let req = json!({ "etag": v["etag"].as_str().unwrap_or("") });
            let path = format!("secrets/{id}/versions/{number}:{verb}");
            let r = self.http.call(verb, id, &path, &[], Method::Post(&req))?;
            // A version changed by someone else since the listing is left as it is.
            if !r.ok() && !conflict(&r) {
                return Err(self.http.status_error(verb, id, &r, None));
            }
        }
        Ok(())
    }

    /// Write `bytes` to secret `id` if its latest version is still `expected` (`None`: absent).
    fn write_if(
        &self,
        id: &str,
        expected: Option<&str>,
        bytes: &[u8],
        exists: bool,
    ) -> Result<Applied> {
        match expected {
            None if !exists => {
                if !self.create(id)? {
                    return Ok(Applied::Conflict);
                }
            }
            None => {
                // The secret exists without a readable version: it must still have none.
                if self.latest(id)?.is_some() {
                    return Ok(Applied::Conflict);
                }
            }
            Some(v) => {
                if self.latest(id)?.as_deref() != Some(v) {
                    return Ok(Applied::Conflict);
                }
            }
        }
        Ok(Applied::Written(Some(self.add_version(id, bytes)?)))
    }

    /// Delete secret `id` if its etag is still the listed one; `false` if it changed meanwhile.
    fn delete(&self, id: &str) -> Result<bool> {
        let etag = self.seen().get(id).and_then(|s| s.etag.clone());
        let q: Vec<(&str, &str)> = etag
            .as_deref()
            .map(|e| vec![("etag", e)])
            .unwrap_or_default();
        let r = self
            .http
            .call("delete", id, &format!("secrets/{id}"), &q, Method::Delete)?;
        if r.ok() || r.status == 404 {
            return Ok(true);
        }
        if conflict(&r) {
            return Ok(false);
        }
        Err(self.http.status_error("delete", id, &r, None))
    }

    fn load_bundle(&mut self, id: &str) -> Result<Bundle> {
        let mut b = Bundle::default();
        if let Some(secret) =
            self.http
                .expect("read", id, &format!("secrets/{id}"), &[], Method::Get, true)?
        {
            b.exists = true;
            b.managed = labelled(&secret);
            self.seen().insert(
                id.to_string(),
                Seen {
                    etag: secret["etag"].as_str().map(str::to_string),
                    managed: b.managed,
                },
            );
            if let Some((value, version)) = self.access(id)? {
                let text =
                    value.expose_str(&format!("secret {id} (a keep bundle is a JSON object)"))?;
                b.fields = match serde_json::from_str::<Value>(text) {
                    Ok(Value::Object(m)) => m,
                    _ => {
                        return Err(Error::Usage(format!(
                            "sync target {}: secret {id} does not hold a JSON object, so it is not a keep bundle; \
                             point `path` at another secret",
                            self.http.target()
                        )))
                    }
                };
                b.version = Some(version);
            }
        }
        self.bundle = Some(b.clone());
        Ok(b)
    }
}

impl BundleBacked for GcpProvider {
    fn cached_bundle(&self) -> Option<&Bundle> {
        self.bundle.as_ref()
    }

    fn fetch_bundle(&mut self, path: &str) -> Result<Bundle> {
        self.load_bundle(path)
    }
}

impl TwoLayouts for GcpProvider {
    fn location(&self) -> &Location {
        &self.location
    }

    fn list_per_key(&mut self, prefix: &str) -> Result<BTreeMap<Name, RemoteMeta>> {
        let secrets = self.list_secrets(prefix)?;
        let mut named = Vec::new();
        {
            let mut seen = self.seen();
            for s in &secrets {
                let id = s["name"]
                    .as_str()
                    .and_then(|n| n.rsplit('/').next())
                    .unwrap_or("")
                    .to_string();
                seen.insert(
                    id.clone(),
                    Seen {
                        etag: s["etag"].as_str().map(str::to_string),
                        managed: labelled(s),
                    },
                );
                // The server filters by prefix, but what it returns is not trusted to honour it.
                let Some(rest) = id.strip_prefix(prefix) else {
                    continue;
                };
                if let Ok(name) = Name::new(rest) {
                    named.push((name, id, labelled(s)));
                }
            }
        }
        let me = &*self;
        let versions = parallel::map(&named, self.concurrency, |(_, id, _)| me.latest(id))?;
        Ok(named
            .into_iter()
            .zip(versions)
            .filter_map(|((name, _, managed), v)| {
                v.map(|v| {
                    (
                        name,
                        RemoteMeta {
                            version: Some(v),
                            managed,
                        },
                    )
                })
            })
            .collect())
    }

    fn read_per_key(
        &mut self,
        prefix: &str,
        names: &[Name],
        progress: &Progress,
    ) -> Result<BTreeMap<Name, RemoteValue>> {
        let me = &*self;
        bundle::read_each(names, self.concurrency, progress, |name| {
            let r = me.access(&format!("{prefix}{name}"))?;
            Ok(r.map(|(value, version)| RemoteValue {
                value,
                version: Some(version),
            }))
        })
    }
}

impl Provider for GcpProvider {
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
                // One new version of the whole object: every name lands, or (conflict) none does.
                let b = self.bundle_at(&path)?;
                let fields = b.merged(changes)?;
                let payload =
                    Zeroizing::new(serde_json::to_vec(&Value::Object(fields)).unwrap_or_default());
                let written =
                    match self.write_if(&path, b.version.as_deref(), &payload, b.exists)? {
                        Applied::Written(v) => Some(v),
                        _ => None,
                    };
                self.bundle = None;
                out = Bundle::outcome(changes, written, progress);
            }
            Location::PerKey { prefix } => {
                let me = &*self;
                let existing: BTreeSet<String> = me.seen().keys().cloned().collect();
                let writes = parallel::map(&changes.upserts, self.concurrency, |u| {
                    let id = format!("{prefix}{}", u.name);
                    let r = me.write_if(
                        &id,
                        u.expected.as_deref(),
                        u.value.expose(),
                        existing.contains(&id),
                    )?;
                    progress.inc();
                    Ok(r)
                })?;
                out.extend(changes.upserts.iter().map(|u| u.name.clone()).zip(writes));
                let deleted = parallel::map(&changes.deletes, self.concurrency, |name| {
                    let id = format!("{prefix}{name}");
                    // Only what keep labelled, whatever the caller asks.
                    if !me.seen().get(&id).is_some_and(|s| s.managed) {
                        return Ok(None);
                    }
                    let done = me.delete(&id)?;
                    progress.inc();
                    Ok(Some((
                        name.clone(),
                        if done {
                            Applied::Deleted
                        } else {
                            Applied::Conflict
                        },
                    )))
                })?;
                out.extend(deleted.into_iter().flatten());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_gcp_rules() {
        assert_eq!(sanitise("billing/prod/"), "billing-prod-");
        assert_eq!(sanitise("a.b c_d-e"), "a-b-c_d-e");
        assert_eq!(
            version_number("projects/p/secrets/s/versions/12").as_deref(),
            Some("12")
        );
        assert_eq!(version_number("projects/p/secrets/s"), None);
    }
}
