//! Reading and writing secrets. Every change appends a version; deleting appends a tombstone, so
//! `history` and `rollback` can always bring a value back.

use std::collections::HashSet;
use std::time::SystemTime;

use super::access::Log;
use super::manifest::{self, Manifest};
use super::record::{self, Kind, Version};
use super::Vault;
use secrecy::ExposeSecret;

use crate::audit::Action;
use crate::crypto::Subkeys;
use crate::error::{Error, Result};
use crate::scope::{Address, Scope};
use crate::store::{self, bucket_of, Connection, HeadRow, SecretRow, VersionRow};
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
pub(super) struct Ctx<'a> {
    conn: &'a Connection,
    keys: &'a Subkeys,
    vault_id: &'a [u8],
    /// The newest generation recorded outside the file: an older manifest is refused.
    floor: u64,
}

impl Ctx<'_> {
    fn lookup(&self, address: &Address) -> [u8; 32] {
        record::lookup_tag(self.keys, address)
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

    pub(super) fn open(
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

    /// The secret's head and the version it names, checked against each other and against the
    /// newest version row (the bucket is checked against the manifest by the caller).
    pub(super) fn head(&self, row: &SecretRow, address: &Address) -> Result<(HeadRow, VersionRow)> {
        let head = store::head(self.conn, row.id)?.ok_or_else(|| {
            Error::Integrity(format!(
                "{address}: its head (the record of its newest version) is missing from the vault \
                 file; it was deleted. Other secrets are unaffected; `keep verify` checks the rest"
            ))
        })?;
        let v = store::version(self.conn, row.id, head.version)?.ok_or_else(|| {
            Error::Integrity(format!(
                "{address}: its newest version {} is missing from the vault file (the row was \
                 deleted, which would silently roll it back); other secrets are unaffected. \
                 `keep history {}` shows what is left; restore from a backup",
                head.version, address.name
            ))
        })?;
        if manifest::digest(&v.sealed) != head.digest {
            return Err(Error::Integrity(format!(
                "{address}: version {} is not the one its head recorded (it was replaced, e.g. \
                 replayed from an older copy of the file); other secrets are unaffected",
                head.version
            )));
        }
        if let Some(newest) = store::latest_version(self.conn, row.id)? {
            if newest.version != head.version {
                return Err(Error::Integrity(format!(
                    "{address}: the vault holds version {} but its head says {} is the newest (the \
                     head was replayed from an older copy of the file); other secrets are unaffected",
                    newest.version, head.version
                )));
            }
        }
        Ok((head, v))
    }

    /// The newest version, authenticated: its head, and the head's bucket against `manifest`.
    fn latest_with(
        &self,
        row: &SecretRow,
        address: &Address,
        manifest: &Manifest,
    ) -> Result<(HeadRow, Version)> {
        let (head, v) = self.head(row, address)?;
        manifest
            .check_bucket(self.conn, self.keys, self.vault_id, bucket_of(row.id))
            .map_err(|e| in_reading(address, e))?;
        let opened = self.open(row, v.version, &v.sealed, address)?;
        Ok((head, opened))
    }

    fn latest(&self, row: &SecretRow, address: &Address) -> Result<Version> {
        let manifest = Manifest::load(self.conn, self.keys, self.vault_id, self.floor)
            .map_err(|e| in_reading(address, e))?;
        self.latest_with(row, address, &manifest).map(|(_, v)| v)
    }

    fn get(&self, address: &Address) -> Result<(u32, SecretValue)> {
        let row = self.require(address)?;
        let v = self.latest(&row, address)?;
        match v.kind {
            Kind::Value => Ok((v.version, v.value)),
            Kind::Tombstone => Err(Error::NotFound(format!(
                "{address} was deleted (version {}); `keep history {address}` shows earlier \
                 versions and `keep rollback {address} --to N` restores one",
                v.version
            ))),
        }
    }
}

/// Prefix an integrity failure with the secret being read.
fn in_reading(address: &Address, e: Error) -> Error {
    match e {
        Error::Integrity(m) => Error::Integrity(format!("reading {address}: {m}")),
        other => other,
    }
}

fn not_found(address: &Address) -> Error {
    Error::NotFound(format!(
        "no secret {address}; `keep ls --all-envs` lists the names of every environment"
    ))
}

impl Vault {
    pub(super) fn ctx(&self) -> Ctx<'_> {
        Ctx {
            conn: self.store.conn(),
            keys: &self.keys,
            vault_id: &self.vault_id,
            floor: self.floor,
        }
    }

    /// Run `f`'s queries on one snapshot of the file (`store::snapshot`), so that a commit by another
    /// process between them is not mistaken for a rolled-back record.
    fn reading<T>(&self, f: impl FnOnce(&Ctx<'_>) -> Result<T>) -> Result<T> {
        let snapshot = store::snapshot(self.store.conn())?;
        let out = f(&self.ctx());
        drop(snapshot);
        out
    }

    /// The current value of a secret, unrecorded: the caller records the access (a [`Reader`]
    /// marks it, or the feature writes its own entry, as a rotation does). `Vault::get` is the
    /// recorded read of the library's API.
    ///
    /// [`Reader`]: super::Reader
    pub(crate) fn peek(&self, address: &Address) -> Result<SecretValue> {
        self.peek_current(address).map(|(_, v)| v)
    }

    /// The current value of a secret with its version number, unrecorded (see [`Vault::peek`]).
    pub(crate) fn peek_current(&self, address: &Address) -> Result<(u32, SecretValue)> {
        self.reading(|ctx| ctx.get(address))
    }

    /// A given version of a secret (a deletion is an error), unrecorded (see [`Vault::peek`]).
    pub(crate) fn peek_version(&self, address: &Address, version: u32) -> Result<SecretValue> {
        self.reading(|ctx| self.version_in(ctx, address, version))
    }

    fn version_in(&self, ctx: &Ctx<'_>, address: &Address, version: u32) -> Result<SecretValue> {
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
        match self.peek(address) {
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
        self.reading(|ctx| self.latest_all_in(ctx, scope))
    }

    fn latest_all_in(
        &self,
        ctx: &Ctx<'_>,
        scope: Option<&Scope>,
    ) -> Result<Vec<(Address, Version)>> {
        let (_, rows) = manifest::load_checked_heads(ctx.conn, ctx.keys, ctx.vault_id, ctx.floor)?;
        let mut out = Vec::new();
        for (row, head, sealed) in rows {
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
            let sealed = sealed
                .filter(|s| manifest::digest(s) == head.digest)
                .ok_or_else(|| {
                    Error::Integrity(format!(
                        "{address}: its newest version {} is missing from the vault file or was \
                         replaced; other secrets are unaffected (`keep get` on the others works)",
                        head.version
                    ))
                })?;
            let version = ctx.open(&row, head.version, &sealed, &address)?;
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

    /// Every current value in a scope, sorted by name, unrecorded (see [`Vault::peek`]).
    pub(crate) fn peek_values(&self, scope: &Scope) -> Result<Vec<(Address, SecretValue)>> {
        self.current_values(Some(scope))
    }

    /// Every current value in every scope, sorted by address, unrecorded (see [`Vault::peek`]).
    pub(crate) fn peek_all_values(&self) -> Result<Vec<(Address, SecretValue)>> {
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
        self.reading(|ctx| {
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
        })
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
    ///
    /// The audit entries of the changes commit in the same transaction (access.rs), so no change is
    /// ever committed without its entry; a failed change is recorded afterwards, best effort. A
    /// transaction that changed a secret writes the manifest as a new generation and, once it has
    /// committed, records that generation outside the file (src/audit/generation.rs).
    pub fn write<T>(&mut self, f: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        let (keys, vault_id, floor) = (&self.keys, &self.vault_id, self.floor);
        let command = self.acting.command.as_str();
        let audit_key = zeroize::Zeroizing::new(*keys.audit.expose_secret());
        let mut stored = None;
        let mut witnessed = None;
        let mut attempted = Log::default();
        let out = self.store.write(|tx| {
            let mut w = Writer {
                ctx: Ctx {
                    conn: tx,
                    keys,
                    vault_id,
                    floor,
                },
                manifest: None,
                checked: HashSet::new(),
                dirty: false,
                log: Log::default(),
            };
            let out = match f(&mut w) {
                Ok(out) => out,
                Err(e) => {
                    attempted = std::mem::take(&mut w.log);
                    return Err(e);
                }
            };
            if w.dirty {
                if let Some(m) = &mut w.manifest {
                    stored = Some(m.store(tx, keys, vault_id)?);
                }
            }
            let bodies = w.log.bodies(command, keys, vault_id, crate::audit::OK);
            witnessed = crate::audit::append_in(tx, &audit_key, vault_id, &bodies, true)?;
            Ok(out)
        });
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                // The error the caller sees is the change's; a second failure to log it adds nothing.
                for (action, addresses) in attempted.groups() {
                    let _ = crate::audit::record(self, action, addresses, e.kind());
                }
                return Err(e);
            }
        };
        crate::audit::committed(witnessed);
        if let Some(generation) = stored {
            self.committed_generation(generation)?;
        }
        Ok(out)
    }
}

/// Writes inside one transaction (see [`Vault::write`]).
///
/// The manifest is read and authenticated once per transaction, updated in memory by each write, and
/// stored with the new MAC when the transaction's work is done; each bucket a write touches is
/// checked against it once.
pub struct Writer<'a> {
    ctx: Ctx<'a>,
    manifest: Option<Manifest>,
    checked: HashSet<i64>,
    dirty: bool,
    /// The audit entries of this transaction's changes (access.rs).
    log: Log,
}

impl Writer<'_> {
    /// Read the current value inside this transaction, unrecorded: for this crate's writes that
    /// compare before they change (an import leaves an equal value alone). Applications read
    /// through `Vault::read`, which records.
    pub(crate) fn get(&self, address: &Address) -> Result<SecretValue> {
        // After a write in this transaction the stored manifest is stale until commit: check
        // against the one held here.
        let Some(manifest) = &self.manifest else {
            return self.ctx.get(address).map(|(_, v)| v);
        };
        let row = self.ctx.require(address)?;
        let (_, v) = self.ctx.latest_with(&row, address, manifest)?;
        match v.kind {
            Kind::Value => Ok(v.value),
            Kind::Tombstone => Err(not_found(address)),
        }
    }

    /// The current version and value inside this transaction, unrecorded (see [`Writer::get`]).
    pub(crate) fn current(&self, address: &Address) -> Result<(u32, SecretValue)> {
        self.ctx.get(address)
    }

    /// The raw connection of this transaction, for this crate's modules that keep their own tables
    /// (never part of the library's API).
    pub(crate) fn conn(&self) -> &Connection {
        self.ctx.conn
    }

    /// Record `action` for `address` in this transaction, for a change the writer does not make
    /// itself (a purge's rows, a policy).
    pub(crate) fn record(&mut self, action: Action, address: &Address) {
        self.log.note(action, address);
    }

    /// Log this transaction's changes as one entry of `action` (a pull logs its deletions too as
    /// its `write`).
    pub(crate) fn log_as(&mut self, action: Action) {
        self.log.log_as(action);
    }

    /// Log nothing for this transaction: the caller records the outcome once it knows it (a
    /// rotation's `rotate` entry names the hooks' outcome too).
    pub(crate) fn leave_log_to_caller(&mut self) {
        self.log.leave_to_caller();
    }

    /// The transaction's manifest, read and authenticated on first use.
    fn manifest(&mut self) -> Result<&mut Manifest> {
        if self.manifest.is_none() {
            let c = &self.ctx;
            self.manifest = Some(Manifest::load(c.conn, c.keys, c.vault_id, c.floor)?);
        }
        Ok(self.manifest.as_mut().expect("just loaded"))
    }

    /// The authenticated newest version of an existing secret, inside this transaction.
    fn latest(&mut self, row: &SecretRow, address: &Address) -> Result<(HeadRow, Version)> {
        let bucket = bucket_of(row.id);
        self.manifest()?;
        let (ctx, manifest) = (&self.ctx, self.manifest.as_ref().expect("loaded"));
        let (head, v) = ctx.head(row, address)?;
        if !self.checked.contains(&bucket) {
            manifest
                .check_bucket(ctx.conn, ctx.keys, ctx.vault_id, bucket)
                .map_err(|e| in_reading(address, e))?;
            self.checked.insert(bucket);
        }
        let opened = ctx.open(row, v.version, &v.sealed, address)?;
        Ok((head, opened))
    }

    fn append(&mut self, address: &Address, kind: Kind, value: &[u8]) -> Result<u32> {
        let (row, old) = match self.ctx.find(address)? {
            Some(row) => {
                let (head, _) = self.latest(&row, address)?;
                (row, Some(head))
            }
            None => {
                let ctx = &self.ctx;
                let lookup = ctx.lookup(address);
                let sealed_name = record::seal_name(ctx.keys, ctx.vault_id, &lookup, address);
                let id = store::insert_secret(ctx.conn, &lookup, &sealed_name)?;
                let row = SecretRow {
                    id,
                    lookup: lookup.to_vec(),
                    sealed_name,
                };
                (row, None)
            }
        };
        let ctx = &self.ctx;
        let next = old.as_ref().map_or(1, |h| h.version + 1);
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
        let head = HeadRow {
            secret_id: row.id,
            version: next,
            digest: manifest::digest(&sealed),
        };
        store::put_head(ctx.conn, &head)?;
        let (keys, vault_id) = (ctx.keys, ctx.vault_id);
        self.manifest()?
            .update(keys, vault_id, &row.lookup, old.as_ref(), &head);
        self.dirty = true;
        Ok(next)
    }

    /// Set a secret, as a new version (a `write` entry).
    pub fn set(&mut self, address: &Address, value: &SecretValue) -> Result<u32> {
        self.log.note(Action::Write, address);
        self.append(address, Kind::Value, value.expose())
    }

    /// Delete a secret (a tombstone version; a `delete` entry). Deleting what is already deleted or
    /// absent is not found.
    pub fn remove(&mut self, address: &Address) -> Result<u32> {
        self.log.note(Action::Delete, address);
        let row = self.ctx.require(address)?;
        match self.latest(&row, address)?.1.kind {
            Kind::Value => self.append(address, Kind::Tombstone, &[]),
            Kind::Tombstone => Err(not_found(address)),
        }
    }

    /// Make version `to` current again, as a new version (a `rollback` entry).
    pub fn rollback(&mut self, address: &Address, to: u32) -> Result<u32> {
        self.log.note(Action::Rollback, address);
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
