//! PKCS#11 plumbing for HSM key slots and `keep hsm ...`.
//!
//! An HSM slot exists so that the vault's master key is only ever unwrapped *by the token*: the
//! wrapping key is generated in (or imported into) the token as sensitive and non-extractable, and
//! keep only hands the token a ciphertext and gets the master key back. This module is the thin layer
//! between the slot code and the `cryptoki` crate, and it encodes what was measured on real tokens:
//! the module is process-global (one shared instance), a second login is success, a GCM tag mismatch
//! comes back as CKR_GENERAL_ERROR, and SoftHSM2 needs cross-process serialisation (a file lock).

pub mod info;
pub mod keys;
pub mod lock;
pub mod module;
pub mod token;
pub mod wrap;

pub use keys::{KeyFlags, KeyInfo};
pub use module::{discover_module, Module};
pub use token::{Token, TokenSelector};

use cryptoki::error::{Error as P11Error, RvError};

use crate::error::Error;

/// Turn a PKCS#11 failure into keep's error kinds: a wrong PIN is authentication (4), a missing
/// token or object is not found (3), anything else a system error naming what was being done.
pub(crate) fn p11_error(action: &str, e: P11Error) -> Error {
    match &e {
        P11Error::Pkcs11(rv, _) => match rv {
            RvError::PinIncorrect | RvError::PinLenRange => Error::Auth(format!(
                "the HSM refused the PIN while trying to {action}: wrong PIN. Check \
                 KEEP_PKCS11_PIN_FILE / KEEP_PKCS11_PIN (nothing was changed)"
            )),
            RvError::PinLocked => Error::Auth(format!(
                "the token has locked the user PIN (CKR_PIN_LOCKED while trying to {action}): too \
                 many wrong PINs. Ask the security officer to reset it (e.g. `pkcs11-tool \
                 --login-type so --init-pin`), or open the vault with another slot"
            )),
            RvError::TokenNotPresent | RvError::DeviceRemoved | RvError::SlotIdInvalid => {
                Error::NotFound(format!(
                    "the HSM token went away while trying to {action}; insert it and retry, or \
                     open the vault with another slot"
                ))
            }
            RvError::SessionHandleInvalid | RvError::SessionClosed => Error::Io {
                context: format!("the HSM session was lost while trying to {action}; retry"),
                source: std::io::Error::new(std::io::ErrorKind::ConnectionReset, e.to_string()),
            },
            RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid => Error::NotFound(format!(
                "the HSM key disappeared while trying to {action}; open the vault with another slot"
            )),
            _ => Error::Io {
                context: format!("the HSM failed to {action}"),
                source: std::io::Error::other(e.to_string()),
            },
        },
        _ => Error::Io {
            context: format!("the PKCS#11 module failed to {action}"),
            source: std::io::Error::other(e.to_string()),
        },
    }
}

/// Whether `e` is a lost session (the token closed it under us), which one retry may cure.
pub fn is_session_lost(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::ConnectionReset)
}

/// Run `f`, and run it once more if the token dropped the session under it (CKR_SESSION_HANDLE_INVALID
/// or CKR_SESSION_CLOSED: a token reset, another application calling C_CloseAllSessions, a USB
/// hiccup). `f` must open its own session, so the retry starts from a fresh login. One retry only:
/// a token that keeps losing sessions is reported, not hammered with PINs.
pub fn retry_if_session_lost<T>(
    mut f: impl FnMut() -> crate::error::Result<T>,
) -> crate::error::Result<T> {
    match f() {
        Err(e) if is_session_lost(&e) => f(),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::context::Function;

    fn rv(rv: RvError) -> Error {
        p11_error(
            "unwrap the master key",
            P11Error::Pkcs11(rv, Function::Decrypt),
        )
    }

    #[test]
    fn a_lost_session_is_retried_once_with_a_fresh_call() {
        let mut calls = 0;
        let out = retry_if_session_lost(|| {
            calls += 1;
            if calls == 1 {
                Err(rv(RvError::SessionHandleInvalid))
            } else {
                Ok(42)
            }
        });
        assert_eq!(out.unwrap(), 42);
        assert_eq!(calls, 2);
    }

    #[test]
    fn a_session_lost_twice_is_reported_and_other_errors_are_not_retried() {
        let mut calls = 0;
        let out: crate::error::Result<()> = retry_if_session_lost(|| {
            calls += 1;
            Err(rv(RvError::SessionClosed))
        });
        let e = out.unwrap_err();
        assert_eq!((calls, e.exit_code()), (2, crate::error::exit::SYSTEM));
        assert!(e.to_string().contains("session was lost"), "{e}");
        let mut calls = 0;
        let out: crate::error::Result<()> = retry_if_session_lost(|| {
            calls += 1;
            Err(rv(RvError::PinIncorrect))
        });
        assert_eq!(
            (calls, out.unwrap_err().exit_code()),
            (1, crate::error::exit::AUTH)
        );
    }

    #[test]
    fn a_locked_pin_says_so_and_what_to_do() {
        let e = rv(RvError::PinLocked);
        assert_eq!(e.exit_code(), crate::error::exit::AUTH);
        let m = e.to_string();
        assert!(m.contains("the token has locked the user PIN"), "{m}");
        assert!(m.contains("security officer"), "{m}");
        assert!(m.contains("another slot"), "{m}");
        // A wrong PIN is a different message: the user should not be told to call the SO.
        assert!(!rv(RvError::PinIncorrect).to_string().contains("locked"));
    }
}
