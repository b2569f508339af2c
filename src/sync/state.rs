//! What keep remembers about each target: per name, the remote version and a keyed hash of the value
//! at the last successful sync. This is the "base" of the three-way plan.
//!
//! Rows are found by HMAC lookups under the vault's sync subkey, so the table reveals neither names nor
//! target names, and the value hashes are HMACs too: without the vault key they say nothing about a
//! value, not even whether two secrets are equal.

use std::collections::BTreeMap;

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::Target;
use crate::crypto::keys::hmac_parts;
use crate::crypto::Subkeys;
use crate::error::{Error, Result};
use crate::scope::Name;
use crate::store::{sync_state, sync_state::SyncStateRow, Connection};
use crate::value::SecretValue;

/// The state recorded for one name at its last sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub version: Option<String>,
    pub hash: [u8; 32],
}

/// The sync state of one target, with the key material to find and write its rows.
pub struct Ledger {
    key: Zeroizing<[u8; 32]>,
    target: String,
    project: String,
    env: String,
    target_key: [u8; 32],
}

impl Ledger {
    /// The ledger of target `t` (a copy of the sync subkey, wiped on drop, so that it can be used
    /// inside a vault write transaction).
    pub fn new(keys: &Subkeys, t: &Target) -> Ledger {
        Ledger::from_parts(keys, &t.name, t.scope.project(), t.scope.env())
    }

    /// The ledger of the target named `target` for one scope.
    fn from_parts(keys: &Subkeys, target: &str, project: &str, env: &str) -> Ledger {
        let key = Zeroizing::new(*keys.sync.expose_secret());
        let target_key = hmac_parts(
            &key,
            &[
                b"target",
                target.as_bytes(),
                project.as_bytes(),
                env.as_bytes(),
            ],
        );
        Ledger {
            key,
            target: target.to_string(),
            project: project.to_string(),
            env: env.to_string(),
            target_key,
        }
    }

    fn name_key(&self, name: &Name) -> [u8; 32] {
        hmac_parts(
            &self.key,
            &[
                b"name",
                self.target.as_bytes(),
                self.project.as_bytes(),
                self.env.as_bytes(),
                name.as_str().as_bytes(),
            ],
        )
    }

    /// The keyed hash of a value as synced under `name`.
    pub fn value_hash(&self, name: &Name, value: &SecretValue) -> [u8; 32] {
        hmac_parts(
            &self.key,
            &[
                b"value",
                self.target.as_bytes(),
                name.as_str().as_bytes(),
                value.expose(),
            ],
        )
    }

    /// The records of `names` (names never synced are left out).
    pub fn load<'a>(
        &self,
        conn: &Connection,
        names: impl IntoIterator<Item = &'a Name>,
    ) -> Result<BTreeMap<Name, Record>> {
        let mut out = BTreeMap::new();
        for name in names {
            let row = sync_state::get(conn, &self.target_key, &self.name_key(name))?;
            if let Some((version, hash)) = row {
                let hash: [u8; 32] = hash.try_into().map_err(|_| {
                    Error::Integrity(format!(
                        "the sync state of {name} is damaged; sync it with --prefer local|remote"
                    ))
                })?;
                out.insert(name.clone(), Record { version, hash });
            }
        }
        Ok(out)
    }

    /// Record that `name` is in sync.
    pub fn save(&self, conn: &Connection, name: &Name, rec: &Record) -> Result<()> {
        sync_state::put(
            conn,
            &SyncStateRow {
                target_key: self.target_key.to_vec(),
                name_key: self.name_key(name).to_vec(),
                version: rec.version.clone(),
                hash: rec.hash.to_vec(),
            },
        )
    }

    /// Forget `name` (absent on both sides after this sync).
    pub fn forget(&self, conn: &Connection, name: &Name) -> Result<()> {
        sync_state::delete(conn, &self.target_key, &self.name_key(name))
    }
}

/// One secret as `keep rekey` knows it: its address and every value it ever held (the value at a
/// target's last sync is one of them).
pub struct Known<'a> {
    pub address: &'a crate::scope::Address,
    pub values: &'a [SecretValue],
}

