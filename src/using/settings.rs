//! Typed settings: an application reads its configuration into a struct, from the vault or from the
//! process environment, and learns about *every* missing or malformed field at once instead of fixing
//! them one crash at a time.
//!
//! ```
//! use keep::settings::{Loader, Source};
//!
//! struct Settings {
//!     database_url: String,
//!     port: u16,
//!     app_env: String,
//! }
//!
//! impl Settings {
//!     fn is_production(&self) -> bool {
//!         self.app_env == "production"
//!     }
//! }
//!
//! let source = Source::map([("DATABASE_URL", "postgres://db/app"), ("APP_ENV", "production")]);
//! let mut l = Loader::new(&source);
//! let settings = Settings {
//!     database_url: l.required("DATABASE_URL"),
//!     port: l.optional("PORT", 8080),
//!     app_env: l.optional("APP_ENV", "development".to_string()),
//! };
//! l.finish()?;
//! assert_eq!(settings.port, 8080);
//! assert!(settings.is_production());
//! # Ok::<(), keep::settings::SettingsError>(())
//! ```
//!
//! Values never appear in errors: a malformed field is reported with its name and expected type only.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::error::Error;
use crate::scope::{Name, Scope};
use crate::vault::Vault;

/// Where settings are read from.
pub enum Source {
    /// Secrets of one scope of an open vault.
    Vault(Box<std::cell::RefCell<Vault>>, Scope),
    /// The process environment (for example under `keep exec`, or in production where a platform
    /// injects variables).
    ProcessEnv,
    /// A fixed map, for tests and layering.
    Map(BTreeMap<String, String>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Vault(_, scope) => write!(f, "Source::Vault({scope})"),
            Source::ProcessEnv => f.write_str("Source::ProcessEnv"),
            Source::Map(m) => write!(f, "Source::Map({} entries)", m.len()),
        }
    }
}

impl Source {
    /// Read from `scope` of an open vault.
    ///
    /// ```no_run
    /// use keep::settings::Source;
    /// use keep::{Scope, Vault};
    /// # fn main() -> keep::Result<()> {
    /// let vault = Vault::open(&keep::default_vault_path()?)?;
    /// let source = Source::vault(vault, Scope::new("billing", "prod")?);
    /// # let _ = source; Ok(()) }
    /// ```
    pub fn vault(vault: Vault, scope: Scope) -> Source {
        Source::Vault(Box::new(std::cell::RefCell::new(vault)), scope)
    }

    /// Read from the process environment.
    ///
    /// ```
    /// use keep::settings::{Loader, Source};
    /// let source = Source::process_env();
    /// let mut l = Loader::new(&source);
    /// let path: String = l.required("PATH");
    /// assert!(l.finish().is_ok() && !path.is_empty());
    /// ```
    pub fn process_env() -> Source {
        Source::ProcessEnv
    }

    /// Read from fixed pairs.
    ///
    /// ```
    /// use keep::settings::Source;
    /// let source = Source::map([("PORT", "8080")]);
    /// assert_eq!(source.lookup("PORT").unwrap().as_deref(), Some("8080"));
    /// assert_eq!(source.lookup("HOST").unwrap(), None);
    /// ```
    pub fn map<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Source {
        Source::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The text of `name`, `None` when it is not set. A value that is not UTF-8, or a vault record
    /// that cannot be read, is an error (its message names the field, never the value).
    pub fn lookup(&self, name: &str) -> Result<Option<String>, String> {
        match self {
            Source::Map(m) => Ok(m.get(name).cloned()),
            Source::ProcessEnv => match std::env::var(name) {
                Ok(v) => Ok(Some(v)),
                Err(std::env::VarError::NotPresent) => Ok(None),
                Err(std::env::VarError::NotUnicode(_)) => Err("is not UTF-8 text".into()),
            },
            Source::Vault(vault, scope) => {
                let name = Name::new(name).map_err(|_| "is not a valid secret name".to_string())?;
                // A recorded read: the audit log names each field's record.
                match vault.borrow_mut().get(&scope.address(name)) {
                    Ok(v) => v
                        .expose_str("the value")
                        .map(|s| Some(s.to_string()))
                        .map_err(|_| "is not UTF-8 text".to_string()),
                    Err(Error::NotFound(_)) => Ok(None),
                    Err(e) => Err(format!("cannot be read from the vault: {e}")),
                }
            }
        }
    }
}

/// One problem with one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub name: String,
    pub message: String,
}

/// Every problem found while loading, reported together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsError {
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid configuration ({} problems):",
            self.problems.len()
        )?;
        for p in &self.problems {
            write!(f, "\n  - {} {}", p.name, p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for SettingsError {}

impl From<SettingsError> for Error {
    fn from(e: SettingsError) -> Error {
        Error::NotFound(e.to_string())
    }
}

/// Collects fields and their problems. Read every field, then call [`Loader::finish`].
#[derive(Debug)]
pub struct Loader<'a> {
    source: &'a Source,
    problems: Vec<Problem>,
}

fn type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

impl<'a> Loader<'a> {
    pub fn new(source: &'a Source) -> Loader<'a> {
        Loader {
            source,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, name: &str, message: String) {
        self.problems.push(Problem {
            name: name.to_string(),
            message,
        });
    }

    fn parse<T: FromStr>(&mut self, name: &str) -> Option<T> {
        match self.source.lookup(name) {
            Ok(Some(text)) => match text.parse::<T>() {
                Ok(v) => Some(v),
                Err(_) => {
                    self.problem(name, format!("is not a valid {}", type_name::<T>()));
                    None
                }
            },
            Ok(None) => None,
            Err(message) => {
                self.problem(name, message);
                None
            }
        }
    }

    /// A field that must be set. When it is missing or malformed the problem is recorded and a
    /// placeholder (`T::default()`) returned; [`Loader::finish`] then fails, so the placeholder is
    /// never used.
    ///
    /// ```
    /// use keep::settings::{Loader, Source};
    /// let source = Source::map([("PORT", "eighty")]);
    /// let mut l = Loader::new(&source);
    /// let _url: String = l.required("DATABASE_URL");
    /// let _port: u16 = l.required("PORT");
    /// let err = l.finish().unwrap_err();
    /// assert_eq!(err.problems.len(), 2);
    /// let text = err.to_string();
    /// assert!(text.contains("DATABASE_URL is missing"));
    /// assert!(text.contains("PORT is not a valid u16"));
    /// assert!(!text.contains("eighty"), "values never appear in errors");
    /// ```
    pub fn required<T: FromStr + Default>(&mut self, name: &str) -> T {
        let before = self.problems.len();
        match self.parse(name) {
            Some(v) => v,
            None => {
                if self.problems.len() == before {
                    self.problem(name, "is missing".into());
                }
                T::default()
            }
        }
    }

    /// A field with a default used when it is not set. A set but malformed value is still a problem.
    ///
    /// ```
    /// use keep::settings::{Loader, Source};
    /// let source = Source::map([("WORKERS", "8")]);
    /// let mut l = Loader::new(&source);
    /// assert_eq!(l.optional("WORKERS", 4u32), 8);
    /// assert_eq!(l.optional("LOG_LEVEL", "info".to_string()), "info");
    /// assert!(l.finish().is_ok());
    /// ```
    pub fn optional<T: FromStr>(&mut self, name: &str, default: T) -> T {
        self.parse(name).unwrap_or(default)
    }

    /// `Ok` when every field was present and well-formed, else one error listing every problem.
    pub fn finish(self) -> Result<(), SettingsError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(SettingsError {
                problems: self.problems,
            })
        }
    }
}
