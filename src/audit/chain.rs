//! The hash chain: each entry's MAC covers its position, the previous entry's MAC and its body, and an
//! authenticated head records how many entries there are and the last MAC.
//!
//! ```text
//! mac_i  = HMAC(audit_key, "keep/v1/audit-entry" | vault_id | i | mac_{i-1} | body_i)   mac_0 = 32 zero bytes
//! head   = count | mac_count | HMAC(audit_key, "keep/v1/audit-head" | vault_id | count | mac_count)
//! ```
//!
//! A compacted log (`keep audit compact`) starts after its checkpoint (`checkpoint.rs`): entry
//! `last + 1` links to the checkpoint's copy of `mac_last`, the rest of the chain is unchanged.
//!
//! (Every field is length-prefixed by `hmac_parts`.) Editing a body breaks its MAC; deleting or moving
//! an entry breaks the position and the next entry's link; cutting entries off the end disagrees with
//! the head's count; a row copied from another vault was MAC'd under another key. What a chain cannot
//! catch, a replayed older copy of the whole file (head included), is written down in SECURITY.md.

use super::checkpoint::{self, Checkpoint, State as CheckpointState};
use super::entry::{Action, Body};
use crate::crypto::keys::{hmac_parts, hmac_parts_verify};
use crate::crypto::KEY_LEN;
use crate::error::{Error, Result};
use crate::store::{self, audit as rows_of, Connection};

/// The `meta` key of the head.
const HEAD_KEY: &str = "audit_head";
const MAC_LEN: usize = 32;

/// The MAC of entry `seq`.
pub fn entry_mac(
    key: &[u8; KEY_LEN],
    vault_id: &[u8],
    seq: u64,
    prev: &[u8],
    body: &[u8],
) -> [u8; 32] {
    hmac_parts(
        key,
        &[
            b"keep/v1/audit-entry",
            vault_id,
            &seq.to_be_bytes(),
            prev,
            body,
        ],
    )
}

fn head_parts<'a>(vault_id: &'a [u8], count: &'a [u8; 8], last: &'a [u8]) -> [&'a [u8]; 4] {
    [b"keep/v1/audit-head", vault_id, count, last]
}

/// The chain's head as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub count: u64,
    pub last: [u8; MAC_LEN],
}

/// What reading the head found.
#[derive(Debug)]
pub enum HeadState {
    /// No head: a log that never had an entry (or one wiped together with its head; see SECURITY.md).
    Absent,
    /// A head whose MAC checks.
    Valid(Head),
    /// A head that is malformed or fails authentication.
    Invalid,
}

/// Read and authenticate the head.
pub fn read_head(conn: &Connection, key: &[u8; KEY_LEN], vault_id: &[u8]) -> Result<HeadState> {
    let Some(raw) = store::meta(conn, HEAD_KEY)? else {
        return Ok(HeadState::Absent);
    };
    if raw.len() != 8 + MAC_LEN + MAC_LEN {
        return Ok(HeadState::Invalid);
    }
    let Some((count, rest)) = raw.split_first_chunk::<8>() else {
        return Ok(HeadState::Invalid);
    };
    let Some((last, mac)) = rest.split_first_chunk::<MAC_LEN>() else {
        return Ok(HeadState::Invalid);
    };
    let (count, last) = (*count, *last);
    if !hmac_parts_verify(key, &head_parts(vault_id, &count, &last), mac) {
        return Ok(HeadState::Invalid);
    }
    Ok(HeadState::Valid(Head {
        count: u64::from_be_bytes(count),
        last,
    }))
}

fn write_head(conn: &Connection, key: &[u8; KEY_LEN], vault_id: &[u8], head: &Head) -> Result<()> {
    let count = head.count.to_be_bytes();
    let mac = hmac_parts(key, &head_parts(vault_id, &count, &head.last));
    let mut raw = Vec::with_capacity(8 + 2 * MAC_LEN);
    raw.extend_from_slice(&count);
    raw.extend_from_slice(&head.last);
    raw.extend_from_slice(&mac);
    store::set_meta(conn, HEAD_KEY, &raw)
}

