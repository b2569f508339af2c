//! Kubernetes Secrets: one `Secret` object per target, every keep name a key of its `data`.
//!
//! Auth and cluster selection are the `kube` crate's, which reads what kubectl reads: `KUBECONFIG`
//! (or `~/.kube/config`), the current context (or the target's `context`), bearer tokens, client
//! certificates and exec plugins, and inside a pod the service account token. The namespace is the
//! target's `namespace`, else the context's, else `default`.
//!
//! Concurrency: the object's `metadata.resourceVersion` is every name's version. A push is one JSON
//! merge patch that carries the resourceVersion seen in the plan, so the API server refuses it (409
//! Conflict) if anyone changed the object since: a conflict, never a lost update. A new object is
//! created with POST, which fails with 409 AlreadyExists if someone created it first.
//!
//! Ownership: keep labels the object `app.kubernetes.io/managed-by: keep` (the recommended label).
//! An existing object without that label belongs to someone else (Helm, a controller, a person): keep
//! reads it, but writes to it only with `--force`, which also labels it. `--prune` removes keys only
//! from a labelled object, and never deletes the object itself.
//!
//! `kube` is async; this provider owns a small single-threaded tokio runtime and blocks on it, like
//! the other providers' blocking calls. A push touches one object, so there is nothing to parallelise.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;
use kube::api::{Patch, PatchParams, PostParams};
use kube::config::KubeConfigOptions;
use kube::{Api, Client, Config};
use serde_json::{json, Map, Value};

use super::bundle::Bundle;
use super::target::Location;
use super::{Applied, Changes, Progress, Provider, RemoteMeta, RemoteValue, Target, MARKER_VALUE};
use crate::error::{Error, Result};
use crate::scope::Name;
use crate::value::SecretValue;

/// The recommended Kubernetes label saying which tool manages an object.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// One Secret in one namespace.
pub struct KubernetesProvider {
    rt: tokio::runtime::Runtime,
    api: Api<Secret>,
    namespace: String,
    secret: String,
    target: String,
    /// The object as last read (`None`: absent).
    current: Option<Option<Secret>>,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io {
            context: "cannot start the async runtime for Kubernetes".into(),
            source: e,
        })
}

fn managed(s: &Secret) -> bool {
    s.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(MANAGED_BY))
        .map(String::as_str)
        == Some(MARKER_VALUE)
}

impl KubernetesProvider {
    /// Load the kubeconfig (or in-cluster config) and build a client. No request is sent yet.
    pub fn connect(target: &Target) -> Result<KubernetesProvider> {
        let rt = runtime()?;
        let no_config = |e: &dyn std::fmt::Display| {
            Error::Remote(format!(
                "sync target {}: no usable Kubernetes configuration: {e} (set KUBECONFIG or create ~/.kube/config, \
                 or run inside a pod with a service account)",
                target.name
            ))
        };
        let config = rt.block_on(async {
            match &target.context {
                Some(context) => {
                    let opts = KubeConfigOptions {
                        context: Some(context.clone()),
                        ..Default::default()
                    };
                    Config::from_kubeconfig(&opts)
                        .await
                        .map_err(|e| no_config(&e))
                }
                None => Config::infer().await.map_err(|e| no_config(&e)),
            }
        })?;
        KubernetesProvider::with_config(target, config, Some(rt))
    }

    /// A provider for an explicit client configuration, on runtime `rt` (or a new one).
    pub fn with_config(
        target: &Target,
        mut config: Config,
        rt: Option<tokio::runtime::Runtime>,
    ) -> Result<KubernetesProvider> {
        let secret = match &target.location {
            Location::Bundle { path } => path.clone(),
            Location::PerKey { .. } => {
                return Err(Error::Usage(format!(
                    "sync target {}: a Kubernetes target is one Secret (`secret`)",
                    target.name
                )))
            }
        };
        let rt = match rt {
            Some(rt) => rt,
            None => runtime()?,
        };
        let no_config = |e: &dyn std::fmt::Display| {
            Error::Remote(format!(
                "sync target {}: cannot build a Kubernetes client: {e}",
                target.name
            ))
        };
        config.connect_timeout = Some(target.timeout);
        config.read_timeout = Some(target.timeout);
        config.write_timeout = Some(target.timeout);
        let namespace = target
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = {
            let _guard = rt.enter();
            Client::try_from(config).map_err(|e| no_config(&e))?
        };
        Ok(KubernetesProvider {
            api: Api::namespaced(client, &namespace),
            rt,
            namespace,
            secret,
            target: target.name.clone(),
            current: None,
        })
    }

    fn what(&self) -> String {
        format!("Secret {}/{}", self.namespace, self.secret)
    }

