//! Where passphrases come from: `KEEP_PASSPHRASE_FILE`, `KEEP_PASSPHRASE`, or a hidden prompt.
//!
//! The file form is preferred: an environment variable is visible to every process that can read
//! `/proc/<pid>/environ` of this user, so the contract documents it as the weaker choice for CI.

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Read a credential file: its content with one trailing newline (`\n` or `\r\n`) removed.
pub fn read_secret_file(path: &Path, what: &str) -> Result<SecretString> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound(format!("{what} file {} does not exist", path.display()))
        } else {
            Error::io(&format!("read the {what} file"), path, e)
        }
    })?);
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::Usage(format!("{what} file {} is not UTF-8 text", path.display())))?;
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(text);
    Ok(SecretString::from(text.to_string()))
}

/// A credential from `<VAR>_FILE` (preferred) or `<VAR>`, if either is set.
pub fn from_env(var: &str, what: &str) -> Result<Option<SecretString>> {
    if let Some(path) = std::env::var_os(format!("{var}_FILE")).filter(|p| !p.is_empty()) {
        return read_secret_file(Path::new(&path), what).map(Some);
    }
    match std::env::var(var) {
        Ok(v) => Ok(Some(SecretString::from(v))),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::Usage(format!("{var} is not valid UTF-8")))
        }
    }
}

/// The unlock passphrase from `KEEP_PASSPHRASE_FILE` or `KEEP_PASSPHRASE`.
pub fn passphrase_from_env() -> Result<Option<SecretString>> {
    from_env("KEEP_PASSPHRASE", "passphrase")
}

/// Ask on the terminal with echo off. Fails with exit 6 when there is no terminal.
pub fn prompt(message: &str) -> Result<SecretString> {
    if !super::interactive() {
        return Err(Error::Locked(format!(
            "keep needs input ({}) but stdin is not a terminal; see `keep help unlock` for \
             non-interactive options",
            message.trim_end_matches([':', ' '])
        )));
    }
    rpassword::prompt_password(message)
        .map(SecretString::from)
        .map_err(|e| Error::Io {
            context: "cannot read from the terminal".into(),
            source: e,
        })
}

/// A new passphrase: from `new_var` (and its `_FILE` form), else `fallback_var`, else asked twice.
pub fn new_passphrase(new_var: &str, fallback_var: Option<&str>) -> Result<SecretString> {
    if let Some(p) = from_env(new_var, "new passphrase")? {
        return Ok(p);
    }
    if let Some(var) = fallback_var {
        if let Some(p) = from_env(var, "passphrase")? {
            return Ok(p);
        }
    }
    let first = prompt("New passphrase: ")?;
    let second = prompt("Repeat the new passphrase: ")?;
    if first.expose_secret() != second.expose_secret() {
        return Err(Error::Usage(
            "the two passphrases differ; nothing was changed".into(),
        ));
    }
    Ok(first)
}
