//! What an environment sees: its settings (keep.toml `[vars]` and `[env.E.vars]`, never in the vault)
//! and its secrets, its own first and then those of each environment it `extends`, nearest first.
//!
//! Rules (README, "Environments and settings"):
//! - A secret of the environment itself wins over an inherited one of the same name; among ancestors
//!   the nearest wins. Inheriting reads the ancestor's record: nothing is copied.
//! - Settings: `[vars]`, then each `[env.E.vars]` along the chain from the farthest to the
//!   environment itself (its own win).
//! - A name that is both a setting and a secret in one environment's view is an error (exit 2)
//!   naming both places: a setting is printed, never redacted or masked, so letting either silently
//!   win would either hide a value the user meant to keep secret or expose one.

use std::collections::BTreeMap;

use super::Pair;
use crate::config::{Config, Setting};
use crate::error::{Error, Result};
use crate::scope::{Address, Name, Scope};
use crate::value::SecretValue;
use crate::vault::{Entry, Reader, Vault};

/// Where a name of an environment's view comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A secret of the environment itself.
    Own,
    /// A secret of this ancestor environment (same project).
    Inherited(String),
    /// A keep.toml setting, from this table (`[vars]` or `[env.E.vars]`).
    Setting(String),
}

impl Origin {
    pub fn is_setting(&self) -> bool {
        matches!(self, Origin::Setting(_))
    }

    /// The kind, for `--json`: `own`, `inherited`, `setting`.
    pub fn kind(&self) -> &'static str {
        match self {
            Origin::Own => "own",
            Origin::Inherited(_) => "inherited",
            Origin::Setting(_) => "setting",
        }
    }

    /// A short label for listings: `own`, `inherited from shared`, `setting, [vars]`.
    pub fn label(&self) -> String {
        match self {
            Origin::Own => "own".into(),
            Origin::Inherited(env) => format!("inherited from {env}"),
            Origin::Setting(table) => format!("setting, {table}"),
        }
    }
}

/// One name of a view. `address` is the vault record a secret is read from (`None` for a setting),
/// which is what the audit log records.
#[derive(Debug)]
pub struct Item {
    pub name: Name,
    pub origin: Origin,
    pub address: Option<Address>,
    pub value: SecretValue,
}

/// An environment's view, sorted by name (or in the order of `only`).
#[derive(Debug, Default)]
pub struct View {
    pub items: Vec<Item>,
}

impl View {
    /// The names and values, for `exec`, `env` and `materialize`.
    pub fn pairs(&self) -> Vec<Pair> {
        self.items
            .iter()
            .map(|i| (i.name.clone(), i.value.clone()))
            .collect()
    }

    /// The vault records read (settings are not in the vault), for the audit log.
    pub fn read(&self) -> Vec<Address> {
        self.items
            .iter()
            .filter_map(|i| i.address.clone())
            .collect()
    }

    /// The names that are settings (never redacted, never masked).
    pub fn settings(&self) -> std::collections::BTreeSet<Name> {
        self.items
            .iter()
            .filter(|i| i.origin.is_setting())
            .map(|i| i.name.clone())
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }
}

/// The environments `scope` reads secrets from, nearest first (itself first).
pub fn chain(config: Option<&Config>, scope: &Scope) -> Result<Vec<Scope>> {
    match config {
        Some(c) if in_project(c, scope) => c
            .chain(scope.env())?
            .iter()
            .map(|e| scope.with_env(e))
            .collect(),
        _ => Ok(vec![scope.clone()]),
    }
}

/// The settings `scope` sees (none outside the keep.toml's project).
pub fn settings(config: Option<&Config>, scope: &Scope) -> Result<BTreeMap<Name, Setting>> {
    match config {
        Some(c) if in_project(c, scope) => c.settings(scope.env()),
        _ => Ok(BTreeMap::new()),
    }
}

/// Whether keep.toml speaks for `scope`'s project (its `project`, else the default project).
fn in_project(c: &Config, scope: &Scope) -> bool {
    scope.project() == c.project.as_deref().unwrap_or(Scope::DEFAULT_PROJECT)
}

/// A name of a view without its value: what `ls`, `check` and `example` need.
#[derive(Clone, Debug)]
pub struct Listed {
    pub name: Name,
    pub origin: Origin,
    /// The vault record (`None` for a setting).
    pub entry: Option<Entry>,
}

