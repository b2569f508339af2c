//! Using secrets: everything that moves values out of the vault into the places programs read them
//! from — a child's environment (`exec`), rendered text (`env`), files (`materialize`, `inject`) — and
//! back in (`import`), plus the checks and typed settings applications build on.
//!
//! Each concept has its own small file. The CLI (`src/cli/using.rs`, `src/cli/files.rs`) only turns
//! arguments into calls to these functions and prints their results.

pub mod atomic;
pub mod check;
pub mod child;
pub mod dotenv;
pub mod encodings;
pub mod example;
pub mod exec;
pub mod formats;
pub mod git;
pub mod import;
pub mod layers;
pub mod loader;
pub mod materialize;
pub mod redact;
pub mod reference;
pub mod settings;
pub mod template;

use crate::error::{Error, Result};
use crate::scope::{Name, Scope};
use crate::value::SecretValue;
use crate::vault::Vault;

/// A secret's name and value, as injected into an environment or rendered into a file.
pub type Pair = (Name, SecretValue);

/// The current values of a scope, optionally limited to `only` (in the given order). A name in `only`
/// that has no value is a not-found error (exit 3), so nothing is started or written half-resolved.
/// One recorded read: the audit log names every value returned.
pub fn resolve(vault: &mut Vault, scope: &Scope, only: &[Name]) -> Result<Vec<Pair>> {
    vault.read(|r| {
        if only.is_empty() {
            return Ok(r
                .values(scope)?
                .into_iter()
                .map(|(address, value)| (address.name, value))
                .collect());
        }
        only.iter()
            .map(|name| {
                let value = r.get(&scope.address(name.clone()))?;
                Ok((name.clone(), value))
            })
            .collect()
    })
}

/// Parse a comma-separated `--only A,B` list into names (usage error on a bad name).
pub fn parse_names(list: &[String]) -> Result<Vec<Name>> {
    let mut out = Vec::new();
    for item in list.iter().flat_map(|s| s.split(',')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let name = Name::new(item)?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    if out.is_empty() && !list.is_empty() {
        return Err(Error::Usage("--only needs at least one name".into()));
    }
    Ok(out)
}
