//! The vault: an open store plus the unlocked keys, and the operations on secrets and slots.
//!
//! This is the library API that `examples/` and the CLI use:
//!
//! ```no_run
//! use keep::{Vault, Scope};
//! # fn main() -> keep::Result<()> {
//! let mut vault = Vault::open(&keep::default_vault_path()?)?;   // session cache, KEEP_PASSPHRASE_FILE, or prompt
//! let scope = Scope::new("billing", "dev")?;
//! let url = vault.get(&keep::Address::parse("DATABASE_URL", &scope)?)?;   // recorded in the audit log
//! # let _ = url; Ok(()) }
//! ```

mod access;
mod housekeeping;
mod manifest;
mod opener;
mod record;
mod rekey;
mod secrets;
mod slots;
mod upgrade;
mod verify;

pub use access::Reader;
use opener::Acting;
pub use opener::{Cache, Opener};
pub use record::Kind;
pub(crate) use record::{lookup_tag, reseal_side, SideRecord};
pub use rekey::Outcome as RekeyOutcome;
pub use secrets::{Entry, VersionInfo, Writer};
pub use slots::SlotInfo;
pub use verify::Report as VerifyReport;

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use crate::crypto::{self, keys::hmac_parts_verify, MasterKey, Subkeys};
use crate::error::{Error, Result};
use crate::session;
use crate::slots::{make_slot, passphrase::KdfParams, SlotWrapper};
use crate::store::{self, Store};

/// Length of the random vault id.
pub const VAULT_ID_LEN: usize = 16;

/// The default vault location: `$XDG_DATA_HOME/keep/vault.db`.
pub fn default_vault_path() -> Result<PathBuf> {
    dirs::data_dir()
        .map(|d| d.join("keep").join("vault.db"))
        .ok_or_else(|| {
            Error::Usage(
                "cannot find a data directory for the vault; set KEEP_VAULT or --vault".into(),
            )
        })
}

/// An open, unlocked vault.
pub struct Vault {
    store: Store,
    vault_id: Vec<u8>,
    keys: Subkeys,
    master: MasterKey,
    /// The slot that opened the vault, when a slot (not the session cache) did.
    opened_by: Option<u32>,
    /// The newest write generation recorded outside the file when the vault was opened (or written
    /// since): a manifest older than this is refused (manifest.rs, src/audit/generation.rs).
    floor: u64,
    /// Who the vault's audit entries name, and whether opening logged the unlock (opener.rs).
    acting: Acting,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.store.path())
            .finish_non_exhaustive()
    }
}

/// The header fields a reader needs before it has the key.
struct Header {
    vault_id: Vec<u8>,
    kdf: String,
    check: Vec<u8>,
}

fn read_header(store: &Store) -> Result<Header> {
    let get = |key: &str| -> Result<Vec<u8>> {
        store.meta(key)?.ok_or_else(|| {
            Error::Integrity(format!(
                "{} has no {key} in its header: it is damaged or not a keep vault",
                store.path().display()
            ))
        })
    };
    let vault_id = get("vault_id")?;
    let kdf = String::from_utf8(get("kdf")?)
        .map_err(|_| Error::Integrity("the vault header's KDF settings are unreadable".into()))?;
    Ok(Header {
        vault_id,
        kdf,
        check: get("check")?,
    })
}

/// The header MAC's input. Format 4 uses a new label: a header that verifies under it tells the
/// reader that heads, manifest and slot MACs exist and must verify; one that verifies only under the
/// old label is an older vault, upgraded at this unlock (upgrade.rs).
fn check_parts(h: &Header, format4: bool) -> [&[u8]; 3] {
    let label: &[u8] = if format4 {
        b"keep/v2/header"
    } else {
        b"keep/v1/header"
    };
    [label, &h.vault_id, h.kdf.as_bytes()]
}

impl Vault {
    /// Create a new vault at `path` with one first slot, made by `first_slot`, and an `init` audit
    /// entry. `kdf` is recorded as the default for passphrase slots added later.
    pub fn create(path: &Path, first_slot: &dyn SlotWrapper, kdf: KdfParams) -> Result<Vault> {
        Vault::opener(path).create(first_slot, kdf)
    }

    /// [`Vault::create`] for an [`Opener`]: its command names the `init` entry.
    fn create_as(
        path: &Path,
        first_slot: &dyn SlotWrapper,
        kdf: KdfParams,
        acting: Acting,
    ) -> Result<Vault> {
        kdf.validate()?;
        let master = MasterKey::generate();
        let vault_id = crypto::random::bytes::<VAULT_ID_LEN>().to_vec();
        let keys = master.subkeys(&vault_id);
        let slot = make_slot(first_slot, &master, &vault_id, 1)?;
        let kdf_json = serde_json::to_string(&kdf).expect("KDF params serialise");
        let header = Header {
            vault_id: vault_id.clone(),
            kdf: kdf_json,
            check: Vec::new(),
        };
        let check =
            crypto::keys::hmac_parts(keys.check.expose_secret(), &check_parts(&header, true));
        let mut store = Store::create(path)?;
        let audit_key = zeroize::Zeroizing::new(*keys.audit.expose_secret());
        let mut witnessed = None;
        let generation = store.write(|tx| {
            store::set_meta(tx, "vault_id", &vault_id)?;
            store::set_meta(tx, "kdf", header.kdf.as_bytes())?;
            store::set_meta(tx, "check", &check)?;
            let generation = manifest::Manifest::empty().store(tx, &keys, &vault_id)?;
            store::delete_meta(tx, upgrade::PENDING)?;
            store::insert_slot(tx, &slot)?;
            // The log starts with the vault: an `init` entry, committed with it.
            let init = [crate::audit::Body::by(
                &acting.command,
                crate::audit::Action::Init,
                crate::audit::OK,
            )];
            witnessed = crate::audit::append_in(tx, &audit_key, &vault_id, &init, true)?;
            Ok(generation)
        })?;
        crate::audit::committed(witnessed);
        let mut vault = Vault {
            store,
            vault_id,
            keys,
            master,
            opened_by: Some(1),
            floor: 0,
            acting,
        };
        vault.committed_generation(generation)?;
        Ok(vault)
    }