/// Append `bodies` in order, inside the caller's write transaction. Returns the new count.
///
/// An append never extends a chain whose head fails authentication: re-MACing a forged head would
/// launder a truncation. The command fails with an integrity error instead (exit 5) and points at
/// `keep audit verify`.
pub fn append(
    conn: &Connection,
    key: &[u8; KEY_LEN],
    vault_id: &[u8],
    bodies: &[Vec<u8>],
) -> Result<u64> {
    let mut head = match read_head(conn, key, vault_id)? {
        // A head put back from an older copy of the file authenticates, but names fewer
        // entries than the log holds: refuse it as the damage it is (not as a clash of rows).
        HeadState::Valid(h) if rows_of::any_after(conn, h.count)? => {
            return Err(Error::Integrity(
                "the audit log's head is older than its entries (it was put back from an older \
                     copy of the file), so keep will not add to it; run `keep audit verify` and \
                     restore the vault from a backup"
                    .into(),
            ))
        }
        HeadState::Valid(h) => h,
        HeadState::Absent if !rows_of::any(conn)? => Head {
            count: 0,
            last: [0; MAC_LEN],
        },
        HeadState::Absent | HeadState::Invalid => {
            return Err(Error::Integrity(
                "the audit log's head is missing or fails authentication, so keep will not add to \
                 it; run `keep audit verify` to see what was changed, and restore the vault from a \
                 backup"
                    .into(),
            ))
        }
    };
    for body in bodies {
        let seq = head.count + 1;
        let mac = entry_mac(key, vault_id, seq, &head.last, body);
        rows_of::insert(conn, seq, body, &mac)?;
        head = Head {
            count: seq,
            last: mac,
        };
    }
    write_head(conn, key, vault_id, &head)?;
    Ok(head.count)
}

/// Re-MAC the whole chain under `new_key` (`keep rekey`), inside the caller's transaction, after
/// checking it under `old_key`: a chain that does not verify is never re-MAC'd, which would launder
/// whatever was done to it. `rebody` gives each entry's body as it is to be stored under the new keys
/// (its sealed address re-sealed). Positions, order and entry ids stay, so the witness stays valid.
/// Returns the number of entries.
pub fn rekey(
    conn: &Connection,
    old_key: &[u8; KEY_LEN],
    new_key: &[u8; KEY_LEN],
    vault_id: &[u8],
    mut rebody: impl FnMut(&[u8]) -> Result<Vec<u8>>,
) -> Result<u64> {
    if let Some(p) = verify(conn, old_key, vault_id)?.problem {
        return Err(Error::Integrity(format!(
            "the audit log is not intact ({}), so the vault was not re-keyed (nothing was changed); \
             `keep audit verify` says more",
            p.what
        )));
    }
    let rows = rows(conn)?;
    if rows.is_empty() {
        return Ok(0);
    }
    // A compacted chain continues from its checkpoint, whose link stays as it is (the entries that
    // made it are gone); the checkpoint itself is MAC'd again under the new key.
    let compacted = match checkpoint::read(conn, old_key, vault_id)? {
        CheckpointState::Valid(c) => Some(c),
        _ => None,
    };
    let mut head = Head {
        count: compacted.as_ref().map_or(0, |c| c.last),
        last: compacted
            .as_ref()
            .and_then(Checkpoint::link)
            .unwrap_or([0; MAC_LEN]),
    };
    for row in &rows {
        let body = rebody(&row.body)?;
        let mac = entry_mac(new_key, vault_id, row.seq, &head.last, &body);
        rows_of::update(conn, row.seq, &body, &mac)?;
        head = Head {
            count: row.seq,
            last: mac,
        };
    }
    write_head(conn, new_key, vault_id, &head)?;
    if let Some(c) = &compacted {
        checkpoint::write(conn, new_key, vault_id, c)?;
    }
    Ok(head.count)
}

/// A stored row.
pub use crate::store::audit::AuditRow as Row;

/// The stored body of entry `seq`, if there is one.
pub fn body_at(conn: &Connection, seq: u64) -> Result<Option<Vec<u8>>> {
    rows_of::body_at(conn, seq)
}

/// The body of the last entry, if the log has one.
pub fn last_body(conn: &Connection) -> Result<Option<Vec<u8>>> {
    rows_of::last_body(conn)
}

/// Every row, in position order.
pub fn rows(conn: &Connection) -> Result<Vec<Row>> {
    rows_of::rows(conn)
}

/// The first problem `verify` found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The position of the first bad entry (for the head: one past the last intact entry).
    pub seq: u64,
    pub what: String,
}

