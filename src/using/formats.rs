//! Rendering a scope's secrets as text other tools read: `keep env --format ...`.
//!
//! Each renderer quotes and escapes for its reader so that any value — multiline, quotes, `$`, `#`, `=`,
//! unicode — comes back byte for byte: dotenv (as `dotenvy` parses it), POSIX `sh`, JSON, YAML, Docker's
//! `--env-file`, GitHub Actions' `$GITHUB_ENV` and a Kubernetes `Secret` manifest. Where a reader cannot
//! represent a value at all (a newline in a Docker env file, a NUL byte in a shell variable), rendering
//! fails with an error naming the secret instead of writing something that reads back differently.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use super::Pair;
use crate::error::{Error, Result};
use crate::value::WipingString;

/// An output format of `keep env`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `NAME='value'` lines, as read by dotenv libraries and by a shell that sources them
    Dotenv,
    /// `export NAME='value'` lines, for `eval` or `source` in a POSIX shell
    Shell,
    /// One flat JSON object, NAME -> value
    Json,
    /// A flat YAML mapping
    Yaml,
    /// `NAME=value` lines for `docker run --env-file` (no multiline values)
    Docker,
    /// `::add-mask::` lines and `NAME<<DELIMITER` blocks for GitHub Actions
    Github,
    /// A Kubernetes `kind: Secret` manifest with base64 data
    K8s,
}

/// Options some formats need.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `metadata.name` of the Kubernetes Secret.
    pub k8s_name: String,
    /// Names that are settings, not secrets: the github format writes no mask for them.
    pub unmasked: std::collections::BTreeSet<crate::scope::Name>,
}

/// Render `pairs` in `format`. For [`Format::Github`] this is the masks followed by the blocks; see
/// [`github`] to get them apart.
pub fn render(format: Format, pairs: &[Pair], options: &Options) -> Result<Zeroizing<String>> {
    match format {
        Format::Dotenv => dotenv(pairs),
        Format::Shell => shell(pairs),
        Format::Json => json(pairs),
        Format::Yaml => yaml(pairs),
        Format::Docker => docker(pairs),
        Format::Github => github(pairs, &options.unmasked).map(|g| {
            let mut s = WipingString::with_capacity(g.masks.len() + g.env_file.len());
            s.push_str(&g.masks);
            s.push_str(&g.env_file);
            s.into_string()
        }),
        Format::K8s => k8s(pairs, &options.k8s_name),
    }
}

fn text<'a>(pair: &'a Pair, format: &str) -> Result<&'a str> {
    pair.1.expose_str(&format!(
        "{} (the {format} format holds text only; `--format k8s` carries binary values)",
        pair.0
    ))
}

fn refuse(pair: &Pair, format: &str, what: &str) -> Error {
    Error::Usage(format!(
        "{} contains {what}, which the {format} format cannot represent; use --format dotenv, json \
         or k8s for this secret",
        pair.0
    ))
}

/// `NAME='value'`: single quotes, a `'` written `'\''` (close, escaped quote, reopen). This is the
/// one quoting that dotenv readers (dotenvy) and a shell that `source`s the file read byte for byte
/// alike: nothing inside single quotes is special to either — no `$` expansion, no backtick or `$(`
/// command substitution, no escapes — and line breaks are kept as they are. (Double quotes are not:
/// a shell runs backticks inside them and does not turn `\n` into a line break.)
pub fn dotenv(pairs: &[Pair]) -> Result<Zeroizing<String>> {
    let mut out = WipingString::default();
    for pair in pairs {
        let value = text(pair, "dotenv")?;
        if value.contains('\0') {
            return Err(refuse(pair, "dotenv", "a NUL byte"));
        }
        out.push_str(pair.0.as_str());
        out.push('=');
        dotenv_quote(value, &mut out);
        out.push('\n');
    }
    Ok(out.into_string())
}

