//! What `keep hsm info` reports: the module, its slots and tokens, and whether each token has the
//! mechanisms keep relies on (AES key generation, AES-GCM, AES key wrap).

use std::path::Path;

use cryptoki::mechanism::MechanismType;
use serde::Serialize;

use super::lock::HsmLock;
use super::{module, p11_error};
use crate::error::Result;

/// One slot of the module.
#[derive(Debug, Serialize)]
pub struct SlotReport {
    pub slot: u64,
    pub description: String,
    pub token: Option<TokenReport>,
}

/// The token in a slot.
#[derive(Debug, Serialize)]
pub struct TokenReport {
    pub label: String,
    pub serial: String,
    pub manufacturer: String,
    pub model: String,
    pub initialized: bool,
    pub user_pin_initialized: bool,
    pub aes_key_gen: bool,
    pub aes_gcm: bool,
    pub aes_key_wrap: bool,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct ModuleReport {
    pub module: String,
    pub library: String,
    pub slots: Vec<SlotReport>,
}

/// Load the module (discovery as for slots) and describe it. Needs no PIN.
pub fn report(explicit_module: Option<&Path>) -> Result<ModuleReport> {
    let _lock = HsmLock::acquire()?;
    let m = module::load(explicit_module, None)?;
    let lib = m
        .ctx
        .get_library_info()
        .map_err(|e| p11_error("read the module information", e))?;
    let mut slots = Vec::new();
    for slot in m
        .ctx
        .get_all_slots()
        .map_err(|e| p11_error("list the slots", e))?
    {
        let si = m
            .ctx
            .get_slot_info(slot)
            .map_err(|e| p11_error("read the slot information", e))?;
        let token = if si.token_present() {
            let ti = m
                .ctx
                .get_token_info(slot)
                .map_err(|e| p11_error("read the token information", e))?;
            let mechs = m.ctx.get_mechanism_list(slot).unwrap_or_default();
            Some(TokenReport {
                label: ti.label().trim_end().to_string(),
                serial: ti.serial_number().trim_end().to_string(),
                manufacturer: ti.manufacturer_id().trim_end().to_string(),
                model: ti.model().trim_end().to_string(),
                initialized: ti.token_initialized(),
                user_pin_initialized: ti.user_pin_initialized(),
                aes_key_gen: mechs.contains(&MechanismType::AES_KEY_GEN),
                aes_gcm: mechs.contains(&MechanismType::AES_GCM),
                aes_key_wrap: mechs.contains(&MechanismType::AES_KEY_WRAP),
            })
        } else {
            None
        };
        slots.push(SlotReport {
            slot: slot.id(),
            description: si.slot_description().trim_end().to_string(),
            token,
        });
    }
    Ok(ModuleReport {
        module: m.path.display().to_string(),
        library: format!(
            "{} {} ({})",
            lib.manufacturer_id().trim_end(),
            lib.library_version(),
            lib.library_description().trim_end()
        ),
        slots,
    })
}
