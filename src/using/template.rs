//! Templates (`keep inject`): a text file with `{{ keep://PROJECT/ENV/NAME }}` placeholders, rendered
//! with the referenced values. Any other `{{ ... }}` is left alone, so templates for other tools can
//! pass through keep first. A reference that does not resolve is an error naming its line.
//!
//! A value goes in as it is, unless the placeholder names a filter that quotes it for the file's
//! syntax, so that a value holding quotes, line breaks or `: ` cannot break the structure around it:
//! `{{ keep://P/E/N | json }}` (a JSON string literal, quotes included), `| yaml` (a YAML
//! double-quoted scalar) and `| shell` (a POSIX shell single-quoted word).

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::scope::{Address, SCHEME};
use crate::value::SecretValue;

/// How a value is written into the template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// As it is.
    Raw,
    /// A JSON string literal.
    Json,
    /// A YAML double-quoted scalar.
    Yaml,
    /// A POSIX shell single-quoted word.
    Shell,
}

/// One placeholder: its byte range in the template, its line, its address and filter.
#[derive(Clone, Debug)]
pub struct Placeholder {
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub address: Address,
    pub filter: Filter,
}

/// Find every `{{ keep://... }}` placeholder. A malformed reference inside braces is a usage error
/// naming the line.
pub fn placeholders(template: &str) -> Result<Vec<Placeholder>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = template[from..].find("{{").map(|i| i + from) {
        let Some(close) = template[open + 2..].find("}}").map(|i| i + open + 2) else {
            break;
        };
        let inner = template[open + 2..close].trim();
        let line = template[..open].matches('\n').count() + 1;
        if inner.starts_with(SCHEME) {
            let (reference, filter) = match inner.split_once('|') {
                None => (inner, Filter::Raw),
                Some((r, f)) => (
                    r.trim(),
                    match f.trim() {
                        "json" => Filter::Json,
                        "yaml" => Filter::Yaml,
                        "shell" => Filter::Shell,
                        other => {
                            return Err(Error::Usage(format!(
                                "line {line}: unknown filter {other:?}; use json, yaml or shell"
                            )))
                        }
                    },
                ),
            };
            let inner = reference;
            let address = Address::parse_uri(inner).map_err(|_| {
                Error::Usage(format!(
                    "line {line}: {inner:?} is not a keep://PROJECT/ENV/NAME reference"
                ))
            })?;
            out.push(Placeholder {
                start: open,
                end: close + 2,
                line,
                address,
                filter,
            });
            from = close + 2;
        } else {
            from = open + 2;
        }
    }
    Ok(out)
}

/// Render `template`, looking each reference up with `resolve`. An unknown reference is a not-found
/// error (exit 3) naming the line and the reference.
pub fn render(
    template: &str,
    mut resolve: impl FnMut(&Address) -> Result<SecretValue>,
) -> Result<Zeroizing<String>> {
    // Grows by copy-and-wipe when values are longer than their references.
    let mut out = crate::value::WipingString::with_capacity(template.len());
    let mut pos = 0;
    for p in placeholders(template)? {
        let value = resolve(&p.address).map_err(|e| match e {
            Error::NotFound(_) => Error::NotFound(format!(
                "line {}: {} does not exist in the vault",
                p.line, p.address
            )),
            other => other,
        })?;
        out.push_str(&template[pos..p.start]);
        let text = value.expose_str(&p.address.to_string())?;
        match p.filter {
            Filter::Raw => out.push_str(text),
            Filter::Json => serde_json::to_writer(&mut out, text).expect("a string serialises"),
            Filter::Yaml => super::formats::yaml_quote(text, &mut out),
            Filter::Shell => super::formats::single_quote(text, &mut out),
        }
        pos = p.end;
    }
    out.push_str(&template[pos..]);
    Ok(out.into_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_references_and_leaves_other_braces() {
        let t = "a: {{ keep://web/prod/A }}\nb: {{other}}\nc: {{keep://web/prod/B}}{{ keep://web/prod/A }}\n";
        let out = render(t, |a| Ok(SecretValue::from(format!("<{}>", a.name)))).unwrap();
        assert_eq!(&*out, "a: <A>\nb: {{other}}\nc: <B><A>\n");
    }

    #[test]
    fn filters_quote_for_json_yaml_and_shell() {
        let t = "{{ keep://w/p/A | json }} {{keep://w/p/A|yaml}} {{ keep://w/p/A | shell }}";
        let out = render(t, |_| Ok(SecretValue::from("a\"b'\n"))).unwrap();
        assert_eq!(out.as_str(), "\"a\\\"b'\\n\" \"a\\\"b'\\n\" 'a\"b'\\''\n'");
        let err = placeholders("\n\n{{ keep://w/p/A | xml }}").unwrap_err();
        assert!(
            matches!(&err, Error::Usage(m) if m.contains("line 3") && m.contains("xml")),
            "{err}"
        );
    }

    #[test]
    fn unknown_and_bad_references_name_the_line() {
        let err = render("x\n\n{{ keep://web/prod/NOPE }}", |a| {
            Err(Error::NotFound(format!("{a}")))
        })
        .unwrap_err();
        assert!(
            matches!(&err, Error::NotFound(m) if m.contains("line 3")),
            "{err}"
        );
        let err = placeholders("\n{{ keep://web/NOPE }}").unwrap_err();
        assert!(
            matches!(&err, Error::Usage(m) if m.contains("line 2")),
            "{err}"
        );
    }
}
