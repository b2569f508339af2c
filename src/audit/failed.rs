//! Failed unlocks. When no slot opens there is no key, so the attempt cannot be MAC'd: it is written
//! unauthenticated to `audit_unauthenticated`, and the next successful unlock folds every such record
//! into the chain (marked with the time it was folded) and deletes it, in one transaction.
//!
//! Until then, anyone who can write the file can delete or forge these records. Folding authenticates
//! only *that* such a record was found, not what it claims, so a folded record stays marked
//! unauthenticated in every view (`Body::folded_at` is set), its text fields are sanitised (control
//! characters escaped, length capped) and its time is clamped between the previous authenticated
//! entry and the fold (the claimed time is kept in `claimed_t`). SECURITY.md says so.

use super::entry::{new_id, now_ms, printable, Action, Body};
use crate::error::Result;
use crate::store::{audit as rows_of, Connection, Store};

/// Record a failed unlock without a key. Best effort: the caller reports the authentication failure
/// whatever happens here, so an unwritable vault does not hide it behind another error.
/// `command` is the one the vault was being opened for.
pub fn record(store: &mut Store, command: &str, outcome: &str) {
    let body = Body::by(command, Action::UnlockFailed, outcome).encode();
    let _ = store.write(|tx| rows_of::insert_failed(tx, &body));
}

/// The longest user, host, command or outcome a folded record keeps (in characters, after escaping).
const FIELD_MAX: usize = 128;

fn field(text: &str) -> String {
    let clean = printable(text);
    match clean.char_indices().nth(FIELD_MAX) {
        Some((cut, _)) => format!("{}...", &clean[..cut]),
        None => clean,
    }
}

/// What an unauthenticated record may say, made safe to show: fields sanitised, the time clamped to
/// `floor..=ceiling` (the claim kept in `claimed_t` when it was outside), a fresh entry id.
fn tame(mut body: Body, floor: u64, ceiling: u64) -> Body {
    body.user = field(&body.user);
    body.host = field(&body.host);
    body.command = field(&body.command);
    body.outcome = field(&body.outcome);
    // Whatever the record says about its own folding, claim or id is the forger's, not keep's.
    body.claimed_t = None;
    body.folded_at = None;
    let clamped = body.t.clamp(floor.min(ceiling), ceiling);
    if clamped != body.t {
        body.claimed_t = Some(body.t);
        body.t = clamped;
    }
    body.id = Some(new_id());
    body
}

/// The failed unlocks waiting to be folded, oldest first, as bodies ready to append (a record that
/// does not parse is kept, marked as such, rather than dropped). `floor` is the time of the last
/// authenticated entry: no folded record is placed before it, nor after now.
pub fn take(conn: &Connection, floor: u64) -> Result<Vec<Body>> {
    let raw = rows_of::failed_bodies(conn)?;
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    rows_of::clear_failed(conn)?;
    let folded_at = now_ms();
    Ok(raw
        .into_iter()
        .map(|bytes| {
            let body = Body::decode(&bytes)
                .filter(|b| {
                    b.action == Action::UnlockFailed && b.address.is_none() && b.addresses.is_none()
                })
                .unwrap_or_else(|| {
                    // Keep the evidence that something was there, without inventing who did it.
                    let mut b = Body::by(
                        "unknown",
                        Action::UnlockFailed,
                        "malformed-unauthenticated-record",
                    );
                    b.user = "unknown".into();
                    b.host = "unknown".into();
                    b.pid = 0;
                    b
                });
            let mut body = tame(body, floor, folded_at);
            body.folded_at = Some(folded_at);
            body
        })
        .collect())
}

/// Whether failed unlocks wait to be folded.
pub fn any(conn: &Connection) -> Result<bool> {
    rows_of::any_failed(conn)
}

/// Failed unlocks not yet folded (for `keep audit` when nothing could fold them yet), made safe to
/// show like folded ones: sanitised, times clamped between `floor` and now.
pub fn pending(conn: &Connection, floor: u64) -> Result<Vec<Body>> {
    let raw = rows_of::failed_bodies(conn)?;
    let now = now_ms();
    Ok(raw
        .iter()
        .filter_map(|b| Body::decode(b))
        .map(|b| {
            let mut b = tame(b, floor, now);
            b.id = None;
            b
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forged_record_is_sanitised_clamped_and_keeps_its_claim() {
        let mut b = Body::now(Action::UnlockFailed, "auth");
        b.user = "root\x1b[1A\r".into();
        b.host = "h".repeat(500);
        b.t = 5;
        let t = tame(b, 1_000, 2_000);
        assert_eq!(t.user, "root\\u{1b}[1A\\r");
        assert!(t.host.chars().count() <= FIELD_MAX + 3);
        assert_eq!((t.t, t.claimed_t), (1_000, Some(5)));
        let mut b = Body::now(Action::UnlockFailed, "auth");
        b.t = 9_000;
        assert_eq!(tame(b, 1_000, 2_000).t, 2_000);
        let mut b = Body::now(Action::UnlockFailed, "auth");
        b.t = 1_500;
        b.claimed_t = Some(7);
        b.folded_at = Some(7);
        let t = tame(b, 1_000, 2_000);
        assert_eq!((t.t, t.claimed_t, t.folded_at), (1_500, None, None));
    }
}
