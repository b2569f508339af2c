//! `keep lint`: secret hygiene. Each rule is a plain check with a fixed level; the command exits 1
//! when any finding is at error level.
//!
//! | rule | level | what |
//! |---|---|---|
//! | `reused-across-envs` | error | one value in two environments (compared by a keyed hash, never in the clear) |
//! | `weak-default` | error | a well-known default or placeholder (`changeme`, `password`, ...) |
//! | `too-short` | error | fewer than 8 bytes |
//! | `low-entropy` | warning | estimated entropy under 40 bits |
//! | `overdue` | error | older than its rotation policy allows |
//! | `dotenv-tracked` | error | a `.env` file git tracks |
//! | `dotenv-not-ignored` | error | a `.env` file git does not ignore |
//! | `plaintext-in-file` | error | a vault value found in a project file git could commit |
//! | `inherited-into-sensitive` | error | a `sensitive` environment inherits secrets from one that is not |
//! | `setting-and-secret` | error | a name that is both a keep.toml setting and a secret of an environment |
//!
//! Settings (keep.toml `[vars]`) are not secret and not in the vault: no value rule looks at them.
//! A value an environment inherits is one record, so `reused-across-envs` never counts it twice.
//! Findings name secrets, files and lines, never values.

pub mod envs;
pub mod files;
pub mod weak;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Config;
use crate::error::Result;
use crate::rotate::{self, Selection};
use crate::scope::Address;
use crate::vault::Vault;
use files::{DotenvProblem, PlaintextScanner};
use weak::Weakness;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Warning,
    Error,
}

/// One finding.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub level: Level,
    pub rule: &'static str,
    /// The secrets concerned (`keep://` addresses).
    pub secrets: Vec<String>,
    /// The file concerned, relative to the project root when possible.
    pub path: Option<String>,
    pub line: Option<usize>,
    pub message: String,
}

/// What to lint.
pub struct Input<'a> {
    pub project: &'a str,
    pub config: Option<&'a Config>,
    /// The project folder: where `keep.toml` is, else the working directory.
    pub root: PathBuf,
    pub scanner: &'a dyn PlaintextScanner,
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// Run every rule over the project's secrets and files.
pub fn run(vault: &mut Vault, input: &Input<'_>) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    let all: Vec<(Address, crate::SecretValue)> = {
        let entries: Vec<Address> = vault
            .list(None, false)?
            .into_iter()
            .map(|e| e.address)
            .filter(|a| a.scope.project() == input.project)
            .collect();
        // One recorded read of every value of the project: lint's access, like any other.
        vault.read(|r| {
            entries
                .into_iter()
                .map(|a| r.get(&a).map(|v| (a, v)))
                .collect::<Result<_>>()
        })?
    };

    // The same value in two environments, grouped by a keyed hash of the value.
    let mut by_value: BTreeMap<[u8; 32], Vec<&Address>> = BTreeMap::new();
    for (address, value) in &all {
        let tag = vault
            .subkeys()
            .index
            .tag(&[b"keep/v1/lint-value", value.expose()]);
        by_value.entry(tag).or_default().push(address);
    }
    for group in by_value.values() {
        let envs: BTreeSet<&str> = group.iter().map(|a| a.scope.env()).collect();
        if envs.len() > 1 {
            let secrets: Vec<String> = group.iter().map(|a| a.to_string()).collect();
            out.push(Finding {
                level: Level::Error,
                rule: "reused-across-envs",
                message: format!(
                    "{} hold the same value in {} environments ({}); give each environment its own",
                    secrets.join(", "),
                    envs.len(),
                    envs.into_iter().collect::<Vec<_>>().join(", ")
                ),
                secrets,
                path: None,
                line: None,
            });
        }
    }

    for (address, value) in &all {
        let (level, rule, message) = match weak::check(value.expose()) {
            None => continue,
            Some(Weakness::Default) => (
                Level::Error,
                "weak-default",
                "is a well-known default or placeholder value".to_string(),
            ),
            Some(Weakness::TooShort(n)) => (
                Level::Error,
                "too-short",
                format!(
                    "is only {n} bytes long (at least {} expected)",
                    weak::MIN_LEN
                ),
            ),
            Some(Weakness::LowEntropy(bits)) => (
                Level::Warning,
                "low-entropy",
                format!(
                    "has an estimated {bits:.0} bits of entropy (at least {:.0} expected)",
                    weak::MIN_BITS
                ),
            ),
        };
        out.push(Finding {
            level,
            rule,
            secrets: vec![address.to_string()],
            path: None,
            line: None,
            message: format!("{address} {message}"),
        });
    }

    if let Some(config) = input.config {
        let addresses: Vec<&Address> = all.iter().map(|(a, _)| a).collect();
        out.extend(envs::findings(config, input.project, &addresses)?);
    }

    let settings = input.config.map(Config::rotation).unwrap_or_default();
    for s in rotate::status(vault, &settings, &Selection::Project(input.project))? {
        if s.overdue {
            let max = s.policy.as_ref().map(|p| p.max_age_secs).unwrap_or(0);
            out.push(Finding {
                level: Level::Error,
                rule: "overdue",
                secrets: vec![s.address.to_string()],
                path: None,
                line: None,
                message: format!(
                    "{} is {} old, past its rotation policy of {}; `keep rotate {}`",
                    s.address,
                    crate::duration::approx_secs(s.age_secs),
                    crate::duration::exact_secs(max),
                    s.address
                ),
            });
        }
    }

    for (path, problem) in files::dotenv_problems(&input.root)? {
        let (rule, what) = match problem {
            DotenvProblem::Tracked => (
                "dotenv-tracked",
                "is tracked by git: its values are in the history; `git rm --cached` it, add it to \
                 .gitignore, and rotate what it held",
            ),
            DotenvProblem::NotIgnored => (
                "dotenv-not-ignored",
                "is not in .gitignore: the next `git add .` commits it",
            ),
        };
        out.push(Finding {
            level: Level::Error,
            rule,
            secrets: Vec::new(),
            path: Some(rel(&input.root, &path)),
            line: None,
            message: format!("{} {what}", rel(&input.root, &path)),
        });
    }

    let files = files::project_files(&input.root)?;
    for hit in input.scanner.scan(&files, &all)? {
        let path = rel(&input.root, &hit.path);
        out.push(Finding {
            level: Level::Error,
            rule: "plaintext-in-file",
            secrets: vec![hit.address.to_string()],
            path: Some(path.clone()),
            line: Some(hit.line),
            message: format!(
                "{path}:{} holds the value of {} in plaintext; use a keep:// reference or `keep exec`, \
                 and rotate it if the file was ever shared",
                hit.line, hit.address
            ),
        });
    }
    Ok(out)
}