    fn remote(&self, op: &str, e: kube::Error) -> Error {
        let why = match &e {
            kube::Error::Api(s) if s.code == 401 || s.code == 403 => {
                format!("{} (HTTP {}): access denied; check the kubeconfig user and its RBAC on secrets", s.message, s.code)
            }
            kube::Error::Api(s) => format!("{} (HTTP {})", s.message, s.code),
            other => format!("{other} (is the API server in the kubeconfig reachable?)"),
        };
        Error::Remote(format!(
            "sync target {}: {op} {} failed: {why}",
            self.target,
            self.what()
        ))
    }

    fn load(&mut self) -> Result<Option<Secret>> {
        let got = match self.rt.block_on(self.api.get(&self.secret)) {
            Ok(s) => Some(s),
            Err(kube::Error::Api(s)) if s.code == 404 => None,
            Err(e) => return Err(self.remote("read", e)),
        };
        self.current = Some(got.clone());
        Ok(got)
    }

    fn snapshot(&mut self) -> Result<Option<Secret>> {
        match &self.current {
            Some(s) => Ok(s.clone()),
            None => self.load(),
        }
    }

    /// Create the Secret; its resourceVersion, or `None` if someone created it first.
    fn create(&self, data: BTreeMap<String, ByteString>) -> Result<Option<String>> {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(self.secret.clone()),
                namespace: Some(self.namespace.clone()),
                labels: Some([(MANAGED_BY.to_string(), MARKER_VALUE.to_string())].into()),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: Some(data),
            ..Default::default()
        };
        match self
            .rt
            .block_on(self.api.create(&PostParams::default(), &secret))
        {
            Ok(s) => Ok(Some(s.metadata.resource_version.unwrap_or_default())),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(None),
            Err(e) => Err(self.remote("create", e)),
        }
    }

    /// Merge-patch `data` (a `null` removes a key) on condition that the object is still at `version`.
    fn patch(&self, version: &str, data: Map<String, Value>) -> Result<Option<String>> {
        let patch = json!({
            "metadata": { "resourceVersion": version, "labels": { MANAGED_BY: MARKER_VALUE } },
            "data": Value::Object(data),
        });
        match self.rt.block_on(self.api.patch(
            &self.secret,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )) {
            Ok(s) => Ok(Some(s.metadata.resource_version.unwrap_or_default())),
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => Ok(None),
            Err(e) => Err(self.remote("write", e)),
        }
    }
}

impl Provider for KubernetesProvider {
    fn list(&mut self) -> Result<BTreeMap<Name, RemoteMeta>> {
        let Some(secret) = self.load()? else {
            return Ok(BTreeMap::new());
        };
        let meta = RemoteMeta {
            version: secret.metadata.resource_version.clone(),
            managed: managed(&secret),
        };
        Ok(secret
            .data
            .iter()
            .flatten()
            .filter_map(|(k, _)| Name::new(k).ok())
            .map(|n| (n, meta.clone()))
            .collect())
    }

    fn read(&mut self, names: &[Name], progress: &Progress) -> Result<BTreeMap<Name, RemoteValue>> {
        let Some(secret) = self.snapshot()? else {
            return Ok(BTreeMap::new());
        };
        let version = secret.metadata.resource_version.clone();
        let data = secret.data.unwrap_or_default();
        Ok(names
            .iter()
            .filter_map(|n| {
                progress.inc();
                let v = data.get(n.as_str())?;
                Some((
                    n.clone(),
                    RemoteValue {
                        value: SecretValue::new(v.0.clone()),
                        version: version.clone(),
                    },
                ))
            })
            .collect())
    }

    fn apply(&mut self, changes: &Changes, progress: &Progress) -> Result<BTreeMap<Name, Applied>> {
        let current = self.snapshot()?;
        let result = match &current {
            // Nothing to write and no object: nothing to create either (and the names are gone).
            None if changes.upserts.is_empty() => Some(None),
            None => {
                let data = changes
                    .upserts
                    .iter()
                    .map(|u| (u.name.to_string(), ByteString(u.value.expose().to_vec())))
                    .collect();
                // The create response's resourceVersion is the one keep wrote (a read-back could
                // already see someone else's change).
                self.create(data)?.map(Some)
            }
            Some(secret) => {
                if !managed(secret) && !changes.force {
                    return Err(Error::Usage(format!(
                        "sync target {}: {} exists but is not managed by keep (no {MANAGED_BY}=keep label); \
                         keep will not overwrite it. Rerun with --force to take it over, or point the target \
                         at another Secret",
                        self.target,
                        self.what()
                    )));
                }
                let version = secret.metadata.resource_version.clone().unwrap_or_default();
                let mut data = Map::new();
                for u in &changes.upserts {
                    let b64 = serde_json::to_value(ByteString(u.value.expose().to_vec()))
                        .unwrap_or(Value::Null);
                    data.insert(u.name.to_string(), b64);
                }
                for d in &changes.deletes {
                    data.insert(d.to_string(), Value::Null);
                }
                self.patch(&version, data)?.map(Some)
            }
        };
        self.current = None;
        Ok(Bundle::outcome(changes, result, progress))
    }
}
