//! What every command needs to know before it starts: where the vault is, which `keep.toml` applies,
//! and which scope names refer to.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::args::GlobalArgs;
use super::suggest;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::scope::{Address, Name, Scope};
use crate::vault::{default_vault_path, Entry, Reader, Vault};

/// Resolved global settings.
#[derive(Debug)]
pub struct Context {
    pub vault_path: PathBuf,
    pub config: Option<Config>,
    pub scope: Scope,
    /// The scope a command typed without `--project`/`--env` gets: what hints must not assume.
    pub default_scope: Scope,
    pub json: bool,
    pub verbose: bool,
    /// The subcommand path (`get`, `slot add age`), which the audit entries name; never arguments.
    pub command: String,
    /// `--identity`: an age identity file that opens an age slot, before `KEEP_AGE_IDENTITY`.
    pub identity: Option<PathBuf>,
}

impl Context {
    pub fn new(g: GlobalArgs, command: String) -> Result<Context> {
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
        let from_env = |var: &str| std::env::var(var).ok().filter(|v| !v.is_empty());
        let default_scope = Scope::new(
            &from_env("KEEP_PROJECT")
                .or_else(|| from_config(|c| c.project.as_ref()))
                .unwrap_or_else(|| Scope::DEFAULT_PROJECT.to_string()),
            &from_env("KEEP_ENV")
                .or_else(|| from_config(|c| c.default_env.as_ref()))
                .unwrap_or_else(|| Scope::DEFAULT_ENV.to_string()),
        )
        .unwrap_or_else(|_| scope.clone());
        let vault_path = match g.vault {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => default_vault_path()?,
        };
        Ok(Context {
            vault_path,
            config,
            scope,
            default_scope,
            json: g.json,
            verbose: g.verbose,
            command,
            identity: g.identity,
        })
    }

    /// A command to suggest, acting on `scope`: `keep --env prod rollback X --to 1` when `scope` is not
    /// the one the same command typed without flags would get, else `keep rollback X --to 1`. Every
    /// hint that names a command is built here, so a hint never acts on another scope's secret.
    pub fn command(&self, scope: &Scope, rest: &str) -> String {
        let mut flags = String::new();
        if scope.project() != self.default_scope.project() {
            flags.push_str(&format!(" --project {}", scope.project()));
        }
        if scope.env() != self.default_scope.env() {
            flags.push_str(&format!(" --env {}", scope.env()));
        }
        format!("`keep{flags} {rest}`")
    }

    /// Rotation's section of `keep.toml` (the default without one).
    pub fn rotation(&self) -> crate::rotate::Settings {
        self.config
            .as_ref()
            .map(crate::config::Config::rotation)
            .unwrap_or_default()
    }

    /// Parse a `NAME` or `keep://` address in the current scope.
    pub fn address(&self, text: &str) -> Result<Address> {
        Address::parse(text, &self.scope)
    }

    /// Open and unlock the vault.
    pub fn open(&self) -> Result<Vault> {
        self.opener().open()
    }

