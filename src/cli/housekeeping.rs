//! Scope housekeeping: `cp`, `mv` (a secret or a whole scope), `scopes`, `purge`.

use std::collections::BTreeMap;

use clap::Args;
use serde::Serialize;

use super::exit::Exit;
use super::{output, Context};
use crate::error::{Error, Result};
use crate::scope::{Address, Scope, SCHEME};
use crate::value::SecretValue;

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// A secret (NAME or keep://PROJECT/ENV/NAME) or a whole scope (keep://PROJECT/ENV)
    pub src: String,
    /// A secret, or a scope (the same names go there)
    pub dst: String,
    /// Write over destinations that hold another value (as new versions; `history` keeps the old)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// The deleted secret: NAME or keep://PROJECT/ENV/NAME
    pub name: String,
    /// Confirm: every version of it is dropped for good (`rollback` cannot bring it back)
    #[arg(long)]
    pub yes: bool,
}

/// A `cp`/`mv` operand.
enum Operand {
    Secret(Address),
    Scope(Scope),
}

fn operand(ctx: &Context, text: &str) -> Result<Operand> {
    if let Some(rest) = text.strip_prefix(SCHEME) {
        if let Some((project, env)) = rest.split_once('/').filter(|(_, e)| !e.contains('/')) {
            return Scope::new(project, env).map(Operand::Scope);
        }
    }
    ctx.address(text).map(Operand::Secret)
}

/// The (source, destination) pairs of a `cp`/`mv`.
fn plan(ctx: &Context, vault: &crate::Vault, a: &CopyArgs) -> Result<Vec<(Address, Address)>> {
    let pairs = match (operand(ctx, &a.src)?, operand(ctx, &a.dst)?) {
        (Operand::Secret(s), Operand::Secret(d)) => vec![(s, d)],
        (Operand::Secret(s), Operand::Scope(d)) => {
            let d = d.address(s.name.clone());
            vec![(s, d)]
        }
        (Operand::Scope(s), Operand::Scope(d)) => {
            let entries = vault.list(Some(&s), false)?;
            if entries.is_empty() {
                return Err(Error::NotFound(format!(
                    "{SCHEME}{s} holds no secrets; `keep scopes` lists the scopes that do"
                )));
            }
            entries
                .into_iter()
                .map(|e| {
                    let to = d.address(e.address.name.clone());
                    (e.address, to)
                })
                .collect()
        }
        (Operand::Scope(_), Operand::Secret(_)) => {
            return Err(Error::Usage(
                "a whole scope copies into a scope (keep://PROJECT/ENV), not into one secret"
                    .into(),
            ))
        }
    };
    if pairs.iter().any(|(s, d)| s == d) {
        return Err(Error::Usage(
            "the source and the destination are the same; nothing was changed".into(),
        ));
    }
    Ok(pairs)
}

#[derive(Serialize)]
struct Moved {
    from: String,
    to: String,
    /// The destination's new version; `None` when it already held the same value.
    version: Option<u32>,
}

/// `keep cp SRC DST` (`remove` false) and `keep mv SRC DST` (`remove` true).
pub fn copy(ctx: &Context, a: CopyArgs, remove: bool) -> Result<Exit> {
    let mut vault = ctx.open()?;
    let pairs = plan(ctx, &vault, &a)?;
    let sources: Vec<Address> = pairs.iter().map(|(s, _)| s.clone()).collect();
    let values = vault.read(|r| {
        sources
            .iter()
            .map(|s| r.get(s))
            .collect::<Result<Vec<SecretValue>>>()
    });
    let values = match values {
        Ok(v) => v,
        Err(e) => return ctx.hint_missing(&vault, &sources[0], Err(e)),
    };
    // Which destinations change, and which already hold another value (refused without --force).
    let mut writes = Vec::new();
    let mut clash = Vec::new();
    for ((_, dst), value) in pairs.iter().zip(&values) {
        match vault.holds(dst, value) {
            Ok(true) => {}
            Ok(_) => {
                clash.push(dst.to_string());
                writes.push((dst.clone(), value.clone()));
            }
            Err(Error::NotFound(_)) => writes.push((dst.clone(), value.clone())),
            Err(e) => return Err(e),
        }
    }
    if !clash.is_empty() && !a.force {
        return Err(Error::Usage(format!(
            "{} already hold(s) another value; nothing was changed. `--force` writes over them as \
             new versions (`keep history` keeps the old ones)",
            clash.join(", ")
        )));
    }
    let targets: Vec<Address> = writes.iter().map(|(d, _)| d.clone()).collect();
    let versions = if targets.is_empty() {
        Vec::new()
    } else {
        vault.write(|w| {
            writes
                .iter()
                .map(|(d, v)| w.set(d, v))
                .collect::<Result<Vec<u32>>>()
        })?
    };
    // mv: the sources go once every copy is committed (a failure here leaves both, never neither).
    if remove {
        vault.write(|w| sources.iter().try_for_each(|s| w.remove(s).map(|_| ())))?;
    }
    let version_of: BTreeMap<&Address, u32> = targets.iter().zip(versions).collect();
    let moved: Vec<Moved> = pairs
        .iter()
        .map(|(s, d)| Moved {
            from: s.to_string(),
            to: d.to_string(),
            version: version_of.get(d).copied(),
        })
        .collect();
    if ctx.json {
        output::json(&moved)?;
    } else {
        let verb = if remove { "Moved" } else { "Copied" };
        for m in &moved {
            let what = match m.version {
                Some(v) => format!("version {v}"),
                None => "unchanged, it held the same value".into(),
            };
            output::note(&format!("{verb} {} to {} ({what}).", m.from, m.to));
        }
    }
    Ok(Exit::Success)
}

