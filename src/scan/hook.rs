//! `keep hook install`: a git pre-commit hook that runs `keep scan --staged`. An existing hook is
//! kept and chained (run first) rather than overwritten, so installing keep never silently disables
//! another tool's checks.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The marker line that identifies our hook.
const MARKER: &str = "# keep-scan-hook v1";
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
}

fn script() -> String {
    format!(
        "#!/bin/sh\n{MARKER}\n# Installed by `keep hook install`: runs the previous pre-commit hook (if any), then\n\
         # scans the staged changes for secrets. Bypass once with `git commit --no-verify`.\n\
         hook_dir=$(dirname \"$0\")\n\
         if [ -x \"$hook_dir/{CHAINED}\" ]; then\n  \"$hook_dir/{CHAINED}\" \"$@\" || exit $?\nfi\n\
         exec \"${{KEEP_BIN:-keep}}\" scan --staged\n"
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