    /// An opener for this command's vault: its entries name the command, and `--identity` may
    /// open an age slot.
    pub fn opener(&self) -> crate::vault::Opener<'static> {
        Vault::opener(&self.vault_path)
            .command(&self.command)
            .identity(self.identity.as_deref())
    }

    /// For a command that read the current scope and found nothing in it: fine when the scope is
    /// one the user can expect to be empty (the default, or declared in keep.toml), else a mistyped
    /// `--env`/`--project`: exit 3, naming the ones that hold secrets. Cheap when it matters: only
    /// called once a command has found nothing.
    pub fn check_empty_scope(&self, vault: &Vault) -> Result<()> {
        self.check_scope(&vault.list(None, true)?, &self.scope)
    }

    /// The current scope's view (its settings, own and inherited secrets, `crate::using::layers`), or
    /// `only` those names, for `exec`, `env` and `materialize`: a missing name gets its hint
    /// ([`Context::hint_missing`]), and an empty result is checked for a mistyped scope
    /// ([`Context::check_empty_scope`]) unless `may_be_empty` (values come from elsewhere).
    pub fn resolve(
        &self,
        reader: &Reader<'_>,
        only: &[Name],
        may_be_empty: bool,
    ) -> Result<crate::using::layers::View> {
        let vault = reader.vault();
        let view =
            match crate::using::layers::resolve(reader, self.config.as_ref(), &self.scope, only) {
                Err(Error::NotFound(message)) => {
                    // Which name was it? The first that does not read; hint about that one.
                    let missing = only
                        .iter()
                        .map(|n| self.scope.address(n.clone()))
                        .find(|a| {
                            matches!(
                                crate::using::layers::find(vault, self.config.as_ref(), a),
                                Err(Error::NotFound(_))
                            )
                        });
                    return match missing {
                        Some(address) => {
                            self.hint_missing(vault, &address, Err(Error::NotFound(message)))
                        }
                        None => Err(Error::NotFound(message)),
                    };
                }
                other => other?,
            };
        if view.is_empty() && !may_be_empty {
            self.check_empty_scope(vault)?;
        }
        Ok(view)
    }

    /// `all`: every secret of the vault, deleted ones included (`Vault::list(None, true)`).
    fn check_scope(&self, all: &[Entry], scope: &Scope) -> Result<()> {
        let (project, env) = (scope.project(), scope.env());
        let config_project = self.config.as_ref().and_then(|c| c.project.as_deref());
        let project_declared = project == config_project.unwrap_or(Scope::DEFAULT_PROJECT);
        let in_project: Vec<_> = all
            .iter()
            .filter(|e| e.address.scope.project() == project)
            .collect();
        if in_project.is_empty() && !project_declared {
            let projects: BTreeSet<&str> = all.iter().map(|e| e.address.scope.project()).collect();
            return Err(Error::NotFound(format!(
                "project {project:?} has no secrets{}; projects with secrets: {}{}",
                self.undeclared(),
                list_or_none(&projects),
                did_you_mean(project, &projects)
            )));
        }
        if in_project.iter().any(|e| e.address.scope.env() == env) || self.env_declared(env) {
            return Ok(());
        }
        let envs: BTreeSet<&str> = in_project.iter().map(|e| e.address.scope.env()).collect();
        Err(Error::NotFound(format!(
            "environment {env:?} of project {project:?} has no secrets{}; environments with \
             secrets: {}{}. (`keep --env {env} set NAME` starts it.)",
            self.undeclared(),
            list_or_none(&envs),
            did_you_mean(env, &envs)
        )))
    }

    /// Whether `env` is the default environment or one keep.toml names (`[env.E]`, an `extends`, a
    /// sync target's `env`).
    fn env_declared(&self, env: &str) -> bool {
        let Some(c) = &self.config else {
            return env == Scope::DEFAULT_ENV;
        };
        env == c.default_env.as_deref().unwrap_or(Scope::DEFAULT_ENV)
            || c.env.contains_key(env)
            || c.env.values().any(|e| e.extends.as_deref() == Some(env))
            || c.sync.values().any(|t| t.env.as_deref() == Some(env))
    }

    fn undeclared(&self) -> String {
        match self.config.as_ref().and_then(|c| c.path.as_deref()) {
            Some(path) => format!(" and {} does not declare it", path.display()),
            None => " and there is no keep.toml declaring it".into(),
        }
    }

    /// `result`, with a hint added to a "not found" for `address`: the closest name in the scope
    /// ("did you mean DATABASE_URL"), else the other environments that have the name.
    pub fn hint_missing<T>(
        &self,
        vault: &Vault,
        address: &Address,
        result: Result<T>,
    ) -> Result<T> {
        match result {
            Err(Error::NotFound(message)) => {
                // One listing serves the scope check and the name hint.
                let all = vault.list(None, true)?;
                self.check_scope(&all, &address.scope)?;
                // The hint goes right after what was not found, before the advice.
                let hint = name_hint(&all, address);
                Err(Error::NotFound(match message.split_once("; ") {
                    Some((what, advice)) => format!("{what}{hint}; {advice}"),
                    None => message + &hint,
                }))
            }
            other => other,
        }
    }
}

/// The closest name in `address`'s scope ("did you mean DATABASE_URL"), else the other
/// environments of its project that have the name; empty when neither helps.
fn name_hint(all: &[Entry], address: &Address) -> String {
    let name = address.name.as_str();
    let here: Vec<&str> = all
        .iter()
        .filter(|e| e.address.scope == address.scope)
        .map(|e| e.address.name.as_str())
        .collect();
    if here.contains(&name) {
        // It exists (perhaps deleted, or that version does not): the message already says so.
        return String::new();
    }
    if let Some(near) = suggest::closest(name, here.iter().copied()) {
        return format!(" (did you mean {near}?)");
    }
    let elsewhere: Vec<String> = all
        .iter()
        .filter(|e| {
            !e.deleted
                && e.address.name.as_str() == name
                && e.address.scope.project() == address.scope.project()
        })
        .map(|e| e.address.to_string())
        .collect();
    match elsewhere.as_slice() {
        [] => String::new(),
        some => format!(" (it exists as {})", some.join(", ")),
    }
}

fn list_or_none(words: &BTreeSet<&str>) -> String {
    if words.is_empty() {
        "none yet".into()
    } else {
        words.iter().copied().collect::<Vec<_>>().join(", ")
    }
}

fn did_you_mean(word: &str, candidates: &BTreeSet<&str>) -> String {
    suggest::closest(word, candidates.iter().copied())
        .map(|c| format!(" (did you mean {c}?)"))
        .unwrap_or_default()
}
