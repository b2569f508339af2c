//! The audit witness: a copy of the chain's order kept outside the vault file, so that cutting the
//! log's tail, restoring an older head, or putting back an older copy of the whole vault file is
//! seen by `keep audit verify` (SECURITY.md, "Audit log: what the witness adds").
//!
//! The witness is a JSON-lines file, `$XDG_STATE_HOME/keep/VAULT_ID.audit.jsonl` (falling back to
//! `~/.local/state/keep/`), created 0600 in a 0700 folder and never followed through a symbolic
//! link. It holds no secret and no name: only sequence numbers, entry ids (random, see
//! `Body::id`) and times. Three kinds of line:
//!
//! ```text
//! {"kind":"start","v":1,"vault":HEX,"after":N,"after_id":ID|null,"reason":"new"|"existing"|"missing","t":MS}
//! {"kind":"append","v":1,"first":S,"prev":ID|null,"entries":[{"seq":S,"id":ID,"t":MS},...]}
//! {"kind":"commit","v":1,"last":S,"id":ID}
//! ```
//!
//! One `append` line per transaction, written (and fsync'd when the transaction is, see
//! `record`) *inside* the transaction, after the chain rows and before the commit: an entry never
//! commits without its witness line. A `commit` line follows once SQLite has committed (not
//! fsync'd: a lost one only weakens what verify can prove about the last transaction). So after a
//! kill at any point the witness is at most one transaction ahead of the chain, never behind it:
//! an `append` line with no sign of having committed (no `commit` line, no later line built on it)
//! is *pending* when it is the last one and *abandoned* when later transactions followed, and
//! neither is tampering. An `append` line that did commit but whose entries the vault no longer
//! holds (or holds with other ids) is: the tail was cut or the file rolled back.
//!
//! Entry ids, not MACs, are what the witness records: they do not depend on the key, so a future
//! re-key that re-MACs the chain keeps the witness valid; they are covered by each entry's MAC, so
//! a vault-file attacker cannot make the chain agree with a witness it has cut.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::entry::{hex, now_ms};
use crate::error::{Error, Result};

const VERSION: u32 = 1;

/// The witness of the vault with this id.
pub fn path(vault_id: &[u8]) -> Result<PathBuf> {
    let base = dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .ok_or_else(|| {
            Error::Usage(
                "cannot find a state directory for the audit witness; set XDG_STATE_HOME or HOME"
                    .into(),
            )
        })?;
    Ok(base
        .join("keep")
        .join(format!("{}.audit.jsonl", hex(vault_id))))
}

/// Why a witness starts where it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The log was empty: the witness covers every entry.
    New,
    /// The entries before it were written by a keep without witnesses.
    Existing,
    /// The last entry was written with a witness that is gone (deleted, or the vault is used under
    /// another home): the entries before the new start cannot be compared.
    Missing,
}

/// One entry as the witness records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witnessed {
    pub seq: u64,
    pub id: String,
    pub t: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Line {
    Start {
        v: u32,
        vault: String,
        after: u64,
        #[serde(default)]
        after_id: Option<String>,
        reason: Reason,
        t: u64,
    },
    Append {
        v: u32,
        first: u64,
        #[serde(default)]
        prev: Option<String>,
        entries: Vec<Witnessed>,
    },
    Commit {
        v: u32,
        last: u64,
        id: String,
    },
}

impl Line {
    fn encode(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(self).expect("a witness line serialises");
        out.push(b'\n');
        out
    }
}

/// An I/O error on a file kept beside the witness, naming a planted symbolic link as such.
pub(super) fn io<'a>(action: &str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    let action = action.to_string();
    move |e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            Error::Io {
                context: format!(
                    "{} (kept beside the audit witness) is a symbolic link, which keep does not \
                     follow; remove it",
                    path.display()
                ),
                source: e,
            }
        } else {
            Error::io(&action, path, e)
        }
    }
}

/// An `append` line written inside a transaction; [`Pending::committed`] adds its `commit` line.
#[must_use = "call committed() once the transaction has committed"]
pub struct Pending {
    file: File,
    last: u64,
    id: String,
}

impl Pending {
    /// Mark the transaction committed. Best effort and not fsync'd: without it verify can still
    /// tell a committed transaction by the next one, or by the vault holding its entries.
    pub fn committed(mut self) {
        let line = Line::Commit {
            v: VERSION,
            last: self.last,
            id: std::mem::take(&mut self.id),
        };
        let _ = self.file.write_all(&line.encode());
    }
}

