//! Templates (`keep inject`): a text file with `{{ keep://PROJECT/ENV/NAME }}` placeholders, rendered
//! with the referenced values. Any other `{{ ... }}` is left alone, so templates for other tools can
//! pass through keep first. A reference that does not resolve is an error naming its line.

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::scope::{Address, SCHEME};
use crate::value::SecretValue;

/// One placeholder: its byte range in the template, its line, and its address.
#[derive(Clone, Debug)]
pub struct Placeholder {
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub address: Address,
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
        out.push_str(value.expose_str(&p.address.to_string())?);
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