/// The result of walking the chain.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Verdict {
    /// Entries present in the table.
    pub entries: u64,
    /// Entries the authenticated head records, when it is readable.
    pub head_count: Option<u64>,
    /// The checkpoint of a compaction, when the log was compacted and the checkpoint authenticates:
    /// entries 1 to its `last` were removed and the walk started after them.
    pub compacted: Option<Checkpoint>,
    pub problem: Option<Problem>,
}

/// Walk the chain from its first entry (entry 1, or the one after a compaction's checkpoint) and
/// check the head and the checkpoint. Stops at the first problem.
pub fn verify(conn: &Connection, key: &[u8; KEY_LEN], vault_id: &[u8]) -> Result<Verdict> {
    let rows = rows(conn)?;
    let entries = rows.len() as u64;
    let head = read_head(conn, key, vault_id)?;
    let head_count = match &head {
        HeadState::Valid(h) => Some(h.count),
        _ => None,
    };
    let checkpoint = checkpoint::read(conn, key, vault_id)?;
    let verdict = |problem: Option<Problem>| Verdict {
        entries,
        head_count,
        compacted: match &checkpoint {
            CheckpointState::Valid(c) => Some(c.clone()),
            _ => None,
        },
        problem,
    };
    let (start, mut prev) = match &checkpoint {
        CheckpointState::Absent => (1, [0u8; MAC_LEN].to_vec()),
        CheckpointState::Valid(c) => (c.last + 1, c.link().unwrap_or_default().to_vec()),
        CheckpointState::Invalid => {
            return Ok(verdict(Some(Problem {
                seq: rows.first().map_or(1, |r| r.seq),
                what: "the audit log's checkpoint (left by `keep audit compact`) fails \
                       authentication: it was edited, forged, or copied from another vault"
                    .into(),
            })))
        }
    };
    for (i, row) in rows.iter().enumerate() {
        let expected = start + i as u64;
        if row.seq < start {
            return Ok(verdict(Some(Problem {
                seq: row.seq,
                what: format!(
                    "entry #{} is in the log, but the checkpoint says entries 1 to #{} were \
                     compacted: an older copy of the compacted entries was put back",
                    row.seq,
                    start - 1
                ),
            })));
        }
        if row.seq != expected {
            return Ok(verdict(Some(Problem {
                seq: expected,
                what: format!(
                    "entry #{expected} is missing (the next entry present is #{}): entries were deleted",
                    row.seq
                ),
            })));
        }
        if !hmac_parts_verify(
            key,
            &[
                b"keep/v1/audit-entry",
                vault_id,
                &row.seq.to_be_bytes(),
                &prev,
                &row.body,
            ],
            &row.mac,
        ) {
            return Ok(verdict(Some(Problem {
                seq: row.seq,
                what: format!(
                    "entry #{} fails authentication: it was edited, moved out of order, or copied \
                     from another vault",
                    row.seq
                ),
            })));
        }
        prev.clone_from(&row.mac);
    }
    // The last position the log reaches.
    let last = start - 1 + entries;
    let problem = match head {
        HeadState::Absent if last == 0 => None,
        HeadState::Absent => Some(Problem {
            seq: last + 1,
            what: "the audit log's head is missing: it was deleted".into(),
        }),
        HeadState::Invalid => Some(Problem {
            seq: last + 1,
            what: "the audit log's head fails authentication: it was edited".into(),
        }),
        HeadState::Valid(h) if h.count > last => Some(Problem {
            seq: last + 1,
            what: format!(
                "the log ends after entry #{last} but its head records {} entries: the last {} \
                 were cut off",
                h.count,
                h.count - last
            ),
        }),
        HeadState::Valid(h) if h.count < last || h.last[..] != prev[..] => Some(Problem {
            seq: h.count + 1,
            what: format!(
                "the head records {} entries but the log runs to #{last}: entries were added or \
                 replaced behind keep's back",
                h.count
            ),
        }),
        HeadState::Valid(_) => compaction_problem(&rows, &checkpoint),
    };
    Ok(verdict(problem))
}