/// Write the witness line of one transaction's `entries` (consecutive, `prev` the id of the entry
/// before the first, when it has one), creating the witness first if there is none. `durable`:
/// fsync it, as the transaction will be.
pub fn append(
    vault_id: &[u8],
    prev: Option<String>,
    entries: Vec<Witnessed>,
    durable: bool,
) -> Result<Pending> {
    append_at(&path(vault_id)?, vault_id, prev, entries, durable)
}

fn append_at(
    path: &Path,
    vault_id: &[u8],
    prev: Option<String>,
    entries: Vec<Witnessed>,
    durable: bool,
) -> Result<Pending> {
    let path = path.to_path_buf();
    let Some(last) = entries.last().cloned() else {
        return Err(Error::Usage("an empty witness line".into()));
    };
    let first = entries[0].seq;
    let mut file = match open_append(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let reason = match (first, &prev) {
                (1, _) => Reason::New,
                (_, Some(_)) => Reason::Missing,
                (_, None) => Reason::Existing,
            };
            let start = Line::Start {
                v: VERSION,
                vault: hex(vault_id),
                after: first - 1,
                after_id: prev.clone(),
                reason,
                t: now_ms(),
            };
            create(&path, &start)?;
            open_append(&path).map_err(io("open the audit witness", &path))?
        }
        Err(e) => return Err(io("open the audit witness", &path)(e)),
    };
    let meta = file
        .metadata()
        .map_err(io("inspect the audit witness", &path))?;
    if !meta.is_file() {
        return Err(Error::Io {
            context: format!("the audit witness {} is not a regular file", path.display()),
            source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
        });
    }
    let mut line = Vec::new();
    // A line torn by a crash mid-write must not swallow this one.
    if meta.len() > 0 {
        let mut lastb = [0u8; 1];
        file.read_exact_at(&mut lastb, meta.len() - 1)
            .map_err(io("read the audit witness", &path))?;
        if lastb[0] != b'\n' {
            line.push(b'\n');
        }
    }
    line.extend(
        Line::Append {
            v: VERSION,
            first,
            prev,
            entries,
        }
        .encode(),
    );
    file.write_all(&line)
        .map_err(io("write the audit witness", &path))?;
    if durable {
        file.sync_data()
            .map_err(io("sync the audit witness", &path))?;
    }
    Ok(Pending {
        file,
        last: last.seq,
        id: last.id,
    })
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Create the witness folder (0700) if it is not there, and refuse one that is not a folder (a
/// planted symbolic link is not followed).
pub(super) fn ensure_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("create the audit witness folder", dir))?;
    let meta =
        std::fs::symlink_metadata(dir).map_err(io("inspect the audit witness folder", dir))?;
    if !meta.is_dir() {
        return Err(Error::Io {
            context: format!(
                "the audit witness folder {} is not a folder (a symbolic link?); keep does not \
                 follow it",
                dir.display()
            ),
            source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
        });
    }
    Ok(())
}

/// Create the witness holding its start line, atomically (a temp file linked into place, so a
/// concurrent keep never appends to a witness without its start line, and a crash never leaves an
/// empty one). Losing the race to another keep is fine: its start line is as good.
fn create(path: &Path, start: &Line) -> Result<()> {
    let dir = path.parent().expect("the witness path has a folder");
    ensure_dir(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".witness-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io("create the audit witness in", dir))?;
    tmp.write_all(&start.encode())
        .and_then(|_| tmp.as_file().sync_data())
        .map_err(io("write the audit witness in", dir))?;
    match tmp.persist_noclobber(path) {
        Ok(_) => {}
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io("create the audit witness", path)(e.error)),
    }
    // The new name must survive a power cut as well as the line in it.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync the audit witness folder", dir))
}

/// A range of sequence numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    pub first: u64,
    pub last: u64,
}

/// What the witness says is wrong, most serious first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The first sequence number the vault is missing (or holds a different entry at), when the
    /// problem has one.
    pub seq: Option<u64>,
    pub what: String,
}

