//! `slot ls`, `slot add`, `slot rm`.

use super::args::{SlotAddCommand, SlotCommand};
use super::exit::Exit;
use super::lifecycle::kdf_params;
use super::{output, Context};
use crate::error::Result;
use crate::slots::age::AgeRecipient;
use crate::slots::passphrase::Passphrase;
use crate::vault::SlotInfo;

pub fn run(ctx: &Context, c: SlotCommand) -> Result<Exit> {
    match c {
        SlotCommand::Ls => ls(ctx),
        SlotCommand::Add(add) => {
            let mut vault = ctx.open()?;
            let (id, kind) = match add {
                SlotAddCommand::Passphrase(kdf) => {
                    let kdf = kdf_params(&kdf, vault.default_kdf()?)?;
                    let pass = super::passphrase::new_passphrase(
                        "KEEP_NEW_PASSPHRASE",
                        Some("KEEP_PASSPHRASE"),
                    )?;
                    (vault.add_slot(&Passphrase::new(pass, kdf))?, "passphrase")
                }
                SlotAddCommand::Hsm(a) => {
                    let w = super::hsm::wrapper(&a)?;
                    (vault.add_slot(&w)?, "hsm")
                }
                SlotAddCommand::Age { recipient } => {
                    let w = AgeRecipient::parse(&recipient)?;
                    (vault.add_slot(&w)?, "age")
                }
                SlotAddCommand::Recovery => (super::custody::add_recovery(&mut vault)?, "recovery"),
            };
            if ctx.json {
                output::json(&serde_json::json!({ "id": id, "kind": kind }))?;
            } else {
                output::note(&format!(
                    "Added {kind} slot {id}. No secret was re-encrypted."
                ));
            }
            Ok(Exit::Success)
        }
        SlotCommand::Rm {
            id,
            rekey: true,
            drop_other_slots,
        } => super::rekey::rekey(ctx, super::rekey::Change::RemoveSlot(id), drop_other_slots),
        SlotCommand::Rm { id, .. } => {
            let mut vault = ctx.open()?;
            let kind = vault
                .slots()?
                .into_iter()
                .find(|s| s.id == id)
                .map(|s| s.kind);
            vault.remove_slot(id)?;
            output::note(&format!("Removed slot {id}."));
            // A passphrase, an age identity or a recovery code is a copyable secret: whoever holds
            // it can still open the slot's old row put back from a copy of the file. (An HSM slot's
            // key stays in the token.)
            if kind.as_deref().is_some_and(|k| {
                [
                    crate::slots::passphrase::KIND,
                    crate::slots::age::KIND,
                    crate::slots::recovery::KIND,
                ]
                .contains(&k)
            }) {
                output::note(&format!(
                    "hint: the master key is unchanged, so the holder of slot {id}'s credential can \
                     still open a copy of its row put back into the file. `keep rekey` (or `keep \
                     slot rm ID --rekey` next time) replaces the key so that it opens nothing \
                     written from now on."
                ));
            }
            Ok(Exit::Success)
        }
    }
}

/// `slot ls` reads public metadata only, so it needs no key: the slots are how one unlocks, and
/// error messages point here. Without the key (no session cache) the rows cannot be authenticated,
/// which the output says.
fn ls(ctx: &Context) -> Result<Exit> {
    let slots = match ctx.opener().open_if_cached()? {
        Some(vault) => vault.slots()?,
        None => {
            let store = crate::store::Store::open(&ctx.vault_path)?;
            let rows = crate::store::slots(store.conn())?;
            output::note(
                "(listed without unlocking: slot metadata is authenticated only once the vault is opened)",
            );
            rows.iter()
                .map(|s| SlotInfo {
                    id: s.id,
                    kind: s.kind.clone(),
                    description: crate::slots::describe(s),
                    created: s.created,
                })
                .collect()
        }
    };
    if ctx.json {
        return output::json(&slots).map(|_| Exit::Success);
    }
    let mut out = String::from("ID  KIND        CREATED               DETAILS\n");
    for s in &slots {
        out.push_str(&format!(
            "{:<3} {:<11} {:<21} {}\n",
            s.id,
            s.kind,
            output::unix_time(s.created),
            s.description
        ));
    }
    print!("{out}");
    Ok(Exit::Success)
}