    /// Finish opening with a master key: verify the header MAC, which proves both that the key is this
    /// vault's and that the header was not edited; then the MAC of the slot that opened it. An older
    /// vault is upgraded to format 4 here (upgrade.rs).
    fn with_key(
        mut store: Store,
        header: &Header,
        master: MasterKey,
        opened_by: Option<u32>,
        acting: Acting,
    ) -> Result<Vault> {
        let keys = master.subkeys(&header.vault_id);
        let verifies = |format4| {
            hmac_parts_verify(
                keys.check.expose_secret(),
                &check_parts(header, format4),
                &header.check,
            )
        };
        if !verifies(true) {
            if !verifies(false) {
                return Err(Error::Integrity(format!(
                    "the header of {} failed authentication: it was edited, or the key belongs to another vault",
                    store.path().display()
                )));
            }
            if store.meta(upgrade::PENDING)?.is_none() {
                return Err(Error::Integrity(format!(
                    "the header of {} carries the authentication of an older keep format, but the \
                     vault was already upgraded: the header was restored from an older copy of the \
                     file. Restore the vault from a backup",
                    store.path().display()
                )));
            }
            let check =
                crypto::keys::hmac_parts(keys.check.expose_secret(), &check_parts(header, true));
            store.write(|tx| upgrade::to_format4(tx, &keys, &header.vault_id, &check))?;
        }
        if let Some(id) = opened_by {
            let slots = store::slots(store.conn())?;
            let slot = slots.iter().find(|s| s.id == id).ok_or_else(|| {
                Error::Integrity(format!("key slot {id} vanished while the vault was opened"))
            })?;
            crate::slots::check_row_mac(keys.records.expose_secret(), &header.vault_id, slot)?;
        }
        // Read before any query of the secrets, so that it can only trail what they will show.
        let floor = crate::audit::generation::recorded(&header.vault_id)?.unwrap_or(0);
        Ok(Vault {
            store,
            vault_id: header.vault_id.clone(),
            keys,
            master,
            opened_by,
            floor,
            acting,
        })
    }

    /// A write transaction that stored manifest `generation` has committed: record it outside the
    /// file. The change is saved either way; an error here says the record could not be written.
    pub(super) fn committed_generation(&mut self, generation: u64) -> Result<()> {
        self.floor = self.floor.max(generation);
        crate::audit::generation::record(&self.vault_id, generation).map_err(|e| match e {
            Error::Io { context, source } => Error::Io {
                context: format!(
                    "the change was saved, but its generation was not recorded: {context}"
                ),
                source,
            },
            e => e,
        })
    }

    /// The command this vault's audit entries name (`Opener::command`).
    pub fn command(&self) -> &str {
        &self.acting.command
    }

    /// Whether opening folded failed unlocks and logged the unlock (`Opener::log_unlock`).
    pub(crate) fn logs_unlock(&self) -> bool {
        self.acting.log_unlock
    }

    /// The vault file.
    pub fn path(&self) -> &Path {
        self.store.path()
    }

    /// The random id of this vault (public; it appears in the header).
    pub fn id(&self) -> &[u8] {
        &self.vault_id
    }

    /// The purpose-bound subkeys, for this crate's modules that keep their own authenticated tables
    /// (audit, sync, scan). Not part of the library's API: an application gets values, never keys.
    pub(crate) fn subkeys(&self) -> &Subkeys {
        &self.keys
    }

    /// The underlying store, for this crate's modules that keep their own tables (not part of the
    /// library's API).
    pub(crate) fn store(&mut self) -> &mut Store {
        &mut self.store
    }

    /// The slot that opened this vault, or `None` when the session cache did.
    pub fn opened_by(&self) -> Option<u32> {
        self.opened_by
    }

    /// Cache the master key in the session keyring for `ttl` (`keep unlock`).
    pub fn cache_in_session(&self, ttl: std::time::Duration) -> Result<()> {
        session::cache::store(&self.vault_id, &self.master, ttl)
    }

    /// The memory holding this vault's keys (the master key and its subkeys), for a process that
    /// keeps the vault open for long to lock into RAM (`keep exec --watch`, src/watch/memory.rs).
    /// Public only for the zeroization canary (tests/canary_zeroize.rs), which watches these bytes;
    /// hidden from the documented API.
    #[doc(hidden)]
    pub fn key_memory(&self) -> Vec<&[u8]> {
        let mut regions = self.keys.regions().to_vec();
        regions.push(&self.master.expose()[..]);
        regions
    }

    /// The default KDF parameters recorded at `init`.
    pub fn default_kdf(&self) -> Result<KdfParams> {
        let raw = self.store.meta("kdf")?.unwrap_or_default();
        serde_json::from_slice(&raw)
            .map_err(|_| Error::Integrity("the vault header's KDF settings are unreadable".into()))
    }
}

/// Forget a vault's cached key (`keep lock`), and stop every watcher of the vault (they hold the key
/// themselves; src/watch). Needs no key: the header gives the vault id.
pub fn lock(path: &Path) -> Result<bool> {
    let mut store = Store::open(path)?;
    let header = read_header(&store)?;
    let cleared = session::cache::clear(&header.vault_id)?;
    store::watched::bump_lock_epoch(&mut store)?;
    Ok(cleared)
}
