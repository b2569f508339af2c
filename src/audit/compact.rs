//! Audit retention: `keep audit compact --before D` removes the oldest entries and leaves a
//! checkpoint in their place (`checkpoint.rs`), so the rest of the chain still verifies and the
//! witness outside the file, which is never compacted, keeps the full history (SECURITY.md,
//! "Audit retention").
//!
//! One write transaction, after the whole log (chain, checkpoint, and unless told otherwise the
//! witness) checked out: a log that does not verify is never compacted, since removing entries
//! would hide the damage. Only a whole prefix goes, entries `first..=k` where every one is older
//! than the cutoff (a clock that went back stops the prefix early), and never the newest entry, so
//! the head and the witness always have an entry to agree on. Sequence numbers stay as they are.
//! The same transaction appends the `audit-compact` entry that names the new checkpoint.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::checkpoint::{self, Checkpoint};
use super::entry::{now_ms, Action, Body, Compacted};
use super::{append_in, audit_key, chain, committed, witness, OK};
use crate::error::{Error, Result};
use crate::store::{self, Connection};
use crate::vault::Vault;

/// What a compaction removed, or would remove (`--dry-run`).
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub dry_run: bool,
    /// The cutoff, ms since the epoch.
    pub before: u64,
    /// The entries this compaction removes, `first..=last` (none: nothing is older than the cutoff,
    /// or only the newest entry is).
    pub removed: Option<Compacted>,
    /// How many entries that is.
    pub count: u64,
    /// The first entry the log holds afterwards.
    pub starts_at: u64,
    /// The position of the `audit-compact` entry written (not on a dry run or when nothing went).
    pub entry: Option<u64>,
}

/// The positions a compaction removes (`first..=last`, none when nothing goes) and the log's rows.
type Plan = (Option<(u64, u64)>, Vec<chain::Row>);

/// Which entries `before_ms` lets go: positions `first..=k` of `rows` (the log as it is, starting
/// at `first`), all older than the cutoff, never the last row.
fn prefix(rows: &[chain::Row], before_ms: u64) -> Option<(u64, u64)> {
    let first = rows.first()?.seq;
    let keep_last = rows.len().saturating_sub(1);
    let k = rows[..keep_last]
        .iter()
        .take_while(|r| Body::decode(&r.body).is_some_and(|b| b.t < before_ms))
        .last()?
        .seq;
    Some((first, k))
}

/// The log must verify (and agree with its witness, unless `witness` is false) before anything
/// is removed: exit 5 otherwise, with nothing changed.
fn check_intact(
    conn: &Connection,
    key: &[u8; crate::crypto::KEY_LEN],
    vault_id: &[u8],
    compare_witness: bool,
) -> Result<()> {
    let verdict = chain::verify(conn, key, vault_id)?;
    if let Some(p) = &verdict.problem {
        return Err(Error::Integrity(format!(
            "the audit log is not intact ({}), so nothing was compacted: removing entries would \
             hide the damage; `keep audit verify` says more",
            p.what
        )));
    }
    if compare_witness {
        let ids = super::ids_after(&chain::rows(conn)?, verdict.compacted.as_ref());
        let report = witness::compare(
            vault_id,
            &ids,
            &super::witness_view(verdict.compacted.as_ref()),
        )?;
        if let Some(p) = report.problem {
            return Err(Error::Integrity(format!(
                "the audit log does not match its witness ({}), so nothing was compacted; \
                 `keep audit verify` says more (`--no-witness` compacts a log whose witness is \
                 elsewhere, comparing the chain alone)",
                p.what
            )));
        }
    }
    Ok(())
}

