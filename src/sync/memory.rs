//! An in-memory [`Provider`] for the engine's unit tests (teller's `inmem` provider is the model): a
//! map of names to values with per-name versions and keep's marker, check-and-set writes like Vault
//! KV v2's, and switches that make a call fail or let a "teammate" change the remote between the
//! plan and the write. Real wire protocols are tested against real peers (`tests/it/sync_*`); this
//! one exists so that the plan, the recorded base and the failure paths can be tested in isolation.

use std::collections::BTreeMap;

use super::{Applied, Changes, Progress, Provider, RemoteMeta, RemoteValue};
use crate::error::{Error, Result};
use crate::scope::Name;
use crate::value::SecretValue;

/// One remote entry.
#[derive(Clone, Debug)]
pub struct Entry {
    pub value: SecretValue,
    pub version: u64,
    pub managed: bool,
}

/// The remote, held in memory.
#[derive(Default)]
pub struct Memory {
    pub entries: BTreeMap<Name, Entry>,
    /// The last version handed out (versions never repeat, even after a delete).
    version: u64,
    /// Fail `list` (the remote is down).
    pub fail_list: bool,
    /// Let `apply` write this many names, then fail (a connection lost half-way).
    pub fail_apply_after: Option<usize>,
    /// Changes a teammate makes just before the next `apply` (after keep planned).
    pub race: Vec<(Name, Option<SecretValue>)>,
    /// Calls of `apply`, to check that nothing was sent.
    pub applies: usize,
}

impl Memory {
    /// A remote holding `entries`, each unmanaged (made by someone else) unless set by keep.
    pub fn with(entries: &[(&str, &str)]) -> Memory {
        let mut m = Memory::default();
        for (name, value) in entries {
            m.put(&Name::new(name).expect("a valid name"), Some(value), false);
        }
        m
    }

    /// Set (or, with `None`, delete) a name as another tool would: a new version, no marker.
    pub fn put(&mut self, name: &Name, value: Option<&str>, managed: bool) {
        match value {
            Some(v) => {
                self.version += 1;
                self.entries.insert(
                    name.clone(),
                    Entry {
                        value: SecretValue::from(v),
                        version: self.version,
                        managed,
                    },
                );
            }
            None => {
                self.entries.remove(name);
            }
        }
    }

    /// The value of a name, as text.
    pub fn get(&self, name: &str) -> Option<String> {
        let e = self.entries.get(&Name::new(name).ok()?)?;
        Some(e.value.expose_str("test").ok()?.to_string())
    }
}

impl Provider for Memory {
    fn list(&mut self) -> Result<BTreeMap<Name, RemoteMeta>> {
        if self.fail_list {
            return Err(Error::Remote("sync target mem: the remote is down".into()));
        }
        Ok(self
            .entries
            .iter()
            .map(|(n, e)| {
                let meta = RemoteMeta {
                    version: Some(e.version.to_string()),
                    managed: e.managed,
                };
                (n.clone(), meta)
            })
            .collect())
    }

    fn read(&mut self, names: &[Name], progress: &Progress) -> Result<BTreeMap<Name, RemoteValue>> {
        Ok(names
            .iter()
            .filter_map(|n| {
                progress.inc();
                let e = self.entries.get(n)?;
                let value = RemoteValue {
                    value: e.value.clone(),
                    version: Some(e.version.to_string()),
                };
                Some((n.clone(), value))
            })
            .collect())
    }

    fn apply(&mut self, changes: &Changes, progress: &Progress) -> Result<BTreeMap<Name, Applied>> {
        self.applies += 1;
        for (name, value) in std::mem::take(&mut self.race) {
            let text = value.map(|v| v.expose_str("test").unwrap_or_default().to_string());
            self.put(&name, text.as_deref(), false);
        }
        let mut out = BTreeMap::new();
        for (done, u) in changes.upserts.iter().enumerate() {
            if self.fail_apply_after == Some(done) {
                return Err(Error::Remote(
                    "sync target mem: the connection was lost".into(),
                ));
            }
            progress.inc();
            let current = self.entries.get(&u.name).map(|e| e.version.to_string());
            if current != u.expected {
                out.insert(u.name.clone(), Applied::Conflict);
                continue;
            }
            self.version += 1;
            let entry = Entry {
                value: u.value.clone(),
                version: self.version,
                managed: true,
            };
            self.entries.insert(u.name.clone(), entry);
            out.insert(
                u.name.clone(),
                Applied::Written(Some(self.version.to_string())),
            );
        }
        for name in &changes.deletes {
            progress.inc();
            // Only what carries keep's marker, as every real provider does.
            if self.entries.get(name).is_some_and(|e| e.managed) {
                self.entries.remove(name);
                out.insert(name.clone(), Applied::Deleted);
            }
        }
        Ok(out)
    }
}

/// A fresh vault in a temporary folder (cheap KDF), with a target `mem` for its scope `app/dev`.
pub fn vault_and_target() -> (tempfile::TempDir, crate::vault::Vault, super::Target) {
    use crate::slots::passphrase::{KdfParams, Passphrase};
    let kdf = KdfParams {
        m_kib: 64,
        t: 1,
        p: 1,
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let slot = Passphrase::new("pw".to_string().into(), kdf);
    let vault =
        crate::vault::Vault::create(&dir.path().join("v.db"), &slot, kdf).expect("a new vault");
    let config = crate::config::Config::parse("[sync.mem]\nprovider = \"vault\"\npath = \"app\"\n")
        .expect("a target");
    let scope = crate::scope::Scope::new("app", "dev").expect("a scope");
    let target = super::Target::resolve(Some(&config), "mem", &scope).expect("the target");
    (dir, vault, target)
}
