//! `keep.toml`: the project file, found by walking up from the working directory.
//!
//! ```toml
//! project = "billing"
//! default_env = "dev"
//!
//! [env.dev]
//! required = ["DATABASE_URL", "STRIPE_KEY"]
//!
//! [secrets.DATABASE_URL]
//! description = "Postgres connection string"
//! ```
//!
//! Unknown keys are rejected, so a typo never silently does nothing. Errors quote the file's line
//! number but never its text, in case a value was pasted into the file by mistake.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::scope::{Name, Scope};

/// The file name looked for.
pub const FILE_NAME: &str = "keep.toml";

/// A parsed `keep.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The project this folder belongs to.
    pub project: Option<String>,
    /// The environment used when none is given.
    pub default_env: Option<String>,
    /// Per-environment settings.
    #[serde(default)]
    pub env: BTreeMap<String, EnvConfig>,
    /// Per-secret settings.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretConfig>,
    /// Sync targets (`[sync.NAME]`, see `crate::sync::target`).
    #[serde(default)]
    pub sync: BTreeMap<String, crate::sync::target::TargetConfig>,
    /// Where the file was read from (not part of the file).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// Settings of one environment.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    /// Names that must exist in this environment (`keep check`).
    #[serde(default)]
    pub required: Vec<String>,
}

/// Settings of one secret name, shared by all environments.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    /// A human description, used as the comment in `.env.example`.
    pub description: Option<String>,
}

impl Config {
    /// Find `keep.toml` in `start` or its ancestors.
    pub fn discover(start: &Path) -> Result<Option<Config>> {
        for dir in start.ancestors() {
            let candidate = dir.join(FILE_NAME);
            if candidate.is_file() {
                return Config::load(&candidate).map(Some);
            }
        }
        Ok(None)
    }

    /// Read and validate a given file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound(format!("config file {} does not exist", path.display()))
            } else {
                Error::io("read", path, e)
            }
        })?;
        let mut config = Config::parse(&text).map_err(|e| match e {
            Error::Usage(msg) => Error::Usage(format!("{}: {msg}", path.display())),
            other => other,
        })?;
        config.path = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parse and validate file content.
    pub fn parse(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
            Error::Usage(format!(
                "{at}{} (see README.md, \"keep.toml\")",
                e.message()
            ))
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let project = self.project.as_deref().unwrap_or(Scope::DEFAULT_PROJECT);
        Scope::new(
            project,
            self.default_env.as_deref().unwrap_or(Scope::DEFAULT_ENV),
        )?;
        for (env, settings) in &self.env {
            Scope::new(project, env)?;
            for name in &settings.required {
                Name::new(name)?;
            }
        }
        for name in self.secrets.keys() {
            Name::new(name)?;
        }
        Ok(())
    }

    /// The names required in `env`.
    pub fn required(&self, env: &str) -> Vec<Name> {
        self.env
            .get(env)
            .map(|e| {
                e.required
                    .iter()
                    .filter_map(|n| Name::new(n).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let c = Config::parse(
            "project = \"billing\"\ndefault_env = \"dev\"\n[env.dev]\nrequired = [\"DB_URL\"]\n\
             [secrets.DB_URL]\ndescription = \"db\"\n",
        )
        .unwrap();
        assert_eq!(c.project.as_deref(), Some("billing"));
        assert_eq!(c.required("dev"), vec![Name::new("DB_URL").unwrap()]);
        assert!(c.required("prod").is_empty());
    }

    #[test]
    fn unknown_keys_are_rejected_with_a_line_and_without_the_text() {
        let err = Config::parse("project = \"p\"\n\npassword = \"hunter2\"\n").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Usage(_)));
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("password"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn bad_names_are_rejected() {
        assert!(Config::parse("[env.dev]\nrequired = [\"1BAD\"]\n").is_err());
        assert!(Config::parse("project = \"a/b\"\n").is_err());
    }
}
