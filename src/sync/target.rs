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
//! inherited = true           # also the secrets dev inherits through `extends` [default: false]
//! ```
//!
//! The table says only *where*; credentials and endpoints come from each provider's own environment
//! variables, read as its official CLI reads them, so existing setups work unchanged. Unknown keys are
//! rejected so a typo never syncs somewhere unexpected.

use std::time::Duration;

pub use crate::config::sync::{
    AwsConfig, GcpConfig, HashicorpConfig, KubernetesConfig, Layout, OldVersions, ProviderConfig,
    ProviderKind, TargetConfig,
};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::scope::{Name, Scope};

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
    /// With `inherited = true`: the environments `scope` extends, nearest first, whose secrets are
    /// synced too where `scope` has no record of its own. Empty by default: an inherited secret
    /// belongs to its ancestor, which has its own target, and pushing it with every child would make
    /// each child's remote a copy that drifts from the ancestor's.
    pub inherited: Vec<Scope>,
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
        let mut target = Target::from_config(name, table, default_scope)?;
        if table.inherited == Some(true) {
            target.inherited = crate::using::layers::chain(config, &target.scope)?
                .into_iter()
                .skip(1)
                .collect();
        }
        Ok(target)
    }

    /// The environment whose record of `name` this target syncs: its own scope unless `name` was
    /// found only in an ancestor (`inherited` gives the ancestors that hold which name).
    pub fn owner_of<'a>(
        &'a self,
        name: &Name,
        inherited: &'a std::collections::BTreeMap<Name, Scope>,
    ) -> &'a Scope {
        inherited.get(name).unwrap_or(&self.scope)
    }

    /// Validate one table.
    pub fn from_config(name: &str, t: &TargetConfig, default_scope: &Scope) -> Result<Target> {
        let bad = |msg: String| Error::Usage(format!("[sync.{name}] in keep.toml: {msg}"));
        let scope = match &t.env {
            Some(env) => Scope::new(default_scope.project(), env)?,
            None => default_scope.clone(),
        };
        let concurrency = t.concurrency.unwrap_or(super::DEFAULT_CONCURRENCY);
        if !(1..=64).contains(&concurrency) {
            return Err(bad(format!(
                "concurrency must be 1..=64, not {concurrency}"
            )));
        }
        let timeout = t.timeout.unwrap_or(Duration::from_secs(30));
        let mut target = Target {
            name: name.to_string(),
            provider: t.provider.kind(),
            scope,
            inherited: Vec::new(),
            location: Location::Bundle {
                path: String::new(),
            },
            region: None,
            mount: "secret".into(),
            concurrency,
            timeout,
            project: None,
            old_versions: OldVersions::default(),
            namespace: None,
            context: None,
        };
        match &t.provider {
            ProviderConfig::Aws(c) => {
                target.location = location(&bad, c.layout, Layout::PerKey, &c.prefix, &c.path)?;
                target.region = c.region.clone();
            }
            ProviderConfig::Hashicorp(c) => {
                target.location = location(&bad, c.layout, Layout::Bundle, &c.prefix, &c.path)?;
                if let Some(mount) = &c.mount {
                    target.mount = mount.trim_matches('/').to_string();
                }
            }
            ProviderConfig::Gcp(c) => {
                target.location = location(&bad, c.layout, Layout::PerKey, &c.prefix, &c.path)?;
                target.project = c.project.clone();
                target.old_versions = c.old_versions.unwrap_or_default();
            }
            ProviderConfig::Kubernetes(c) => {
                // One Secret object per target: the bundle layout, named by `secret` (or `path`, as
                // the bundle entry of the other providers is).
                if c.layout == Some(Layout::PerKey) || (c.path.is_some() && c.secret.is_some()) {
                    return Err(bad(
                        "a Kubernetes target is one Secret: set `secret` (and `namespace`), not `prefix` or per-key".into(),
                    ));
                }
                let secret = c
                    .secret
                    .clone()
                    .or_else(|| c.path.clone())
                    .filter(|s| is_dns_subdomain(s))
                    .ok_or_else(|| bad("a Kubernetes target needs `secret`, the Secret object's name (lowercase letters, digits, '-' and '.', at most 253)".into()))?;
                target.location = Location::Bundle { path: secret };
                target.namespace = c.namespace.clone();
                target.context = c.context.clone();
            }
        }
        Ok(target)
    }
}

impl ProviderConfig {
    /// Which provider the table names.
    pub fn kind(&self) -> ProviderKind {
        match self {
            ProviderConfig::Aws(_) => ProviderKind::Aws,
            ProviderConfig::Hashicorp(_) => ProviderKind::Hashicorp,
            ProviderConfig::Gcp(_) => ProviderKind::Gcp,
            ProviderConfig::Kubernetes(_) => ProviderKind::Kubernetes,
        }
    }
}

