//! `keep rekey`, `keep passwd --rekey`, `keep slot rm ID --rekey`: a new master key, every record
//! re-sealed, every slot whose credential is at hand re-wrapped (src/vault/rekey.rs).
//!
//! Which slots can be re-wrapped, and with what:
//! - the passphrase slot(s) that open with the passphrase given (`KEEP_PASSPHRASE_FILE`, or a prompt);
//! - every age slot, from its stored recipient: wrapping needs only the public key;
//! - every HSM slot, when the PIN is given (`KEEP_PKCS11_PIN_FILE`, or a prompt): the token wraps;
//! - every recovery slot, with a NEW code, printed once on stderr.
//!
//! Any other slot (a second passphrase, an HSM slot without its PIN) is removed only with
//! `--drop-other-slots`; without it the re-key is refused (exit 2) naming each slot and what it needs.
//! The session cache is never a credential here and is dropped afterwards (it holds the old key).

use std::collections::BTreeMap;

use secrecy::SecretString;
use zeroize::Zeroizing;

use super::args::RekeyArgs;
use super::exit::Exit;
use super::{output, Context};
use crate::error::{Error, Result};
use crate::session::{self, credentials};
use crate::slots::age::AgeIdentity;
use crate::slots::hsm::HsmPin;
use crate::slots::passphrase::{self, Passphrase};
use crate::slots::recovery::{self, RecoveryCode};
use crate::slots::{self, SlotContext, SlotUnwrapper, SlotWrapper};
use crate::store::{self, SlotRow, Store};
use crate::sync::progress::Progress;
use crate::vault::Vault;

/// What else happens in the same step as the re-key.
pub enum Change {
    /// Only the re-key (`keep rekey`).
    None,
    /// The passphrase slot that opened gets a new passphrase (`keep passwd --rekey`).
    NewPassphrase,
    /// This slot is removed (`keep slot rm ID --rekey`).
    RemoveSlot(u32),
}

pub fn run(ctx: &Context, a: RekeyArgs) -> Result<Exit> {
    rekey(ctx, Change::None, a.drop_other_slots)
}

/// The credentials keep reads for a re-key: for opening, and for re-wrapping the slots they open.
struct Credentials {
    passphrase: Option<SecretString>,
    pin: Option<SecretString>,
    unwrappers: Vec<Box<dyn SlotUnwrapper>>,
}

fn credentials(ctx: &Context, rows: &[SlotRow]) -> Result<Credentials> {
    let has = |kind: &str| rows.iter().any(|s| s.kind == kind);
    let tty = session::interactive();
    let passphrase = match credentials::passphrase_from_env()? {
        Some(p) => Some(p),
        None if tty && has(passphrase::KIND) => Some(credentials::prompt("Vault passphrase: ")?),
        None => None,
    };
    let pin = match session::pin_from_env()? {
        Some(p) => Some(p),
        None if tty && has(slots::hsm::KIND) => Some(credentials::prompt("HSM user PIN: ")?),
        None => None,
    };
    let mut unwrappers: Vec<Box<dyn SlotUnwrapper>> = Vec::new();
    if let Some(code) = credentials::from_env("KEEP_RECOVERY_KEY", "recovery key")? {
        unwrappers.push(Box::new(RecoveryCode::parse(&code)?));
    }
    if let Some(path) = session::age_identity_path(ctx.identity.as_deref()) {
        unwrappers.push(Box::new(AgeIdentity::from_file(&path)?));
    }
    if let Some(pin) = &pin {
        unwrappers.push(Box::new(HsmPin { pin: pin.clone() }));
    }
    if let Some(p) = &passphrase {
        unwrappers.push(Box::new(Passphrase::new(p.clone(), Default::default())));
    }
    if unwrappers.is_empty() {
        return Err(Error::Locked(format!(
            "a re-key needs the credential of a key slot, and the session cache does not count; \
             set KEEP_PASSPHRASE_FILE, KEEP_PKCS11_PIN_FILE, KEEP_AGE_IDENTITY or \
             KEEP_RECOVERY_KEY_FILE, or run it on a terminal{}",
            credentials::empty_vars_note()
        )));
    }
    Ok(Credentials {
        passphrase,
        pin,
        unwrappers,
    })
}

