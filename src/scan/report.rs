//! Rendering findings: a text listing for people, JSON for scripts, and SARIF 2.1.0 for code-scanning
//! dashboards (GitHub accepts it with `upload-sarif`). None of them ever has more than the redacted
//! excerpt of a secret.

use serde_json::{json, Value};

use super::detect::{Finding, VAULT_RULE};
use super::rules::{Confidence, Rule};
use super::Report;

/// Control characters (C0, DEL, C1) escaped as `\u{..}` (`\n`, `\t`, `\r` as themselves), so a
/// file name, a commit author or an excerpt cannot move the cursor, recolour or rewrite the terminal,
/// or start a line that looks like another finding. A backslash is doubled, so the escapes are
/// unambiguous.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// One finding per line: `path:line:column  rule  excerpt`, then the confidence when it is not
/// high, and commit/author for history. Paths, authors and excerpts are escaped (see [`escape`]).
pub fn text(findings: &[Finding], paint: &dyn Fn(&str, &str) -> String) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!(
            "{}  {}  {}",
            paint(&format!("{}:{}:{}", escape(&f.path), f.line, f.column), "1"),
            paint(&f.rule, "31"),
            escape(&f.excerpt)
        ));
        if f.confidence != Confidence::High {
            out.push_str(&format!("  ({} confidence)", f.confidence.as_str()));
        }
        if let Some(c) = &f.commit {
            let short = &c[..c.len().min(12)];
            out.push_str(&format!(
                "  {}",
                paint(
                    &format!(
                        "commit {} {}",
                        escape(short),
                        escape(f.author.as_deref().unwrap_or(""))
                    ),
                    "2"
                )
            ));
        }
        out.push('\n');
    }
    out
}

/// The JSON document of `--format json`.
pub fn json(report: &Report) -> Value {
    json!({
        "findings": report.findings,
        "files": report.files,
        "bytes": report.bytes,
        "skipped": report.skipped,
        "baselined": report.suppressed,
    })
}

/// Percent-encode a relative path for a SARIF `uri`.
fn uri(path: &str) -> String {
    let mut out = String::new();
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The SARIF 2.1.0 log of `--format sarif`.
pub fn sarif(report: &Report, rules: &[Rule]) -> Value {
    let mut ids: Vec<(&str, &str)> = rules
        .iter()
        .map(|r| (r.id.as_str(), r.description.as_str()))
        .collect();
    ids.push((VAULT_RULE, "A value stored in the keep vault, in the clear"));
    let rule_docs: Vec<Value> = ids
        .iter()
        .map(|(id, d)| {
            json!({
                "id": id,
                "name": id,
                "shortDescription": { "text": d },
                "defaultConfiguration": { "level": "error" },
                "properties": { "tags": ["security", "secret"] },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let index = ids.iter().position(|(id, _)| *id == f.rule).unwrap_or(0);
            let mut props = serde_json::Map::new();
            props.insert("confidence".into(), json!(f.confidence));
            if let Some(c) = &f.commit {
                props.insert("commit".into(), json!(c));
            }
            if let Some(a) = &f.author {
                props.insert("author".into(), json!(a));
            }
            if let Some(n) = &f.secret_name {
                props.insert("secretName".into(), json!(n));
            }
            json!({
                "ruleId": f.rule,
                "ruleIndex": index,
                "level": f.confidence.sarif_level(),
                "message": { "text": format!("{}: {}", f.description, f.excerpt) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&f.path) },
                        "region": { "startLine": f.line.max(1), "startColumn": f.column.max(1) },
                    }
                }],
                "partialFingerprints": { "keepScan/v1": f.fingerprint },
                "properties": props,
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "keep",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rule_docs,
            }},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            super::escape("a\u{1b}[31mb\nc\\d\u{9b}"),
            "a\\u{1b}[31mb\\nc\\\\d\\u{9b}"
        );
        assert_eq!(super::escape("plain/path.rs"), "plain/path.rs");
    }

    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(super::uri("src/a b.rs"), "src/a%20b.rs");
        assert_eq!(super::uri("/abs/x"), "file:///abs/x");
    }
}
