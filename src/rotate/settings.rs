//! What rotation reads of `keep.toml`, and nothing else: the rotation keys of `[secrets.NAME]`
//! (`max_age`, `generator`, `on_rotate`), `[env.E] on_rotate`, `[rotate] hook_timeout`, and the
//! folder the file is in (hooks run there). `Config::rotation` builds it once from the parsed file;
//! rotation never sees the rest of the file. Without a `keep.toml`, [`Settings::default`]: no rules,
//! no hooks, the default time limit.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::generator::Generator;
use crate::scope::{Address, Scope};

/// Rotation's section of `keep.toml`.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The project the file belongs to: its rules apply to that project's secrets only.
    pub project: String,
    /// `[secrets.NAME]`'s rotation keys, by name.
    pub secrets: BTreeMap<String, SecretRules>,
    /// `[env.E] on_rotate`, by environment.
    pub env_hooks: BTreeMap<String, Vec<String>>,
    /// How long one hook may run (`[rotate] hook_timeout`, else [`super::hooks::DEFAULT_TIMEOUT`]).
    pub hook_timeout: Duration,
    /// The folder hooks run in: the one `keep.toml` is in.
    pub dir: Option<PathBuf>,
}

/// The rotation keys of one `[secrets.NAME]` table.
#[derive(Clone, Debug, Default)]
pub struct SecretRules {
    pub max_age: Option<Duration>,
    pub generator: Option<Generator>,
    pub on_rotate: Vec<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            project: Scope::DEFAULT_PROJECT.to_string(),
            secrets: BTreeMap::new(),
            env_hooks: BTreeMap::new(),
            hook_timeout: super::hooks::DEFAULT_TIMEOUT,
            dir: None,
        }
    }
}

impl Settings {
    /// The rules of `address`'s name, when the file belongs to its project.
    pub fn secret(&self, address: &Address) -> Option<&SecretRules> {
        if self.project != address.scope.project() {
            return None;
        }
        self.secrets.get(address.name.as_str())
    }

    /// The hooks of a secret: its own, then its environment's, when the file belongs to its project.
    pub fn hooks(&self, address: &Address) -> Vec<String> {
        if self.project != address.scope.project() {
            return Vec::new();
        }
        let own = self.secrets.get(address.name.as_str());
        let env = self.env_hooks.get(address.scope.env());
        own.map(|s| &s.on_rotate)
            .into_iter()
            .chain(env)
            .flatten()
            .cloned()
            .collect()
    }
}