/// Where a target of a two-layout provider points: `prefix` for per-key, `path` for bundle
/// (`default` when `layout` is not given).
fn location(
    bad: &dyn Fn(String) -> Error,
    layout: Option<Layout>,
    default: Layout,
    prefix: &Option<String>,
    path: &Option<String>,
) -> Result<Location> {
    match layout.unwrap_or(default) {
        Layout::PerKey => {
            if path.is_some() {
                return Err(bad(
                    "`path` is for layout = \"bundle\"; per-key uses `prefix`".into(),
                ));
            }
            Ok(Location::PerKey {
                prefix: prefix.clone().unwrap_or_default(),
            })
        }
        Layout::Bundle => {
            if prefix.is_some() {
                return Err(bad(
                    "`prefix` is for layout = \"per-key\"; bundle uses `path`".into(),
                ));
            }
            let path = path
                .clone()
                .filter(|p| !p.trim_matches('/').is_empty())
                .ok_or_else(|| {
                    bad("layout = \"bundle\" needs `path` (the entry holding every name)".into())
                })?;
            Ok(Location::Bundle { path })
        }
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

    #[test]
    fn a_key_of_another_provider_is_an_error_naming_it() {
        for (provider, key) in [
            ("vault", "project = \"p\""),
            ("aws", "mount = \"secret\""),
            ("gcp", "namespace = \"x\""),
            ("kubernetes", "region = \"eu-west-1\""),
            ("kubernetes", "prefix = \"a/\""),
        ] {
            let text = format!("[sync.x]\nprovider = \"{provider}\"\n{key}\n");
            let e = Config::parse(&text).unwrap_err().to_string();
            let name = key.split(' ').next().unwrap();
            assert!(e.contains(&format!("`{name}`")), "{provider} {key}: {e}");
        }
    }

    #[test]
    fn each_provider_gets_its_own_settings() {
        let c = Config::parse(
            "[sync.g]\nprovider = \"gcp\"\nproject = \"p\"\nold_versions = \"destroy\"\n\
             concurrency = 3\ntimeout = \"5s\"\n\
             [sync.k]\nprovider = \"kubernetes\"\nnamespace = \"ns\"\nsecret = \"app-env\"\n\
             [sync.v]\nprovider = \"vault\"\nmount = \"/kv/\"\npath = \"app\"\n",
        )
        .unwrap();
        let g = Target::resolve(Some(&c), "g", &scope()).unwrap();
        assert_eq!(g.provider, ProviderKind::Gcp);
        assert_eq!(g.project.as_deref(), Some("p"));
        assert_eq!(g.old_versions, OldVersions::Destroy);
        assert_eq!((g.concurrency, g.timeout), (3, Duration::from_secs(5)));
        assert_eq!(g.location, Location::PerKey { prefix: "".into() });
        let k = Target::resolve(Some(&c), "k", &scope()).unwrap();
        assert_eq!(k.namespace.as_deref(), Some("ns"));
        assert_eq!(
            k.location,
            Location::Bundle {
                path: "app-env".into()
            }
        );
        let v = Target::resolve(Some(&c), "v", &scope()).unwrap();
        assert_eq!(v.mount, "kv");
        // A Secret name Kubernetes would refuse, and a per-key path, are usage errors.
        for bad in [
            "[sync.x]\nprovider = \"kubernetes\"\nsecret = \"Bad_Name\"\n",
            "[sync.x]\nprovider = \"aws\"\npath = \"p\"\n",
            "[sync.x]\nprovider = \"vault\"\nprefix = \"p/\"\n",
            "[sync.x]\nprovider = \"aws\"\nconcurrency = 0\n",
        ] {
            let c = Config::parse(bad).unwrap();
            assert!(
                matches!(
                    Target::resolve(Some(&c), "x", &scope()),
                    Err(Error::Usage(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn inherited_names_the_ancestors_nearest_first_and_is_off_by_default() {
        let c = Config::parse(
            "project = \"billing\"\n[env.prod]\nextends = \"staging\"\n\
             [env.staging]\nextends = \"shared\"\n\
             [sync.all]\nprovider = \"aws\"\nenv = \"prod\"\ninherited = true\n\
             [sync.own]\nprovider = \"aws\"\nenv = \"prod\"\n",
        )
        .unwrap();
        let all = Target::resolve(Some(&c), "all", &scope()).unwrap();
        let envs: Vec<&str> = all.inherited.iter().map(Scope::env).collect();
        assert_eq!(envs, ["staging", "shared"]);
        assert!(Target::resolve(Some(&c), "own", &scope())
            .unwrap()
            .inherited
            .is_empty());
        assert!(Config::parse("[sync.x]\nprovider = \"aws\"\ninherited = \"yes\"\n").is_err());
    }
}
