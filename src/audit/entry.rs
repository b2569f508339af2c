//! One audit entry and its stored body.
//!
//! The body is JSON: who (OS user, host, pid), what (command, action), when (milliseconds since the
//! epoch) and how it ended (outcome). One entry per command: the addresses of every secret it touched
//! are sealed together under the names key (`addresses`: one AEAD blob of the list `addresses.rs`
//! encodes), with associated data binding them to this vault and this entry's id; the chain MAC then
//! binds the whole body to its position. Entries written before issue 17 hold one sealed `address`
//! each and still read. Everything but the addresses is readable by anyone who can read the file:
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
    /// The vault was created (`keep init`): the first entry of every log.
    Init,
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
    /// Old entries were removed behind a checkpoint (`keep audit compact`; `compacted` says which).
    AuditCompact,
}

impl Action {
    /// The name used in the log and by `keep audit --action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Init => "init",
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
            Action::AuditCompact => "audit-compact",
        }
    }

    /// Every action, for help texts and validation.
    pub const ALL: [Action; 14] = [
        Action::Init,
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
        Action::AuditCompact,
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
    /// Entries written before issue 17: the one sealed `PROJECT/ENV/NAME`, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Every address the command touched, in its order: base64 of one sealed list (`addresses.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<String>,
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
    /// For an `audit-compact` entry: the entries its compaction removed (`checkpoint.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compacted: Option<Compacted>,
}

/// What one compaction removed, as its `audit-compact` entry records it: entries `first..=through`
/// (the ones before `first` went in earlier compactions), all older than `before`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compacted {
    pub first: u64,
    pub through: u64,
    /// The cutoff, ms since the epoch.
    pub before: u64,
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

/// The associated data of an old entry's single sealed address.
fn name_aad(vault_id: &[u8]) -> Aad {
    Aad::new("keep/v1/audit-name").bytes(vault_id)
}

/// The associated data of an entry's sealed address list: this vault and this entry (its id, empty
/// for a body without one), so a list cannot be moved to another vault or another entry.
fn names_aad(vault_id: &[u8], id: Option<&str>) -> Aad {
    Aad::new("keep/v1/audit-names")
        .bytes(vault_id)
        .bytes(id.unwrap_or_default().as_bytes())
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
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
    /// A body for an event of this process, now, by `command` (the subcommand path the vault was
    /// opened for, `library` for an application: `Opener::command`).
    pub fn by(command: &str, action: Action, outcome: &str) -> Body {
        Body {
            t: now_ms(),
            user: super::context::os_user().to_string(),
            host: super::context::host().to_string(),
            pid: std::process::id(),
            command: command.to_string(),
            action,
            outcome: outcome.to_string(),
            address: None,
            addresses: None,
            folded_at: None,
            claimed_t: None,
            id: Some(new_id()),
            compacted: None,
        }
    }

    /// A body by `library`, for tests.
    #[cfg(test)]
    pub(crate) fn now(action: Action, outcome: &str) -> Body {
        Body::by(super::context::LIBRARY, action, outcome)
    }

    /// Seal `addresses` (every secret the command touched, in order) into this body, as one list.
    /// An empty slice leaves the body without addresses.
    pub fn with_addresses(
        mut self,
        keys: &Subkeys,
        vault_id: &[u8],
        addresses: &[Address],
    ) -> Body {
        self.addresses = (!addresses.is_empty()).then(|| {
            let sealed = crypto::seal(
                keys.names.expose_secret(),
                &names_aad(vault_id, self.id.as_deref()),
                &super::addresses::encode(addresses),
            );
            b64().encode(sealed)
        });
        self
    }

    /// Seal one address the way entries before issue 17 did (`address`). Kept for re-keying those
    /// entries and for tests that build an old-format log.
    pub fn with_legacy_address(
        mut self,
        keys: &Subkeys,
        vault_id: &[u8],
        address: &Address,
    ) -> Body {
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
        self.address = Some(b64().encode(sealed));
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

    /// The stored body `raw` with its sealed addresses (if any) re-sealed under `new` (`keep rekey`):
    /// the list of a new entry, or the single address of an old one, each in its own form. A body
    /// without addresses is returned byte for byte.
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
        if body.address.is_none() && body.addresses.is_none() {
            return Ok(raw.to_vec());
        }
        if let Some(address) = body.open_legacy(old, vault_id)? {
            body = body.with_legacy_address(new, vault_id, &address);
        }
        if let Some(list) = body.open_list(old, vault_id)? {
            body = body.with_addresses(new, vault_id, &list);
        }
        serde_json::to_vec(&body).map_err(|_| bad())
    }

    /// Open the sealed addresses: the list of a new entry, the single address of an old one (a body
    /// holding both lists the old one first), or none. `Err` when any fails authentication.
    pub fn open_addresses(&self, keys: &Subkeys, vault_id: &[u8]) -> Result<Vec<Address>> {
        let mut out: Vec<Address> = self.open_legacy(keys, vault_id)?.into_iter().collect();
        out.extend(self.open_list(keys, vault_id)?.unwrap_or_default());
        Ok(out)
    }

    fn open_legacy(&self, keys: &Subkeys, vault_id: &[u8]) -> Result<Option<Address>> {
        let Some(b64_text) = &self.address else {
            return Ok(None);
        };
        let plain = open_sealed(keys, &name_aad(vault_id), b64_text)?;
        let text = std::str::from_utf8(&plain).map_err(|_| sealed_name_error())?;
        super::addresses::parse_text(text)
            .map(Some)
            .ok_or_else(sealed_name_error)
    }

    fn open_list(&self, keys: &Subkeys, vault_id: &[u8]) -> Result<Option<Vec<Address>>> {
        let Some(b64_text) = &self.addresses else {
            return Ok(None);
        };
        let plain = open_sealed(keys, &names_aad(vault_id, self.id.as_deref()), b64_text)?;
        super::addresses::decode(&plain)
            .map(Some)
            .ok_or_else(sealed_name_error)
    }
}

