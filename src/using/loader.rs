//! Loader and interpreter variables: names whose value changes *which code runs* in every program
//! that starts with them, rather than being data a program reads.
//!
//! A secret named `LD_PRELOAD` planted by a hand-off file or a pull would make the next plain
//! `keep exec -- anything` load the attacker's shared object. So these names are refused by `set`,
//! `import` and `pull` (exit 2) and skipped with a warning by `exec`, unless the project's
//! `keep.toml` declares the name explicitly:
//!
//! ```toml
//! [secrets.LD_LIBRARY_PATH]
//! allow_loader = true
//! ```
//!
//! The list, and why each is on it:
//!
//! - `LD_*` (glibc and musl `ld.so`: `LD_PRELOAD`, `LD_LIBRARY_PATH`, `LD_AUDIT`, ...) and `DYLD_*`
//!   (macOS `dyld`): load arbitrary shared objects into every dynamically linked program.
//! - `BASH_ENV`, `ENV`: a file that non-interactive bash / POSIX `sh` source at start (every
//!   `sh -c`); `SHELLOPTS`, `BASHOPTS`, `PS4`: with `xtrace` turned on from the environment, `PS4`
//!   is expanded (command substitution included) before every command; `PROMPT_COMMAND`: run before
//!   each prompt of an interactive bash; `IFS`: re-splits words in shells that import it.
//! - `NODE_OPTIONS` (`--require`), `NODE_PATH`: code loaded into every node process.
//! - `PYTHONPATH`, `PYTHONHOME`, `PYTHONSTARTUP`, `PYTHONWARNINGS` (imports the module a warning
//!   category names), `PYTHONBREAKPOINT` (imports a callable): code loaded into Python.
//! - `PERL5OPT`, `PERL5LIB`, `PERLLIB`, `PERL5DB`: options and module paths of perl (`-M` loads code).
//! - `RUBYOPT`, `RUBYLIB`: the same for ruby.
//! - `JAVA_TOOL_OPTIONS`, `_JAVA_OPTIONS`, `JDK_JAVA_OPTIONS`, `CLASSPATH`: `-javaagent:` and class
//!   path of every JVM.
//! - `GIT_SSH`, `GIT_SSH_COMMAND`, `GIT_EXEC_PATH`, `GIT_ASKPASS`, `SSH_ASKPASS`,
//!   `GIT_PROXY_COMMAND`, `GIT_CONFIG_PARAMETERS`, `GIT_CONFIG_COUNT` and `GIT_CONFIG_KEY_*` /
//!   `GIT_CONFIG_VALUE_*` (which can set `core.fsmonitor`, `core.sshCommand`, ...): commands git runs.
//!
//! Left out on purpose: `PATH` (it decides which program runs, but env files and CI set it routinely
//! and keep documents that a secret or env file may set it; `exec` looks the command up before the
//! child starts), `EDITOR`/`PAGER` (run only by interactive tools, on the user's own request), and
//! `BASH_FUNC_*` (not a valid secret name, so it can never come from the vault).

use crate::config::Config;
use crate::error::{Error, Result};

/// Names refused by prefix.
const PREFIXES: [&str; 4] = ["LD_", "DYLD_", "GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"];

/// Names refused exactly.
const NAMES: [&str; 32] = [
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
    "IFS",
    "NODE_OPTIONS",
    "NODE_PATH",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONWARNINGS",
    "PYTHONBREAKPOINT",
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "PERL5DB",
    "RUBYOPT",
    "RUBYLIB",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_EXEC_PATH",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "GIT_PROXY_COMMAND",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
];

/// Whether `name` changes how programs load or start (see the module docs for the list).
pub fn is_loader_var(name: &str) -> bool {
    NAMES.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Whether `name` may be stored or injected: it is not a loader variable, or `keep.toml` declares it
/// with `[secrets.NAME] allow_loader = true`.
pub fn allowed(config: Option<&Config>, name: &str) -> bool {
    !is_loader_var(name)
        || config
            .and_then(|c| c.secrets.get(name))
            .is_some_and(|s| s.allow_loader)
}

/// The names `keep.toml` allows although they are loader variables: the section of the file that a
/// feature needing only this check (a pull) receives.
pub fn allowed_names(config: Option<&Config>) -> std::collections::BTreeSet<String> {
    config.map_or_else(Default::default, |c| {
        c.secrets
            .iter()
            .filter(|(_, s)| s.allow_loader)
            .map(|(name, _)| name.clone())
            .collect()
    })
}

/// How to allow a name, for messages.
pub fn how_to_allow(name: &str) -> String {
    format!(
        "declare it in keep.toml as `[secrets.{name}]` with `allow_loader = true` if it is meant"
    )
}

/// Refuse (exit 2) when any of `names` is a loader variable that `keep.toml` does not allow; `what`
/// says where the names came from ("import", "pull from vault-dev", ...).
pub fn refuse<'a>(
    config: Option<&Config>,
    names: impl IntoIterator<Item = &'a str>,
    what: &str,
) -> Result<()> {
    refuse_except(&allowed_names(config), names, what)
}

/// [`refuse`], given the names `keep.toml` allows ([`allowed_names`]).
pub fn refuse_except<'a>(
    allowed: &std::collections::BTreeSet<String>,
    names: impl IntoIterator<Item = &'a str>,
    what: &str,
) -> Result<()> {
    let bad: Vec<&str> = names
        .into_iter()
        .filter(|n| is_loader_var(n) && !allowed.contains(*n))
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{what}: refusing {} — a variable that changes how programs load or start (a planted one \
         would run code in every `keep exec`); nothing was written. To store it, {}",
        bad.join(", "),
        how_to_allow(bad[0])
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_names_are_recognised_and_ordinary_names_are_not() {
        for n in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "DYLD_INSERT_LIBRARIES",
            "BASH_ENV",
            "NODE_OPTIONS",
            "GIT_CONFIG_KEY_0",
        ] {
            assert!(is_loader_var(n), "{n}");
        }
        for n in [
            "DATABASE_URL",
            "LDAP_PASSWORD",
            "ENVIRONMENT",
            "PATH",
            "NODE_ENV",
        ] {
            assert!(!is_loader_var(n), "{n}");
        }
    }

    #[test]
    fn keep_toml_allows_a_declared_name_only() {
        let c: Config = toml::from_str("[secrets.LD_PRELOAD]\nallow_loader = true\n").unwrap();
        assert!(allowed(Some(&c), "LD_PRELOAD"));
        assert!(!allowed(Some(&c), "LD_AUDIT"));
        assert!(!allowed(None, "LD_PRELOAD"));
        let e = refuse(Some(&c), ["A", "BASH_ENV"], "import").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("BASH_ENV"), "{e}");
    }
}
