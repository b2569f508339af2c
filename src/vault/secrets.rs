//! Reading and writing secrets. Every change appends a version; deleting appends a tombstone, so
//! `history` and `rollback` can always bring a value back.

use std::time::SystemTime;

use rusqlite::Connection;

use super::record::{self, Kind, Version};
use super::Vault;
use crate::crypto::Subkeys;
use crate::error::{Error, Result};
use crate::scope::{Address, Scope};
use crate::store::{self, SecretRow};
use crate::value::SecretValue;

/// A secret as listed by `ls`.
#[derive(Clone, Debug)]
pub struct Entry {
    pub address: Address,
    /// The newest version.
    pub version: u32,
    /// When the newest version was written.
    pub updated: SystemTime,
    /// Whether the newest version is a deletion.
    pub deleted: bool,
}

/// One line of `history`.
#[derive(Clone, Debug)]
pub struct VersionInfo {
    pub version: u32,
    pub created: SystemTime,
    pub deleted: bool,
}

/// Read-side helpers shared by [`Vault`] and [`Writer`], over any connection or transaction.
struct Ctx<'a> {
    conn: &'a Connection,
    keys: &'a Subkeys,
    vault_id: &'a [u8],
}

impl Ctx<'_> {
    fn lookup(&self, address: &Address) -> [u8; 32] {
        self.keys.index.secret(
            address.scope.project(),
            address.scope.env(),
            address.name.as_str(),
        )
    }

    /// The secret's row, with its sealed name checked against the address (so a row whose name was
    /// swapped with another's is caught even before its value is read).
    fn find(&self, address: &Address) -> Result<Option<SecretRow>> {
        let lookup = self.lookup(address);
        let Some(row) = store::find_secret(self.conn, &lookup)? else {
            return Ok(None);
        };
        let stored = record::open_name(
            self.keys,
            self.vault_id,
            row.id,
            &row.lookup,
            &row.sealed_name,
        )?;
        if &stored != address {
            return Err(Error::Integrity(format!(
                "secret record #{}: its name does not match its index entry; other secrets are unaffected",
                row.id
            )));
        }
        Ok(Some(row))
    }

    fn require(&self, address: &Address) -> Result<SecretRow> {
        self.find(address)?.ok_or_else(|| not_found(address))
    }

    fn open(
        &self,
        row: &SecretRow,
        version: u32,
        sealed: &[u8],
        address: &Address,
    ) -> Result<Version> {
        record::open_version(
            self.keys,
            self.vault_id,
            &row.lookup,
            row.id,
            version,
            sealed,
            address,
        )
    }

    fn latest(&self, row: &SecretRow, address: &Address) -> Result<Option<Version>> {
        match store::latest_version(self.conn, row.id)? {
            Some(v) => self.open(row, v.version, &v.sealed, address).map(Some),
            None => Ok(None),
        }
    }

    fn get(&self, address: &Address) -> Result<(u32, SecretValue)> {
        let row = self.require(address)?;
        match self.latest(&row, address)? {
            Some(v) if v.kind == Kind::Value => Ok((v.version, v.value)),
            Some(v) => Err(Error::NotFound(format!(
                "{address} was deleted (version {}); `keep history {address}` shows earlier \
                 versions and `keep rollback {address} --to N` restores one",
                v.version
            ))),
            None => Err(not_found(address)),
        }
    }
}

fn not_found(address: &Address) -> Error {
    Error::NotFound(format!(
        "no secret {address}; `keep ls --all-envs` lists the names of every environment"
    ))
}

