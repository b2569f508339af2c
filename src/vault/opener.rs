//! The one way to open a vault: `Vault::opener(path)`, told what it may use and who is acting, then
//! `open()`. Every open verifies the header and the slot the same way (`Vault::with_key`), records a
//! failed unlock (unauthenticated, folded in later) and logs a successful one, so no caller can
//! forget either. `Vault::open`, `open_without_cache`, `open_cached` and `open_with` are one-line
//! openers kept for the library's users.
//!
//! Nothing here is process-wide: the command the audit entries name, the `--identity` file and
//! whether the unlock is logged travel with the opener into the vault (before, the CLI set them in
//! statics the library read).

use std::path::{Path, PathBuf};

use super::{read_header, Vault};
use crate::audit::context::LIBRARY;
use crate::error::{Error, Result};
use crate::session;
use crate::slots::{passphrase::KdfParams, SlotUnwrapper, SlotWrapper};
use crate::store::{self, Store};

/// Whether an open may take the key from the session cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cache {
    /// The cache first, then a slot (the default).
    Use,
    /// A slot only: the caller must prove a credential (`keep passwd`).
    Ignore,
}

/// Who the vault's audit entries name, and whether opening logs the unlock.
#[derive(Clone, Debug)]
pub(crate) struct Acting {
    pub(crate) command: String,
    pub(crate) log_unlock: bool,
}

/// How to open one vault (see the module doc).
pub struct Opener<'a> {
    path: PathBuf,
    cache: Cache,
    credentials: Option<&'a [Box<dyn SlotUnwrapper>]>,
    identity: Option<PathBuf>,
    acting: Acting,
}

impl Vault {
    /// An opener for the vault at `path`: the session cache, then the environment's credentials
    /// (`KEEP_PASSPHRASE_FILE`, ...), then a prompt on the terminal; entries name `library`.
    pub fn opener<'a>(path: &Path) -> Opener<'a> {
        Opener {
            path: path.to_path_buf(),
            cache: Cache::Use,
            credentials: None,
            identity: None,
            acting: Acting {
                command: LIBRARY.into(),
                log_unlock: true,
            },
        }
    }

    /// Open the vault at `path` and unlock it: from the session cache, else with a credential from the
    /// environment (`KEEP_PASSPHRASE_FILE`, ...), else by prompting on a terminal.
    pub fn open(path: &Path) -> Result<Vault> {
        Vault::opener(path).open()
    }

    /// Like [`Vault::open`] but ignoring the session cache, for operations that must prove possession
    /// of a slot's credential (changing a passphrase).
    pub fn open_without_cache(path: &Path) -> Result<Vault> {
        Vault::opener(path).cache(Cache::Ignore).open()
    }

    /// Open the vault only if the session cache already holds its key (see
    /// [`Opener::open_if_cached`]).
    pub fn open_cached(path: &Path) -> Result<Option<Vault>> {
        Vault::opener(path).open_if_cached()
    }

    /// Open the vault at `path` with the given credentials only: no session cache, no environment, no
    /// prompt. For applications and tests that hold the credential themselves.
    pub fn open_with(path: &Path, unwrappers: &[Box<dyn SlotUnwrapper>]) -> Result<Vault> {
        Vault::opener(path).credentials(unwrappers).open()
    }
}

impl<'a> Opener<'a> {
    /// Whether the session cache may supply the key.
    pub fn cache(mut self, cache: Cache) -> Self {
        self.cache = cache;
        self
    }

    /// Open with these credentials only: no session cache, no environment, no prompt.
    pub fn credentials(mut self, unwrappers: &'a [Box<dyn SlotUnwrapper>]) -> Self {
        self.credentials = Some(unwrappers);
        self
    }

    /// An age identity file that may open an age slot, before `KEEP_AGE_IDENTITY` (`--identity`).
    pub fn identity(mut self, path: Option<&Path>) -> Self {
        self.identity = path.map(Path::to_path_buf);
        self
    }

    /// The command the audit entries name: the subcommand path (`get`, `slot add age`), never its
    /// arguments, which hold secret names. `library` when not given.
    pub fn command(mut self, name: &str) -> Self {
        self.acting.command = name.to_string();
        self
    }

    /// Whether opening folds failed unlocks into the chain and logs the unlock (on by default).
    /// `keep audit ...` turns it off, so that a damaged log, which appends refuse, can still be read.
    pub fn log_unlock(mut self, on: bool) -> Self {
        self.acting.log_unlock = on;
        self
    }

    /// Create a new vault here instead, with one first slot and an `init` entry naming the command.
    pub fn create(self, first_slot: &dyn SlotWrapper, kdf: KdfParams) -> Result<Vault> {
        Vault::create_as(&self.path, first_slot, kdf, self.acting)
    }

    /// Open and unlock the vault.
    pub fn open(self) -> Result<Vault> {
        let mut store = Store::open(&self.path)?;
        let header = read_header(&store)?;
        if self.cache == Cache::Use && self.credentials.is_none() {
            if let Some(master) = session::cache::load(&header.vault_id) {
                match Vault::with_key(store, &header, master, None, self.acting.clone()) {
                    Ok(vault) => return finish(vault),
                    // A cached key that fails the check belongs elsewhere: ignore it, open a slot.
                    Err(_) => return self.cache(Cache::Ignore).open(),
                }
            }
        }
        let slots = store::slots(store.conn())?;
        if slots.is_empty() {
            return Err(Error::Integrity(format!(
                "{} has no key slots left",
                self.path.display()
            )));
        }
        let opened = match self.credentials {
            Some(unwrappers) => crate::slots::open_any(&slots, unwrappers, &header.vault_id),
            None => session::open_slots(&slots, &header.vault_id, self.identity.as_deref()),
        };
        let (master, slot_id) = match opened {
            Ok(opened) => opened,
            Err(e @ Error::Auth(_)) => {
                // With no key this attempt cannot be MAC'd, so it is recorded unauthenticated and
                // folded into the chain at the next successful unlock (SECURITY.md, "Audit log").
                crate::audit::failed::record(&mut store, &self.acting.command, e.kind());
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        finish(Vault::with_key(
            store,
            &header,
            master,
            Some(slot_id),
            self.acting,
        )?)
    }

    /// Open only if the session cache already holds the key; never prompts and never runs the KDF.
    /// `Ok(None)` when there is no vault file or it is locked (`keep scan` is vault-aware only when
    /// that costs nothing). Like every open, it folds failed unlocks into the log.
    pub fn open_if_cached(self) -> Result<Option<Vault>> {
        if !self.path.exists() {
            return Ok(None);
        }
        let store = Store::open(&self.path)?;
        let header = read_header(&store)?;
        let Some(vault) = session::cache::load(&header.vault_id)
            .and_then(|master| Vault::with_key(store, &header, master, None, self.acting).ok())
        else {
            return Ok(None);
        };
        finish(vault).map(Some)
    }
}

/// Fold pending failed unlocks and log this unlock (when a slot opened the vault).
fn finish(mut vault: Vault) -> Result<Vault> {
    crate::audit::after_unlock(&mut vault)?;
    Ok(vault)
}
