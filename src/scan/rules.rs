//! Detection rules are data: an embedded `rules.toml`, so adding a provider is a few lines of TOML
//! rather than code, and `keep scan --rules` can list exactly what runs.
//!
//! Regexes are compiled byte-oriented with Unicode classes off: secrets are ASCII, input files need not
//! be UTF-8, and ASCII word boundaries keep the regex engine on its fast DFA path.

use regex::bytes::Regex;
use serde::Deserialize;

use crate::error::{Error, Result};

/// The built-in rule file.
pub const BUILTIN_RULES: &str = include_str!("rules.toml");

/// A format check run on a candidate after its regex matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Validator {
    /// GitHub-style tokens (and npm's): the last six base62 characters are the CRC32 of the rest of
    /// the final `_`-separated segment.
    Crc32Base62,
    /// A JWT: the header decodes (base64url) to a JSON object with an `alg`.
    Jwt,
    /// A PEM/OpenSSH block with a body long enough to be a real key.
    PrivateKey,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    allowlist: AllowlistDef,
    rule: Vec<RuleDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowlistDef {
    stopwords: Vec<String>,
    secrets: Vec<String>,
    generic_skip_paths: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    id: String,
    description: String,
    keywords: Vec<String>,
    regex: String,
    entropy: f64,
    #[serde(default)]
    validate: Option<Validator>,
    #[serde(default)]
    multiline: bool,
    #[serde(default)]
    generic: bool,
    #[serde(default)]
    allow: Vec<String>,
}

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub keywords: Vec<String>,
    pub regex: Regex,
    /// Minimum Shannon entropy (bits per byte) of the secret.
    pub entropy: f64,
    pub validate: Option<Validator>,
    /// The match may span lines (private keys); the regex then looks past the keyword's line.
    pub multiline: bool,
    /// The generic assignment rule: extra heuristics apply (see `filters`).
    pub generic: bool,
    pub allow: Vec<Regex>,
}

/// Allowlists that apply to every rule.
#[derive(Debug)]
pub struct Allowlist {
    /// Lowercase substrings that mark a placeholder.
    pub stopwords: Vec<String>,
    pub secrets: Vec<Regex>,
    pub generic_skip_paths: Vec<Regex>,
}

/// The rule set.
#[derive(Debug)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub allowlist: Allowlist,
}

fn compile(pattern: &str, what: &str) -> Result<Regex> {
    regex::bytes::RegexBuilder::new(&format!("(?-u){pattern}"))
        .size_limit(50 << 20)
        .build()
        .map_err(|e| Error::Usage(format!("rule {what}: bad regex: {e}")))
}

impl RuleSet {
    /// No rules at all: a detector built on it finds only vault values (`keep lint`).
    pub fn empty() -> RuleSet {
        RuleSet {
            rules: Vec::new(),
            allowlist: Allowlist {
                stopwords: Vec::new(),
                secrets: Vec::new(),
                generic_skip_paths: Vec::new(),
            },
        }
    }

    /// The built-in rules.
    pub fn builtin() -> Result<RuleSet> {
        RuleSet::parse(BUILTIN_RULES)
    }

    /// Parse and compile a rule file.
    pub fn parse(text: &str) -> Result<RuleSet> {
        let file: RuleFile =
            toml::from_str(text).map_err(|e| Error::Usage(format!("bad rule file: {e}")))?;
        let mut rules = Vec::with_capacity(file.rule.len());
        for d in file.rule {
            if d.keywords.is_empty() || d.keywords.iter().any(|k| k.is_empty()) {
                return Err(Error::Usage(format!(
                    "rule {}: needs at least one non-empty keyword (the prefilter)",
                    d.id
                )));
            }
            let allow = d
                .allow
                .iter()
                .map(|a| compile(a, &d.id))
                .collect::<Result<Vec<_>>>()?;
            rules.push(Rule {
                regex: compile(&d.regex, &d.id)?,
                keywords: d.keywords.iter().map(|k| k.to_ascii_lowercase()).collect(),
                id: d.id,
                description: d.description,
                entropy: d.entropy,
                validate: d.validate,
                multiline: d.multiline,
                generic: d.generic,
                allow,
            });
        }
        let a = file.allowlist;
        Ok(RuleSet {
            rules,
            allowlist: Allowlist {
                stopwords: a.stopwords.iter().map(|s| s.to_ascii_lowercase()).collect(),
                secrets: a
                    .secrets
                    .iter()
                    .map(|s| compile(s, "allowlist"))
                    .collect::<Result<_>>()?,
                generic_skip_paths: a
                    .generic_skip_paths
                    .iter()
                    .map(|s| compile(s, "allowlist"))
                    .collect::<Result<_>>()?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_rules_compile_with_unique_ids() {
        let set = RuleSet::builtin().unwrap();
        assert!(set.rules.len() >= 60, "{} rules", set.rules.len());
        let mut ids: Vec<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate rule ids");
    }

    #[test]
    fn a_rule_without_keywords_is_refused() {
        let text = "[allowlist]\nstopwords=[]\nsecrets=[]\ngeneric_skip_paths=[]\n\
                    [[rule]]\nid='x'\ndescription='x'\nkeywords=[]\nregex='a'\nentropy=0.0\n";
        let err = RuleSet::parse(text).unwrap_err();
        assert!(err.to_string().contains("keyword"), "{err}");
    }
}