impl Vault {
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            conn: self.store.conn(),
            keys: &self.keys,
            vault_id: &self.vault_id,
        }
    }

    /// The current value of a secret.
    pub fn get(&self, address: &Address) -> Result<SecretValue> {
        self.ctx().get(address).map(|(_, v)| v)
    }

    /// The current value of a secret with its version number.
    pub fn current(&self, address: &Address) -> Result<(u32, SecretValue)> {
        self.ctx().get(address)
    }

    /// A given version of a secret (which may be a deletion, returned as an error).
    pub fn get_version(&self, address: &Address, version: u32) -> Result<SecretValue> {
        let ctx = self.ctx();
        let row = ctx.require(address)?;
        let v = store::version(ctx.conn, row.id, version)?.ok_or_else(|| {
            Error::NotFound(format!(
                "{address} has no version {version}; `keep history {address}` lists them"
            ))
        })?;
        let opened = ctx.open(&row, v.version, &v.sealed, address)?;
        match opened.kind {
            Kind::Value => Ok(opened.value),
            Kind::Tombstone => Err(Error::NotFound(format!(
                "version {version} of {address} is a deletion"
            ))),
        }
    }

    /// Whether a secret currently has a value.
    pub fn contains(&self, address: &Address) -> Result<bool> {
        match self.get(address) {
            Ok(_) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Open every secret's name and newest version, optionally limited to one scope, sorted by address.
    ///
    /// Names are sealed, so this opens every name; a record that fails authentication is reported as
    /// an error naming it rather than silently skipped.
    fn latest_all(&self, scope: Option<&Scope>) -> Result<Vec<(Address, Version)>> {
        let ctx = self.ctx();
        let mut out = Vec::new();
        for (row, latest) in store::all_latest(ctx.conn)? {
            let address = record::open_name(
                &self.keys,
                &self.vault_id,
                row.id,
                &row.lookup,
                &row.sealed_name,
            )?;
            if scope.is_some_and(|s| s != &address.scope) {
                continue;
            }
            let version = ctx.open(&row, latest.version, &latest.sealed, &address)?;
            out.push((address, version));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Every secret, optionally limited to one scope, sorted by address. Deleted secrets are included
    /// only when `include_deleted` is set.
    pub fn list(&self, scope: Option<&Scope>, include_deleted: bool) -> Result<Vec<Entry>> {
        Ok(self
            .latest_all(scope)?
            .into_iter()
            .map(|(address, v)| Entry {
                address,
                version: v.version,
                updated: v.created,
                deleted: v.kind == Kind::Tombstone,
            })
            .filter(|e| include_deleted || !e.deleted)
            .collect())
    }

    /// Every current value in a scope, sorted by name, for `exec`, `env` and friends.
    pub fn values(&self, scope: &Scope) -> Result<Vec<(Address, SecretValue)>> {
        self.current_values(Some(scope))
    }

    /// Every current value in every scope, sorted by address (`export --all`).
    pub fn all_values(&self) -> Result<Vec<(Address, SecretValue)>> {
        self.current_values(None)
    }

    fn current_values(&self, scope: Option<&Scope>) -> Result<Vec<(Address, SecretValue)>> {
        Ok(self
            .latest_all(scope)?
            .into_iter()
            .filter(|(_, v)| v.kind == Kind::Value)
            .map(|(address, v)| (address, v.value))
            .collect())
    }

    /// Every version of a secret, oldest first.
    pub fn history(&self, address: &Address) -> Result<Vec<VersionInfo>> {
        let ctx = self.ctx();
        let row = ctx.require(address)?;
        store::versions(ctx.conn, row.id)?
            .into_iter()
            .map(|v| {
                let opened = ctx.open(&row, v.version, &v.sealed, address)?;
                Ok(VersionInfo {
                    version: v.version,
                    created: opened.created,
                    deleted: opened.kind == Kind::Tombstone,
                })
            })
            .collect()
    }

    /// Set a secret to `value`, as a new version. Returns the version number.
    pub fn set(&mut self, address: &Address, value: &SecretValue) -> Result<u32> {
        self.write(|w| w.set(address, value))
    }

    /// Delete a secret by appending a tombstone. Returns the tombstone's version.
    pub fn remove(&mut self, address: &Address) -> Result<u32> {
        self.write(|w| w.remove(address))
    }

    /// Make version `to` current again, as a new version. Returns the new version number.
    pub fn rollback(&mut self, address: &Address, to: u32) -> Result<u32> {
        self.write(|w| w.rollback(address, to))
    }

    /// Run several writes in one transaction: all of them land, or none does.
    pub fn write<T>(&mut self, f: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        let (keys, vault_id) = (&self.keys, &self.vault_id);
        self.store.write(|tx| {
            f(&mut Writer {
                ctx: Ctx {
                    conn: tx,
                    keys,
                    vault_id,
                },
            })
        })
    }
}

/// Writes inside one transaction (see [`Vault::write`]).
pub struct Writer<'a> {
    ctx: Ctx<'a>,
}

impl Writer<'_> {
    /// Read the current value inside this transaction.
    pub fn get(&self, address: &Address) -> Result<SecretValue> {
        self.ctx.get(address).map(|(_, v)| v)
    }

    /// The current version and value inside this transaction.
    pub fn current(&self, address: &Address) -> Result<(u32, SecretValue)> {
        self.ctx.get(address)
    }

    /// The raw connection of this transaction, for modules that keep their own tables.
    pub fn conn(&self) -> &Connection {
        self.ctx.conn
    }

    fn append(&self, address: &Address, kind: Kind, value: &[u8]) -> Result<u32> {
        let ctx = &self.ctx;
        let row = match ctx.find(address)? {
            Some(row) => row,
            None => {
                let lookup = ctx.lookup(address);
                let sealed_name = record::seal_name(ctx.keys, ctx.vault_id, &lookup, address);
                let id = store::insert_secret(ctx.conn, &lookup, &sealed_name)?;
                SecretRow {
                    id,
                    lookup: lookup.to_vec(),
                    sealed_name,
                }
            }
        };
        let next = store::latest_version(ctx.conn, row.id)?.map_or(1, |v| v.version + 1);
        let sealed = record::seal_version(
            ctx.keys,
            ctx.vault_id,
            &row.lookup,
            row.id,
            next,
            kind,
            value,
        );
        store::insert_version(ctx.conn, row.id, next, &sealed)?;
        Ok(next)
    }

    /// Set a secret, as a new version.
    pub fn set(&mut self, address: &Address, value: &SecretValue) -> Result<u32> {
        self.append(address, Kind::Value, value.expose())
    }

    /// Delete a secret (a tombstone version). Deleting what is already deleted or absent is not found.
    pub fn remove(&mut self, address: &Address) -> Result<u32> {
        let row = self.ctx.require(address)?;
        match self.ctx.latest(&row, address)? {
            Some(v) if v.kind == Kind::Value => self.append(address, Kind::Tombstone, &[]),
            _ => Err(not_found(address)),
        }
    }

    /// Make version `to` current again, as a new version.
    pub fn rollback(&mut self, address: &Address, to: u32) -> Result<u32> {
        let row = self.ctx.require(address)?;
        let v = store::version(self.ctx.conn, row.id, to)?.ok_or_else(|| {
            Error::NotFound(format!(
                "{address} has no version {to}; `keep history {address}` lists them"
            ))
        })?;
        let old = self.ctx.open(&row, v.version, &v.sealed, address)?;
        if old.kind == Kind::Tombstone {
            return Err(Error::Usage(format!(
                "version {to} of {address} is a deletion; roll back to a version that holds a value"
            )));
        }
        self.append(address, Kind::Value, old.value.expose())
    }
}
