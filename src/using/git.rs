//! The git guard: before keep writes secrets into a file inside a git work tree, it makes sure git will
//! not pick the file up. A file that is tracked, or not matched by an ignore rule, is refused unless
//! the user says `--force`. Outside a work tree, or without git installed, there is nothing to guard.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// What git thinks of a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not inside a git work tree (or git is not installed).
    Outside,
    /// Inside a work tree and matched by an ignore rule.
    Ignored,
    /// Inside a work tree, not ignored (a `git add .` would stage it).
    NotIgnored,
    /// Already tracked by git.
    Tracked,
}

fn git(dir: &Path, args: &[&str], path: &Path) -> Option<bool> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()
        .map(|s| s.success())
}

/// Ask git about `path` (which need not exist yet); `is_dir` says it is (or will be) a folder, which
/// rules such as `secrets/` only match when git is told so.
pub fn status(path: &Path, is_dir: bool) -> Status {
    let dir = super::atomic::parent(path);
    let Some(name) = path.file_name() else {
        return Status::Outside;
    };
    let mut name = name.to_os_string();
    if is_dir {
        name.push("/");
    }
    let name = Path::new(&name);
    let inside = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--is-inside-work-tree"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| o.stdout.starts_with(b"true"));
    if !inside {
        return Status::Outside;
    }
    if git(dir, &["ls-files", "--error-unmatch", "--"], name) == Some(true) {
        return Status::Tracked;
    }
    match git(dir, &["check-ignore", "-q", "--no-index", "--"], name) {
        Some(true) => Status::Ignored,
        _ => Status::NotIgnored,
    }
}

/// Refuse to write secrets to `path` when git would track it, unless `force`.
pub fn guard(path: &Path, is_dir: bool, force: bool) -> Result<Status> {
    let s = status(path, is_dir);
    if force {
        return Ok(s);
    }
    match s {
        Status::Tracked => Err(Error::Usage(format!(
            "{} is tracked by git; writing secrets into it would commit them. Remove it from the \
             index (`git rm --cached`), add it to .gitignore, or pass --force",
            path.display()
        ))),
        Status::NotIgnored => Err(Error::Usage(format!(
            "{} is inside a git work tree and not ignored, so it could be committed; add it to \
             .gitignore (or pass --force)",
            path.display()
        ))),
        Status::Outside | Status::Ignored => Ok(s),
    }
}
