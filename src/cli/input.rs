//! Reading a secret value: a hidden prompt on a terminal, otherwise all of stdin, or a file. Values are
//! never accepted in argv, where every process on the machine could read them.

use std::io::IsTerminal;
use std::path::Path;

use crate::error::{Error, Result};
use crate::scope::Name;
use crate::value::SecretValue;

/// Read the value for `name`. From stdin, one trailing newline is removed unless `raw`; a file's bytes
/// are taken exactly.
pub fn read_value(name: &Name, from_file: Option<&Path>, raw: bool) -> Result<SecretValue> {
    if let Some(path) = from_file {
        let bytes = std::fs::read(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound(format!("{} does not exist", path.display()))
            } else {
                Error::io("read", path, e)
            }
        })?;
        return Ok(SecretValue::new(bytes));
    }
    if std::io::stdin().is_terminal() {
        let v =
            rpassword::prompt_password(format!("Value for {name}: ")).map_err(|e| Error::Io {
                context: "cannot read from the terminal".into(),
                source: e,
            })?;
        return Ok(SecretValue::from(v));
    }
    SecretValue::read_from(std::io::stdin().lock(), !raw).map_err(|e| match e.kind() {
        std::io::ErrorKind::FileTooLarge => Error::Usage(format!(
            "the value on stdin is larger than {} MiB, the limit for `keep set`; nothing was stored",
            crate::value::MAX_VALUE_LEN >> 20
        )),
        _ => Error::Io {
            context: "cannot read the value from stdin".into(),
            source: e,
        },
    })
}
