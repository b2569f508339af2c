//! Getting the master key for one command: from the session cache, or by opening a key slot with a
//! credential taken from the environment, a file or a prompt, in the order the contract fixes.
//!
//! A command that needs the key and has neither a cached key, a non-interactive credential nor a
//! terminal fails at once with exit 6; it never waits for input that cannot come.

pub mod cache;
pub mod credentials;

use std::path::{Path, PathBuf};

use crate::crypto::MasterKey;
use crate::error::{Error, Result};
use crate::slots::{
    self, age::AgeIdentity, hsm::HsmPin, passphrase::Passphrase, recovery::RecoveryCode,
    SlotUnwrapper,
};
use crate::store::SlotRow;

/// How long the session cache keeps `vault_id`'s key, as the kernel rounds it in `/proc/keys`
/// (`14m`, `59s`, `2h`), when the key is cached and the kernel says; `None` otherwise.
pub fn cache_expiry(vault_id: &[u8]) -> Option<String> {
    let description = cache::description(vault_id);
    let keys = std::fs::read_to_string("/proc/keys").ok()?;
    keys.lines().find_map(|line| {
        // id flags usage timeout perm uid gid type description: payload-summary
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(8)?.trim_end_matches(':') == description).then(|| fields[3].to_string())
    })
}

/// The controlling terminal, opened for reading and writing, if the process has one.
pub fn open_tty() -> Option<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()
}

/// Whether keep may prompt: when the process has a controlling terminal, whatever stdin is (a piped
/// value still gets its passphrase prompt), as the contract says.
pub fn interactive() -> bool {
    open_tty().is_some()
}

/// The age identity file: `given` (`--identity`), else `KEEP_AGE_IDENTITY`.
pub fn age_identity_path(given: Option<&Path>) -> Option<PathBuf> {
    given.map(Path::to_path_buf).or_else(|| {
        std::env::var_os("KEEP_AGE_IDENTITY")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    })
}

/// The HSM user PIN from `KEEP_PKCS11_PIN_FILE` or `KEEP_PKCS11_PIN`.
pub fn pin_from_env() -> Result<Option<secrecy::SecretString>> {
    credentials::from_env("KEEP_PKCS11_PIN", "PKCS#11 PIN")
}

/// The credentials available without asking, as slot unwrappers, cheapest first: a recovery code
/// (`KEEP_RECOVERY_KEY_FILE` / `KEEP_RECOVERY_KEY`, one HKDF), an age identity (`identity`, the
/// `--identity` file, else `KEEP_AGE_IDENTITY`), an HSM PIN (`KEEP_PKCS11_PIN_FILE` /
/// `KEEP_PKCS11_PIN`), and last a passphrase (`KEEP_PASSPHRASE_FILE` / `KEEP_PASSPHRASE`, a slow
/// KDF).
///
/// The KDF parameters given to a passphrase here do not matter: unwrapping reads each slot's own.
pub fn unwrappers_from_env(identity: Option<&Path>) -> Result<Vec<Box<dyn SlotUnwrapper>>> {
    let mut out: Vec<Box<dyn SlotUnwrapper>> = Vec::new();
    if let Some(code) = credentials::from_env("KEEP_RECOVERY_KEY", "recovery key")? {
        out.push(Box::new(RecoveryCode::parse(&code)?));
    }
    if let Some(path) = age_identity_path(identity) {
        out.push(Box::new(AgeIdentity::from_file(&path)?));
    }
    if let Some(pin) = pin_from_env()? {
        out.push(Box::new(HsmPin { pin }));
    }
    if let Some(p) = credentials::passphrase_from_env()? {
        out.push(Box::new(Passphrase::new(p, Default::default())));
    }
    Ok(out)
}

/// Open one of `slots`: non-interactive credentials first, then a prompt on a terminal (the
/// passphrase when the vault has a passphrase slot, else the HSM PIN when it has an HSM slot).
/// `identity` is the `--identity` file, if one was given.
pub fn open_slots(
    slots: &[SlotRow],
    vault_id: &[u8],
    identity: Option<&Path>,
) -> Result<(MasterKey, u32)> {
    let unwrappers = unwrappers_from_env(identity)?;
    if !unwrappers.is_empty() {
        return slots::open_any(slots, &unwrappers, vault_id);
    }
    if !interactive() {
        return Err(locked_error(slots));
    }
    let has = |kind: &str| slots.iter().any(|s| s.kind == kind);
    let unwrapper: Box<dyn SlotUnwrapper> = if has(slots::passphrase::KIND) {
        let p = credentials::prompt("Vault passphrase: ")?;
        Box::new(Passphrase::new(p, Default::default()))
    } else if has(slots::hsm::KIND) {
        Box::new(HsmPin {
            pin: credentials::prompt("HSM user PIN: ")?,
        })
    } else {
        return Err(locked_error(slots));
    };
    slots::open_any(slots, &[unwrapper], vault_id)
}

fn locked_error(slots: &[SlotRow]) -> Error {
    let mut kinds: Vec<&str> = slots.iter().map(|s| s.kind.as_str()).collect();
    kinds.dedup();
    Error::Locked(format!(
        "the vault is locked and there is no terminal to ask on; run `keep unlock` first, or set \
         KEEP_PASSPHRASE_FILE, KEEP_PKCS11_PIN_FILE, KEEP_AGE_IDENTITY or KEEP_RECOVERY_KEY_FILE \
         (slots in this vault: {}){}",
        kinds.join(", "),
        credentials::empty_vars_note()
    ))
}
