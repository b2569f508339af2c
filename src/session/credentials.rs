//! Where passphrases come from: `KEEP_PASSPHRASE_FILE`, `KEEP_PASSPHRASE`, or a hidden prompt on the
//! controlling terminal.
//!
//! The file form is preferred: an environment variable is visible to every process that can read
//! `/proc/<pid>/environ` of this user, so the contract documents it as the weaker choice for CI.
//!
//! A variable that is set but empty counts as unset: that is what CI gives for a secret it does not
//! have, and an empty passphrase tried against the vault would only end in a misleading "wrong
//! passphrase". Such variables are named in the "locked" message instead.
//!
//! Prompts go to `/dev/tty`, not stdin (as ssh, sudo and gpg do), so `printf ... | keep set NAME`
//! still asks for the passphrase. Without a controlling terminal keep fails at once with exit 6.

use std::io::{BufRead, Write};
use std::path::Path;

use secrecy::SecretString;
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

/// A credential from `<VAR>_FILE` (preferred) or `<VAR>`, if either is set and not empty.
pub fn from_env(var: &str, what: &str) -> Result<Option<SecretString>> {
    if let Some(path) = std::env::var_os(format!("{var}_FILE")).filter(|p| !p.is_empty()) {
        return read_secret_file(Path::new(&path), what).map(Some);
    }
    match std::env::var(var) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => Ok(Some(SecretString::from(v))),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::Usage(format!("{var} is not valid UTF-8")))
        }
    }
}

/// Every credential variable keep reads, for naming the empty ones.
const CREDENTIAL_VARS: &[&str] = &[
    "KEEP_PASSPHRASE_FILE",
    "KEEP_PASSPHRASE",
    "KEEP_NEW_PASSPHRASE_FILE",
    "KEEP_NEW_PASSPHRASE",
    "KEEP_PKCS11_PIN_FILE",
    "KEEP_PKCS11_PIN",
    "KEEP_RECOVERY_KEY_FILE",
    "KEEP_RECOVERY_KEY",
    "KEEP_AGE_IDENTITY",
];

/// `"; KEEP_PASSPHRASE is set but empty (an empty variable counts as unset)"` for each credential
/// variable that is set to the empty string, or nothing. Appended to "locked" messages, because an
/// empty variable is usually a CI secret that was never configured.
pub fn empty_vars_note() -> String {
    let empty: Vec<&str> = CREDENTIAL_VARS
        .iter()
        .copied()
        .filter(|v| std::env::var_os(v).is_some_and(|x| x.is_empty()))
        .collect();
    match empty.as_slice() {
        [] => String::new(),
        [one] => format!("; {one} is set but empty (an empty variable counts as unset)"),
        many => format!(
            "; {} are set but empty (an empty variable counts as unset)",
            many.join(", ")
        ),
    }
}

/// The unlock passphrase from `KEEP_PASSPHRASE_FILE` or `KEEP_PASSPHRASE`.
pub fn passphrase_from_env() -> Result<Option<SecretString>> {
    from_env("KEEP_PASSPHRASE", "passphrase")
}

/// The error for a prompt that cannot be shown: exit 6, naming what was wanted.
fn no_terminal(message: &str) -> Error {
    Error::Locked(format!(
        "there is no terminal to ask on for input ({}); see `keep help unlock` for \
         non-interactive options{}",
        message.trim_end_matches([':', ' ', '?']),
        empty_vars_note()
    ))
}

/// Ask on the controlling terminal with echo off. Fails with exit 6 when there is none.
pub fn prompt(message: &str) -> Result<SecretString> {
    if !super::interactive() {
        return Err(no_terminal(message));
    }
    // rpassword reads from and writes to /dev/tty, whatever stdin and stderr are.
    rpassword::prompt_password(message)
        .map(SecretString::from)
        .map_err(|e| Error::Io {
            context: "cannot read from the terminal".into(),
            source: e,
        })
}

/// Ask a yes/no question on the controlling terminal (echo on); anything but `y`/`yes` is no.
/// Fails with exit 6 when there is no terminal.
pub fn confirm(question: &str) -> Result<bool> {
    let io = |e| Error::Io {
        context: "cannot read from the terminal".into(),
        source: e,
    };
    let mut tty = super::open_tty().ok_or_else(|| no_terminal(question))?;
    write!(tty, "{question} [y/N] ")
        .and_then(|_| tty.flush())
        .map_err(io)?;
    let mut line = String::new();
    std::io::BufReader::new(tty)
        .read_line(&mut line)
        .map_err(io)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "Yes"))
}
