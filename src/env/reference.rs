//! Env files that hold references instead of secrets (the `op run` model): in a dotenv file read with
//! `exec --env-file`, a value of the form `keep://PROJECT/ENV/NAME` is resolved from the vault and any
//! other value passes through literally. Such a file can be committed, because it names secrets without
//! containing them.

use std::path::Path;

use super::Pair;
use crate::error::{Error, Result};
use crate::scope::{Address, Name, SCHEME};
use crate::value::SecretValue;
use crate::vault::Vault;

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

/// Parse dotenv text (dotenvy's rules: quotes, multiline values, `export `, comments). A syntax error,
/// a bad name or a malformed `keep://` reference is a usage error naming the file and line, never the
/// line's text (it may hold a value).
pub fn parse(text: &str, origin: &str) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        let (key, value) = item.map_err(|e| dotenv_error(e, text, origin))?;
        let name = Name::new(&key).map_err(|_| {
            Error::Usage(format!(
                "{origin}: line {}: {key:?} is not a valid secret name ([A-Za-z_][A-Za-z0-9_]*)",
                line_of_key(text, &key)
            ))
        })?;
        if value.starts_with(SCHEME) {
            let address = Address::parse_uri(&value).map_err(|_| {
                Error::Usage(format!(
                    "{origin}: line {}: the value of {name} starts with keep:// but is not a \
                     keep://PROJECT/ENV/NAME reference",
                    line_of_key(text, &key)
                ))
            })?;
            out.push(Entry::Reference(name, address));
        } else {
            out.push(Entry::Literal(name, SecretValue::from(value)));
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

/// Resolve every entry: references from the vault (an unknown one is not found, exit 3), literals as
/// they are.
pub fn resolve(entries: Vec<Entry>, vault: &Vault) -> Result<Vec<Pair>> {
    entries
        .into_iter()
        .map(|e| match e {
            Entry::Literal(n, v) => Ok((n, v)),
            Entry::Reference(n, address) => {
                let value = vault.get(&address).map_err(|err| match err {
                    Error::NotFound(_) => Error::NotFound(format!(
                        "{n} refers to {address}, which does not exist; `keep ls --env {}` lists \
                         that environment",
                        address.scope.env()
                    )),
                    other => other,
                })?;
                Ok((n, value))
            }
        })
        .collect()
}

/// Turn a dotenvy error into ours, with a line number and without the offending text.
pub fn dotenv_error(e: dotenvy::Error, text: &str, origin: &str) -> Error {
    match e {
        dotenvy::Error::LineParse(line, index) => {
            let number = line_number(text, &line, index);
            Error::Usage(format!(
                "{origin}: line {number}: not valid dotenv syntax (check quotes and escapes; \
                 inside double quotes only \\\\ \\\" \\$ \\n and \\' are escapes)"
            ))
        }
        dotenvy::Error::Io(io) => Error::Io {
            context: format!("cannot read {origin}"),
            source: io,
        },
        other => Error::Usage(format!("{origin}: {}", kind_only(&other))),
    }
}

fn kind_only(e: &dotenvy::Error) -> &'static str {
    match e {
        dotenvy::Error::EnvVar(_) => "an environment variable is not valid unicode",
        _ => "cannot be parsed as a dotenv file",
    }
}

/// The 1-based line where the logical line `line` (as dotenvy reports it) has its error at char
/// `index`.
fn line_number(text: &str, line: &str, index: usize) -> usize {
    let start = if line.is_empty() {
        None
    } else {
        text.find(line)
    };
    match start {
        Some(start) => {
            // An error at the very end (an unterminated quote) is reported where the entry starts.
            let at_end = index + 1 >= line.trim_end_matches(['\n', '\r']).chars().count();
            let within = if at_end {
                0
            } else {
                line.chars().take(index).filter(|&c| c == '\n').count()
            };
            text[..start].matches('\n').count() + 1 + within
        }
        // An unterminated quote at the end: dotenvy hands back the rest of the file.
        None => text.lines().count().max(1),
    }
}

/// The line where `key` is defined (the last definition), for errors after parsing.
pub fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start();
            let l = l.strip_prefix("export ").map(str::trim_start).unwrap_or(l);
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|(i, _)| i + 1)
        .last()
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_literals() {
        let entries = parse(
            "# comment\nexport A=keep://web/prod/API_KEY\nB='literal $x'\nC=\"two\nlines\"\n",
            "t",
        )
        .unwrap();
        assert!(
            matches!(&entries[0], Entry::Reference(n, a) if n.as_str() == "A" && a.to_string() == "keep://web/prod/API_KEY")
        );
        assert!(matches!(&entries[1], Entry::Literal(_, v) if v.expose() == b"literal $x"));
        assert!(matches!(&entries[2], Entry::Literal(_, v) if v.expose() == b"two\nlines"));
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
