//! The newest write generation of a vault that this account has seen, kept beside the audit witness
//! (outside the vault file), so that a vault file, or its manifest, put back from an older copy is
//! refused by every reader (exit 5) and not only noticed later by `keep audit verify`.
//!
//! Every write transaction advances the generation that the manifest carries under its MAC
//! (src/vault/manifest.rs). Once the transaction has committed, the vault records the new number
//! here, in `VAULT_ID.generation` next to `VAULT_ID.audit.jsonl`. Opening the vault reads the
//! number before any query, and a manifest older than it is an integrity failure.
//!
//! Why it can never raise a false alarm: the number is written only after its commit and read
//! before the reader's first snapshot, so it can trail the vault but never lead it. A kill between
//! the commit and the write, a failed write, or two writers racing (the slower one writing the
//! smaller number) each leave an older number, which weakens the check until the next write.
//!
//! The file holds one decimal number and a newline, and no name or value. It is replaced
//! atomically (a temp file, fsync'd, renamed into place) and read without following a symbolic link.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::entry::hex;
use super::witness;
use crate::error::{Error, Result};

/// Where the generation of the vault with this id is recorded.
pub fn path(vault_id: &[u8]) -> Result<PathBuf> {
    Ok(witness::path(vault_id)?.with_file_name(format!("{}.generation", hex(vault_id))))
}

/// The newest generation recorded for this vault, or `None` when none is (a vault first used under
/// this home, or by a keep without generations).
pub fn recorded(vault_id: &[u8]) -> Result<Option<u64>> {
    read_at(&path(vault_id)?)
}

fn read_at(path: &Path) -> Result<Option<u64>> {
    let bytes = match witness::read_nofollow(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(witness::io(
                "read the newest write generation (kept beside the audit witness) in",
                path,
            )(e))
        }
    };
    parse(&bytes).map(Some).ok_or_else(|| {
        Error::Integrity(format!(
            "{} (the newest write of this vault that this account has seen) is not a number: it \
             was edited. Remove it to accept the vault file as it is",
            path.display()
        ))
    })
}

fn parse(bytes: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(bytes).ok()?.strip_suffix('\n')?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Record that the vault's manifest reached `generation` (after the write that made it committed).
/// A larger number already recorded (by a concurrent keep) is kept.
pub fn record(vault_id: &[u8], generation: u64) -> Result<()> {
    record_at(&path(vault_id)?, generation)
}

fn record_at(path: &Path, generation: u64) -> Result<()> {
    if matches!(read_at(path), Ok(Some(g)) if g >= generation) {
        return Ok(());
    }
    let dir = path.parent().expect("the generation path has a folder");
    witness::ensure_dir(dir)?;
    let action = "record the newest write generation (kept beside the audit witness) in";
    let mut tmp = tempfile::Builder::new()
        .prefix(".generation-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(witness::io(action, dir))?;
    tmp.write_all(format!("{generation}\n").as_bytes())
        .and_then(|_| tmp.as_file().sync_data())
        .map_err(witness::io(action, dir))?;
    // A rename replaces a planted symbolic link rather than following it.
    tmp.persist(path)
        .map_err(|e| witness::io(action, path)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_generation_reads_back_and_never_goes_down() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state").join("id.generation");
        assert_eq!(read_at(&p).unwrap(), None);
        record_at(&p, 7).unwrap();
        assert_eq!(read_at(&p).unwrap(), Some(7));
        record_at(&p, 3).unwrap();
        assert_eq!(read_at(&p).unwrap(), Some(7));
        record_at(&p, 9).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "9\n");
    }

    #[test]
    fn an_edited_file_is_an_integrity_error_not_zero() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("id.generation");
        for bad in [
            "",
            "\n",
            "12",
            "-1\n",
            "1e3\n",
            "9 \n",
            "99999999999999999999999\n",
        ] {
            std::fs::write(&p, bad).unwrap();
            let err = read_at(&p).unwrap_err();
            assert!(matches!(err, Error::Integrity(_)), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_planted_symbolic_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "1\n").unwrap();
        let p = dir.path().join("id.generation");
        std::os::unix::fs::symlink(&target, &p).unwrap();
        assert!(read_at(&p).is_err());
        record_at(&p, 5).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "1\n");
        assert_eq!(read_at(&p).unwrap(), Some(5));
    }
}