/// Re-key the sync state (`keep rekey`), inside the caller's transaction. The rows are HMACs of
/// names the table does not store, so each is recognised by recomputing, under the old key, the
/// lookups of every target in `targets` for every secret in `known`, and its value hash against every
/// value that secret held; a recognised row is written again under the new key. A row no candidate
/// explains (a target not in this keep.toml, or a base value no longer in the history) is removed:
/// the next sync of that name then plans without a base, which still sees equal values as in sync.
/// Returns (re-keyed, removed).
pub fn rekey_rows(
    conn: &Connection,
    old: &Subkeys,
    new: &Subkeys,
    targets: &[String],
    known: &[Known<'_>],
) -> Result<(u64, u64)> {
    let rows = sync_state::all(conn)?;
    if rows.is_empty() {
        return Ok((0, 0));
    }
    // (old target key, old name key) -> (old ledger, new ledger, secret)
    let mut candidates = std::collections::HashMap::new();
    for target in targets {
        for k in known {
            let (project, env) = (k.address.scope.project(), k.address.scope.env());
            let old_ledger = Ledger::from_parts(old, target, project, env);
            let key = (old_ledger.target_key, old_ledger.name_key(&k.address.name));
            let new_ledger = Ledger::from_parts(new, target, project, env);
            candidates.insert(key, (old_ledger, new_ledger, k));
        }
    }
    sync_state::clear(conn)?;
    let (mut kept, mut removed) = (0, 0);
    for SyncStateRow {
        target_key,
        name_key,
        version,
        hash,
    } in rows
    {
        let found = <[u8; 32]>::try_from(target_key.as_slice())
            .ok()
            .zip(<[u8; 32]>::try_from(name_key.as_slice()).ok())
            .and_then(|key| candidates.get(&key));
        let rekeyed = found.and_then(|(old_ledger, new_ledger, k)| {
            let name = &k.address.name;
            k.values
                .iter()
                .find(|v| old_ledger.value_hash(name, v)[..] == hash[..])
                .map(|v| (new_ledger, name, new_ledger.value_hash(name, v)))
        });
        match rekeyed {
            Some((ledger, name, hash)) => {
                ledger.save(conn, name, &Record { version, hash })?;
                kept += 1;
            }
            None => removed += 1,
        }
    }
    Ok((kept, removed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::crypto::MasterKey;
    use crate::scope::Scope;
    use crate::store::Store;

    fn target(name: &str) -> Target {
        let c = Config::parse(&format!("[sync.{name}]\nprovider = \"aws\"\n")).unwrap();
        Target::resolve(Some(&c), name, &Scope::new("p", "dev").unwrap()).unwrap()
    }

    #[test]
    fn records_round_trip_per_target_and_hashes_are_keyed() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::create(&dir.path().join("v.db")).unwrap();
        let keys = MasterKey::generate().subkeys(b"vault-id");
        let (a, b) = (
            Ledger::new(&keys, &target("a")),
            Ledger::new(&keys, &target("b")),
        );
        let n = Name::new("X").unwrap();
        let v = SecretValue::from("hunter2");
        assert_ne!(
            a.value_hash(&n, &v),
            b.value_hash(&n, &v),
            "hashes are per target"
        );
        let other_key = MasterKey::generate().subkeys(b"vault-id");
        assert_ne!(
            a.value_hash(&n, &v),
            Ledger::new(&other_key, &target("a")).value_hash(&n, &v)
        );
        let rec = Record {
            version: Some("v1".into()),
            hash: a.value_hash(&n, &v),
        };
        store.write(|tx| a.save(tx, &n, &rec)).unwrap();
        assert_eq!(a.load(store.conn(), [&n]).unwrap().get(&n), Some(&rec));
        assert!(
            b.load(store.conn(), [&n]).unwrap().is_empty(),
            "state leaked across targets"
        );
        store.write(|tx| a.forget(tx, &n)).unwrap();
        assert!(a.load(store.conn(), [&n]).unwrap().is_empty());
    }
}
