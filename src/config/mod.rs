//! `keep.toml`: the project file, found by walking up from the working directory.
//!
//! ```toml
//! project = "billing"
//! default_env = "dev"
//!
//! [vars]                               # settings that are not secret (crate::using::layers)
//! LOG_LEVEL = "info"
//!
//! [env.dev]
//! required = ["DATABASE_URL", "STRIPE_KEY"]
//!
//! [env.dev.vars]
//! PORT = "3000"
//!
//! [env.staging]
//! extends = "dev"                      # a name staging lacks is read from dev (a cycle is exit 2)
//!
//! [secrets.DATABASE_URL]
//! description = "Postgres connection string"
//!
//! # Rotation and audit (README, "Rotation, audit and lint")
//! [secrets.API_TOKEN]
//! max_age = "30d"                      # rotation policy; `keep policy set` overrides it per scope
//! generator = "token:32"
//! on_rotate = ["./scripts/push-token.sh"]   # run with KEEP_OLD / KEEP_NEW in its environment
//!
//! [env.prod]
//! sensitive = true                     # `keep audit --unusual` flags every read
//! on_rotate = ["systemctl reload app"]
//!
//! [audit]
//! burst_reads = 20                     # more distinct secrets read per burst_window is unusual
//! burst_window = "1m"
//! failed_unlocks = 3                   # this many failed unlocks within failed_unlock_window
//! failed_unlock_window = "10m"
//! new_user_host = true
//!
//! [rotate]
//! hook_timeout = "5m"                  # an on_rotate hook running longer is stopped; rotation stays pending
//!
//! [secrets.LD_LIBRARY_PATH]
//! allow_loader = true                  # a loader/interpreter variable this project means to store
//! ```
//!
//! Unknown keys are rejected, so a typo never silently does nothing. Errors quote the file's line
//! number but never its text, in case a value was pasted into the file by mistake.

pub mod sync;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// Settings that are not secret, for every environment (`[vars]`): committed here, never stored
    /// in the vault (`crate::using::layers`).
    #[serde(default)]
    pub vars: BTreeMap<Name, String>,
    /// Per-environment settings.
    #[serde(default)]
    pub env: BTreeMap<String, EnvConfig>,
    /// Per-secret settings.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretConfig>,
    /// Thresholds of `keep audit --unusual`.
    #[serde(default)]
    pub audit: AuditConfig,
    /// Rotation settings shared by every secret.
    #[serde(default)]
    pub rotate: RotateConfig,
    /// Sync targets (`[sync.NAME]`, see `crate::sync::target`).
    #[serde(default)]
    pub sync: BTreeMap<String, sync::TargetConfig>,
    /// Where the file was read from (not part of the file).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// Settings of one environment.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    /// The environment a name this one lacks is read from (a chain is allowed, a cycle is an error).
    pub extends: Option<String>,
    /// This environment's own settings (`[env.E.vars]`): they win over inherited ones and `[vars]`.
    #[serde(default)]
    pub vars: BTreeMap<Name, String>,
    /// Names that must exist in this environment (`keep check`).
    #[serde(default)]
    pub required: Vec<Name>,
    /// Reads of this environment are flagged by `keep audit --unusual`.
    #[serde(default)]
    pub sensitive: bool,
    /// Commands run after any secret of this environment is rotated (after the secret's own).
    #[serde(default, deserialize_with = "one_or_many")]
    pub on_rotate: Vec<String>,
}

/// Settings of one secret name, shared by all environments.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    /// A human description, used as the comment in `.env.example`.
    pub description: Option<String>,
    /// Rotation policy: the longest a value may live, e.g. `30d` (parsed when the file is read).
    #[serde(default, deserialize_with = "max_age")]
    pub max_age: Option<Duration>,
    /// How `keep rotate` makes a new value, e.g. `token:32` (README lists the generators); parsed
    /// when the file is read, so a bad spec fails the file with its line.
    pub generator: Option<crate::rotate::Generator>,
    /// Commands run when this secret is rotated, with KEEP_OLD / KEEP_NEW in their environment.
    #[serde(default, deserialize_with = "one_or_many")]
    pub on_rotate: Vec<String>,
    /// This name is a loader or interpreter variable (`LD_PRELOAD`, `NODE_OPTIONS`, ...) that the
    /// project really means to store and inject (`crate::using::loader`).
    #[serde(default)]
    pub allow_loader: bool,
}

