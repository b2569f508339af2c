//! The checkpoint a compaction leaves in place of the entries it removed (`keep audit compact`,
//! `compact.rs`): which prefix went (always entries 1..=last), the MAC of entry `last` that entry
//! `last + 1` links to, the cutoff, when and by whom, and the id of the `audit-compact` entry the
//! same transaction appended. Stored in `meta.audit_checkpoint` as
//!
//! ```text
//! json || HMAC(K_audit, "keep/v1/audit-checkpoint" | vault_id | json)
//! ```
//!
//! so it cannot be edited, forged without the key, or copied from another vault (the key and the
//! vault id differ). What stops an *older* checkpoint of this vault being put back is the chain: the
//! newest `audit-compact` entry must name this checkpoint (`chain::verify`).

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::crypto::keys::{hmac_parts, hmac_parts_verify};
use crate::crypto::KEY_LEN;
use crate::error::Result;
use crate::store::{self, Connection};

/// The `meta` key of the checkpoint.
const META_KEY: &str = "audit_checkpoint";
const MAC_LEN: usize = 32;
const LABEL: &[u8] = b"keep/v1/audit-checkpoint";

/// What a compaction removed, as its checkpoint records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The first removed position: always 1 (only a whole prefix of the chain goes).
    pub first: u64,
    /// The last removed position: the log now starts at `last + 1`.
    pub last: u64,
    /// How many entries were removed in all, by this compaction and the earlier ones.
    pub count: u64,
    /// The MAC of entry `last` (base64), which entry `last + 1` links to.
    pub last_mac: String,
    /// The id of entry `last`, what the witness recorded there (entries from before the witness
    /// have none).
    pub last_id: Option<String>,
    /// The cutoff: entries older than this (ms since the epoch) were removed.
    pub before: u64,
    /// When the compaction ran (ms since the epoch) and who ran it (`user@host`).
    pub at: u64,
    pub by: String,
    /// The id of the `audit-compact` entry written with this checkpoint.
    pub entry: String,
}

impl Checkpoint {
    /// The MAC entry `last + 1` links to; `None` when the field is malformed.
    pub fn link(&self) -> Option<[u8; MAC_LEN]> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.last_mac)
            .ok()?
            .try_into()
            .ok()
    }

    /// The base64 form of a MAC, for [`Checkpoint::last_mac`].
    pub fn encode_mac(mac: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(mac)
    }
}

/// What reading the checkpoint found.
#[derive(Clone, Debug)]
pub enum State {
    /// No checkpoint: the log was never compacted, and starts at entry 1.
    Absent,
    /// A checkpoint whose MAC checks.
    Valid(Checkpoint),
    /// A checkpoint that is malformed or fails authentication.
    Invalid,
}

fn parts<'a>(vault_id: &'a [u8], json: &'a [u8]) -> [&'a [u8]; 3] {
    [LABEL, vault_id, json]
}

/// Read and authenticate the checkpoint.
pub fn read(conn: &Connection, key: &[u8; KEY_LEN], vault_id: &[u8]) -> Result<State> {
    let Some(raw) = store::meta(conn, META_KEY)? else {
        return Ok(State::Absent);
    };
    let Some(split) = raw.len().checked_sub(MAC_LEN) else {
        return Ok(State::Invalid);
    };
    let (json, mac) = raw.split_at(split);
    if !hmac_parts_verify(key, &parts(vault_id, json), mac) {
        return Ok(State::Invalid);
    }
    let valid = serde_json::from_slice::<Checkpoint>(json)
        .ok()
        .filter(|c| c.first == 1 && c.last >= 1 && c.count == c.last && c.link().is_some());
    Ok(valid.map_or(State::Invalid, State::Valid))
}

/// Write (or replace) the checkpoint, MAC'd under `key`, inside the caller's transaction.
pub fn write(
    conn: &Connection,
    key: &[u8; KEY_LEN],
    vault_id: &[u8],
    c: &Checkpoint,
) -> Result<()> {
    let mut raw = serde_json::to_vec(c).expect("a checkpoint serialises");
    let mac = hmac_parts(key, &parts(vault_id, &raw));
    raw.extend_from_slice(&mac);
    store::set_meta(conn, META_KEY, &raw)
}
