//! Env files that hold references instead of secrets (the `op run` model): in a dotenv file read with
//! `exec --env-file`, a value of the form `keep://PROJECT/ENV/NAME` is resolved from the vault and any
//! other value passes through literally. Such a file can be committed, because it names secrets without
//! containing them. A `$` is literal here too (see [`super::dotenv`]): an env file's values are what it
//! says, never expanded from keep's environment.

use std::path::Path;

use super::dotenv::{self, Expand};
use super::Pair;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::scope::{Address, Name, SCHEME};
use crate::value::SecretValue;
use crate::vault::Reader;

/// One entry of an env file.
#[derive(Debug)]
pub enum Entry {
    /// A plain value, used as written.
    Literal(Name, SecretValue),
    /// `NAME=keep://PROJECT/ENV/NAME`, resolved from the vault.
    Reference(Name, Address),
}

impl Entry {
    pub fn name(&self) -> &Name {
        match self {
            Entry::Literal(n, _) | Entry::Reference(n, _) => n,
        }
    }
}

/// Parse dotenv text (quotes, multiline values, `export `, comments; `$` literal). A syntax error, a
/// bad name or a malformed `keep://` reference is a usage error naming the file and line, never the
/// line's text (it may hold a value).
pub fn parse(text: &str, origin: &str) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for e in dotenv::parse(text, origin, Expand::Literal)?.entries {
        let line = e.line;
        let name = Name::new(&e.key).map_err(|_| {
            Error::Usage(format!(
                "{origin}: line {line}: {:?} is not a valid secret name ([A-Za-z_][A-Za-z0-9_]*)",
                e.key
            ))
        })?;
        if e.value.expose().starts_with(SCHEME.as_bytes()) {
            let address = e
                .value
                .expose_str("the reference")
                .ok()
                .and_then(|v| Address::parse_uri(v).ok())
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "{origin}: line {line}: the value of {name} starts with keep:// but is not \
                         a keep://PROJECT/ENV/NAME reference"
                    ))
                })?;
            out.push(Entry::Reference(name, address));
        } else {
            out.push(Entry::Literal(name, e.value));
        }
    }
    Ok(out)
}

/// Read and parse an env file.
pub fn read(path: &Path) -> Result<Vec<Entry>> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::NotFound(format!("env file {} does not exist", path.display()))
        }
        std::io::ErrorKind::InvalidData => {
            Error::Usage(format!("env file {} is not UTF-8 text", path.display()))
        }
        _ => Error::io("read", path, e),
    })?;
    parse(&text, &path.display().to_string())
}

/// Resolve every entry: references as their environment sees them (its settings, own and inherited
/// secrets: [`super::layers::lookup`]; an unknown one is not found, exit 3), literals as they are.
/// Also returns the vault records read (recorded by `reader`).
pub fn resolve(
    entries: Vec<Entry>,
    reader: &Reader<'_>,
    config: Option<&Config>,
) -> Result<(Vec<Pair>, Vec<Address>)> {
    let mut pairs = Vec::with_capacity(entries.len());
    let mut read = Vec::new();
    for e in entries {
        match e {
            Entry::Literal(n, v) => pairs.push((n, v)),
            Entry::Reference(n, address) => {
                let (value, record) =
                    super::layers::lookup(reader, config, &address).map_err(|err| match err {
                        Error::NotFound(_) => Error::NotFound(format!(
                            "{n} refers to {address}, which does not exist; `keep ls --env {}` \
                             lists that environment",
                            address.scope.env()
                        )),
                        other => other,
                    })?;
                read.extend(record);
                pairs.push((n, value));
            }
        }
    }
    Ok((pairs, read))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_literals() {
        let entries = parse(
            "# comment\nexport A=keep://web/prod/API_KEY\nB='literal $x'\nC=\"two\nlines\"\nD=$HOME\n",
            "t",
        )
        .unwrap();
        assert!(
            matches!(&entries[0], Entry::Reference(n, a) if n.as_str() == "A" && a.to_string() == "keep://web/prod/API_KEY")
        );
        assert!(matches!(&entries[1], Entry::Literal(_, v) if v.expose() == b"literal $x"));
        assert!(matches!(&entries[2], Entry::Literal(_, v) if v.expose() == b"two\nlines"));
        assert!(matches!(&entries[3], Entry::Literal(_, v) if v.expose() == b"$HOME"));
    }

    #[test]
    fn errors_name_the_line_not_the_text() {
        let err = parse("A=1\nB=2\nC=\"unterminated-canary\\q\"\n", "f").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 3"), "{msg}");
        assert!(!msg.contains("canary"), "{msg}");
        let err = parse("A=1\nA-B=2\n", "f").unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = parse("A=keep://nope\n", "f").unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("reference"), "{err}");
    }
}