/// `value` in single quotes for a dotenv file: a `'` is written `'\''` and a `\` is written `'\\'`
/// (outside the quotes, where both a shell and dotenvy take `\\` as one backslash; dotenvy's line
/// splitter would take a `\` inside single quotes as escaping the closing quote).
fn dotenv_quote(value: &str, out: &mut WipingString) {
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("'\\''"),
            '\\' => out.push_str("'\\\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// `value` in shell single quotes, a `'` written `'\''`.
pub fn single_quote(value: &str, out: &mut WipingString) {
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("'\\''"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// `export NAME='value'`: single quotes keep everything literal; a `'` becomes `'\''`.
pub fn shell(pairs: &[Pair]) -> Result<Zeroizing<String>> {
    let mut out = WipingString::default();
    for pair in pairs {
        let value = text(pair, "shell")?;
        if value.contains('\0') {
            return Err(refuse(pair, "shell", "a NUL byte"));
        }
        out.push_str("export ");
        out.push_str(pair.0.as_str());
        out.push('=');
        single_quote(value, &mut out);
        out.push('\n');
    }
    Ok(out.into_string())
}

/// One flat JSON object.
pub fn json(pairs: &[Pair]) -> Result<Zeroizing<String>> {
    // Borrowed values, sorted by name as a serde_json::Map would be: no String copies of the values.
    let mut map = std::collections::BTreeMap::new();
    for pair in pairs {
        map.insert(pair.0.as_str(), text(pair, "json")?);
    }
    let mut out = WipingString::default();
    serde_json::to_writer_pretty(&mut out, &map).expect("JSON serialises");
    out.push('\n');
    Ok(out.into_string())
}

/// A YAML double-quoted scalar. Everything outside YAML's printable set, and the characters YAML 1.1
/// readers take as line breaks (NEL, LS, PS), is escaped, so libyaml-based and YAML 1.2 readers agree.
pub fn yaml_quote(value: &str, out: &mut WipingString) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x100 && !('\u{a0}'..='\u{ff}').contains(&c) => {
                let _ = std::fmt::Write::write_fmt(out, format_args!("\\x{:02x}", c as u32));
            }
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' => {
                let _ = std::fmt::Write::write_fmt(out, format_args!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A flat YAML mapping; keys are quoted too, so a secret named `true` or `null` stays a string.
pub fn yaml(pairs: &[Pair]) -> Result<Zeroizing<String>> {
    let mut out = WipingString::default();
    if pairs.is_empty() {
        out.push_str("{}\n");
    }
    for pair in pairs {
        let value = text(pair, "yaml")?;
        yaml_quote(pair.0.as_str(), &mut out);
        out.push_str(": ");
        yaml_quote(value, &mut out);
        out.push('\n');
    }
    Ok(out.into_string())
}

/// `NAME=value` lines as `docker run --env-file` reads them: the value is taken literally up to the end
/// of the line, so values with line breaks cannot be carried.
pub fn docker(pairs: &[Pair]) -> Result<Zeroizing<String>> {
    let mut out = WipingString::default();
    for pair in pairs {
        let value = text(pair, "docker")?;
        if value.contains(['\n', '\r']) {
            return Err(refuse(pair, "docker", "a line break"));
        }
        if value.contains('\0') {
            return Err(refuse(pair, "docker", "a NUL byte"));
        }
        out.push_str(pair.0.as_str());
        out.push('=');
        out.push_str(value);
        out.push('\n');
    }
    Ok(out.into_string())
}

/// The two halves of the GitHub Actions format.
pub struct Github {
    /// `::add-mask::` workflow commands, for the step's stdout: the runner then hides each value (each
    /// line of a multiline value) in later log output.
    pub masks: Zeroizing<String>,
    /// `NAME<<DELIMITER` blocks for the file named by `$GITHUB_ENV`.
    pub env_file: Zeroizing<String>,
}

/// Escape workflow command data as the runner expects (`%`, CR, LF), appending to `out`.
fn command_escape(s: &str, out: &mut WipingString) {
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
}

/// Masks and `$GITHUB_ENV` blocks. Each block uses a random delimiter that does not occur in its value.
/// The names in `unmasked` (settings, which are not secret) get a block but no mask: masking `3000`
/// would hide every `3000` in the log.
pub fn github(
    pairs: &[Pair],
    unmasked: &std::collections::BTreeSet<crate::scope::Name>,
) -> Result<Github> {
    let mut masks = WipingString::default();
    let mut env_file = WipingString::default();
    for pair in pairs {
        let value = text(pair, "github")?;
        if value.contains('\r') {
            return Err(refuse(pair, "github", "a carriage return"));
        }
        let masked = !unmasked.contains(&pair.0);
        for line in value.split('\n').filter(|l| masked && !l.trim().is_empty()) {
            masks.push_str("::add-mask::");
            command_escape(line, &mut masks);
            masks.push('\n');
        }
        let delimiter = loop {
            let mut raw = [0u8; 16];
            crate::crypto::random::fill(&mut raw);
            let d: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            let d = format!("ghadelimiter_{d}");
            if !value.contains(&d) {
                break d;
            }
        };
        env_file.push_str(&format!("{}<<{delimiter}\n", pair.0));
        env_file.push_str(value);
        env_file.push_str(&format!("\n{delimiter}\n"));
    }
    Ok(Github {
        masks: masks.into_string(),
        env_file: env_file.into_string(),
    })
}

/// A Kubernetes object name from a scope: lowercase, `_` as `-`, trimmed to start and end with a letter
/// or digit (RFC 1123 subdomain).
pub fn k8s_name(project: &str, env: &str) -> String {
    let raw = format!("{project}-{env}")
        .to_ascii_lowercase()
        .replace('_', "-");
    let trimmed = raw.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let mut name: String = trimmed.chars().take(253).collect();
    if name.is_empty() {
        name.push_str("keep");
    }
    name
}

/// A `kind: Secret` manifest; values are base64 in `data`, so binary values are carried too.
pub fn k8s(pairs: &[Pair], name: &str) -> Result<Zeroizing<String>> {
    let mut out = WipingString::default();
    out.push_str("apiVersion: v1\nkind: Secret\nmetadata:\n  name: ");
    yaml_quote(name, &mut out);
    // The same label `keep push` puts on the Secrets it manages, so an applied manifest and a pushed
    // object are one and the same to the Kubernetes provider (and to `--prune`).
    out.push_str("\n  labels:\n    app.kubernetes.io/managed-by: keep\ntype: Opaque\ndata:");
    if pairs.is_empty() {
        out.push_str(" {}");
    }
    out.push('\n');
    for pair in pairs {
        out.push_str("  ");
        yaml_quote(pair.0.as_str(), &mut out);
        out.push_str(": \"");
        out.push_str(&Zeroizing::new(STANDARD.encode(pair.1.expose())));
        out.push_str("\"\n");
    }
    Ok(out.into_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::Name;
    use crate::value::SecretValue;

    fn pairs(v: &str) -> Vec<Pair> {
        vec![(Name::new("A").unwrap(), SecretValue::from(v))]
    }

    #[test]
    fn dotenv_single_quotes_with_quotes_and_backslashes_outside() {
        let out = dotenv(&pairs("a$B `c` \"q\" 'r'\nx\\")).unwrap();
        assert_eq!(&*out, "A='a$B `c` \"q\" '\\''r'\\''\nx'\\\\''\n");
    }

    #[test]
    fn docker_refuses_line_breaks_and_names_the_secret() {
        let err = docker(&pairs("line1\nline2-canary")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains('A') && !msg.contains("canary"), "{msg}");
    }

    #[test]
    fn yaml_escapes_non_printables() {
        let mut s = WipingString::default();
        yaml_quote("a\u{7f}\u{85}\u{2028}é", &mut s);
        assert_eq!(s.as_str(), "\"a\\x7f\\x85\\u2028é\"");
    }

    #[test]
    fn k8s_names_are_rfc1123() {
        assert_eq!(k8s_name("My_App", "prod"), "my-app-prod");
        assert_eq!(k8s_name("a.", "b_"), "a.-b");
    }
}