/// The newest `audit-compact` entry must name the checkpoint, and a log with one must have a
/// checkpoint: otherwise an older checkpoint was put back (with the entries compacted since), or the
/// checkpoint was deleted (and the compacted entries put back). The entries' bodies are authenticated
/// by the walk before this runs.
fn compaction_problem(rows: &[Row], checkpoint: &CheckpointState) -> Option<Problem> {
    let newest = rows.iter().rev().find_map(|r| {
        // Only bodies that can be a compaction's are parsed (a verify of 10,000 entries stays fast).
        memchr::memmem::find(&r.body, b"\"compacted\"")?;
        let b = Body::decode(&r.body).filter(|b| b.action == Action::AuditCompact)?;
        Some((r.seq, b.id?, b.compacted?))
    });
    match (checkpoint, newest) {
        (CheckpointState::Absent, None) | (CheckpointState::Invalid, _) => None,
        (CheckpointState::Absent, Some((seq, _, c))) => Some(Problem {
            seq: 1,
            what: format!(
                "entry #{seq} records a compaction of entries up to #{}, but the log has no \
                 checkpoint: it was deleted (and the compacted entries put back)",
                c.through
            ),
        }),
        (CheckpointState::Valid(cp), Some((_, id, c)))
            if id == cp.entry && c.through == cp.last =>
        {
            None
        }
        (CheckpointState::Valid(cp), Some((seq, _, c))) => Some(Problem {
            seq: cp.last + 1,
            what: format!(
                "the checkpoint says entries 1 to #{} were compacted, but the newest compaction \
                 (entry #{seq}) removed entries up to #{}: an older checkpoint was put back",
                cp.last, c.through
            ),
        }),
        (CheckpointState::Valid(cp), None) => Some(Problem {
            seq: cp.last + 1,
            what: format!(
                "the checkpoint says entries 1 to #{} were compacted, but the log holds no \
                 compaction entry: the checkpoint does not belong to this log",
                cp.last
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::scratch::{exec, memory as db};

    const K: [u8; 32] = [9; 32];

    fn filled(n: usize) -> Connection {
        let conn = db();
        let bodies: Vec<Vec<u8>> = (0..n).map(|i| format!("body {i}").into_bytes()).collect();
        append(&conn, &K, b"v", &bodies).unwrap();
        conn
    }

    #[test]
    fn intact_chain_verifies_and_appends_continue_it() {
        let conn = filled(5);
        append(&conn, &K, b"v", &[b"more".to_vec()]).unwrap();
        let v = verify(&conn, &K, b"v").unwrap();
        assert_eq!((v.entries, v.head_count, v.problem), (6, Some(6), None));
    }

    #[test]
    fn empty_log_is_intact() {
        assert_eq!(verify(&db(), &K, b"v").unwrap().problem, None);
    }

    #[test]
    fn wrong_key_or_vault_fails_at_the_first_entry() {
        let conn = filled(3);
        assert_eq!(
            verify(&conn, &[1; 32], b"v").unwrap().problem.unwrap().seq,
            1
        );
        assert_eq!(verify(&conn, &K, b"w").unwrap().problem.unwrap().seq, 1);
    }

    #[test]
    fn each_tampering_is_caught_at_the_right_entry() {
        let conn = filled(5);
        exec(&conn, "UPDATE audit SET body = 'x' WHERE seq = 3");
        assert_eq!(verify(&conn, &K, b"v").unwrap().problem.unwrap().seq, 3);

        let conn = filled(5);
        exec(&conn, "DELETE FROM audit WHERE seq = 2");
        assert_eq!(verify(&conn, &K, b"v").unwrap().problem.unwrap().seq, 2);

        let conn = filled(5);
        exec(&conn, "DELETE FROM audit WHERE seq >= 4");
        assert_eq!(verify(&conn, &K, b"v").unwrap().problem.unwrap().seq, 4);

        let conn = filled(5);
        exec(
            &conn,
            "UPDATE audit SET seq = 100 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3;
             UPDATE audit SET seq = 3 WHERE seq = 100;",
        );
        assert_eq!(verify(&conn, &K, b"v").unwrap().problem.unwrap().seq, 2);
    }

    #[test]
    fn appending_over_a_forged_head_is_refused() {
        let conn = filled(3);
        exec(&conn, "DELETE FROM audit WHERE seq = 3");
        exec(
            &conn,
            "UPDATE meta SET value = zeroblob(72) WHERE key = 'audit_head'",
        );
        assert!(matches!(
            append(&conn, &K, b"v", &[b"x".to_vec()]),
            Err(Error::Integrity(_))
        ));
    }
}
