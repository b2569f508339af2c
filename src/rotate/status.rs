//! Where every secret stands: its age, its policy, whether it is overdue or was never rotated, and
//! whether a rotation is pending. Also the plans of `keep rotate --due` and `keep rotate --all`.
//!
//! A secret's policy is the one set in the vault with `keep policy set` (per scope) or, failing that,
//! `max_age`/`generator` of `[secrets.NAME]` in the project's `keep.toml`.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::engine::AfterPromotion;
use super::generator::{Generator, PublicPart};
use super::meta::{self, Policy};
use super::settings::Settings;
use crate::audit::Action;
use crate::error::Result;
use crate::scope::{Address, Scope};
use crate::vault::Vault;

/// A policy with where it came from.
#[derive(Clone, Debug, Serialize)]
pub struct EffectivePolicy {
    pub max_age_secs: u64,
    pub generator: Option<Generator>,
    /// `vault` or `keep.toml`.
    pub source: &'static str,
}

impl EffectivePolicy {
    fn max_age(&self) -> Duration {
        Duration::from_secs(self.max_age_secs)
    }
}

fn from_config(settings: &Settings, address: &Address) -> Option<EffectivePolicy> {
    let s = settings.secret(address)?;
    Some(EffectivePolicy {
        max_age_secs: s.max_age?.as_secs(),
        generator: s.generator.clone(),
        source: "keep.toml",
    })
}

fn from_vault(p: Policy) -> EffectivePolicy {
    EffectivePolicy {
        max_age_secs: p.max_age_secs,
        generator: p.generator,
        source: "vault",
    }
}

/// The policy that applies to `address`.
pub fn effective_policy(
    vault: &mut Vault,
    settings: &Settings,
    address: &Address,
) -> Result<Option<EffectivePolicy>> {
    Ok(match meta::load(vault, address)?.policy {
        Some(p) => Some(from_vault(p)),
        None => from_config(settings, address),
    })
}

/// One line of `keep status`.
#[derive(Clone, Debug, Serialize)]
pub struct SecretStatus {
    #[serde(serialize_with = "as_string")]
    pub address: Address,
    pub name: String,
    pub env: String,
    pub version: u32,
    /// RFC 3339 time of the current version.
    pub updated: String,
    pub age_secs: u64,
    pub policy: Option<EffectivePolicy>,
    /// Older than the policy's max age.
    pub overdue: bool,
    /// The secret still has the first value it was given.
    pub never_rotated: bool,
    /// A rotation waits for its hooks: the failing hook, if any.
    pub pending: Option<PendingInfo>,
    pub public: Option<PublicPart>,
}

/// A pending rotation, without its value.
#[derive(Clone, Debug, Serialize)]
pub struct PendingInfo {
    pub created: String,
    pub generator: Generator,
    pub failed_hook: Option<String>,
}

fn as_string<S: serde::Serializer>(a: &Address, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&a.to_string())
}

fn generator_or_manual<S: serde::Serializer>(
    g: &Option<Generator>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match g {
        Some(g) => s.serialize_str(&g.to_string()),
        None => s.serialize_str("manual"),
    }
}

/// Which secrets to look at.
#[derive(Clone, Debug)]
pub enum Selection<'a> {
    Scope(&'a Scope),
    Project(&'a str),
}

impl Selection<'_> {
    fn contains(&self, a: &Address) -> bool {
        match self {
            Selection::Scope(s) => &a.scope == *s,
            Selection::Project(p) => a.scope.project() == *p,
        }
    }
}

/// The status of every live secret in `selection`, sorted by address.
pub fn status(
    vault: &mut Vault,
    settings: &Settings,
    selection: &Selection<'_>,
) -> Result<Vec<SecretStatus>> {
    let now = SystemTime::now();
    let entries: Vec<_> = vault
        .list(None, false)?
        .into_iter()
        .filter(|e| selection.contains(&e.address))
        .collect();
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let m = meta::load(vault, &e.address)?;
        let policy = match m.policy {
            Some(p) => Some(from_vault(p)),
            None => from_config(settings, &e.address),
        };
        let age = now.duration_since(e.updated).unwrap_or_default();
        let versions = vault.history(&e.address)?.len();
        let pending = meta::pending(vault, &e.address)?.map(|p| PendingInfo {
            created: humantime::format_rfc3339_seconds(crate::audit::entry::time_of(p.created_ms))
                .to_string(),
            generator: p.generator,
            failed_hook: p.failed_hook,
        });
        out.push(SecretStatus {
            name: e.address.name.to_string(),
            env: e.address.scope.env().to_string(),
            version: e.version,
            updated: humantime::format_rfc3339_seconds(e.updated).to_string(),
            age_secs: age.as_secs(),
            overdue: policy.as_ref().is_some_and(|p| age > p.max_age()),
            never_rotated: versions <= 1,
            policy,
            pending,
            public: m.public,
            address: e.address,
        });
    }
    Ok(out)
}

/// One step of a rotation plan.
#[derive(Clone, Debug, Serialize)]
pub struct PlanItem {
    #[serde(serialize_with = "as_string")]
    pub address: Address,
    /// The generator; none when the secret must be rotated by hand (`manual` in `--json`).
    #[serde(serialize_with = "generator_or_manual")]
    pub generator: Option<Generator>,
    /// Hooks that will run, then linked sync targets that will be pushed.
    pub consumers: Vec<String>,
    /// Why it is in the plan: `overdue`, `all`.
    pub reason: &'static str,
    pub overdue: bool,
}

impl PlanItem {
    pub fn manual(&self) -> bool {
        self.generator.is_none()
    }
}

/// The plan for `statuses`: every one (`--all`), or only the overdue ones (`--due`).
pub fn plan(
    statuses: &[SecretStatus],
    settings: &Settings,
    after: &dyn AfterPromotion,
    only_due: bool,
) -> Vec<PlanItem> {
    statuses
        .iter()
        .filter(|s| !only_due || s.overdue)
        .map(|s| {
            let mut consumers = settings.hooks(&s.address);
            consumers.extend(after.linked_targets(&s.address));
            PlanItem {
                address: s.address.clone(),
                generator: s.policy.as_ref().and_then(|p| p.generator.clone()),
                consumers,
                reason: if only_due { "overdue" } else { "all" },
                overdue: s.overdue,
            }
        })
        .collect()
}

/// Set or replace the vault policy of `address`.
pub fn set_policy(vault: &mut Vault, address: &Address, policy: Policy) -> Result<()> {
    let result = meta::load(vault, address).and_then(|mut m| {
        m.policy = Some(policy);
        meta::save(vault, address, &m)
    });
    crate::audit::recorded(vault, Action::Policy, std::slice::from_ref(address), result)
}

/// Remove the vault policy of `address`; `false` when it had none.
pub fn remove_policy(vault: &mut Vault, address: &Address) -> Result<bool> {
    let result = meta::load(vault, address).and_then(|mut m| {
        if m.policy.take().is_none() {
            return Ok(false);
        }
        meta::save(vault, address, &m)?;
        Ok(true)
    });
    crate::audit::recorded(vault, Action::Policy, std::slice::from_ref(address), result)
}