/// What comparing the chain with its witness found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub path: String,
    /// Entries up to this one were compacted (0: none): the checkpoint accounts for their lines.
    pub compacted: u64,
    /// Whether the witness file exists.
    pub found: bool,
    /// Entries up to this one were written before the witness started, and why it started there.
    pub starts_after: Option<u64>,
    pub start_reason: Option<Reason>,
    /// Entries the witness and the vault agree on.
    pub witnessed: u64,
    /// The last transaction written to the witness whose commit is not in the vault and left no
    /// sign of having committed: keep was interrupted before the commit (not tampering).
    pub pending: Option<Span>,
    /// Earlier transactions that never committed (a failed or interrupted write, retried).
    pub abandoned: u64,
    /// Lines that do not parse: a line torn by a crash or power cut while it was written.
    pub torn: u64,
    pub problem: Option<Problem>,
}

pub(super) fn read_nofollow(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let mut out = Vec::new();
    f.read_to_end(&mut out)?;
    Ok(out)
}

/// A compacted prefix as the witness comparison sees it: entries 1 to `through` were removed behind
/// an authenticated checkpoint, which recorded the id of entry `through` (when it had one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compacted {
    pub through: u64,
    pub last_id: Option<String>,
}

/// Compare the witness of `vault_id` with a chain (already walked and authenticated) whose entry
/// `compacted.through + i` has id `ids[i - 1]` (`None` for entries from before witnesses). The
/// witness is never compacted: its lines for entries up to `compacted.through` are explained by the
/// checkpoint, not missing, as long as the one for `through` names the checkpoint's `last_id`.
pub fn compare(vault_id: &[u8], ids: &[Option<String>], compacted: &Compacted) -> Result<Report> {
    let path = path(vault_id)?;
    Ok(compare_at(&path, vault_id, ids, compacted))
}

