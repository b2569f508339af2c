//! Bringing existing secrets into the vault (`keep import FILE`): dotenv files (see [`super::dotenv`]:
//! quotes, multiline values, `export `, comments; `$` kept literally unless `--expand`), JSON objects
//! and YAML mappings.
//!
//! The whole file is parsed before anything is written, and the writes are one transaction: a bad line
//! aborts the import with its line number and leaves the vault exactly as it was. Nothing here ever
//! prints or returns a value in a message; errors name lines and keys only.
//!
//! The parsing takes the file's text, not a path, so an encrypted import (an age file, detected by its
//! header) can decrypt first and hand the plaintext to [`parse`].

use std::collections::BTreeMap;

use zeroize::Zeroize;

use super::dotenv::{self, Expand};
use super::Pair;
use crate::error::{Error, Result};
use crate::scope::{Name, Scope};
use crate::value::SecretValue;
use crate::vault::Vault;

/// The largest dotenv, JSON or YAML input `import` reads (16 MiB): a `.env` of 100,000 secrets is
/// about 6 MiB. Checked before any parser runs.
pub const MAX_IMPORT_LEN: usize = 16 << 20;

/// The largest age hand-off file `import` reads (1 GiB): `keep export` of a large vault.
pub const MAX_AGE_IMPORT_LEN: usize = 1 << 30;

/// The deepest nesting of JSON or YAML `import` lets reach its parser. It accepts only one flat object
/// of NAME -> value, so real files nest one level; deeply nested input (40,000 levels of YAML flow
/// nesting took 5 s in the parser) is refused by a linear scan first.
pub const MAX_NESTING: usize = 64;

/// The formats `import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dotenv,
    Json,
    Yaml,
}

/// What [`parse`] found.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Names and values, in file order, a repeated name keeping its last value.
    pub entries: Vec<Pair>,
    /// Dotenv lines where an unquoted or double-quoted `$NAME` was kept literally; the caller can
    /// mention `--expand` for someone who meant a reference.
    pub literal_dollar_lines: Vec<usize>,
}

/// The counts `import` reports.
#[derive(Debug, Default, serde::Serialize)]
pub struct Counts {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
}

/// Pick the format from the file name's extension, else from the content (`{` starts JSON).
pub fn detect(origin: &str, text: &str) -> Kind {
    let lower = origin.to_ascii_lowercase();
    if lower.ends_with(".json") {
        Kind::Json
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        Kind::Yaml
    } else if text.trim_start().starts_with('{') {
        Kind::Json
    } else {
        Kind::Dotenv
    }
}

/// Parse a file's bytes, every `$` literal. `origin` (the file name) is used for messages and format
/// detection.
pub fn parse(bytes: &[u8], origin: &str) -> Result<Parsed> {
    parse_with(bytes, origin, Expand::Literal)
}

/// [`parse`] with a choice of `$` expansion (dotenv files only; `import --expand`).
pub fn parse_with(bytes: &[u8], origin: &str, expand: Expand) -> Result<Parsed> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        Error::Usage(format!("{origin}: line {line}: not UTF-8 text"))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.len() > MAX_IMPORT_LEN {
        return Err(Error::Usage(format!(
            "{origin}: larger than {} MiB, the limit for `keep import`; nothing was imported",
            MAX_IMPORT_LEN >> 20
        )));
    }
    let kind = detect(origin, text);
    if kind != Kind::Dotenv {
        check_nesting(text, kind, origin)?;
    }
    let mut parsed = match kind {
        Kind::Dotenv => parse_dotenv(text, origin, expand)?,
        Kind::Json => parse_json(text, origin)?,
        Kind::Yaml => parse_yaml(text, origin)?,
    };
    // A repeated name keeps its last value, as every dotenv reader does.
    let mut last: BTreeMap<Name, usize> = BTreeMap::new();
    for (i, (n, _)) in parsed.entries.iter().enumerate() {
        last.insert(n.clone(), i);
    }
    let mut i = 0;
    parsed.entries.retain(|(n, _)| {
        let keep = last[n] == i;
        i += 1;
        keep
    });
    Ok(parsed)
}

