//! `[sync.NAME]` tables in `keep.toml`: where one environment's secrets live remotely.
//!
//! ```toml
//! [sync.prod-aws]
//! provider = "aws"
//! env = "prod"
//! prefix = "billing/prod/"   # per-key: one secret per name, prefix + NAME
//! layout = "per-key"         # or "bundle": one secret (`path`) holding a JSON object
//! region = "eu-west-1"
//!
//! [sync.team-vault]
//! provider = "vault"
//! env = "dev"
//! mount = "secret"
//! path = "billing/dev"       # bundle (default for vault): one KV entry, every name a field
//! ```
//!
//! The table says only *where*; credentials and endpoints come from each provider's own environment
//! variables, read as its official CLI reads them, so existing setups work unchanged. Unknown keys are
//! rejected so a typo never syncs somewhere unexpected.

use std::time::Duration;

use serde::Deserialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::scope::Scope;

/// Kubernetes object names: lowercase RFC 1123 subdomains.
fn is_dns_subdomain(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    !s.is_empty()
        && s.len() <= 253
        && s.chars().all(ok)
        && edge(s.chars().next())
        && edge(s.chars().last())
}

/// The `[sync.NAME]` table as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    pub provider: ProviderKind,
    /// The environment synced [default: the current one].
    pub env: Option<String>,
    pub layout: Option<Layout>,
    /// Per-key layout: the remote name of NAME is `prefix + NAME`.
    pub prefix: Option<String>,
    /// Bundle layout: the remote secret (AWS) or KV path (Vault) holding every name.
    pub path: Option<String>,
    /// AWS region [default: AWS_REGION, the profile, ...].
    pub region: Option<String>,
    /// Vault KV mount [default: "secret"].
    pub mount: Option<String>,
    /// Requests in flight at once [default: 8].
    pub concurrency: Option<usize>,
    /// Per-request timeout, e.g. "10s" [default: 30s].
    pub timeout: Option<String>,
    /// GCP project id [default: CLOUDSDK_CORE_PROJECT, GOOGLE_CLOUD_PROJECT, the service account's].
    pub project: Option<String>,
    /// GCP: what a push does to the versions it supersedes [default: "keep"].
    pub old_versions: Option<OldVersions>,
    /// Kubernetes: the namespace of the Secret [default: the kubeconfig context's, else "default"].
    pub namespace: Option<String>,
    /// Kubernetes: the name of the Secret object holding every name.
    pub secret: Option<String>,
    /// Kubernetes: the kubeconfig context [default: the current context].
    pub context: Option<String>,
}

/// GCP Secret Manager keeps every version of a secret; a push adds one. Older versions are left alone
/// unless the target asks otherwise.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum OldVersions {
    /// Leave superseded versions enabled (Google's default).
    #[default]
    Keep,
    /// Disable them (recoverable with `gcloud secrets versions enable`).
    Disable,
    /// Destroy them (irreversible).
    Destroy,
}

/// Which secrets manager.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    Aws,
    Vault,
    /// GCP Secret Manager (`provider = "gcp"`).
    Gcp,
    /// Kubernetes Secrets (`provider = "kubernetes"`).
    Kubernetes,
}

/// How names map onto remote entries.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// One remote entry per name.
    PerKey,
    /// One remote entry holding every name (a JSON object in AWS, fields of one KV path in Vault).
    Bundle,
}

/// Where a resolved target points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// `prefix + NAME` per name.
    PerKey { prefix: String },
    /// One entry at `path`.
    Bundle { path: String },
}

/// A target resolved against the project: what the engine and providers use.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: String,
    pub provider: ProviderKind,
    pub scope: Scope,
    pub location: Location,
    pub region: Option<String>,
    pub mount: String,
    pub concurrency: usize,
    pub timeout: Duration,
    /// GCP project id, when set in the table.
    pub project: Option<String>,
    /// GCP: what happens to superseded versions.
    pub old_versions: OldVersions,
    /// Kubernetes namespace, when set in the table.
    pub namespace: Option<String>,
    /// Kubernetes kubeconfig context, when set in the table.
    pub context: Option<String>,
}

