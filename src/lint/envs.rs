//! Lint rules about environments that extend one another and settings (`crate::using::layers`).
//!
//! - `inherited-into-sensitive`: an environment marked `sensitive = true` inherits secrets from one
//!   that is not. Reads of the ancestor's records are not flagged by `keep audit --unusual`, so the
//!   sensitive environment's secrets would be read unflagged; mark the ancestor sensitive too, or
//!   give the environment its own values.
//! - `setting-and-secret`: a name that is both a keep.toml setting and a secret in one environment's
//!   view (every command that reads that view refuses it, exit 2).

use std::collections::{BTreeMap, BTreeSet};

use super::{Finding, Level};
use crate::config::Config;
use crate::error::Result;
use crate::scope::{Address, Scope};

/// The findings for `project`, whose secrets are `all` (live ones).
pub fn findings(config: &Config, project: &str, all: &[&Address]) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    if project != config.project.as_deref().unwrap_or(Scope::DEFAULT_PROJECT) {
        return Ok(out);
    }
    let mut by_env: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for a in all {
        by_env
            .entry(a.scope.env())
            .or_default()
            .insert(a.name.as_str());
    }
    let sensitive = |env: &str| config.env.get(env).is_some_and(|e| e.sensitive);
    // Every environment that has secrets or is declared.
    let mut envs: BTreeSet<&str> = by_env.keys().copied().collect();
    envs.extend(config.env.keys().map(String::as_str));
    envs.insert(config.default_env.as_deref().unwrap_or(Scope::DEFAULT_ENV));
    for env in envs {
        let chain = config.chain(env)?;
        // The names the environment sees, and where each comes from (the nearest wins).
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for e in &chain {
            for name in by_env.get(e.as_str()).into_iter().flatten() {
                seen.entry(name).or_insert(e.as_str());
            }
        }
        if sensitive(env) {
            let mut leaks: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (name, from) in &seen {
                if *from != env && !sensitive(from) {
                    leaks
                        .entry(from)
                        .or_default()
                        .push(format!("keep://{project}/{from}/{name}"));
                }
            }
            for (from, secrets) in leaks {
                out.push(Finding {
                    level: Level::Error,
                    rule: "inherited-into-sensitive",
                    message: format!(
                        "{env} is sensitive but inherits {} from {from}, which is not: reads of \
                         those are not flagged by `keep audit --unusual`. Mark [env.{from}] \
                         sensitive = true, or give {env} its own values",
                        secrets.join(", ")
                    ),
                    secrets,
                    path: None,
                    line: None,
                });
            }
        }
        for (name, setting) in config.settings(env)? {
            if let Some(from) = seen.get(name.as_str()) {
                let secret = format!("keep://{project}/{from}/{name}");
                out.push(Finding {
                    level: Level::Error,
                    rule: "setting-and-secret",
                    message: format!(
                        "{name} is both a setting (keep.toml {}) and a secret ({secret}) in {env}; \
                         commands reading {env} refuse it until one is removed",
                        setting.table()
                    ),
                    secrets: vec![secret],
                    path: None,
                    line: None,
                });
            }
        }
    }
    Ok(out)
}