/// Refuse JSON or YAML nested deeper than [`MAX_NESTING`], in one pass before the parser sees it.
/// Flow brackets (`[`, `{`) are counted outside JSON strings; YAML brackets are counted everywhere
/// (over-counting only refuses a file with 64 unclosed brackets in a value, which no flat secrets file
/// has), and YAML block nesting is the number of increasing indentation levels.
fn check_nesting(text: &str, kind: Kind, origin: &str) -> Result<()> {
    let refuse = |line: usize| {
        Err(Error::Usage(format!(
            "{origin}: line {line}: nested more than {MAX_NESTING} levels deep; import reads one \
             flat object of NAME -> value; nothing was imported"
        )))
    };
    let (mut depth, mut line, mut in_string, mut escaped) = (0usize, 1usize, false, false);
    let mut indents: Vec<usize> = Vec::new();
    for raw in text.split('\n') {
        if kind == Kind::Yaml {
            let body = raw.trim_start_matches(' ');
            if !body.trim().is_empty() && !body.starts_with('#') {
                let indent = raw.len() - body.len();
                while indents.last().is_some_and(|&i| i > indent) {
                    indents.pop();
                }
                if indents.last() != Some(&indent) {
                    indents.push(indent);
                }
                if indents.len() > MAX_NESTING {
                    return refuse(line);
                }
            }
        }
        for &b in raw.as_bytes() {
            if kind == Kind::Json && in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' if kind == Kind::Json => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return refuse(line);
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        line += 1;
    }
    Ok(())
}

fn name_at(key: &str, origin: &str, line: Option<usize>) -> Result<Name> {
    Name::new(key).map_err(|_| {
        let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
        Error::Usage(format!(
            "{origin}: {at}{key:?} is not a valid secret name ([A-Za-z_][A-Za-z0-9_]*); nothing was \
             imported"
        ))
    })
}

fn parse_dotenv(text: &str, origin: &str, expand: Expand) -> Result<Parsed> {
    let parsed = dotenv::parse(text, origin, expand).map_err(|e| match e {
        Error::Usage(m) => Error::Usage(format!("{m}; nothing was imported")),
        other => other,
    })?;
    let mut entries = Vec::with_capacity(parsed.entries.len());
    for e in parsed.entries {
        let name = name_at(&e.key, origin, Some(e.line))?;
        entries.push((name, e.value));
    }
    Ok(Parsed {
        entries,
        literal_dollar_lines: parsed.literal_dollar_lines,
    })
}

/// A JSON scalar as a value; the parsed string is wiped once copied.
fn scalar(value: &mut serde_json::Value) -> Option<SecretValue> {
    match value {
        serde_json::Value::String(s) => {
            let v = SecretValue::from(s.as_str());
            s.zeroize();
            Some(v)
        }
        serde_json::Value::Number(n) => Some(SecretValue::from(n.to_string())),
        serde_json::Value::Bool(b) => Some(SecretValue::from(b.to_string())),
        _ => None,
    }
}

fn parse_json(text: &str, origin: &str) -> Result<Parsed> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        // serde_json's syntax errors carry a position, not the text; only the position is shown.
        Error::Usage(format!(
            "{origin}: line {} column {}: not valid JSON ({:?} error); nothing was imported",
            e.line(),
            e.column(),
            e.classify()
        ))
    })?;
    let serde_json::Value::Object(mut map) = doc else {
        return Err(Error::Usage(format!(
            "{origin}: expected one JSON object of NAME -> value; nothing was imported"
        )));
    };
    let mut entries = Vec::new();
    // Each parsed string is wiped as it is copied into a SecretValue (also on the error paths:
    // Drop of `map` comes after the loop has visited what it could).
    for (key, value) in map.iter_mut() {
        let name = name_at(key, origin, None)?;
        let value = scalar(value).ok_or_else(|| {
            Error::Usage(format!(
                "{origin}: {key} is not a string, number or boolean; nested values and null cannot \
                 be imported; nothing was imported"
            ))
        })?;
        entries.push((name, value));
    }
    Ok(Parsed {
        entries,
        literal_dollar_lines: Vec::new(),
    })
}