/// Thresholds of `keep audit --unusual` (defaults in `audit::unusual::Rules`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Reading more distinct secrets than this within `burst_window` is a burst.
    pub burst_reads: Option<usize>,
    #[serde(default, deserialize_with = "burst_window")]
    pub burst_window: Option<Duration>,
    /// This many failed unlocks within `failed_unlock_window` are flagged.
    pub failed_unlocks: Option<usize>,
    #[serde(default, deserialize_with = "failed_unlock_window")]
    pub failed_unlock_window: Option<Duration>,
    /// Flag the first entry of a user or host not seen before.
    pub new_user_host: Option<bool>,
}

/// `[rotate]`: settings of `keep rotate` that apply to every secret.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateConfig {
    /// How long one `on_rotate` hook may run before keep stops it and leaves the rotation pending
    /// (default `crate::rotate::hooks::DEFAULT_TIMEOUT`). A bad value fails the file (exit 2).
    #[serde(default, deserialize_with = "hook_timeout")]
    pub hook_timeout: Option<Duration>,
}

impl Config {
    /// Rotation's section of the file (`crate::rotate::Settings`): what `keep rotate`, `status`
    /// and `lint` read, and nothing else.
    pub fn rotation(&self) -> crate::rotate::Settings {
        use crate::rotate::{SecretRules, Settings};
        Settings {
            project: self.project_name().to_string(),
            secrets: self
                .secrets
                .iter()
                .map(|(name, s)| {
                    let rules = SecretRules {
                        max_age: s.max_age,
                        generator: s.generator.clone(),
                        on_rotate: s.on_rotate.clone(),
                    };
                    (name.clone(), rules)
                })
                .collect(),
            env_hooks: self
                .env
                .iter()
                .filter(|(_, e)| !e.on_rotate.is_empty())
                .map(|(env, e)| (env.clone(), e.on_rotate.clone()))
                .collect(),
            hook_timeout: self
                .rotate
                .hook_timeout
                .unwrap_or(crate::rotate::hooks::DEFAULT_TIMEOUT),
            dir: self
                .path
                .as_deref()
                .and_then(Path::parent)
                .map(Path::to_path_buf),
        }
    }

    /// The project the file belongs to (`project = ...`, else the default project).
    pub fn project_name(&self) -> &str {
        self.project.as_deref().unwrap_or(Scope::DEFAULT_PROJECT)
    }
}

/// Deserializers of the duration keys: each parses once, when the file is read, and names its key
/// in the error (the line number comes from the TOML parser; the value is masked by `hide_values`).
macro_rules! duration_key {
    ($($f:ident => $key:literal),* $(,)?) => {$(
        fn $f<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Duration>, D::Error> {
            let text = String::deserialize(d)?;
            parse_duration($key, &text).map(Some).map_err(|e| match e {
                Error::Usage(m) => serde::de::Error::custom(m),
                other => serde::de::Error::custom(other.to_string()),
            })
        }
    )*};
}

duration_key! {
    max_age => "max_age",
    burst_window => "[audit] burst_window",
    failed_unlock_window => "[audit] failed_unlock_window",
    hook_timeout => "[rotate] hook_timeout",
}

/// A setting as an environment sees it: its value and the table it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub value: String,
    /// `None` for `[vars]`, else the environment whose `[env.E.vars]` set it.
    pub from: Option<String>,
}

impl Setting {
    /// The keep.toml table this setting is written in, for messages.
    pub fn table(&self) -> String {
        match &self.from {
            None => "[vars]".into(),
            Some(e) => format!("[env.{e}.vars]"),
        }
    }
}

/// Prefix a validation error with the key it is about.
fn in_key(key: &str, e: Error) -> Error {
    match e {
        Error::Usage(m) => Error::Usage(format!("{key}: {m}")),
        other => other,
    }
}

/// A hook list may be written as one string or a list of strings.
fn one_or_many<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Hooks {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Hooks::deserialize(d)? {
        Hooks::One(s) => vec![s],
        Hooks::Many(v) => v,
    })
}

/// Parse a duration of keep.toml or a flag (`30d`, `1m`), naming the key in the error.
pub fn parse_duration(what: &str, text: &str) -> Result<Duration> {
    let d = humantime::parse_duration(text).map_err(|e| {
        Error::Usage(format!(
            "invalid {what} {text:?}: {e} (use e.g. 90d, 12h, 1m)"
        ))
    })?;
    if d.is_zero() {
        return Err(Error::Usage(format!("{what} must be longer than zero")));
    }
    Ok(d)
}

