//! One logged-in session on one token, with the cross-process lock held for its whole life.

use std::path::Path;

use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::MechanismType;
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::lock::HsmLock;
use super::module::{self, Module};
use super::p11_error;
use crate::error::{Error, Result};

/// Which token: by label or by serial number (one of them).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenSelector {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub serial: Option<String>,
}

impl TokenSelector {
    fn matches(&self, label: &str, serial: &str) -> bool {
        self.label.as_deref().is_none_or(|l| l == label.trim_end())
            && self
                .serial
                .as_deref()
                .is_none_or(|s| s == serial.trim_end())
    }

    fn describe(&self) -> String {
        match (&self.label, &self.serial) {
            (Some(l), Some(s)) => format!("token {l:?} (serial {s})"),
            (Some(l), None) => format!("token {l:?}"),
            (None, Some(s)) => format!("token with serial {s}"),
            (None, None) => "any token".into(),
        }
    }
}

/// An open session on a token. Dropping it closes the session and releases the lock.
pub struct Token {
    // Field order matters: the session closes before the lock is released.
    pub session: Session,
    pub module: Module,
    pub slot: Slot,
    pub label: String,
    pub serial: String,
    _lock: HsmLock,
}

impl Token {
    /// Lock, load the module, find the token, open a session, and log in when a PIN is given.
    pub fn open(
        explicit_module: Option<&Path>,
        module_hint: Option<&Path>,
        selector: &TokenSelector,
        pin: Option<&SecretString>,
        rw: bool,
    ) -> Result<Token> {
        let lock = HsmLock::acquire()?;
        let module = module::load(explicit_module, module_hint)?;
        let ctx = &module.ctx;
        let slots = ctx
            .get_slots_with_token()
            .map_err(|e| p11_error("list the token slots", e))?;
        let mut seen = Vec::new();
        let mut found = None;
        for slot in slots {
            let info = ctx
                .get_token_info(slot)
                .map_err(|e| p11_error("read the token information", e))?;
            if !info.token_initialized() {
                continue;
            }
            let (label, serial) = (
                info.label().trim_end().to_string(),
                info.serial_number().trim_end().to_string(),
            );
            if found.is_none() && selector.matches(&label, &serial) {
                found = Some((slot, label, serial));
            } else {
                seen.push(format!("{label:?} (serial {serial})"));
            }
        }
        let Some((slot, label, serial)) = found else {
            return Err(Error::NotFound(format!(
                "{} is not present in PKCS#11 module {} (tokens seen: {}); insert it, or open \
                 the vault with another slot",
                selector.describe(),
                module.path.display(),
                if seen.is_empty() {
                    "none".to_string()
                } else {
                    seen.join(", ")
                }
            )));
        };
        let session = if rw {
            ctx.open_rw_session(slot)
        } else {
            ctx.open_ro_session(slot)
        }
        .map_err(|e| p11_error("open a session", e))?;
        if let Some(pin) = pin {
            let auth = AuthPin::new(pin.expose_secret().to_string());
            match session.login(UserType::User, Some(&auth)) {
                Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
                Err(e) => {
                    let mut err = p11_error("log in to the token", e);
                    // Tokens that count wrong PINs say so in the token flags: pass the warning on
                    // before the user burns the last try.
                    if let (Error::Auth(msg), Ok(info)) = (&mut err, ctx.get_token_info(slot)) {
                        if info.user_pin_final_try() {
                            msg.push_str(
                                ". The token says the next wrong PIN locks it \
                                 (CKF_USER_PIN_FINAL_TRY)",
                            );
                        } else if info.user_pin_count_low() {
                            msg.push_str(
                                ". The token has counted wrong PINs (CKF_USER_PIN_COUNT_LOW); \
                                 many tokens lock the PIN after a few more",
                            );
                        }
                    }
                    return Err(err);
                }
            }
        }
        Ok(Token {
            session,
            module,
            slot,
            label,
            serial,
            _lock: lock,
        })
    }

    /// Whether the token offers a mechanism.
    pub fn has_mechanism(&self, m: MechanismType) -> Result<bool> {
        Ok(self
            .module
            .ctx
            .get_mechanism_list(self.slot)
            .map_err(|e| p11_error("list the token's mechanisms", e))?
            .contains(&m))
    }
}
