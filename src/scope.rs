//! Names, scopes and addresses: `NAME` inside the current `project/env`, or fully
//! `keep://PROJECT/ENV/NAME`.
//!
//! Secret names follow environment-variable rules so that every secret can be injected by `exec`.
//! Project and environment names are path-safe words. Anything else is a usage error (exit 2).

use std::fmt;

use crate::error::{Error, Result};

/// The URI scheme of a fully qualified address.
pub const SCHEME: &str = "keep://";

/// A validated secret name: `[A-Za-z_][A-Za-z0-9_]*`. Deserializing one validates it (keep.toml).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Name(String);

impl TryFrom<String> for Name {
    type Error = Error;
    fn try_from(s: String) -> Result<Name> {
        Name::new(&s)
    }
}

impl Name {
    /// Validate a secret name.
    pub fn new(name: &str) -> Result<Name> {
        let mut chars = name.chars();
        let ok = matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
            && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
            && name.len() <= 256;
        if ok {
            Ok(Name(name.to_string()))
        } else {
            Err(Error::Usage(format!(
                "invalid secret name {name:?}: names follow environment-variable rules \
                 ([A-Za-z_][A-Za-z0-9_]*, at most 256 characters)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Check a project or environment name: `[A-Za-z0-9][A-Za-z0-9_.-]*`, at most 64 characters.
fn check_word(kind: &str, word: &str) -> Result<()> {
    let mut chars = word.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && word.len() <= 64;
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid {kind} name {word:?}: use letters, digits, '_', '.' and '-' \
             (starting with a letter or digit, at most 64 characters)"
        )))
    }
}

/// A `project/env` pair: the namespace a secret lives in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    project: String,
    env: String,
}

impl Scope {
    /// The scope used when neither flags, environment variables nor `keep.toml` name one.
    pub const DEFAULT_PROJECT: &'static str = "default";
    pub const DEFAULT_ENV: &'static str = "dev";

    pub fn new(project: &str, env: &str) -> Result<Scope> {
        check_word("project", project)?;
        check_word("environment", env)?;
        Ok(Scope {
            project: project.to_string(),
            env: env.to_string(),
        })
    }

    pub fn project(&self) -> &str {
        &self.project
    }

    pub fn env(&self) -> &str {
        &self.env
    }

    /// The same project in another environment.
    pub fn with_env(&self, env: &str) -> Result<Scope> {
        Scope::new(&self.project, env)
    }

    /// The address of `name` in this scope.
    pub fn address(&self, name: Name) -> Address {
        Address {
            scope: self.clone(),
            name,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.project, self.env)
    }
}

/// A secret's full address: scope plus name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub scope: Scope,
    pub name: Name,
}

impl Address {
    /// Parse `NAME` (in `default` scope) or `keep://PROJECT/ENV/NAME`.
    pub fn parse(text: &str, default: &Scope) -> Result<Address> {
        match text.strip_prefix(SCHEME) {
            Some(rest) => Address::parse_uri_path(rest)
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "invalid address {text:?}: expected keep://PROJECT/ENV/NAME"
                    ))
                })
                .and_then(|r| r),
            None => Ok(Address {
                scope: default.clone(),
                name: Name::new(text)?,
            }),
        }
    }

    /// Parse a full `keep://PROJECT/ENV/NAME` reference; plain names are refused.
    pub fn parse_uri(text: &str) -> Result<Address> {
        let rest = text.strip_prefix(SCHEME).ok_or_else(|| {
            Error::Usage(format!(
                "invalid reference {text:?}: expected keep://PROJECT/ENV/NAME"
            ))
        })?;
        Address::parse_uri_path(rest)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "invalid reference {text:?}: expected keep://PROJECT/ENV/NAME"
                ))
            })
            .and_then(|r| r)
    }

    fn parse_uri_path(rest: &str) -> Option<Result<Address>> {
        let mut parts = rest.split('/');
        let (project, env, name) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(Scope::new(project, env).and_then(|scope| {
            Ok(Address {
                scope,
                name: Name::new(name)?,
            })
        }))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCHEME}{}/{}/{}",
            self.scope.project, self.scope.env, self.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_env_var_rules() {
        for ok in ["A", "_", "DB_URL", "a1", "_X9"] {
            assert!(Name::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A B", "A.B", "é", "A=B"] {
            assert!(matches!(Name::new(bad), Err(Error::Usage(_))), "{bad}");
        }
    }

    #[test]
    fn addresses_parse_both_forms() {
        let scope = Scope::new("billing", "dev").unwrap();
        let a = Address::parse("DB_URL", &scope).unwrap();
        assert_eq!(a.to_string(), "keep://billing/dev/DB_URL");
        let b = Address::parse("keep://web/prod/API_KEY", &scope).unwrap();
        assert_eq!(
            (b.scope.project(), b.scope.env(), b.name.as_str()),
            ("web", "prod", "API_KEY")
        );
        for bad in [
            "keep://a/b",
            "keep://a/b/c/d",
            "keep:///b/C",
            "keep://a/b/1C",
        ] {
            assert!(
                matches!(Address::parse(bad, &scope), Err(Error::Usage(_))),
                "{bad}"
            );
        }
        assert!(Address::parse_uri("PLAIN").is_err());
    }
}
