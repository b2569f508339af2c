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
    /// A Discord bot token: the first segment is the base64 of a numeric user id (17 to 20 digits).
    Discord,
    /// A JWT that was base64-encoded once more (as Kubernetes secrets and some headers carry it).
    JwtBase64,
    /// HTTP Basic credentials: the base64 decodes to printable `user:password`.
    BasicAuth,
}

impl Validator {
    /// Whether this check is a published checksum: a token whose prefix matched is still reported
    /// when it fails (with the rule's `bad_checksum` confidence), since the prefix alone is
    /// unambiguous. The other checks are structure: failing one means it is not that format.
    pub fn is_checksum(self) -> bool {
        matches!(self, Validator::Crc32Base62)
    }
}

/// How sure a finding is. `high`: a provider format with a verified checksum or structure, or an
/// unambiguous prefix; `medium`: a format recognised by a keyword next to it, or a checksum that
/// could not be verified because the provider publishes none; `low`: a published checksum that
/// fails (a test string or a mangled token), or an ordinary-looking password in a password field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }

    /// The SARIF `level` of a result with this confidence.
    pub fn sarif_level(self) -> &'static str {
        match self {
            Confidence::High => "error",
            Confidence::Medium => "warning",
            Confidence::Low => "note",
        }
    }
}

/// Which extra heuristics a rule's candidates go through (see `filters`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Filter {
    /// None beyond entropy, validation and the allowlists.
    #[default]
    None,
    /// The generic high-entropy assignment rule: values that look like code, names, paths or hashes
    /// are dropped.
    Generic,
    /// A field that is a password by its name or position (`password = "..."`, `.netrc`, ODBC
    /// `password: ...`): ordinary passwords count, references, identifiers and placeholders do not,
    /// and an unquoted value must end the statement (else it is code: `password = get(x) or y`).
    Password,
    /// A value that is a password by its position on a command line or in a structured string
    /// (`.netrc`, `curl -u user:PW`, `psexec -p PW`, `;Pwd=PW;`, `scheme://user:PW@host`): the
    /// password checks of [`Filter::Password`] without the end-of-statement rule.
    PasswordArg,
    /// A value after a provider's name (`OKTA_TOKEN = ...`): the name must start a word of the
    /// identifier (`rookTable` does not name Okta, `sumOfExposures` does not name Sumo Logic).
    Named,
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
    filter: Filter,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    confidence: Option<Confidence>,
    #[serde(default)]
    bad_checksum: Option<Confidence>,
    #[serde(default)]
    uuid_format: bool,
    #[serde(default)]
    paths: Vec<String>,
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
    /// The generic assignment rule: extra heuristics apply (see `filters`), and a finding of a
    /// provider rule on the same bytes wins over it.
    pub generic: bool,
    pub filter: Filter,
    pub allow: Vec<Regex>,
    /// The confidence of a finding that passed every check.
    pub confidence: Confidence,
    /// For a checksum validator: the confidence of a match whose checksum fails.
    pub bad_checksum: Confidence,
    /// UUID-shaped values are this rule's format (a provider key after its name): the global UUID
    /// allowlist does not apply.
    pub uuid_format: bool,
    /// If not empty, the rule runs only on paths matching one of these (`.netrc`).
    pub paths: Vec<Regex>,
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
            let paths = d
                .paths
                .iter()
                .map(|a| compile(a, &d.id))
                .collect::<Result<Vec<_>>>()?;
            if d.bad_checksum.is_some() && !d.validate.is_some_and(Validator::is_checksum) {
                return Err(Error::Usage(format!(
                    "rule {}: bad_checksum needs a checksum validator",
                    d.id
                )));
            }
            let filter = if d.generic { Filter::Generic } else { d.filter };
            rules.push(Rule {
                regex: compile(&d.regex, &d.id)?,
                keywords: d.keywords.iter().map(|k| k.to_ascii_lowercase()).collect(),
                id: d.id,
                description: d.description,
                entropy: d.entropy,
                validate: d.validate,
                multiline: d.multiline,
                generic: filter == Filter::Generic,
                filter,
                allow,
                confidence: d.confidence.unwrap_or(Confidence::High),
                bad_checksum: d.bad_checksum.unwrap_or(Confidence::Low),
                uuid_format: d.uuid_format,
                paths,
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
