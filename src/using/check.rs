//! `keep check`: are all the names an environment needs present in the vault?
//!
//! The required names come from `keep.toml` (`[env.NAME] required = [...]`); a project without that
//! list can use its `.env.example` instead, whose names (values ignored) are then required.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::scope::Name;

/// The file name of the example env file.
pub const EXAMPLE_FILE: &str = ".env.example";

/// Where the required names came from, and the names.
#[derive(Debug)]
pub struct Required {
    pub source: PathBuf,
    pub names: Vec<Name>,
}

/// The folder keep treats as the project root: the one holding `keep.toml`, else `cwd`.
pub fn project_dir(config: Option<&Config>, cwd: &Path) -> PathBuf {
    config
        .and_then(|c| c.path.as_deref())
        .map(|p| super::atomic::parent(p).to_path_buf())
        .unwrap_or_else(|| cwd.to_path_buf())
}

/// The names required in `env`: from `keep.toml` when it lists some, else from `.env.example` in the
/// project folder. A usage error when neither says anything.
pub fn required(config: Option<&Config>, env: &str, cwd: &Path) -> Result<Required> {
    if let Some(c) = config {
        let names = c.required(env);
        if !names.is_empty() {
            return Ok(Required {
                source: c.path.clone().unwrap_or_else(|| PathBuf::from("keep.toml")),
                names,
            });
        }
    }
    let example = project_dir(config, cwd).join(EXAMPLE_FILE);
    match std::fs::read_to_string(&example) {
        Ok(text) => {
            let origin = example.display().to_string();
            let names = super::reference::parse(&text, &origin)?
                .iter()
                .map(|e| e.name().clone())
                .collect();
            Ok(Required {
                source: example,
                names,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Usage(format!(
            "nothing to check for environment {env:?}: add `[env.{env}] required = [...]` to \
             keep.toml, or write {EXAMPLE_FILE} (`keep example` does)"
        ))),
        Err(e) => Err(Error::io("read", &example, e)),
    }
}

/// The required names not in `present` (the names the environment sees: its settings, own and
/// inherited secrets, `super::layers::names`), in the order required.
pub fn missing(present: &[Name], required: &[Name]) -> Vec<Name> {
    required
        .iter()
        .filter(|n| !present.contains(n))
        .cloned()
        .collect()
}
