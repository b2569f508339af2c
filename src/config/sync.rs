//! The `[sync.NAME]` tables of `keep.toml` as written: the keys every target has, and one
//! `deny_unknown_fields` struct per provider, chosen by `provider`. This is the file's schema only;
//! `crate::sync::target` resolves a table against the project into the `Target` the engine uses.
//! It lives here, with the rest of the file's schema, so that `config` does not depend on `sync`
//! (which reads its tables from the parsed file) and the two no longer form a cycle.

use std::time::Duration;

use serde::Deserialize;

/// The `[sync.NAME]` table as written: the keys every target has, and the provider's own
/// ([`ProviderConfig`], chosen by `provider`). A key of another provider is an error naming the key
/// and its provider; an unknown one is an error naming the key. Keys that apply to every provider go
/// here (and in [`Shared`]), not in the provider structs.
#[derive(Clone, Debug)]
pub struct TargetConfig {
    /// The environment synced [default: the current one].
    pub env: Option<String>,
    /// Requests in flight at once [default: 8].
    pub concurrency: Option<usize>,
    /// Per-request timeout, e.g. "10s" [default: 30s]; parsed when the file is read.
    pub timeout: Option<Duration>,
    /// Also sync the secrets `env` inherits through `extends` [default: false].
    pub inherited: Option<bool>,
    /// `provider = "..."` and that provider's keys.
    pub provider: ProviderConfig,
}

/// The table as read: the shared keys, and the rest for the provider.
#[derive(Deserialize)]
struct Shared {
    env: Option<String>,
    concurrency: Option<usize>,
    #[serde(default, deserialize_with = "timeout")]
    timeout: Option<Duration>,
    inherited: Option<bool>,
    #[serde(flatten)]
    rest: toml::Table,
}

/// `timeout = "10s"`: a humantime duration, parsed once.
fn timeout<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("timeout {text:?}: {e} (e.g. \"10s\")")))
}

/// Keys that belong to one provider only, for the message when another provider's table has one.
const OWNED_KEYS: &[(&str, ProviderKind)] = &[
    ("region", ProviderKind::Aws),
    ("mount", ProviderKind::Hashicorp),
    ("project", ProviderKind::Gcp),
    ("old_versions", ProviderKind::Gcp),
    ("namespace", ProviderKind::Kubernetes),
    ("secret", ProviderKind::Kubernetes),
    ("context", ProviderKind::Kubernetes),
];

impl<'de> Deserialize<'de> for TargetConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let shared = Shared::deserialize(d)?;
        let kind = shared
            .rest
            .get("provider")
            .cloned()
            .map(ProviderKind::deserialize)
            .transpose()
            .map_err(D::Error::custom)?;
        if let Some(kind) = kind {
            for key in shared.rest.keys() {
                if let Some((_, owner)) = OWNED_KEYS
                    .iter()
                    .find(|(k, owner)| k == key && *owner != kind)
                {
                    return Err(D::Error::custom(format!(
                        "`{key}` is for {} targets only; this target's provider is {}",
                        owner.label(),
                        kind.label()
                    )));
                }
            }
        }
        let provider = ProviderConfig::deserialize(toml::Value::Table(shared.rest))
            .map_err(|e| D::Error::custom(e.message()))?;
        Ok(TargetConfig {
            env: shared.env,
            concurrency: shared.concurrency,
            timeout: shared.timeout,
            inherited: shared.inherited,
            provider,
        })
    }
}

/// The provider-specific half of a target, tagged by `provider`.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "provider", rename_all = "kebab-case")]
pub enum ProviderConfig {
    Aws(AwsConfig),
    /// HashiCorp Vault KV (`provider = "vault"`).
    #[serde(rename = "vault")]
    Hashicorp(HashicorpConfig),
    Gcp(GcpConfig),
    Kubernetes(KubernetesConfig),
}

/// `provider = "aws"`: AWS Secrets Manager.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    pub layout: Option<Layout>,
    /// Per-key layout: the remote name of NAME is `prefix + NAME`.
    pub prefix: Option<String>,
    /// Bundle layout: the one secret holding every name as a JSON object.
    pub path: Option<String>,
    /// AWS region [default: AWS_REGION, the profile, ...].
    pub region: Option<String>,
}

/// `provider = "vault"`: HashiCorp Vault or OpenBao KV.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashicorpConfig {
    pub layout: Option<Layout>,
    /// Per-key layout: NAME is at KV path `prefix + NAME` (field `value`).
    pub prefix: Option<String>,
    /// Bundle layout: the KV path holding every name as a field.
    pub path: Option<String>,
    /// KV mount [default: "secret"].
    pub mount: Option<String>,
}

/// `provider = "gcp"`: GCP Secret Manager.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcpConfig {
    pub layout: Option<Layout>,
    /// Per-key layout: the secret id of NAME is `prefix + NAME` (sanitised).
    pub prefix: Option<String>,
    /// Bundle layout: the one secret holding every name as a JSON object.
    pub path: Option<String>,
    /// Project id [default: CLOUDSDK_CORE_PROJECT, GOOGLE_CLOUD_PROJECT, the service account's].
    pub project: Option<String>,
    /// What a push does to the versions it supersedes [default: "keep"].
    pub old_versions: Option<OldVersions>,
}

/// `provider = "kubernetes"`: one Secret object.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    /// Only "bundle" (one Secret holds every name), accepted for symmetry with the other providers.
    pub layout: Option<Layout>,
    /// The name of the Secret object holding every name.
    pub secret: Option<String>,
    /// The Secret's name under the other providers' key for a bundle entry.
    pub path: Option<String>,
    /// The namespace of the Secret [default: the kubeconfig context's, else "default"].
    pub namespace: Option<String>,
    /// The kubeconfig context [default: the current context].
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
    /// HashiCorp Vault KV (`provider = "vault"`).
    #[serde(rename = "vault")]
    Hashicorp,
    /// GCP Secret Manager (`provider = "gcp"`).
    Gcp,
    /// Kubernetes Secrets (`provider = "kubernetes"`).
    Kubernetes,
}

impl ProviderKind {
    /// The provider's name in messages.
    pub fn label(self) -> &'static str {
        match self {
            ProviderKind::Aws => "AWS",
            ProviderKind::Hashicorp => "Vault",
            ProviderKind::Gcp => "GCP",
            ProviderKind::Kubernetes => "Kubernetes",
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn every_owned_key_is_a_key_of_its_provider() {
        for (key, owner) in OWNED_KEYS {
            let provider = match owner {
                ProviderKind::Aws => "aws",
                ProviderKind::Hashicorp => "vault",
                ProviderKind::Gcp => "gcp",
                ProviderKind::Kubernetes => "kubernetes",
            };
            let value = if *key == "old_versions" { "keep" } else { "x" };
            let text = format!("[sync.x]\nprovider = \"{provider}\"\n{key} = \"{value}\"\n");
            assert!(Config::parse(&text).is_ok(), "{text}");
        }
    }
}