/// How a `keep.toml` was chosen, which decides how far it is trusted (see [`check_owner`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// Found by walking up from the working directory: it must be the user's (or root's) and not
    /// writable by group or others.
    Discovered,
    /// Named with `--config`: the user chose it, so another owner is accepted, but a file that
    /// group or others can write is still refused (anyone could have changed it since it was read).
    Explicit,
}

/// The name of a user id, for messages.
fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: a zeroed passwd is a valid out-parameter; getpwuid_r writes into it and `buf` only,
    // and `result` is non-null only when `pw` was filled in.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut result = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc != 0 || result.is_null() || pw.pw_name.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr(pw.pw_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// Whether a keep.toml with this owner and mode may be used. A keep.toml decides which hooks run
/// with new secret values, where `push` sends them and which loader variables are allowed, so one
/// that someone else wrote (another user's file above the working directory, e.g. in a 1777 folder),
/// or could rewrite, is refused like git's "dubious ownership".
pub fn check_owner(path: &Path, uid: u32, mode: u32, trust: Trust) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let who = |u: u32| match user_name(u) {
        Some(n) => format!("uid {u} ({n})"),
        None => format!("uid {u}"),
    };
    if trust == Trust::Discovered && uid != me && uid != 0 {
        return Err(Error::Usage(format!(
            "refusing {}: it is owned by {}, not by you ({}) or root, so another user could steer \
             this project (its hooks, sync targets and allowed variables). If you trust it, name it \
             with --config {}, or take it over (copy it, or chown it)",
            path.display(),
            who(uid),
            who(me),
            path.display()
        )));
    }
    if mode & 0o022 != 0 {
        return Err(Error::Usage(format!(
            "refusing {}: it is writable by {} (mode {:04o}, owner {}), so someone else could change \
             what it says; run `chmod go-w {}` if its content is yours",
            path.display(),
            match (mode & 0o020 != 0, mode & 0o002 != 0) {
                (true, true) => "group and others",
                (true, false) => "its group",
                _ => "others",
            },
            mode & 0o7777,
            who(uid),
            path.display()
        )));
    }
    Ok(())
}

impl Config {
    /// Find `keep.toml` in `start` or its ancestors. The first one found must pass [`check_owner`]
    /// (exit 2 otherwise, naming the file and its owner): the walk does not skip it for one further up.
    pub fn discover(start: &Path) -> Result<Option<Config>> {
        for dir in start.ancestors() {
            let candidate = dir.join(FILE_NAME);
            if candidate.is_file() {
                return Config::load_as(&candidate, Trust::Discovered).map(Some);
            }
        }
        Ok(None)
    }

    /// Read and validate a file named with `--config`.
    pub fn load(path: &Path) -> Result<Config> {
        Config::load_as(path, Trust::Explicit)
    }

