//! Getting the master key for one command: from the session cache, or by opening a key slot with a
//! credential taken from the environment, a file or a prompt, in the order the contract fixes.
//!
//! A command that needs the key and has neither a cached key, a non-interactive credential nor a
//! terminal fails at once with exit 6; it never waits for input that cannot come.

pub mod cache;
pub mod credentials;

use std::io::IsTerminal;

use crate::crypto::MasterKey;
use crate::error::{Error, Result};
use crate::slots::{self, passphrase::Passphrase, SlotUnwrapper};
use crate::store::SlotRow;

/// Whether keep may prompt: only when stdin is a terminal, as the contract says.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// The credentials available without asking, as slot unwrappers.
///
/// Each slot kind contributes what its environment variables provide. The KDF parameters given to a
/// passphrase here do not matter: unwrapping reads each slot's own.
pub fn unwrappers_from_env() -> Result<Vec<Box<dyn SlotUnwrapper>>> {
    let mut out: Vec<Box<dyn SlotUnwrapper>> = Vec::new();
    if let Some(p) = credentials::passphrase_from_env()? {
        out.push(Box::new(Passphrase::new(p, Default::default())));
    }
    Ok(out)
}

/// Open one of `slots`: non-interactive credentials first, then a prompt on a terminal.
pub fn open_slots(slots: &[SlotRow], vault_id: &[u8]) -> Result<(MasterKey, u32)> {
    let unwrappers = unwrappers_from_env()?;
    if !unwrappers.is_empty() {
        return slots::open_any(slots, &unwrappers, vault_id);
    }
    if !interactive() {
        return Err(locked_error(slots));
    }
    if slots.iter().any(|s| s.kind == slots::passphrase::KIND) {
        let p = credentials::prompt("Vault passphrase: ")?;
        let unwrappers: Vec<Box<dyn SlotUnwrapper>> =
            vec![Box::new(Passphrase::new(p, Default::default()))];
        return slots::open_any(slots, &unwrappers, vault_id);
    }
    Err(locked_error(slots))
}

fn locked_error(slots: &[SlotRow]) -> Error {
    let mut kinds: Vec<&str> = slots.iter().map(|s| s.kind.as_str()).collect();
    kinds.dedup();
    Error::Locked(format!(
        "the vault is locked and there is no terminal to ask on; run `keep unlock` first, or set \
         KEEP_PASSPHRASE_FILE (slots in this vault: {})",
        kinds.join(", ")
    ))
}
