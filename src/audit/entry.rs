//! One audit entry and its stored body.
//!
//! The body is JSON: who (OS user, host, pid), what (command, action), when (milliseconds since the
//! epoch) and how it ended (outcome). The secret's address is sealed under the names key, like the
//! store's names, with associated data binding it to this vault; the chain MAC then binds the whole
//! body to its position. Everything but the address is readable by anyone who can read the file:
//! SECURITY.md lists that.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::crypto::{self, Aad, Subkeys};
use crate::error::{Error, Result};
use crate::scope::Address;

/// What an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A value was read (get, exec, env, materialize, inject, export, push).
    Read,
    /// A value was written (set, import, pull).
    Write,
    /// A secret was deleted.
    Delete,
    /// An earlier version was made current.
    Rollback,
    /// A secret was rotated (or a rotation failed and is pending).
    Rotate,
    /// A rotation policy changed.
    Policy,
    /// A key slot opened the vault.
    Unlock,
    /// A credential failed to open any slot (recorded unauthenticated, folded in later).
    UnlockFailed,
    /// A key slot was added.
    SlotAdd,
    /// A key slot was removed.
    SlotRemove,
    /// A passphrase was changed.
    Passwd,
    /// The master key was replaced and every record re-sealed (`keep rekey`).
    Rekey,
}

impl Action {
    /// The name used in the log and by `keep audit --action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Delete => "delete",
            Action::Rollback => "rollback",
            Action::Rotate => "rotate",
            Action::Policy => "policy",
            Action::Unlock => "unlock",
            Action::UnlockFailed => "unlock-failed",
            Action::SlotAdd => "slot-add",
            Action::SlotRemove => "slot-remove",
            Action::Passwd => "passwd",
            Action::Rekey => "rekey",
        }
    }

    /// Every action, for help texts and validation.
    pub const ALL: [Action; 12] = [
        Action::Read,
        Action::Write,
        Action::Delete,
        Action::Rollback,
        Action::Rotate,
        Action::Policy,
        Action::Unlock,
        Action::UnlockFailed,
        Action::SlotAdd,
        Action::SlotRemove,
        Action::Passwd,
        Action::Rekey,
    ];

    /// Parse an action name.
    pub fn parse(text: &str) -> Result<Action> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                Error::Usage(format!(
                    "unknown audit action {text:?}; use one of: {}",
                    names.join(", ")
                ))
            })
    }
}

/// The stored body of an entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Body {
    /// Milliseconds since the epoch when the event happened.
    pub t: u64,
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub command: String,
    pub action: Action,
    /// `ok`, or the error kind (`not_found`, `auth`, `hook_failed`, ...).
    pub outcome: String,
    /// The sealed `PROJECT/ENV/NAME`, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// For a failed unlock recorded unauthenticated: when it was folded into the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folded_at: Option<u64>,
    /// For a folded failed unlock whose time was clamped: the time the unauthenticated record
    /// claimed (kept as evidence, never used for ordering or rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_t: Option<u64>,
    /// A random id (hex), unique per entry: what the witness records (`witness.rs`). It does not
    /// depend on any key, so a later re-key that re-MACs the chain leaves the witness valid.
    /// Entries written before the witness existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A fresh entry id: 16 random bytes, hex.
