//! The project's files: `.env` files that git would commit, and vault values sitting in plaintext.
//!
//! In a git repository the files looked at are exactly those git could commit (`git ls-files
//! --cached --others --exclude-standard`): a gitignored `.env` written by `keep materialize` is
//! expected to hold values and is not reported. Outside git, every file under the project root is
//! read (skipping `.git`, `target`, `node_modules`, files over 1 MiB and binary files).
//!
//! Finding values is behind [`PlaintextScanner`]; [`VaultMatch`] implements it with the leak
//! scanner's vault automaton, so `keep lint` and `keep scan` agree on what counts as a value in the
//! clear (same minimum length, same `keep:allow` comments).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::scan::detect::{Detector, Needle, Origin};
use crate::scan::rules::RuleSet;
use crate::scope::Address;
use crate::value::SecretValue;

/// Files larger than this are skipped.
pub const MAX_FILE: u64 = 1 << 20;
/// Values shorter than this are not searched for (too many false matches).
pub const MIN_NEEDLE: usize = 8;

/// A vault value found in a file.
#[derive(Clone, Debug)]
pub struct Hit {
    pub path: PathBuf,
    pub line: usize,
    pub address: Address,
}

/// Finds vault values in files.
pub trait PlaintextScanner {
    fn scan(&self, files: &[PathBuf], needles: &[(Address, SecretValue)]) -> Result<Vec<Hit>>;
}

/// One Aho-Corasick pass per file over every value (`crate::scan::detect`, with no rules); the
/// first place each value appears in each file is reported.
pub struct VaultMatch;

impl PlaintextScanner for VaultMatch {
    fn scan(&self, files: &[PathBuf], needles: &[(Address, SecretValue)]) -> Result<Vec<Hit>> {
        let wanted: Vec<&(Address, SecretValue)> = needles
            .iter()
            .filter(|(_, v)| v.len() >= MIN_NEEDLE)
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let by_name: HashMap<String, &Address> =
            wanted.iter().map(|(a, _)| (a.to_string(), a)).collect();
        let detector = Detector::new(
            RuleSet::empty(),
            wanted
                .iter()
                .map(|(a, v)| Needle {
                    name: a.to_string(),
                    value: Zeroizing::new(v.expose().to_vec()),
                })
                .collect(),
        )?;
        let mut scratch = detector.scratch();
        let mut hits = Vec::new();
        for path in files {
            let Ok(meta) = std::fs::metadata(path) else {
                continue;
            };
            if !meta.is_file() || meta.len() > MAX_FILE {
                continue;
            }
            let content =
                Zeroizing::new(std::fs::read(path).map_err(|e| Error::io("read", path, e))?);
            if content.contains(&0) {
                continue;
            }
            let shown = path.display().to_string();
            let origin = Origin {
                path: &shown,
                ..Origin::default()
            };
            let mut found = Vec::new();
            detector.scan(&content, &origin, &mut scratch, &mut found);
            let mut seen = HashSet::new();
            for f in found {
                let Some(address) = f.secret_name.as_deref().and_then(|n| by_name.get(n)) else {
                    continue;
                };
                if seen.insert(address.to_string()) {
                    hits.push(Hit {
                        path: path.clone(),
                        line: f.line as usize,
                        address: (*address).clone(),
                    });
                }
            }
        }
        Ok(hits)
    }
}

/// Whether `root` is inside a git work tree (and git is installed).
pub fn in_git(root: &Path) -> bool {
    Command::new("git")
        .args(["rev-parse", "--is-inside-work-tree"])
        .current_dir(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn git_files(root: &Path, extra: &[&str]) -> Result<Vec<PathBuf>> {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .args(extra)
        .current_dir(root)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| Error::io("run git in", root, e))?;
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| root.join(String::from_utf8_lossy(p).as_ref()))
        .collect())
}

const SKIP_DIRS: &[&str] = &[".git", "target", "node_modules"];

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 12 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            if !SKIP_DIRS.iter().any(|s| e.file_name() == *s) {
                walk(&path, out, depth + 1);
            }
        } else if kind.is_file() {
            out.push(path);
        }
    }
}

/// The files git could commit (or every file, outside git).
pub fn project_files(root: &Path) -> Result<Vec<PathBuf>> {
    if in_git(root) {
        git_files(root, &["--cached", "--others", "--exclude-standard"])
    } else {
        let mut out = Vec::new();
        walk(root, &mut out, 0);
        Ok(out)
    }
}

/// Whether a file name is a dotenv file that holds values (not an example or template).
pub fn is_dotenv(name: &str) -> bool {
    const TEMPLATES: &[&str] = &["example", "sample", "template", "dist", "defaults"];
    if name == ".env" {
        return true;
    }
    match name.strip_prefix(".env.") {
        Some(suffix) => !TEMPLATES.iter().any(|t| suffix.ends_with(t)),
        None => false,
    }
}

/// A `.env` problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DotenvProblem {
    /// Git tracks it: it is (or will be) in the history.
    Tracked,
    /// Not ignored: the next `git add .` commits it.
    NotIgnored,
}

/// Every dotenv file under `root` that git tracks or does not ignore. Nothing outside git.
pub fn dotenv_problems(root: &Path) -> Result<Vec<(PathBuf, DotenvProblem)>> {
    if !in_git(root) {
        return Ok(Vec::new());
    }
    let named = |p: &PathBuf| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_dotenv)
    };
    let mut out: Vec<(PathBuf, DotenvProblem)> = git_files(root, &["--cached"])?
        .into_iter()
        .filter(named)
        .map(|p| (p, DotenvProblem::Tracked))
        .collect();
    for p in git_files(root, &["--others", "--exclude-standard"])?
        .into_iter()
        .filter(named)
    {
        out.push((p, DotenvProblem::NotIgnored));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_names() {
        for yes in [".env", ".env.local", ".env.production"] {
            assert!(is_dotenv(yes), "{yes}");
        }
        for no in [
            ".env.example",
            ".env.sample",
            ".envrc",
            "env",
            ".env.template",
            "x.env",
        ] {
            assert!(!is_dotenv(no), "{no}");
        }
    }

    #[test]
    fn vault_match_finds_the_line_once_per_file_and_value() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.yml");
        std::fs::write(
            &f,
            "a: 1\nb: s3cr3t-v4lue-xyz\nc: s3cr3t-v4lue-xyz\nd: short\n",
        )
        .unwrap();
        let addr =
            Address::parse("keep://p/dev/B", &crate::Scope::new("p", "dev").unwrap()).unwrap();
        let short =
            Address::parse("keep://p/dev/S", &crate::Scope::new("p", "dev").unwrap()).unwrap();
        let hits = VaultMatch
            .scan(
                &[f],
                &[
                    (addr.clone(), SecretValue::from("s3cr3t-v4lue-xyz")),
                    (short, SecretValue::from("short")),
                ],
            )
            .unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].line, 2);
        assert_eq!(hits[0].address, addr);
    }
}