fn sealed_name_error() -> Error {
    Error::Integrity("an audit entry's sealed name failed authentication".into())
}

/// Base64-decode and open a sealed name or list under the names key.
fn open_sealed(keys: &Subkeys, aad: &Aad, b64_text: &str) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let sealed = b64().decode(b64_text).map_err(|_| sealed_name_error())?;
    crypto::open(keys.names.expose_secret(), aad, &sealed).ok_or_else(sealed_name_error)
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
        let body = Body::now(Action::Read, "ok").with_legacy_address(&keys, b"v1", &addr);
        let bytes = body.encode();
        assert!(!String::from_utf8_lossy(&bytes).contains("DB_URL"));
        let back = Body::decode(&bytes).unwrap();
        assert_eq!(back.open_addresses(&keys, b"v1").unwrap(), [addr]);
        assert!(back.open_addresses(&keys, b"v2").is_err());
    }

    fn addrs(names: &[&str]) -> Vec<Address> {
        let scope = crate::Scope::new("p", "prod").unwrap();
        names
            .iter()
            .map(|n| Address::parse(n, &scope).unwrap())
            .collect()
    }

    #[test]
    fn an_address_list_is_one_sealed_blob_bound_to_the_vault_and_the_entry() {
        let keys = MasterKey::generate().subkeys(b"v1");
        let list = addrs(&["DB_URL", "API_KEY", "DB_PASSWORD"]);
        let body = Body::now(Action::Read, "ok").with_addresses(&keys, b"v1", &list);
        assert!(body.address.is_none());
        let bytes = body.encode();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("DB_") && !text.contains("API_KEY"), "{text}");
        let back = Body::decode(&bytes).unwrap();
        assert_eq!(back.open_addresses(&keys, b"v1").unwrap(), list);
        assert!(back.open_addresses(&keys, b"v2").is_err());
        // The same blob under another entry's id fails: lists cannot be moved between entries.
        let mut moved = Body::now(Action::Read, "ok");
        moved.addresses = back.addresses.clone();
        assert!(moved.open_addresses(&keys, b"v1").is_err());
        let other = MasterKey::generate().subkeys(b"v1");
        assert!(back.open_addresses(&other, b"v1").is_err());
        assert!(Body::now(Action::Read, "ok")
            .with_addresses(&keys, b"v1", &[])
            .addresses
            .is_none());
    }

    #[test]
    fn reseal_moves_lists_and_old_addresses_to_the_new_key() {
        let old = MasterKey::generate().subkeys(b"v1");
        let new = MasterKey::generate().subkeys(b"v1");
        let list = addrs(&["A", "B"]);
        let listed = Body::now(Action::Read, "ok").with_addresses(&old, b"v1", &list);
        let single = Body::now(Action::Read, "ok").with_legacy_address(&old, b"v1", &list[0]);
        let bare = Body::now(Action::Unlock, "ok");
        for (body, want) in [(listed, list.clone()), (single, list[..1].to_vec())] {
            let raw = Body::reseal_address(&body.encode(), &old, &new, b"v1").unwrap();
            let back = Body::decode(&raw).unwrap();
            assert_eq!(back.open_addresses(&new, b"v1").unwrap(), want);
            assert!(back.open_addresses(&old, b"v1").is_err());
            assert_eq!(back.id, body.id);
        }
        let raw = bare.encode();
        assert_eq!(Body::reseal_address(&raw, &old, &new, b"v1").unwrap(), raw);
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
