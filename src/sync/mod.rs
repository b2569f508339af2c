//! Sync: keep as the local end of a team's secrets, pushing to and pulling from a cloud secrets manager.
//!
//! keep never runs a server of its own. A target (`[sync.NAME]` in `keep.toml`) names a provider and
//! where in it one environment's secrets live. Every provider implements the one small [`Provider`]
//! trait below: list what is there (with version metadata), read values, and apply a set of writes and
//! deletions. Everything else — the three-way plan, conflict detection, the recorded state, progress —
//! is shared, so a new provider (GCP, Kubernetes) only teaches keep its wire protocol and must pass the
//! same conformance suite (`tests/it/sync_conformance.rs`).
//!
//! Version metadata is what makes `diff` cheap and `push` safe: when the remote version equals the
//! one recorded at the last sync, the value is known unchanged without reading it; on a write, the
//! version observed in the plan is sent back as a check-and-set condition where the provider has one.

pub mod answer;
#[cfg(feature = "aws")]
pub mod aws;
pub mod bundle;
pub mod engine;
#[cfg(feature = "gcp")]
pub mod gcp;
pub mod hashicorp;
pub mod http;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;
pub mod linked;
#[cfg(test)]
pub(crate) mod memory;
pub mod parallel;
pub mod plan;
pub mod progress;
pub mod retry;
pub mod state;
pub mod target;

use std::collections::BTreeMap;

use crate::error::Result;
use crate::scope::Name;
use crate::value::SecretValue;

pub use engine::{diff, pull, push, Outcome, SyncOptions};
pub use progress::Progress;
pub use target::{Layout, ProviderKind, Target};

/// The marker keep puts on everything it pushes (an AWS tag, Vault custom metadata). `--prune` only
/// ever deletes what carries it.
pub const MARKER_KEY: &str = "managed-by";
/// The marker's value.
pub const MARKER_VALUE: &str = "keep";

/// Default number of requests in flight at once.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// What a listing knows about one remote name without reading its value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteMeta {
    /// The provider's version of the value (AWS VersionId, Vault KV v2 version), when it has one.
    pub version: Option<String>,
    /// Whether the entry carries keep's marker.
    pub managed: bool,
}

/// A remote value with the version it was read at.
#[derive(Clone, Debug)]
pub struct RemoteValue {
    pub value: SecretValue,
    pub version: Option<String>,
}

/// One write: set `name` to `value`, provided the remote is still at `expected` (check-and-set where
/// the provider supports it; `None` means "expected absent").
#[derive(Clone, Debug)]
pub struct Upsert {
    pub name: Name,
    pub value: SecretValue,
    pub expected: Option<String>,
}

/// A set of changes to apply to one target.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub upserts: Vec<Upsert>,
    /// Names to delete; the plan only puts marked entries here.
    pub deletes: Vec<Name>,
    /// Delete at once instead of using the provider's recovery window or soft delete.
    pub force_delete: bool,
    /// Write even to an entry that lacks keep's marker (`--force`; the Kubernetes provider refuses
    /// otherwise, because such an object belongs to another tool).
    pub force: bool,
}

/// The outcome of one name in [`Provider::apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Written; the new remote version, when the provider reports one.
    Written(Option<String>),
    Deleted,
    /// The remote changed between the plan and the write (check-and-set failed): nothing was written
    /// for this name.
    Conflict,
}

/// A secrets manager keep can sync with. Implementations are blocking; each one runs its own requests
/// concurrently (bounded) where the protocol allows.
pub trait Provider {
    /// Every name at the target, with version metadata. Remote keys that are not valid keep names
    /// are skipped.
    fn list(&mut self) -> Result<BTreeMap<Name, RemoteMeta>>;
    /// The values of `names` (names absent remotely are left out of the result).
    fn read(&mut self, names: &[Name], progress: &Progress) -> Result<BTreeMap<Name, RemoteValue>>;
    /// Apply writes and deletions, returning what happened to each name.
    fn apply(&mut self, changes: &Changes, progress: &Progress) -> Result<BTreeMap<Name, Applied>>;
}

/// Open the provider of a target.
pub fn connect(target: &Target) -> Result<Box<dyn Provider>> {
    match target.provider {
        #[cfg(feature = "aws")]
        ProviderKind::Aws => Ok(Box::new(aws::AwsProvider::connect(target)?)),
        ProviderKind::Hashicorp => Ok(Box::new(hashicorp::HashicorpKv::connect(target)?)),
        #[cfg(feature = "gcp")]
        ProviderKind::Gcp => Ok(Box::new(gcp::GcpProvider::connect(target)?)),
        #[cfg(feature = "kubernetes")]
        ProviderKind::Kubernetes => Ok(Box::new(kubernetes::KubernetesProvider::connect(target)?)),
        #[allow(unreachable_patterns)]
        other => Err(crate::error::Error::Usage(format!(
            "this keep was built without the {other:?} provider; rebuild it with default \
             features to sync with this target"
        ))),
    }
}