/// Compact the log of `vault`: remove the entries older than `before` (see the module doc).
/// `compare_witness`: refuse when the witness disagrees (off for a vault whose witness is in
/// another home). A cutoff in the future is refused (exit 2): it would remove everything but the
/// newest entry, which is never what "older than" was meant to say.
pub fn run(
    vault: &mut Vault,
    before: SystemTime,
    dry_run: bool,
    compare_witness: bool,
) -> Result<Outcome> {
    let now = SystemTime::now();
    if before > now {
        return Err(Error::Usage(format!(
            "--before {} is in the future: compaction removes entries older than a past time \
             (a date, a time, or a duration such as 90d meaning \"older than 90 days\"); nothing \
             was compacted",
            humantime::format_rfc3339_seconds(before)
        )));
    }
    let before_ms = before
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let vault_id = vault.id().to_vec();
    let key = audit_key(vault);
    let command = vault.command().to_string();
    // The log checked out, then which prefix goes (and the rows it is taken from).
    let plan = |conn: &Connection| -> Result<Plan> {
        check_intact(conn, &key, &vault_id, compare_witness)?;
        let rows = chain::rows(conn)?;
        Ok((prefix(&rows, before_ms), rows))
    };
    let outcome = |span: Option<(u64, u64)>, rows: &[chain::Row], entry: Option<u64>| Outcome {
        dry_run,
        before: before_ms,
        removed: span.map(|(first, through)| Compacted {
            first,
            through,
            before: before_ms,
        }),
        count: span.map_or(0, |(f, k)| k + 1 - f),
        starts_at: span.map_or(rows.first().map_or(1, |r| r.seq), |(_, k)| k + 1),
        entry,
    };
    if dry_run {
        let (span, rows) = vault.store().read(|tx| plan(tx))?;
        return Ok(outcome(span, &rows, None));
    }
    let mut pending = None;
    let done = vault.store().write(|tx| {
        let (span, rows) = plan(tx)?;
        let Some((first, k)) = span else {
            return Ok(outcome(None, &rows, None));
        };
        let removed = Compacted {
            first,
            through: k,
            before: before_ms,
        };
        let mut body = Body::by(&command, Action::AuditCompact, OK);
        body.compacted = Some(removed);
        let last = rows
            .iter()
            .find(|r| r.seq == k)
            .expect("the prefix ends at a row of the log");
        let cp = Checkpoint {
            first: 1,
            last: k,
            count: k,
            last_mac: Checkpoint::encode_mac(&last.mac),
            last_id: Body::decode(&last.body).and_then(|b| b.id),
            before: before_ms,
            at: now_ms(),
            by: format!("{}@{}", body.user, body.host),
            entry: body.id.clone().expect("a new body has an id"),
        };
        checkpoint::write(tx, &key, &vault_id, &cp)?;
        store::audit::delete_through(tx, k)?;
        pending = append_in(tx, &key, &vault_id, &[body], true)?;
        let entry = rows.last().map(|r| r.seq + 1);
        Ok(outcome(span, &rows, entry))
    })?;
    committed(pending);
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u64, t: u64) -> chain::Row {
        let mut b = Body::now(Action::Read, OK);
        b.t = t;
        chain::Row {
            seq,
            body: b.encode(),
            mac: vec![0; 32],
        }
    }

    #[test]
    fn only_a_whole_prefix_older_than_the_cutoff_goes_and_never_the_newest_entry() {
        let rows = [row(5, 10), row(6, 20), row(7, 30), row(8, 40)];
        assert_eq!(prefix(&rows, 25), Some((5, 6)));
        assert_eq!(prefix(&rows, 5), None);
        // Everything is older: the newest entry stays.
        assert_eq!(prefix(&rows, 1_000), Some((5, 7)));
        // A clock that went back stops the prefix at the first entry not older than the cutoff.
        let skewed = [row(1, 10), row(2, 50), row(3, 20), row(4, 60)];
        assert_eq!(prefix(&skewed, 40), Some((1, 1)));
        assert_eq!(prefix(&[row(1, 1)], 1_000), None);
        assert_eq!(prefix(&[], 1_000), None);
    }
}
