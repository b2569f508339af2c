//! What every command needs to know before it starts: where the vault is, which `keep.toml` applies,
//! and which scope names refer to.

use std::path::PathBuf;

use super::args::GlobalArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::scope::{Address, Scope};
use crate::vault::{default_vault_path, Vault};

/// Resolved global settings.
#[derive(Debug)]
pub struct Context {
    pub vault_path: PathBuf,
    pub config: Option<Config>,
    pub scope: Scope,
    pub json: bool,
    pub verbose: bool,
}

impl Context {
    pub fn new(g: GlobalArgs) -> Result<Context> {
        let config = match &g.config {
            Some(path) => Some(Config::load(path)?),
            None => {
                let cwd = std::env::current_dir().map_err(|e| Error::Io {
                    context: "cannot read the working directory".into(),
                    source: e,
                })?;
                Config::discover(&cwd)?
            }
        };
        let from_config = |f: fn(&Config) -> Option<&String>| config.as_ref().and_then(f).cloned();
        let project = g
            .project
            .or_else(|| from_config(|c| c.project.as_ref()))
            .unwrap_or_else(|| Scope::DEFAULT_PROJECT.to_string());
        let env = g
            .env
            .or_else(|| from_config(|c| c.default_env.as_ref()))
            .unwrap_or_else(|| Scope::DEFAULT_ENV.to_string());
        let scope = Scope::new(&project, &env)?;
        if let Some(identity) = &g.identity {
            crate::session::set_age_identity(identity);
        }
        let vault_path = match g.vault {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => default_vault_path()?,
        };
        Ok(Context {
            vault_path,
            config,
            scope,
            json: g.json,
            verbose: g.verbose,
        })
    }

    /// Parse a `NAME` or `keep://` address in the current scope.
    pub fn address(&self, text: &str) -> Result<Address> {
        Address::parse(text, &self.scope)
    }

    /// Open and unlock the vault.
    pub fn open(&self) -> Result<Vault> {
        Vault::open(&self.vault_path)
    }
}