    /// Read and validate a file, checking its owner and mode on the open file (so the file checked is
    /// the file read).
    pub fn load_as(path: &Path, trust: Trust) -> Result<Config> {
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        let not_found = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound(format!("config file {} does not exist", path.display()))
            } else {
                Error::io("read", path, e)
            }
        };
        let mut file = std::fs::File::open(path).map_err(not_found)?;
        let meta = file.metadata().map_err(|e| Error::io("read", path, e))?;
        check_owner(path, meta.uid(), meta.mode(), trust)?;
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(not_found)?;
        let mut config = Config::parse(&text).map_err(|e| match e {
            Error::Usage(msg) => Error::Usage(format!("{}: {msg}", path.display())),
            other => other,
        })?;
        config.path = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parse and validate file content.
    pub fn parse(text: &str) -> Result<Config> {
        Config::parse_unmasked(text).map_err(|e| match e {
            Error::Usage(message) => Error::Usage(hide_values(&message, text)),
            other => other,
        })
    }

    fn parse_unmasked(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| {
                memchr::memchr_iter(b'\n', &text.as_bytes()[..s.start.min(text.len())]).count() + 1
            });
            let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
            Error::Usage(format!(
                "{at}{} (see README.md, \"keep.toml reference\")",
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
            if let Some(base) = &settings.extends {
                Scope::new(project, base)
                    .map_err(|e| in_key(&format!("[env.{env}] extends"), e))?;
            }
            self.chain(env)?;
        }
        for name in self.secrets.keys() {
            Name::new(name)?;
        }
        Ok(())
    }

    /// `env` and the environments it extends, nearest first: `["prod", "shared"]`. A cycle is a usage
    /// error (exit 2) naming it: `prod -> shared -> prod`. An environment may extend one that keep.toml
    /// does not declare (it ends the chain).
    pub fn chain(&self, env: &str) -> Result<Vec<String>> {
        let mut chain = vec![env.to_string()];
        let mut at = env;
        while let Some(base) = self.env.get(at).and_then(|e| e.extends.as_deref()) {
            if let Some(i) = chain.iter().position(|e| e == base) {
                let mut cycle: Vec<&str> = chain[i..].iter().map(String::as_str).collect();
                cycle.push(base);
                return Err(Error::Usage(format!(
                    "[env.{at}] extends makes a cycle: {} (an environment cannot inherit from itself)",
                    cycle.join(" -> ")
                )));
            }
            chain.push(base.to_string());
            at = base;
        }
        Ok(chain)
    }

    /// The settings `env` sees: `[vars]`, then each environment of its chain from the farthest to
    /// itself (the nearest wins), with where each came from.
    pub fn settings(&self, env: &str) -> Result<BTreeMap<Name, Setting>> {
        let mut out = BTreeMap::new();
        for (name, value) in &self.vars {
            out.insert(
                name.clone(),
                Setting {
                    value: value.clone(),
                    from: None,
                },
            );
        }
        for e in self.chain(env)?.iter().rev() {
            for (name, value) in self.env.get(e).map(|c| &c.vars).into_iter().flatten() {
                out.insert(
                    name.clone(),
                    Setting {
                        value: value.clone(),
                        from: Some(e.clone()),
                    },
                );
            }
        }
        Ok(out)
    }

    /// The names required in `env`.
    pub fn required(&self, env: &str) -> Vec<Name> {
        self.env
            .get(env)
            .map(|e| e.required.clone())
            .unwrap_or_default()
    }
}