/// The re-key shared by `rekey`, `passwd --rekey` and `slot rm --rekey`.
pub fn rekey(ctx: &Context, change: Change, drop_others: bool) -> Result<Exit> {
    let rows = store::slots(Store::open(&ctx.vault_path)?.conn())?;
    let creds = credentials(ctx, &rows)?;
    // As for any unlock, a failed attempt is recorded and a successful one logged (opener.rs).
    let mut vault = ctx.opener().credentials(&creds.unwrappers).open()?;
    let opener = vault
        .opened_by()
        .expect("a vault opened with a credential was opened by a slot");
    let rows = vault.slot_rows()?;
    let new_passphrase = match change {
        Change::NewPassphrase => {
            if rows
                .iter()
                .find(|s| s.id == opener)
                .map(|s| s.kind.as_str())
                != Some(passphrase::KIND)
            {
                return Err(Error::Usage(format!(
                    "the vault was opened with slot {opener}, which is not a passphrase slot; \
                     `keep passwd` changes a passphrase. Use `keep slot add passphrase` instead"
                )));
            }
            Some(super::passphrase::new_passphrase(
                "KEEP_NEW_PASSPHRASE",
                None,
            )?)
        }
        _ => None,
    };
    let removed = match change {
        Change::RemoveSlot(id) => {
            if !rows.iter().any(|s| s.id == id) {
                return Err(Error::NotFound(format!(
                    "no key slot {id}; `keep slot ls` lists them"
                )));
            }
            Some(id)
        }
        _ => None,
    };

    let mut wrappers: BTreeMap<u32, Box<dyn SlotWrapper>> = BTreeMap::new();
    let mut missing = Vec::new();
    let mut papers: Vec<(u32, Zeroizing<String>)> = Vec::new();
    for slot in rows.iter().filter(|s| Some(s.id) != removed) {
        let unreadable = || {
            format!(
                "slot {} ({}): its parameters are unreadable",
                slot.id, slot.kind
            )
        };
        match slot.kind.as_str() {
            passphrase::KIND => {
                let kdf = passphrase::kdf_of(&slot.params);
                match (&new_passphrase, &creds.passphrase, kdf) {
                    (Some(new), _, _) if slot.id == opener => {
                        wrappers.insert(
                            slot.id,
                            Box::new(Passphrase::new(new.clone(), vault.default_kdf()?)),
                        );
                    }
                    (_, Some(p), Some(kdf)) if slot.id == opener || opens(&vault, slot, p)? => {
                        wrappers.insert(slot.id, Box::new(Passphrase::new(p.clone(), kdf)));
                    }
                    (_, _, None) => missing.push(unreadable()),
                    _ => missing.push(format!(
                        "slot {} (passphrase): its passphrase is not the one given, and keep reads \
                         one passphrase per run; drop it here and add it again afterwards with \
                         `keep slot add passphrase`",
                        slot.id
                    )),
                }
            }
            slots::age::KIND => match slots::age::rewrapper(&slot.params) {
                Some(w) => {
                    wrappers.insert(slot.id, Box::new(w));
                }
                None => missing.push(unreadable()),
            },
            slots::hsm::KIND => match &creds.pin {
                Some(pin) => match slots::hsm::rewrapper(&slot.params, pin.clone()) {
                    Some(w) => {
                        wrappers.insert(slot.id, Box::new(w));
                    }
                    None => missing.push(unreadable()),
                },
                None => missing.push(format!(
                    "slot {} (hsm): the token re-wraps it with its PIN; set KEEP_PKCS11_PIN_FILE \
                     (and KEEP_PKCS11_MODULE if needed) with the token present",
                    slot.id
                )),
            },
            recovery::KIND => {
                let code = RecoveryCode::generate();
                papers.push((slot.id, recovery::paper(&code, vault.path())));
                wrappers.insert(slot.id, Box::new(code));
            }
            other => missing.push(format!("slot {} ({other}): an unknown kind", slot.id)),
        }
    }
    if !missing.is_empty() && !drop_others {
        return Err(Error::Usage(format!(
            "these key slots cannot be re-wrapped with the credentials given, so nothing was \
             changed:\n  {}\nGive their credentials, or pass --drop-other-slots to remove them in \
             the re-key",
            missing.join("\n  ")
        )));
    }

    let targets: Vec<String> = ctx
        .config
        .as_ref()
        .map(|c| c.sync.keys().cloned().collect())
        .unwrap_or_default();
    let progress = Progress::new(vault.rekey_work()? as usize, "Re-keying", !ctx.json);
    let result = vault.rekey(&wrappers, &targets, &progress);
    progress.finish();
    // Once committed, the new recovery codes are the only ones that open their slots, and the
    // cached key is the old one: show the codes and drop the cache before anything else can fail.
    let mut was_cached = false;
    if result.is_ok() {
        for (_, paper) in &papers {
            eprintln!("{}", paper.as_str());
        }
        // A stale cached key fails the header check and is ignored, so a failure here is only
        // reported; the re-key is done and must still be logged.
        was_cached = session::cache::clear(vault.id()).unwrap_or_else(|e| {
            output::note(&format!("warning: could not clear the session cache: {e}"));
            false
        });
    }
    let mut outcome = result?;
    // The slot `slot rm --rekey` named was removed on purpose, not for want of a credential.
    outcome.slots_dropped.retain(|id| Some(*id) != removed);
    if ctx.json {
        output::json(&serde_json::json!({
            "vault": vault.path(),
            "rekey": &outcome,
            "removed_slot": removed,
            "session_cache_dropped": was_cached,
        }))?;
        return Ok(Exit::Success);
    }
    let mut lines = vec![format!(
        "Re-keyed {}: a new master key; {} secret(s), {} version(s) and {} audit entries re-sealed; \
         slot(s) {} re-wrapped.",
        vault.path().display(),
        outcome.secrets,
        outcome.versions,
        outcome.audit_entries,
        join(&outcome.slots_kept)
    )];
    if let Some(id) = removed {
        lines.push(format!("Removed slot {id}."));
    }
    if new_passphrase.is_some() {
        lines.push(format!("Changed the passphrase of slot {opener}."));
    }
    if !outcome.slots_dropped.is_empty() {
        lines.push(format!(
            "Removed slot(s) {} (--drop-other-slots).",
            join(&outcome.slots_dropped)
        ));
    }
    if !papers.is_empty() {
        let ids: Vec<u32> = papers.iter().map(|(id, _)| *id).collect();
        lines.push(format!(
            "Recovery slot(s) {} have a NEW code (above); the old code opens nothing now.",
            join(&ids)
        ));
    }
    if outcome.sync_records_dropped > 0 {
        lines.push(format!(
            "{} sync record(s) of targets not in this keep.toml were removed; their next sync plans \
             without a base (equal values are still in sync).",
            outcome.sync_records_dropped
        ));
    }
    if outcome.rotation_records_dropped > 0 {
        lines.push(format!(
            "{} rotation record(s) of secrets that do not exist (a policy set before its secret) \
             were removed; set them again with `keep policy set`.",
            outcome.rotation_records_dropped
        ));
    }
    if was_cached {
        lines.push(
            "The session cache held the old key and was cleared; `keep unlock` again.".into(),
        );
    }
    lines.push(
        "A copy of the old file, or a slot row taken from one, still opens that copy's data, but \
         nothing written from now on."
            .into(),
    );
    output::note(&lines.join("\n"));
    Ok(Exit::Success)
}

/// Whether passphrase `p` opens `slot` to this vault's key (one KDF).
fn opens(vault: &Vault, slot: &SlotRow, p: &SecretString) -> Result<bool> {
    let ctx = SlotContext {
        vault_id: vault.id(),
        slot_id: slot.id,
    };
    Ok(Passphrase::new(p.clone(), Default::default())
        .unwrap(slot, &ctx)?
        .is_some_and(|key| vault.is_master(&key)))
}

fn join(ids: &[u32]) -> String {
    if ids.is_empty() {
        return "none".into();
    }
    ids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
