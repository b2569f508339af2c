//! The bundle layout shared by providers: one remote entry holding every name as a text field (a JSON
//! object in AWS, the fields of one KV path in Vault). Providers only fetch and store the entry; how it
//! maps to names, versions and per-name outcomes is the same everywhere and lives here.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::target::Location;
use super::{parallel, Applied, Changes, Progress, RemoteMeta, RemoteValue, MARKER_KEY};
use crate::error::Result;
use crate::scope::Name;
use crate::value::SecretValue;

/// A provider that keeps a target in one bundle entry, read by `list` and reused by `read` and `apply`
/// within the same command, so a command sees one consistent entry and does not fetch it again.
pub trait BundleBacked {
    /// The entry `list` read earlier in this command, if it did.
    fn cached_bundle(&self) -> Option<&Bundle>;
    /// Read the entry at `path` from the server and remember it.
    fn fetch_bundle(&mut self, path: &str) -> Result<Bundle>;
    /// The entry read earlier in this command, or a fresh read.
    fn bundle_at(&mut self, path: &str) -> Result<Bundle> {
        match self.cached_bundle() {
            Some(b) => Ok(b.clone()),
            None => self.fetch_bundle(path),
        }
    }
}

/// A provider that offers both layouts. `list` and `read` dispatch on the target's layout the same way
/// for every such provider, so only the per-key half is written per provider.
pub trait TwoLayouts: BundleBacked {
    /// Where the target points.
    fn location(&self) -> &Location;
    /// Every name under `prefix`, one remote entry per name.
    fn list_per_key(&mut self, prefix: &str) -> Result<BTreeMap<Name, RemoteMeta>>;
    /// The values of those of `names` that exist under `prefix`.
    fn read_per_key(
        &mut self,
        prefix: &str,
        names: &[Name],
        progress: &Progress,
    ) -> Result<BTreeMap<Name, RemoteValue>>;

    /// `Provider::list` for either layout (a bundle is read afresh and remembered for the command).
    fn list_either(&mut self) -> Result<BTreeMap<Name, RemoteMeta>> {
        match self.location().clone() {
            Location::Bundle { path } => Ok(self.fetch_bundle(&path)?.listing()),
            Location::PerKey { prefix } => self.list_per_key(&prefix),
        }
    }

    /// `Provider::read` for either layout.
    fn read_either(
        &mut self,
        names: &[Name],
        progress: &Progress,
    ) -> Result<BTreeMap<Name, RemoteValue>> {
        match self.location().clone() {
            Location::Bundle { path } => Ok(self.bundle_at(&path)?.values(names, progress)),
            Location::PerKey { prefix } => self.read_per_key(&prefix, names, progress),
        }
    }
}

/// Read `names` one request each, at most `concurrency` at a time, keeping those that exist.
pub fn read_each(
    names: &[Name],
    concurrency: usize,
    progress: &Progress,
    one: impl Fn(&Name) -> Result<Option<RemoteValue>> + Sync,
) -> Result<BTreeMap<Name, RemoteValue>> {
    let got = parallel::map(names, concurrency, |name| {
        let r = one(name)?;
        progress.inc();
        Ok(r)
    })?;
    Ok(names
        .iter()
        .cloned()
        .zip(got)
        .filter_map(|(n, r)| r.map(|r| (n, r)))
        .collect())
}

/// One bundle entry as last read.
#[derive(Clone, Debug, Default)]
pub struct Bundle {
    pub fields: Map<String, Value>,
    /// The entry's version; every name in it shares it.
    pub version: Option<String>,
    pub exists: bool,
    /// Whether the entry carries keep's marker.
    pub managed: bool,
}

/// The fields hold every value of the entry: wiped when the bundle goes.
impl Drop for Bundle {
    fn drop(&mut self) {
        super::answer::wipe_map(&mut self.fields);
    }
}

impl Bundle {
    /// The names held (text fields that are valid names), all at the entry's version.
    pub fn listing(&self) -> BTreeMap<Name, RemoteMeta> {
        let meta = RemoteMeta {
            version: self.version.clone(),
            managed: self.managed,
        };
        self.fields
            .iter()
            .filter(|(_, v)| v.is_string())
            .filter_map(|(k, _)| Name::new(k).ok())
            .map(|n| (n, meta.clone()))
            .collect()
    }

    /// The values of `names` that the entry holds.
    pub fn values(&self, names: &[Name], progress: &Progress) -> BTreeMap<Name, RemoteValue> {
        names
            .iter()
            .filter_map(|n| {
                progress.inc();
                let v = self.fields.get(n.as_str())?.as_str()?;
                Some((
                    n.clone(),
                    RemoteValue {
                        value: SecretValue::from(v),
                        version: self.version.clone(),
                    },
                ))
            })
            .collect()
    }

    /// The fields after applying `changes` (the marker field, if any, is left to the provider).
    pub fn merged(&self, changes: &Changes) -> Result<Map<String, Value>> {
        let mut fields = self.fields.clone();
        for u in &changes.upserts {
            let text = u
                .value
                .expose_str(&format!("{} (a bundle holds text values only)", u.name))?;
            fields.insert(u.name.to_string(), Value::String(text.to_string()));
        }
        for d in &changes.deletes {
            fields.remove(d.as_str());
        }
        fields.remove(MARKER_KEY);
        Ok(fields)
    }

    /// Per-name outcomes of one write of the whole entry: `Some(version)` when it landed, `None` when
    /// the remote changed first (every name is then a conflict).
    pub fn outcome(
        changes: &Changes,
        written: Option<Option<String>>,
        progress: &Progress,
    ) -> BTreeMap<Name, Applied> {
        let mut out = BTreeMap::new();
        for u in &changes.upserts {
            progress.inc();
            let a = match &written {
                Some(v) => Applied::Written(v.clone()),
                None => Applied::Conflict,
            };
            out.insert(u.name.clone(), a);
        }
        for d in &changes.deletes {
            progress.inc();
            let a = if written.is_some() {
                Applied::Deleted
            } else {
                Applied::Conflict
            };
            out.insert(d.clone(), a);
        }
        out
    }
}