/// Mask every string value of the file quoted in `message`. serde and the validators quote the value
/// they reject (`invalid type: string "..."`, `unknown variant `...``, `invalid max_age "..."`); the
/// line number says where it is, and the value may be a secret pasted into the wrong key (found by
/// the `config` fuzz target).
fn hide_values(message: &str, text: &str) -> String {
    fn strings(v: &toml::Value, out: &mut Vec<String>) {
        match v {
            toml::Value::String(s) if !s.is_empty() => out.push(s.clone()),
            toml::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            toml::Value::Table(t) => t.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut values = Vec::new();
    if let Ok(table) = text.parse::<toml::Table>() {
        table.values().for_each(|v| strings(v, &mut values));
    }
    // Longest first, so a value containing another is masked whole.
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let mut message = message.to_string();
    for v in &values {
        for quoted in [format!("{v:?}"), format!("`{v}`"), format!("\"{v}\"")] {
            message = message.replace(&quoted, "(value hidden)");
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_quote_a_value_of_the_file() {
        // Found by the `config` fuzz target: serde's "invalid type: string \"...\"" quoted it.
        let token = "AKIAIOSFODNN7EXAMPLE1234";
        for text in [
            format!("[env.prod]\nsensitive = \"{token}\"\n"),
            format!("[secrets.API_TOKEN]\nmax_age = \"{token}\"\n"),
            format!("[secrets.API_TOKEN]\ngenerator = \"{token}\"\n"),
            format!("[env.dev]\nrequired = [\"{token}-x\"]\n"),
            format!("project = \"{token}/x\"\n"),
            format!("[sync.s]\nprovider = \"{token}\"\n"),
        ] {
            let err = Config::parse(&text).unwrap_err();
            let message = err.to_string();
            assert!(matches!(err, Error::Usage(_)), "{message}");
            assert!(!message.contains(token), "{message}");
            assert!(message.contains("(value hidden)"), "{message}");
        }
    }

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
    fn rotation_and_audit_keys_parse_and_are_checked() {
        let c = Config::parse(
            "[secrets.T]\nmax_age = \"30d\"\ngenerator = \"token:32\"\non_rotate = \"echo hi\"\n\
             [env.prod]\nsensitive = true\non_rotate = [\"a\", \"b\"]\n[audit]\nburst_reads = 5\n",
        )
        .unwrap();
        assert_eq!(c.secrets["T"].on_rotate, vec!["echo hi".to_string()]);
        assert!(c.env["prod"].sensitive);
        assert_eq!(c.env["prod"].on_rotate.len(), 2);
        assert_eq!(c.audit.burst_reads, Some(5));
        assert!(Config::parse("[secrets.T]\nmax_age = \"soon\"\n").is_err());
        assert!(Config::parse("[secrets.T]\ngenerator = \"nope:3\"\n").is_err());
        assert!(Config::parse("[audit]\nburst = 3\n").is_err());
    }

    #[test]
    fn generators_and_target_timeouts_are_parsed_once_with_their_line() {
        let c = Config::parse(
            "[secrets.T]\ngenerator = \"password:20:ul\"\n[sync.s]\nprovider = \"vault\"\n\
             path = \"p\"\ntimeout = \"5s\"\n",
        )
        .unwrap();
        assert_eq!(
            c.secrets["T"].generator,
            Some(crate::rotate::Generator::Password {
                len: 20,
                classes: vec!['l', 'u']
            })
        );
        assert_eq!(c.sync["s"].timeout, Some(Duration::from_secs(5)));
        for (text, line, what) in [
            (
                "project = \"p\"\n[secrets.T]\ngenerator = \"nope:3\"\n",
                3,
                "generator",
            ),
            (
                "[sync.s]\nprovider = \"vault\"\npath = \"p\"\ntimeout = \"soon\"\n",
                4,
                "timeout",
            ),
        ] {
            let err = Config::parse(text).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, Error::Usage(_)), "{msg}");
            assert!(msg.contains(&format!("line {line}")), "{msg}");
            assert!(msg.contains(what), "{msg}");
        }
    }

    #[test]
    fn rotation_gets_its_section_of_the_file() {
        let c = Config::parse(
            "project = \"app\"\n[rotate]\nhook_timeout = \"7s\"\n[secrets.T]\nmax_age = \"30d\"\n\
             generator = \"uuid\"\non_rotate = \"own\"\ndescription = \"d\"\n\
             [env.prod]\non_rotate = [\"env-a\", \"env-b\"]\n",
        )
        .unwrap();
        let r = c.rotation();
        assert_eq!(r.hook_timeout, Duration::from_secs(7));
        let at = |project: &str, env: &str| crate::scope::Address {
            scope: Scope::new(project, env).unwrap(),
            name: Name::new("T").unwrap(),
        };
        assert_eq!(r.hooks(&at("app", "prod")), ["own", "env-a", "env-b"]);
        assert_eq!(r.hooks(&at("app", "dev")), ["own"]);
        let rules = r.secret(&at("app", "dev")).expect("T's rules");
        assert_eq!(rules.max_age, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(rules.generator, Some(crate::rotate::Generator::Uuid));
        // Another project's secret of the same name gets none of this file's rules.
        assert!(r.secret(&at("other", "prod")).is_none());
        assert!(r.hooks(&at("other", "prod")).is_empty());
        let none = crate::rotate::Settings::default();
        assert_eq!(none.hook_timeout, crate::rotate::hooks::DEFAULT_TIMEOUT);
        assert!(none.hooks(&at("default", "dev")).is_empty());
    }

    #[test]
    fn settings_and_extends_resolve_nearest_first() {
        let c = Config::parse(
            "[vars]\nLOG_LEVEL = \"info\"\nPORT = \"1\"\n[env.base.vars]\nPORT = \"2\"\nA = \"a\"\n\
             [env.prod]\nextends = \"base\"\n[env.prod.vars]\nPORT = \"3\"\n",
        )
        .unwrap();
        assert_eq!(c.chain("prod").unwrap(), ["prod", "base"]);
        assert_eq!(c.chain("dev").unwrap(), ["dev"]);
        let s = c.settings("prod").unwrap();
        let get = |n: &str| s[&Name::new(n).unwrap()].clone();
        assert_eq!(
            (get("PORT").value, get("PORT").table()),
            ("3".into(), "[env.prod.vars]".into())
        );
        assert_eq!(
            (get("A").value, get("A").table()),
            ("a".into(), "[env.base.vars]".into())
        );
        assert_eq!(get("LOG_LEVEL").table(), "[vars]");
        let err = Config::parse("[env.a]\nextends = \"a\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cycle: a -> a"), "{err}");
        assert!(Config::parse("[vars]\nA-B = \"x\"\n").is_err());
        assert!(Config::parse("[env.a]\nextends = \"no/slash\"\n").is_err());
    }

    #[test]
    fn bad_names_are_rejected() {
        assert!(Config::parse("[env.dev]\nrequired = [\"1BAD\"]\n").is_err());
        assert!(Config::parse("project = \"a/b\"\n").is_err());
    }
}