fn compare_at(
    path: &Path,
    vault_id: &[u8],
    ids: &[Option<String>],
    compacted: &Compacted,
) -> Report {
    let through = compacted.through;
    // The last position the log reaches, and the id the vault holds at a position after `through`.
    let n = through + ids.len() as u64;
    let id_at = |seq: u64| ids[(seq - through - 1) as usize].as_deref();
    let shown = path.display().to_string();
    let mut r = Report {
        path: shown.clone(),
        compacted: through,
        found: false,
        starts_after: None,
        start_reason: None,
        witnessed: 0,
        pending: None,
        abandoned: 0,
        torn: 0,
        problem: None,
    };
    let fail = |mut r: Report, seq: Option<u64>, what: String| {
        r.problem = Some(Problem { seq, what });
        r
    };
    let bytes = match read_nofollow(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if ids.is_empty() {
                return r;
            }
            let held = ids.len();
            return fail(
                r,
                Some(through + 1),
                format!(
                    "no witness at {shown}: the log's {held} entries cannot be checked against it (it \
                     was deleted, the vault was used under another home or XDG_STATE_HOME, or no \
                     keep with witnesses has written to this vault yet); `--no-witness` checks the \
                     chain alone"
                ),
            );
        }
        Err(e) => return fail(r, None, format!("cannot read the witness {shown}: {e}")),
    };
    r.found = true;
    let mut lines = Vec::new();
    for raw in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        match serde_json::from_slice::<Line>(raw) {
            Ok(line) => lines.push(line),
            Err(_) => r.torn += 1,
        }
    }
    let (after, after_id, reason) = match lines.first() {
        Some(Line::Start {
            vault,
            after,
            after_id,
            reason,
            ..
        }) if *vault == hex(vault_id) => (*after, after_id.clone(), *reason),
        Some(Line::Start { .. }) => {
            return fail(
                r,
                None,
                format!("the witness {shown} belongs to another vault"),
            )
        }
        _ => {
            return fail(
                r,
                None,
                format!("the witness {shown} does not begin with its start line: it was edited"),
            )
        }
    };
    r.starts_after = Some(after);
    r.start_reason = Some(reason);

    let holds = |w: &Witnessed| match w.seq {
        0 => false,
        s if s < through => true,
        s if s == through => compacted
            .last_id
            .as_deref()
            .is_none_or(|id| id == w.id.as_str()),
        s => s <= n && id_at(s) == Some(w.id.as_str()),
    };
    let commits: HashSet<(u64, &str)> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Commit { last, id, .. } => Some((*last, id.as_str())),
            _ => None,
        })
        .collect();
    let appends: Vec<&Vec<Witnessed>> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Append { entries, .. } if !entries.is_empty() => Some(entries),
            _ => None,
        })
        .collect();
    let built_on: HashSet<&str> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Append { prev, .. } => prev.as_deref(),
            _ => None,
        })
        .collect();

    // Transactions the witness knows committed but the vault does not hold: the first such seq.
    let mut lost: Option<u64> = None;
    let mut witnessed = vec![false; ids.len()];
    for (j, entries) in appends.iter().enumerate() {
        let last = entries.last().expect("non-empty");
        let committed =
            commits.contains(&(last.seq, last.id.as_str())) || built_on.contains(last.id.as_str());
        match entries.iter().find(|w| !holds(w)) {
            None => {
                for w in entries.iter().filter(|w| w.seq > through) {
                    witnessed[(w.seq - through - 1) as usize] = true;
                }
            }
            Some(w) if committed => {
                let seq = w.seq.min(n + 1);
                lost = Some(lost.map_or(seq, |l| l.min(seq)));
            }
            Some(_) if j + 1 < appends.len() => r.abandoned += 1,
            Some(_) => {
                r.pending = Some(Span {
                    first: entries[0].seq,
                    last: last.seq,
                })
            }
        }
    }
    r.witnessed = witnessed.iter().filter(|w| **w).count() as u64;

    // The start point itself must still be in the vault (or be explained by the checkpoint).
    if after > n {
        lost = Some(lost.map_or(n + 1, |l| l.min(n + 1)));
    } else if after >= 1 {
        if let Some(id) = &after_id {
            let held = match after {
                a if a < through => true,
                a if a == through => compacted.last_id.as_deref().is_none_or(|c| c == id),
                a => id_at(a) == Some(id.as_str()),
            };
            if !held {
                lost = Some(lost.map_or(after, |l| l.min(after)));
            }
        }
    }
    if let Some(seq) = lost {
        let what = if seq <= through {
            format!(
                "the checkpoint says compacted entry #{seq} is not the entry the witness {shown} \
                 recorded there: the checkpoint does not describe this vault's history"
            )
        } else if seq > n {
            format!(
                "the vault's log ends at entry #{n}, but the witness {shown} records entries from \
                 #{seq} on as committed: the log's tail was cut (rows deleted and an older head \
                 restored) or the vault file was replaced by an older copy"
            )
        } else {
            format!(
                "entry #{seq} in the vault is not the entry the witness {shown} recorded there: \
                 the log (or the whole vault file) was rolled back to before #{seq} and written \
                 again since"
            )
        };
        return fail(r, Some(seq), what);
    }
    if let Some(k) = (after.max(through) + 1..=n).find(|k| !witnessed[(*k - through - 1) as usize])
    {
        return fail(
            r,
            Some(k),
            format!(
                "entry #{k} is in the vault but not in the witness {shown}: the witness lost its \
                 last lines (a power cut: read entries are not fsync'd) or was edited, or a keep \
                 without witnesses wrote to this vault"
            ),
        );
    }
    if reason == Reason::Missing {
        return fail(
            r,
            Some(1),
            format!(
                "the witness {shown} was started again after entry #{after} because it was \
                 missing (deleted, or the vault was used under another home): entries 1 to \
                 #{after} cannot be compared"
            ),
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(seq: u64, id: &str) -> Witnessed {
        Witnessed {
            seq,
            id: id.into(),
            t: seq,
        }
    }

    fn write(lines: &[Line]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.jsonl");
        let bytes: Vec<u8> = lines.iter().flat_map(Line::encode).collect();
        std::fs::write(&p, bytes).unwrap();
        (dir, p)
    }

    fn start() -> Line {
        Line::Start {
            v: 1,
            vault: hex(b"v"),
            after: 0,
            after_id: None,
            reason: Reason::New,
            t: 0,
        }
    }

    fn app(first: u64, prev: Option<&str>, entries: Vec<Witnessed>) -> Line {
        Line::Append {
            v: 1,
            first,
            prev: prev.map(String::from),
            entries,
        }
    }

    fn commit(last: u64, id: &str) -> Line {
        Line::Commit {
            v: 1,
            last,
            id: id.into(),
        }
    }

    fn none() -> Compacted {
        Compacted::default()
    }

    fn ids(v: &[&str]) -> Vec<Option<String>> {
        v.iter().map(|s| Some(s.to_string())).collect()
    }

    #[test]
    fn agreeing_witness_with_a_pending_and_an_abandoned_line_is_intact() {
        let (_d, p) = write(&[
            start(),
            app(1, None, vec![w(1, "a"), w(2, "b")]),
            commit(2, "b"),
            app(3, Some("b"), vec![w(3, "lost")]),
            app(3, Some("b"), vec![w(3, "c")]),
            commit(3, "c"),
            app(4, Some("c"), vec![w(4, "interrupted")]),
        ]);
        let r = compare_at(&p, b"v", &ids(&["a", "b", "c"]), &none());
        assert_eq!(r.problem, None);
        assert_eq!((r.witnessed, r.abandoned), (3, 1));
        assert_eq!(r.pending, Some(Span { first: 4, last: 4 }));
    }

    #[test]
    fn a_cut_tail_names_the_first_missing_entry() {
        let (_d, p) = write(&[
            start(),
            app(1, None, vec![w(1, "a")]),
            commit(1, "a"),
            app(2, Some("a"), vec![w(2, "b")]),
            app(3, Some("b"), vec![w(3, "c")]),
        ]);
        // #2 has no commit line, but #3 was built on it; #3 itself is pending.
        let r = compare_at(&p, b"v", &ids(&["a"]), &none());
        assert_eq!(r.problem.unwrap().seq, Some(2));
    }

    #[test]
    fn a_rewritten_entry_and_an_unwitnessed_one_are_reported() {
        let lines = [
            start(),
            app(1, None, vec![w(1, "a")]),
            commit(1, "a"),
            app(2, Some("a"), vec![w(2, "b")]),
            commit(2, "b"),
        ];
        let (_d, p) = write(&lines);
        let r = compare_at(&p, b"v", &ids(&["a", "other"]), &none());
        assert_eq!(r.problem.unwrap().seq, Some(2));
        let r = compare_at(&p, b"v", &ids(&["a", "b", "x"]), &none());
        let problem = r.problem.unwrap();
        assert_eq!(problem.seq, Some(3));
        assert!(problem.what.contains("not in the witness"), "{problem:?}");
    }

    #[test]
    fn appends_create_the_witness_and_survive_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state/keep/w.jsonl");
        append_at(&p, b"v", None, vec![w(1, "a")], true)
            .unwrap()
            .committed();
        // A crash mid-write left half a line behind.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"kind\":\"append\",\"v\":1,\"fir").unwrap();
        append_at(&p, b"v", Some("a".into()), vec![w(2, "b")], false)
            .unwrap()
            .committed();
        let r = compare_at(&p, b"v", &ids(&["a", "b"]), &none());
        assert_eq!((r.problem, r.witnessed, r.torn), (None, 2, 1));
        assert_eq!(r.start_reason, Some(Reason::New));
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&p), mode(p.parent().unwrap())), (0o600, 0o700));
    }

    #[test]
    fn a_missing_or_foreign_witness_is_reported_and_an_empty_log_needs_none() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("none.jsonl");
        assert!(compare_at(&p, b"v", &ids(&["a"]), &none())
            .problem
            .unwrap()
            .what
            .contains("no witness at"));
        assert_eq!(compare_at(&p, b"v", &[], &none()).problem, None);
        let (_d, p) = write(&[start()]);
        assert!(compare_at(&p, b"other", &[], &none())
            .problem
            .unwrap()
            .what
            .contains("another vault"));
    }

    #[test]
    fn a_compacted_prefix_is_explained_by_its_checkpoint_but_not_a_different_one() {
        let (_d, p) = write(&[
            start(),
            app(1, None, vec![w(1, "a"), w(2, "b")]),
            commit(2, "b"),
            app(3, Some("b"), vec![w(3, "c"), w(4, "d")]),
            commit(4, "d"),
        ]);
        let cp = |id: &str| Compacted {
            through: 2,
            last_id: Some(id.into()),
        };
        let r = compare_at(&p, b"v", &ids(&["c", "d"]), &cp("b"));
        assert_eq!((r.problem, r.witnessed, r.compacted), (None, 2, 2));
        // A checkpoint that names another entry #2 does not describe what the witness saw.
        let problem = compare_at(&p, b"v", &ids(&["c", "d"]), &cp("x"))
            .problem
            .unwrap();
        assert_eq!(problem.seq, Some(2), "{problem:?}");
        // Without the checkpoint the same rows are a cut prefix.
        let r = compare_at(&p, b"v", &ids(&["c", "d"]), &none());
        assert!(r.problem.is_some());
    }
}