#[derive(Serialize)]
struct ScopeItem {
    project: String,
    env: String,
    /// Live secrets.
    secrets: usize,
    /// Deleted secrets (their history is kept until `keep purge`).
    deleted: usize,
    /// keep.toml names this environment (it may hold nothing yet).
    declared: bool,
}

/// `keep scopes`: every project and environment with secrets, plus the environments keep.toml
/// declares (`[env.E]`, `extends`, `default_env`) that hold nothing yet.
pub fn scopes(ctx: &Context) -> Result<Exit> {
    let vault = ctx.open()?;
    let mut counts: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for e in vault.list(None, true)? {
        let key = (
            e.address.scope.project().to_string(),
            e.address.scope.env().to_string(),
        );
        let c = counts.entry(key).or_default();
        if e.deleted {
            c.1 += 1;
        } else {
            c.0 += 1;
        }
    }
    let mut declared = Vec::new();
    if let Some(c) = &ctx.config {
        let project = c.project.as_deref().unwrap_or(Scope::DEFAULT_PROJECT);
        declared.push(c.default_env.as_deref().unwrap_or(Scope::DEFAULT_ENV));
        for (env, e) in &c.env {
            declared.push(env);
            declared.extend(e.extends.as_deref());
        }
        for env in &declared {
            counts
                .entry((project.to_string(), env.to_string()))
                .or_default();
        }
        let declared_in = |p: &str, e: &str| p == project && declared.contains(&e);
        let items: Vec<ScopeItem> = counts
            .into_iter()
            .map(|((p, e), (secrets, deleted))| ScopeItem {
                declared: declared_in(&p, &e),
                project: p,
                env: e,
                secrets,
                deleted,
            })
            .collect();
        return print_scopes(ctx, &items);
    }
    let items: Vec<ScopeItem> = counts
        .into_iter()
        .map(|((project, env), (secrets, deleted))| ScopeItem {
            project,
            env,
            secrets,
            deleted,
            declared: false,
        })
        .collect();
    print_scopes(ctx, &items)
}

fn print_scopes(ctx: &Context, items: &[ScopeItem]) -> Result<Exit> {
    if ctx.json {
        return output::json(&items).map(|_| Exit::Success);
    }
    let width = items
        .iter()
        .map(|i| i.project.len() + i.env.len() + 1)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for i in items {
        let scope = format!("{}/{}", i.project, i.env);
        let mut line = format!("{scope:<width$}  {} secret(s)", i.secrets);
        if i.deleted > 0 {
            line.push_str(&format!(", {} deleted", i.deleted));
        }
        if i.declared && i.secrets == 0 {
            line.push_str(" (declared in keep.toml)");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    print!("{out}");
    Ok(Exit::Success)
}

/// `keep purge NAME --yes`.
pub fn purge(ctx: &Context, a: PurgeArgs) -> Result<Exit> {
    let address = ctx.address(&a.name)?;
    if !a.yes {
        return Err(Error::Usage(format!(
            "`keep purge` drops every version of {address} for good: `rollback` cannot bring it \
             back and backups are the only copy left. Run it again with --yes to confirm"
        )));
    }
    let mut vault = ctx.open()?;
    let result = vault.purge(&address);
    let versions = ctx.hint_missing(&vault, &address, result)?;
    if ctx.json {
        output::json(&serde_json::json!({
            "address": address.to_string(), "purged": true, "versions": versions,
        }))?;
    } else {
        output::note(&format!(
            "Purged {address}: {versions} version(s) dropped for good."
        ));
    }
    Ok(Exit::Success)
}
