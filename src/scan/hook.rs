//! `keep hook install`: a git pre-commit hook that runs `keep scan --staged`. An existing hook is
//! kept and chained (run first) rather than overwritten, so installing keep never silently disables
//! another tool's checks; `keep hook uninstall` removes ours and puts the chained one back.
//!
//! When the scan finds something the hook says the commit was blocked and the three ways on: move
//! the secret to the vault, mark a false positive (`keep:allow`) or accept it in the baseline, or
//! bypass once (`git commit --no-verify`). When keep itself fails the commit is blocked too (the
//! hook fails closed) and the hook says so.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The marker line that identifies our hook (any version).
const MARKER_PREFIX: &str = "# keep-scan-hook v";
/// The marker of the hook this keep writes.
const MARKER: &str = "# keep-scan-hook v2";
/// Where a previous hook is moved to.
const CHAINED: &str = "pre-commit.keep-chained";

/// What `install` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    /// A new hook was written.
    Fresh(PathBuf),
    /// A new hook was written and the previous one is run first from its new name.
    Chained { hook: PathBuf, previous: PathBuf },
    /// Our hook was already there.
    AlreadyThere(PathBuf),
    /// An older version of our hook was rewritten in place (what it chained stays chained).
    Updated(PathBuf),
}

/// What `uninstall` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Uninstalled {
    /// Our hook was removed; there was nothing chained.
    Removed(PathBuf),
    /// Our hook was removed and the hook it chained is back at its place.
    Restored { hook: PathBuf, from: PathBuf },
    /// There was no keep hook.
    NotInstalled(PathBuf),
}

fn script() -> String {
    format!(
        "#!/bin/sh\n{MARKER}\n# Installed by `keep hook install` (remove with `keep hook uninstall`): runs the previous\n\
         # pre-commit hook (if any), then scans the staged changes for secrets.\n\
         hook_dir=$(dirname \"$0\")\n\
         if [ -x \"$hook_dir/{CHAINED}\" ]; then\n  \"$hook_dir/{CHAINED}\" \"$@\" || exit $?\nfi\n\
         \"${{KEEP_BIN:-keep}}\" scan --staged\n\
         status=$?\n\
         if [ \"$status\" -eq 1 ]; then\n\
         \x20 cat >&2 <<'KEEP_EOF'\n\
         keep: commit blocked: the staged changes hold the secrets listed above.\n\
         \x20 - a real secret: remove it, store it with `keep set NAME` and read it at run time (`keep exec`, `keep env`);\n\
         \x20 - a false positive or a test value: add a `keep:allow` comment on its line, or accept the findings with\n\
         \x20     keep scan --staged --write-baseline .keep-baseline.json && git add .keep-baseline.json\n\
         \x20 - to commit anyway, this once: git commit --no-verify\n\
         KEEP_EOF\n\
         elif [ \"$status\" -ne 0 ]; then\n\
         \x20 echo \"keep: commit blocked: \\`keep scan --staged\\` failed (exit $status), see above; fix it, or commit anyway with git commit --no-verify\" >&2\n\
         fi\n\
         exit $status\n"
    )
}

/// The hooks folder of the repository at `repo` (honours worktrees and `core.hooksPath`).
fn hooks_dir(repo: &Path) -> Result<PathBuf> {
    let out = Command::new("git")
        .args(["rev-parse", "--git-path", "hooks"])
        .current_dir(repo)
        .output()
        .map_err(|e| Error::Io {
            context: "cannot run git (is it installed and on PATH?)".into(),
            source: e,
        })?;
    if !out.status.success() {
        return Err(Error::Usage(format!(
            "{} is not inside a git repository; run `keep hook install` in one",
            repo.display()
        )));
    }
    let rel = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Ok(if rel.is_absolute() {
        rel
    } else {
        repo.join(rel)
    })
}

/// Install the pre-commit hook in the repository containing `repo`.
pub fn install(repo: &Path) -> Result<Installed> {
    let dir = hooks_dir(repo)?;
    let io = |what: String| {
        move |e: std::io::Error| Error::Io {
            context: what,
            source: e,
        }
    };
    std::fs::create_dir_all(&dir).map_err(io(format!("cannot create {}", dir.display())))?;
    let hook = dir.join("pre-commit");
    let previous = dir.join(CHAINED);
    let mut chained = false;
    if let Ok(existing) = std::fs::read_to_string(&hook) {
        if existing.contains(MARKER) {
            return Ok(Installed::AlreadyThere(hook));
        }
        if existing.contains(MARKER_PREFIX) {
            // Ours, from an older keep: rewrite it (the chained hook, if any, keeps its name).
            crate::using::atomic::write(&hook, script().as_bytes(), 0o755)?;
            return Ok(Installed::Updated(hook));
        }
        if previous.exists() {
            return Err(Error::Usage(format!(
                "{} exists and so does {}; merge them by hand and rerun",
                hook.display(),
                previous.display()
            )));
        }
        std::fs::rename(&hook, &previous).map_err(io(format!(
            "cannot move the existing hook {}",
            hook.display()
        )))?;
        chained = true;
    } else if hook.exists() {
        return Err(Error::Usage(format!(
            "{} exists but is not a readable text file; move it away and rerun",
            hook.display()
        )));
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o755)
        .open(&hook)
        .map_err(io(format!("cannot write {}", hook.display())))?;
    f.write_all(script().as_bytes())
        .map_err(io(format!("cannot write {}", hook.display())))?;
    Ok(if chained {
        Installed::Chained { hook, previous }
    } else {
        Installed::Fresh(hook)
    })
}

/// Remove our pre-commit hook from the repository containing `repo`, and put back the hook it
/// chained, if any. A pre-commit hook that is not ours is left alone (a usage error).
pub fn uninstall(repo: &Path) -> Result<Uninstalled> {
    let dir = hooks_dir(repo)?;
    let hook = dir.join("pre-commit");
    let previous = dir.join(CHAINED);
    let io = |what: String| {
        move |e: std::io::Error| Error::Io {
            context: what,
            source: e,
        }
    };
    match std::fs::symlink_metadata(&hook) {
        Ok(_) => {
            let ours = std::fs::read_to_string(&hook).is_ok_and(|t| t.contains(MARKER_PREFIX));
            if !ours {
                return Err(Error::Usage(format!(
                    "{} is not keep's hook (it has no `{MARKER_PREFIX}N` line); left as it is",
                    hook.display()
                )));
            }
            std::fs::remove_file(&hook).map_err(io(format!("cannot remove {}", hook.display())))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(&previous).is_err() {
                return Ok(Uninstalled::NotInstalled(hook));
            }
        }
        Err(e) => return Err(io(format!("cannot read {}", hook.display()))(e)),
    }
    if std::fs::symlink_metadata(&previous).is_ok() {
        std::fs::rename(&previous, &hook).map_err(io(format!(
            "cannot move {} back to {}",
            previous.display(),
            hook.display()
        )))?;
        return Ok(Uninstalled::Restored {
            hook,
            from: previous,
        });
    }
    Ok(Uninstalled::Removed(hook))
}