impl Target {
    /// Resolve target `name` from `config`, syncing `default_scope`'s environment unless the table
    /// names one.
    pub fn resolve(config: Option<&Config>, name: &str, default_scope: &Scope) -> Result<Target> {
        let table = config.and_then(|c| c.sync.get(name)).ok_or_else(|| {
            let known: Vec<&str> = config
                .map(|c| c.sync.keys().map(String::as_str).collect())
                .unwrap_or_default();
            Error::NotFound(format!(
                "no sync target {name:?} in keep.toml (known: {}); add a [sync.{name}] table",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        Target::from_config(name, table, default_scope)
    }

    /// Validate one table.
    pub fn from_config(name: &str, t: &TargetConfig, default_scope: &Scope) -> Result<Target> {
        let bad = |msg: String| Error::Usage(format!("[sync.{name}] in keep.toml: {msg}"));
        let scope = match &t.env {
            Some(env) => Scope::new(default_scope.project(), env)?,
            None => default_scope.clone(),
        };
        let layout = t.layout.unwrap_or(match t.provider {
            ProviderKind::Aws | ProviderKind::Gcp => Layout::PerKey,
            ProviderKind::Vault | ProviderKind::Kubernetes => Layout::Bundle,
        });
        let is = |k: ProviderKind| t.provider == k;
        let only = |set: bool, key: &str, kind: ProviderKind, what: &str| {
            if set && !is(kind) {
                Err(bad(format!("`{key}` is a {what} setting")))
            } else {
                Ok(())
            }
        };
        only(t.project.is_some(), "project", ProviderKind::Gcp, "GCP")?;
        only(
            t.old_versions.is_some(),
            "old_versions",
            ProviderKind::Gcp,
            "GCP",
        )?;
        only(
            t.namespace.is_some(),
            "namespace",
            ProviderKind::Kubernetes,
            "Kubernetes",
        )?;
        only(
            t.secret.is_some(),
            "secret",
            ProviderKind::Kubernetes,
            "Kubernetes",
        )?;
        only(
            t.context.is_some(),
            "context",
            ProviderKind::Kubernetes,
            "Kubernetes",
        )?;
        if is(ProviderKind::Kubernetes) {
            // One Secret object per target: the bundle layout, named by `secret` (or `path`, as the
            // bundle entry of the other providers is).
            if layout != Layout::Bundle
                || t.prefix.is_some()
                || (t.path.is_some() && t.secret.is_some())
            {
                return Err(bad(
                    "a Kubernetes target is one Secret: set `secret` (and `namespace`), not `prefix` or per-key".into(),
                ));
            }
        }
        let location = match layout {
            Layout::Bundle if is(ProviderKind::Kubernetes) => {
                let secret = t
                    .secret
                    .clone()
                    .or_else(|| t.path.clone())
                    .filter(|s| is_dns_subdomain(s))
                    .ok_or_else(|| bad("a Kubernetes target needs `secret`, the Secret object's name (lowercase letters, digits, '-' and '.', at most 253)".into()))?;
                Location::Bundle { path: secret }
            }
            Layout::PerKey => {
                if t.path.is_some() {
                    return Err(bad(
                        "`path` is for layout = \"bundle\"; per-key uses `prefix`".into(),
                    ));
                }
                Location::PerKey {
                    prefix: t.prefix.clone().unwrap_or_default(),
                }
            }
            Layout::Bundle => {
                if t.prefix.is_some() {
                    return Err(bad(
                        "`prefix` is for layout = \"per-key\"; bundle uses `path`".into(),
                    ));
                }
                let path = t
                    .path
                    .clone()
                    .filter(|p| !p.trim_matches('/').is_empty())
                    .ok_or_else(|| {
                        bad(
                            "layout = \"bundle\" needs `path` (the entry holding every name)"
                                .into(),
                        )
                    })?;
                Location::Bundle { path }
            }
        };
        if t.provider != ProviderKind::Vault && t.mount.is_some() {
            return Err(bad("`mount` is a Vault setting".into()));
        }
        if t.provider != ProviderKind::Aws && t.region.is_some() {
            return Err(bad("`region` is an AWS setting".into()));
        }
        let concurrency = t.concurrency.unwrap_or(super::DEFAULT_CONCURRENCY);
        if !(1..=64).contains(&concurrency) {
            return Err(bad(format!(
                "concurrency must be 1..=64, not {concurrency}"
            )));
        }
        let timeout = match &t.timeout {
            Some(s) => humantime::parse_duration(s)
                .map_err(|e| bad(format!("timeout {s:?}: {e} (e.g. \"10s\")")))?,
            None => Duration::from_secs(30),
        };
        Ok(Target {
            name: name.to_string(),
            provider: t.provider,
            scope,
            location,
            region: t.region.clone(),
            mount: t
                .mount
                .clone()
                .unwrap_or_else(|| "secret".into())
                .trim_matches('/')
                .to_string(),
            concurrency,
            timeout,
            project: t.project.clone(),
            old_versions: t.old_versions.unwrap_or_default(),
            namespace: t.namespace.clone(),
            context: t.context.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope::new("billing", "dev").unwrap()
    }

    #[test]
    fn parses_the_documented_tables() {
        let c = Config::parse(
            "project = \"billing\"\n[sync.prod-aws]\nprovider = \"aws\"\nenv = \"prod\"\n\
             prefix = \"billing/prod/\"\nlayout = \"per-key\"\nregion = \"eu-west-1\"\n\
             [sync.team-vault]\nprovider = \"vault\"\nenv = \"dev\"\nmount = \"secret\"\npath = \"billing/dev\"\n",
        )
        .unwrap();
        let aws = Target::resolve(Some(&c), "prod-aws", &scope()).unwrap();
        assert_eq!(aws.scope.env(), "prod");
        assert_eq!(
            aws.location,
            Location::PerKey {
                prefix: "billing/prod/".into()
            }
        );
        let v = Target::resolve(Some(&c), "team-vault", &scope()).unwrap();
        assert_eq!(
            v.location,
            Location::Bundle {
                path: "billing/dev".into()
            }
        );
        assert_eq!(v.concurrency, 8);
    }

    #[test]
    fn unknown_keys_and_targets_are_rejected() {
        assert!(Config::parse("[sync.x]\nprovider = \"aws\"\nprefx = \"a/\"\n").is_err());
        assert!(Config::parse("[sync.x]\nprovider = \"gcs\"\n").is_err());
        let c = Config::parse("[sync.x]\nprovider = \"aws\"\n").unwrap();
        assert!(matches!(
            Target::resolve(Some(&c), "y", &scope()),
            Err(Error::NotFound(_))
        ));
        let c = Config::parse("[sync.x]\nprovider = \"aws\"\nlayout = \"bundle\"\n").unwrap();
        assert!(matches!(
            Target::resolve(Some(&c), "x", &scope()),
            Err(Error::Usage(_))
        ));
    }
}