fn parse_yaml(text: &str, origin: &str) -> Result<Parsed> {
    use serde_yaml_ng::Value;
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!("line {} column {}: ", l.line(), l.column()))
            .unwrap_or_default();
        Error::Usage(format!(
            "{origin}: {at}not valid YAML; nothing was imported"
        ))
    })?;
    let mut map = match doc {
        Value::Mapping(m) => m,
        Value::Null => Default::default(),
        _ => {
            return Err(Error::Usage(format!(
                "{origin}: expected one YAML mapping of NAME: value; nothing was imported"
            )))
        }
    };
    let mut entries = Vec::new();
    for (key, value) in map.iter_mut() {
        let Value::String(key) = key else {
            return Err(Error::Usage(format!(
                "{origin}: every key must be a name; nothing was imported"
            )));
        };
        // The line is looked up only for the error: searching the text for every key made large
        // imports quadratic.
        let name = Name::new(key.as_str()).or_else(|_| {
            let line = text
                .lines()
                .position(|l| {
                    let l = l.trim_start().trim_start_matches(['"', '\'']);
                    l.starts_with(key.as_str())
                })
                .map(|i| i + 1);
            name_at(key, origin, line)
        })?;
        // The parsed string is wiped once copied.
        let value = match value {
            Value::String(s) => {
                let v = SecretValue::from(s.as_str());
                s.zeroize();
                v
            }
            Value::Number(n) => SecretValue::from(n.to_string()),
            Value::Bool(b) => SecretValue::from(b.to_string()),
            _ => {
                return Err(Error::Usage(format!(
                    "{origin}: {key} is not a string, number or boolean; nested values and null \
                     cannot be imported; nothing was imported"
                )))
            }
        };
        entries.push((name, value));
    }
    Ok(Parsed {
        entries,
        literal_dollar_lines: Vec::new(),
    })
}

/// Write `entries` into `scope` in one transaction; a value equal to the current one is left alone (no
/// new version).
pub fn apply(vault: &mut Vault, scope: &Scope, entries: &[Pair]) -> Result<Counts> {
    // The import and its audit entry (naming what it wrote) commit together, or not at all.
    vault.write(|w| {
        let mut counts = Counts::default();
        for (name, value) in entries {
            let address = scope.address(name.clone());
            match w.get(&address) {
                Ok(old) if old.expose() == value.expose() => {
                    counts.unchanged.push(name.to_string());
                }
                Ok(_) => {
                    w.set(&address, value)?;
                    counts.changed.push(name.to_string());
                }
                Err(Error::NotFound(_)) => {
                    w.set(&address, value)?;
                    counts.added.push(name.to_string());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(counts)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(p: &'a Parsed, n: &str) -> &'a [u8] {
        p.entries
            .iter()
            .find(|(k, _)| k.as_str() == n)
            .map(|(_, v)| v.expose())
            .unwrap()
    }

    #[test]
    fn dotenv_edge_cases() {
        let p = parse(
            b"# c\nexport A=1\nB=\"multi\nline\"\nC='single $HOME'\nD=x # comment\nA=2\n",
            ".env",
        )
        .unwrap();
        assert_eq!(get(&p, "A"), b"2");
        assert_eq!(get(&p, "B"), b"multi\nline");
        assert_eq!(get(&p, "C"), b"single $HOME");
        assert_eq!(get(&p, "D"), b"x");
        assert_eq!(p.entries.len(), 4);
        assert!(p.literal_dollar_lines.is_empty());
        let p = parse(b"A=1\nB=pa$$word\n", ".env").unwrap();
        assert_eq!(get(&p, "B"), b"pa$$word");
        assert_eq!(p.literal_dollar_lines, vec![2]);
    }

    #[test]
    fn json_and_yaml_objects() {
        let p = parse(br#"{"A": "x", "N": 5, "T": true}"#, "s.json").unwrap();
        assert_eq!(get(&p, "N"), b"5");
        let p = parse(b"A: x\nB: \"y: z\"\nC: |\n  l1\n  l2\n", "s.yaml").unwrap();
        assert_eq!(get(&p, "B"), b"y: z");
        assert_eq!(get(&p, "C"), b"l1\nl2\n");
    }

    #[test]
    fn errors_name_lines_and_keys_never_values() {
        let e = parse(b"A=1\nB=\"canary-value\\q\"\n", ".env")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && !e.contains("canary"), "{e}");
        let e = parse(b"{\"A\": {\"x\": \"canary\"}}", "s.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains('A') && !e.contains("canary"), "{e}");
        let e = parse(b"A: x\n  - canary: [\n", "s.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line") && !e.contains("canary"), "{e}");
        let e = parse(b"A=1\nbad-name=canary\n", ".env")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && !e.contains("canary"), "{e}");
    }
}