/// The names `scope` sees, sorted, without decrypting a value; with `deleted`, also the
/// environment's own deleted secrets that nothing else provides. A conflict between a setting and a
/// secret is an error (see the module doc).
pub fn names(
    vault: &Vault,
    config: Option<&Config>,
    scope: &Scope,
    deleted: bool,
) -> Result<Vec<Listed>> {
    let chain = chain(config, scope)?;
    let all = vault.list(None, deleted)?;
    let mut out: BTreeMap<Name, Listed> = BTreeMap::new();
    for (depth, s) in chain.iter().enumerate() {
        for e in all.iter().filter(|e| &e.address.scope == s && !e.deleted) {
            out.entry(e.address.name.clone()).or_insert_with(|| Listed {
                name: e.address.name.clone(),
                origin: origin(depth, s),
                entry: Some(e.clone()),
            });
        }
    }
    for (name, setting) in settings(config, scope)? {
        if let Some(secret) = out.get(&name) {
            let address = secret.entry.as_ref().map(|e| &e.address);
            return Err(conflict(&name, &setting, address));
        }
        out.insert(
            name.clone(),
            Listed {
                name,
                origin: Origin::Setting(setting.table()),
                entry: None,
            },
        );
    }
    for e in all
        .iter()
        .filter(|e| &e.address.scope == scope && e.deleted)
    {
        out.entry(e.address.name.clone()).or_insert_with(|| Listed {
            name: e.address.name.clone(),
            origin: Origin::Own,
            entry: Some(e.clone()),
        });
    }
    Ok(out.into_values().collect())
}

fn origin(depth: usize, s: &Scope) -> Origin {
    if depth == 0 {
        Origin::Own
    } else {
        Origin::Inherited(s.env().to_string())
    }
}

fn conflict(name: &Name, setting: &Setting, secret: Option<&Address>) -> Error {
    let secret = secret.map(|a| a.to_string()).unwrap_or_default();
    Error::Usage(format!(
        "{name} is both a setting (keep.toml {}) and a secret ({secret}); a name is one or the \
         other, since settings are shown in clear and secrets never are. Remove the setting, or \
         the secret (`keep rm {secret}`)",
        setting.table()
    ))
}

/// The view of `scope` with values, or `only` those names (in that order; a name the view lacks is
/// a not-found error, exit 3). The records the view hands out (`View::read`) are recorded as read;
/// a shadowed ancestor's secret is not.
pub fn resolve(
    reader: &Reader<'_>,
    config: Option<&Config>,
    scope: &Scope,
    only: &[Name],
) -> Result<View> {
    let view = view_of(reader.vault(), config, scope, only)?;
    reader.mark(view.items.iter().filter_map(|i| i.address.as_ref()));
    Ok(view)
}

fn view_of(vault: &Vault, config: Option<&Config>, scope: &Scope, only: &[Name]) -> Result<View> {
    let chain = chain(config, scope)?;
    let mut found: BTreeMap<Name, Item> = BTreeMap::new();
    for (depth, s) in chain.iter().enumerate() {
        for (address, value) in vault.peek_values(s)? {
            if !only.is_empty() && !only.contains(&address.name) {
                continue;
            }
            found.entry(address.name.clone()).or_insert_with(|| Item {
                name: address.name.clone(),
                origin: origin(depth, s),
                address: Some(address),
                value,
            });
        }
    }
    for (name, setting) in settings(config, scope)? {
        if let Some(secret) = found.get(&name) {
            return Err(conflict(&name, &setting, secret.address.as_ref()));
        }
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        found.insert(
            name.clone(),
            Item {
                name,
                origin: Origin::Setting(setting.table()),
                address: None,
                value: SecretValue::from(setting.value.as_str()),
            },
        );
    }
    if only.is_empty() {
        return Ok(View {
            items: found.into_values().collect(),
        });
    }
    let mut items = Vec::with_capacity(only.len());
    for name in only {
        match found.remove(name) {
            Some(item) => items.push(item),
            None => {
                return Err(Error::NotFound(format!(
                    "no secret {}; `keep ls --all-envs` lists the names of every environment",
                    scope.address(name.clone())
                )))
            }
        }
    }
    Ok(View { items })
}

/// One `keep://` reference as its environment sees it (a template placeholder, an env file entry): a
/// setting of that environment, its own secret, else an inherited one. Returns the value and the
/// record read (`None` for a setting), which is recorded.
pub fn lookup(
    reader: &Reader<'_>,
    config: Option<&Config>,
    address: &Address,
) -> Result<(SecretValue, Option<Address>)> {
    let found = find(reader.vault(), config, address)?;
    if let Some(record) = &found.1 {
        reader.mark([record]);
    }
    Ok(found)
}

/// [`lookup`], unrecorded: whether and where a reference resolves (a hint after a failed read).
pub(crate) fn find(
    vault: &Vault,
    config: Option<&Config>,
    address: &Address,
) -> Result<(SecretValue, Option<Address>)> {
    if let Some(setting) = settings(config, &address.scope)?.get(&address.name) {
        // The conflict rule holds here too.
        for s in chain(config, &address.scope)? {
            let at = s.address(address.name.clone());
            if vault.contains(&at)? {
                return Err(conflict(&address.name, setting, Some(&at)));
            }
        }
        return Ok((SecretValue::from(setting.value.as_str()), None));
    }
    let mut first_error = None;
    for s in chain(config, &address.scope)? {
        let at = s.address(address.name.clone());
        match vault.peek(&at) {
            Ok(v) => return Ok((v, Some(at))),
            Err(e @ Error::NotFound(_)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(first_error.unwrap_or_else(|| Error::NotFound(format!("no secret {address}"))))
}