pub fn new_id() -> String {
    hex(&crate::crypto::random::bytes::<16>())
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `text` safe to print on a terminal: control characters and the invisible format characters
/// that reorder or hide text (bidi overrides, zero-width) escaped as `\u{..}` (`\n`, `\t` as such).
/// Entries carry user, host and command names that a forged record or an odd password database can
/// fill with escape sequences; every text view passes them through here.
pub fn printable(text: &str) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
    };
    if !text.chars().any(hidden) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if hidden(c) {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn name_aad(vault_id: &[u8]) -> Aad {
    Aad::new("keep/v1/audit-name").bytes(vault_id)
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// A point in time from milliseconds since the epoch.
pub fn time_of(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

impl Body {
    /// A body for an event of this process, now.
    pub fn now(action: Action, outcome: &str) -> Body {
        Body {
            t: now_ms(),
            user: super::context::os_user().to_string(),
            host: super::context::host().to_string(),
            pid: std::process::id(),
            command: super::context::command().to_string(),
            action,
            outcome: outcome.to_string(),
            address: None,
            folded_at: None,
            claimed_t: None,
            id: Some(new_id()),
        }
    }

    /// Seal `address` into this body.
    pub fn with_address(mut self, keys: &Subkeys, vault_id: &[u8], address: &Address) -> Body {
        let text = format!(
            "{}/{}/{}",
            address.scope.project(),
            address.scope.env(),
            address.name
        );
        let sealed = crypto::seal(
            keys.names.expose_secret(),
            &name_aad(vault_id),
            text.as_bytes(),
        );
        self.address = Some(base64::engine::general_purpose::STANDARD.encode(sealed));
        self
    }

    /// The stored bytes.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an audit body serialises")
    }

    /// Parse stored bytes; `None` when they are not a body this build understands.
    pub fn decode(bytes: &[u8]) -> Option<Body> {
        serde_json::from_slice(bytes).ok()
    }

    /// The stored body `raw` with its sealed address (if any) re-sealed under `new` (`keep rekey`).
    /// A body without an address is returned byte for byte.
    pub fn reseal_address(
        raw: &[u8],
        old: &Subkeys,
        new: &Subkeys,
        vault_id: &[u8],
    ) -> Result<Vec<u8>> {
        let bad = || {
            Error::Integrity(
                "an audit entry's body is unreadable, so the vault was not re-keyed".into(),
            )
        };
        let mut body: Body = serde_json::from_slice(raw).map_err(|_| bad())?;
        let Some(address) = body.open_address(old, vault_id)? else {
            return Ok(raw.to_vec());
        };
        body = body.with_address(new, vault_id, &address);
        serde_json::to_vec(&body).map_err(|_| bad())
    }

    /// Open the sealed address. `Err` when it fails authentication.
    pub fn open_address(&self, keys: &Subkeys, vault_id: &[u8]) -> Result<Option<Address>> {
        let Some(b64) = &self.address else {
            return Ok(None);
        };
        let bad = || Error::Integrity("an audit entry's sealed name failed authentication".into());
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| bad())?;
        let plain = crypto::open(keys.names.expose_secret(), &name_aad(vault_id), &sealed)
            .ok_or_else(bad)?;
        let text = std::str::from_utf8(&plain).map_err(|_| bad())?;
        Address::parse(
            &format!("{}{text}", crate::scope::SCHEME),
            &crate::Scope::new("x", "x")?,
        )
        .map(Some)
        .map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn address_round_trips_sealed_and_is_bound_to_the_vault() {
        let keys = MasterKey::generate().subkeys(b"v1");
        let addr = Address::parse(
            "keep://p/prod/DB_URL",
            &crate::Scope::new("a", "b").unwrap(),
        )
        .unwrap();
        let body = Body::now(Action::Read, "ok").with_address(&keys, b"v1", &addr);
        let bytes = body.encode();
        assert!(!String::from_utf8_lossy(&bytes).contains("DB_URL"));
        let back = Body::decode(&bytes).unwrap();
        assert_eq!(back.open_address(&keys, b"v1").unwrap(), Some(addr));
        assert!(back.open_address(&keys, b"v2").is_err());
    }

    #[test]
    fn printable_escapes_controls_and_hidden_format_characters() {
        assert_eq!(printable("alice"), "alice");
        assert_eq!(printable("a\x1b[2Jb\nc"), "a\\u{1b}[2Jb\\nc");
        assert_eq!(printable("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(printable("café"), "café");
    }

    #[test]
    fn every_entry_gets_its_own_id() {
        let a = Body::now(Action::Read, "ok");
        let b = Body::now(Action::Read, "ok");
        assert_eq!(a.id.as_ref().map(String::len), Some(32));
        assert_ne!(a.id, b.id);
    }

    #[test]
    fn actions_parse_by_name() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()).unwrap(), a);
        }
        assert!(Action::parse("nope").is_err());
    }
}
