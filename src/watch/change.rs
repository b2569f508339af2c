//! The change check: after a wake-up, decide from cheap reads alone (no key, no decryption) whether
//! anything a watcher handed over may have changed, or whether the watcher must stop.
//!
//! In order: the vault file is still the one opened (same device and inode, same vault id); another
//! connection committed at all (`PRAGMA data_version`, so the watcher's own audit entries and every
//! wake-up from a reader cost one pragma); `keep lock` ran (the lock epoch in `meta`); the head
//! (newest version and its tag) of a watched secret moved; for a whole-scope watch, a secret was
//! added or purged somewhere and the scope's set of names (decrypted names, not values) differs.
//! Only then does the watcher read values, and write the audit entry that reading earns.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Resolved;
use crate::error::{Error, Result};
use crate::scope::{Name, Scope};
use crate::store::watched;
use crate::vault::Vault;

/// What the cheap reads say.
#[derive(Debug)]
pub enum Verdict {
    /// Nothing the watcher handed over changed.
    Same,
    /// A watched secret (or the watched scope's set of names) changed: read the values again.
    Moved,
    /// The watcher must stop: the session was locked, or the vault file was replaced.
    Stop(Error),
}

/// The state the next check compares against.
#[derive(Debug)]
pub struct Check {
    path: PathBuf,
    identity: (u64, u64),
    vault_id: Vec<u8>,
    /// The key came from the session cache (not a slot): the watcher ends with the session.
    from_session: bool,
    data_version: i64,
    lock_epoch: u64,
    read: Vec<crate::scope::Address>,
    lookups: Vec<[u8; 32]>,
    heads: Vec<Option<watched::Head>>,
    shape: (i64, i64),
    names: Option<(Scope, Vec<Name>)>,
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn replaced(path: &Path) -> Error {
    Error::Integrity(format!(
        "the vault file {} was replaced or removed while keep watched it; the watcher stopped \
         (the key it held belongs to the old file). Start it again to use the vault now there",
        path.display()
    ))
}

fn scope_names(vault: &Vault, scope: &Scope) -> Result<Vec<Name>> {
    let mut names: Vec<Name> = vault
        .list(Some(scope), false)?
        .into_iter()
        .map(|e| e.address.name)
        .collect();
    names.sort();
    Ok(names)
}

impl Check {
    /// The state right after `resolved` was read from `vault`.
    pub fn new(vault: &mut Vault, resolved: &Resolved) -> Result<Check> {
        let path = vault.path().to_path_buf();
        let identity = identity(&path).ok_or_else(|| replaced(&path))?;
        let vault_id = vault.id().to_vec();
        let from_session = vault.opened_by().is_none();
        let conn = vault.store().conn();
        let mut check = Check {
            identity,
            vault_id,
            from_session,
            data_version: watched::data_version(conn)?,
            lock_epoch: watched::lock_epoch(conn)?,
            read: Vec::new(),
            lookups: Vec::new(),
            heads: Vec::new(),
            shape: watched::secrets_shape(conn)?,
            names: None,
            path,
        };
        check.rebase(vault, resolved)?;
        Ok(check)
    }

    /// Watch what `resolved` holds from now on (after a refresh, which may have read other names).
    /// The heads are kept when the addresses are the ones already watched: they were read before
    /// the values ([`Check::refresh_heads`]).
    pub fn rebase(&mut self, vault: &mut Vault, resolved: &Resolved) -> Result<()> {
        if !self.read.is_empty() && self.read == resolved.read {
            return Ok(());
        }
        let keys = vault.subkeys();
        self.lookups = resolved
            .read
            .iter()
            .map(|a| crate::vault::lookup_tag(keys, a))
            .collect();
        self.read = resolved.read.clone();
        self.names = match &resolved.whole_scope {
            Some(scope) => Some((scope.clone(), scope_names(vault, scope)?)),
            None => None,
        };
        self.refresh_heads(vault)
    }

    /// Read the watched heads (and the secrets' shape) as they are now.
    pub fn refresh_heads(&mut self, vault: &mut Vault) -> Result<()> {
        let conn = vault.store().conn();
        self.heads = watched::heads_of(conn, &self.lookups)?;
        self.shape = watched::secrets_shape(conn)?;
        Ok(())
    }

    /// Look, cheaply.
    pub fn look(&mut self, vault: &mut Vault) -> Result<Verdict> {
        if identity(&self.path) != Some(self.identity) {
            return Ok(Verdict::Stop(replaced(&self.path)));
        }
        // A watcher that got its key from the session ends with the session: its `--ttl` running
        // out is noticed here, at the first change after it (no timer: an idle watcher wakes for
        // nothing), before anything new is decrypted.
        if self.from_session && !crate::session::cache::present(&self.vault_id) {
            return Ok(Verdict::Stop(Error::Locked(
                "the session ended (its `keep unlock --ttl` ran out, or it was locked): the \
                 watcher stopped and forgot the key. Unlock and start it again"
                    .into(),
            )));
        }
        let conn = vault.store().conn();
        let data_version = watched::data_version(conn)?;
        if data_version == self.data_version {
            return Ok(Verdict::Same);
        }
        self.data_version = data_version;
        // Copied over the old file in place (same inode): another vault's header.
        if crate::store::meta(conn, "vault_id")? != Some(self.vault_id.clone()) {
            return Ok(Verdict::Stop(replaced(&self.path)));
        }
        if watched::lock_epoch(conn)? != self.lock_epoch {
            return Ok(Verdict::Stop(Error::Locked(
                "the session was locked (`keep lock`): the watcher stopped and forgot the key. \
                 Unlock and start it again"
                    .into(),
            )));
        }
        if watched::heads_of(conn, &self.lookups)? != self.heads {
            return Ok(Verdict::Moved);
        }
        let Some((scope, names)) = &self.names else {
            return Ok(Verdict::Same);
        };
        let shape = watched::secrets_shape(conn)?;
        if shape == self.shape {
            return Ok(Verdict::Same);
        }
        let (scope, names) = (scope.clone(), names.clone());
        let now = scope_names(vault, &scope)?;
        self.shape = shape;
        Ok(if now == names {
            Verdict::Same
        } else {
            Verdict::Moved
        })
    }
}
