//! `init`, `passwd`, `unlock`, `lock`: creating the vault and managing how it is opened.

use super::args::{InitArgs, KdfArgs, PasswdArgs, UnlockArgs};
use super::exit::Exit;
use super::output;
use super::Context;
use crate::error::{Error, Result};
use crate::slots::passphrase::{self, KdfParams, Passphrase};
use crate::vault;

/// Argon2id parameters from flags, on top of `base`.
pub fn kdf_params(a: &KdfArgs, base: KdfParams) -> Result<KdfParams> {
    let mut p = base;
    if let Some(m) = a.kdf_memory {
        p.m_kib = m;
    }
    if let Some(t) = a.kdf_iterations {
        p.t = t;
    }
    if let Some(par) = a.kdf_parallelism {
        p.p = par;
    }
    p.validate()?;
    if p.is_below_default() {
        output::warn(&format!(
            "Argon2id parameters below the RFC 9106 default (memory {} KiB, {} iterations) make a stolen \
             vault file cheaper to attack",
            p.m_kib, p.t
        ));
    }
    Ok(p)
}

pub fn init(ctx: &Context, a: InitArgs) -> Result<Exit> {
    let kdf = kdf_params(&a.kdf, KdfParams::default())?;
    if ctx.vault_path.exists() {
        return Err(Error::Usage(format!(
            "{} already exists; keep never overwrites a vault (choose another path with --vault)",
            ctx.vault_path.display()
        )));
    }
    let (mut vault, first) = if a.custody.hsm {
        let wrapper = super::hsm::wrapper(&a.custody.hsm_args)?;
        (ctx.opener().create(&wrapper, kdf)?, "an HSM slot")
    } else {
        let pass =
            super::passphrase::new_passphrase("KEEP_NEW_PASSPHRASE", Some("KEEP_PASSPHRASE"))?;
        let first = Passphrase::new(pass, kdf);
        (ctx.opener().create(&first, kdf)?, "a passphrase slot")
    };
    output::note(&format!(
        "Created {} with {first} (slot 1).",
        vault.path().display()
    ));
    let recovery = super::custody::offer_recovery(&mut vault, &a.custody)?;
    if !ctx.json {
        output::note(
            "Next: `printf %s \"$VALUE\" | keep set NAME` stores a secret (`keep import .env` moves a \
             whole .env file in), and `keep exec -- CMD` runs a program with them.",
        );
    }
    if ctx.json {
        output::json(&serde_json::json!({
            "vault": vault.path(),
            "slots": vault.slots()?,
            "recovery_slot": recovery,
        }))?;
    }
    Ok(Exit::Success)
}

pub fn passwd(ctx: &Context, a: PasswdArgs) -> Result<Exit> {
    if a.rekey {
        return super::rekey::rekey(ctx, super::rekey::Change::NewPassphrase, a.drop_other_slots);
    }
    // The current passphrase must be proven: the session cache does not count.
    let mut vault = ctx.opener().cache(crate::vault::Cache::Ignore).open()?;
    let slot = vault
        .opened_by()
        .expect("a vault opened without the cache was opened by a slot");
    let info = vault.slots()?.into_iter().find(|s| s.id == slot);
    if info.as_ref().map(|s| s.kind.as_str()) != Some(passphrase::KIND) {
        return Err(Error::Usage(format!(
            "the vault was opened with slot {slot}, which is not a passphrase slot; `keep passwd` \
             changes a passphrase. Use `keep slot add passphrase` instead"
        )));
    }
    let new = super::passphrase::new_passphrase("KEEP_NEW_PASSPHRASE", None)?;
    let kdf = vault.default_kdf()?;
    vault.replace_slot(slot, &Passphrase::new(new, kdf))?;
    output::note(&format!(
        "Changed the passphrase of slot {slot}. No secret was re-encrypted, so the old passphrase \
         still opens a copy of this slot's old row put back into the file; `keep passwd --rekey` \
         replaces the master key as well."
    ));
    Ok(Exit::Success)
}

pub fn unlock(ctx: &Context, a: UnlockArgs) -> Result<Exit> {
    if a.status {
        return unlock_status(ctx);
    }
    let ttl = a.ttl;
    let vault = ctx.open()?;
    vault.cache_in_session(ttl)?;
    output::note(&format!(
        "Unlocked {} for {} in this login session; `keep lock` forgets the key.",
        vault.path().display(),
        crate::duration::exact(ttl)
    ));
    Ok(Exit::Success)
}

/// `keep unlock --status`: never prompts, never runs the KDF. Exit 0 when unlocked, 6 when not, so
/// a script can write `keep unlock --status || keep unlock`.
fn unlock_status(ctx: &Context) -> Result<Exit> {
    if !ctx.vault_path.exists() {
        // open_cached would say "locked"; the user needs to hear that there is no vault.
        ctx.open()?;
    }
    let vault = ctx.opener().open_if_cached()?;
    let expiry = vault
        .as_ref()
        .and_then(|v| crate::session::cache_expiry(v.id()));
    if ctx.json {
        output::json(&serde_json::json!({
            "vault": ctx.vault_path,
            "unlocked": vault.is_some(),
            "expires_in": expiry,
        }))?;
    } else if vault.is_some() {
        output::note(&format!(
            "Unlocked: {} in this login session{}; `keep lock` forgets the key.",
            ctx.vault_path.display(),
            expiry
                .map(|e| format!(", for about {e} more"))
                .unwrap_or_default()
        ));
    } else {
        output::note(&format!(
            "Locked: no key for {} is cached in this login session; `keep unlock` caches one.",
            ctx.vault_path.display()
        ));
    }
    Ok(if vault.is_some() {
        Exit::Success
    } else {
        Exit::Status(crate::error::exit::LOCKED)
    })
}

pub fn lock(ctx: &Context) -> Result<Exit> {
    if vault::lock(&ctx.vault_path)? {
        output::note("Locked: the cached key was removed; watchers of this vault stop.");
    } else {
        output::note(
            "The vault was not unlocked in this session; watchers of this vault (--watch) stop.",
        );
    }
    Ok(Exit::Success)
}
