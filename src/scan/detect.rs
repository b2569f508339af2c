//! The detection engine, built the ripgrep way: one Aho-Corasick pass over each buffer finds the
//! rules' keywords, and a rule's regex runs only on the text around its keyword hits (usually one
//! line). Most bytes of a source tree are therefore touched once, by the automaton, and never split
//! into lines: there is no per-line work and no per-line allocation in the hot loop.
//!
//! Values stored in the vault are matched exactly by a second automaton, built only when the vault
//! is unlocked, behind keep's own filter ([`super::vault_match`]), and reported by name.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::bytes::CaptureLocations;
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::filters;
use super::rules::{Confidence, Filter, Rule, RuleSet};
use super::vault_match::VaultMatcher;
use crate::error::{Error, Result};

/// How far before a keyword hit a rule's regex may look (for rules whose keyword sits mid-token).
const BACK: usize = 256;
/// How far after a keyword hit a single-line rule's regex may look.
const FORWARD: usize = 1024;
/// How far after a keyword hit a multi-line rule (private keys) may look.
const FORWARD_MULTILINE: usize = 32 * 1024;

/// The rule id of a vault value found in the clear.
pub const VAULT_RULE: &str = "keep-vault-value";

/// One leak. It holds no secret: only where it is, what it is, a redacted excerpt and a fingerprint.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Finding {
    pub rule: String,
    pub description: String,
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based byte column.
    pub column: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// For vault values: the secret's `keep://` address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// At most a four-character prefix of the secret, then a mask (for vault values, the secret's
    /// address in brackets). Never any of the surrounding text: a neighbour on the line may be a
    /// secret no rule knows.
    pub excerpt: String,
    /// How sure the finding is (see [`Confidence`]).
    pub confidence: Confidence,
    /// A hash of rule, path and secret, for baselines: SHA-256 for rule matches (the value is in
    /// the file anyway), HMAC under the vault's scan subkey for vault values (see [`Detector`]).
    pub fingerprint: String,
    /// For vault values only: the unsalted fingerprint version 1 baselines stored, so such a
    /// baseline still accepts what it accepted. Never written out.
    #[serde(skip)]
    pub legacy_fingerprint: Option<String>,
}

/// Where a buffer came from.
#[derive(Clone, Copy, Debug, Default)]
pub struct Origin<'a> {
    pub path: &'a str,
    pub commit: Option<&'a str>,
    pub author: Option<&'a str>,
    /// For buffers made of added lines (git): the original line number of each buffer line.
    pub line_map: Option<&'a [u32]>,
}

/// A value from the vault to look for, by its address.
pub struct Needle {
    pub name: String,
    pub value: Zeroizing<Vec<u8>>,
}

/// The compiled rules and automata; shared read-only by all scanning threads.
pub struct Detector {
    set: RuleSet,
    keywords: AhoCorasick,
    /// For each keyword pattern, the rules it triggers.
    keyword_rules: Vec<Vec<usize>>,
    vault: Option<(VaultMatcher, Vec<Needle>)>,
    /// The key of vault-value fingerprints: the vault's scan subkey, or a random one (fingerprints
    /// then differ between runs, but are never an unsalted hash of a value).
    fingerprint_key: Zeroizing<[u8; 32]>,
}

/// Per-thread working memory, reused across buffers.
pub struct Scratch {
    locs: Vec<CaptureLocations>,
    /// The last window each rule's regex ran on, in the current buffer.
    last: Vec<Option<(usize, usize)>>,
    /// (rule, offset) of candidates already handled in the current buffer.
    seen: Vec<(usize, usize)>,
    /// Byte ranges of this buffer's findings, and each one's rank (see [`rank`]).
    ranges: Vec<(usize, usize, u8)>,
    /// Vault values found in this buffer: (start, end, needle). Masked in every excerpt.
    vault_hits: Vec<(usize, usize, usize)>,
}

impl Detector {
    /// Build the automata. `needles` are vault values (shorter ones are dropped by the caller).
    pub fn new(set: RuleSet, needles: Vec<Needle>) -> Result<Detector> {
        let mut patterns: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        for (ri, rule) in set.rules.iter().enumerate() {
            for k in &rule.keywords {
                match patterns.iter().position(|p| p == k) {
                    Some(i) => keyword_rules[i].push(ri),
                    None => {
                        patterns.push(k.clone());
                        keyword_rules.push(vec![ri]);
                    }
                }
            }
        }
        let keywords = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .map_err(|e| Error::Usage(format!("cannot build the keyword automaton: {e}")))?;
        let vault = if needles.is_empty() {
            None
        } else {
            let matcher = VaultMatcher::new(needles.iter().map(|n| n.value.as_slice()))?;
            Some((matcher, needles))
        };
        let mut fingerprint_key = Zeroizing::new([0u8; 32]);
        crate::crypto::random::fill(&mut fingerprint_key[..]);
        Ok(Detector {
            set,
            keywords,
            keyword_rules,
            vault,
            fingerprint_key,
        })
    }

    /// Key vault-value fingerprints with the vault's scan subkey, so they are stable across runs
    /// with the same vault (baselines keep working) and reveal nothing without the key.
    pub fn with_fingerprint_key(mut self, key: &[u8; 32]) -> Detector {
        self.fingerprint_key.copy_from_slice(key);
        self
    }

    pub fn rules(&self) -> &[Rule] {
        &self.set.rules
    }

    /// How many vault values are being looked for.
    pub fn needles(&self) -> usize {
        self.vault.as_ref().map_or(0, |(_, n)| n.len())
    }

    pub fn scratch(&self) -> Scratch {
        Scratch {
            locs: self
                .set
                .rules
                .iter()
                .map(|r| r.regex.capture_locations())
                .collect(),
            last: vec![None; self.set.rules.len()],
            seen: Vec::new(),
            ranges: Vec::new(),
            vault_hits: Vec::new(),
        }
    }

    /// Scan one buffer, appending findings to `out`.
    pub fn scan(
        &self,
        buf: &[u8],
        origin: &Origin<'_>,
        scratch: &mut Scratch,
        out: &mut Vec<Finding>,
    ) {
        scratch.last.iter_mut().for_each(|l| *l = None);
        scratch.seen.clear();
        scratch.ranges.clear();
        scratch.vault_hits.clear();
        if let Some((matcher, _)) = &self.vault {
            matcher.find_all(buf, &mut scratch.vault_hits);
        }
        let first = out.len();
        for m in self.keywords.find_overlapping_iter(buf) {
            for &ri in &self.keyword_rules[m.pattern().as_usize()] {
                let rule = &self.set.rules[ri];
                let (ws, we) = window(buf, m.start(), m.end(), rule.multiline);
                if let Some((ls, le)) = scratch.last[ri] {
                    // The previous window of this rule already covered this hit with room to spare.
                    if ws >= ls && (we <= le || m.end() + FORWARD / 2 <= le) {
                        continue;
                    }
                }
                scratch.last[ri] = Some((ws, we));
                self.run_rule(ri, buf, ws, we, origin, scratch, out);
            }
        }
        // A generic or password finding on a secret a provider rule already named is noise: keep the
        // most specific one (and of two equally specific ones, the first).
        if scratch.ranges.iter().any(|r| r.2 > 0) {
            let ranges = &scratch.ranges;
            let keep: Vec<bool> = ranges
                .iter()
                .enumerate()
                .map(|(i, &(s, e, r))| {
                    r == 0
                        || !ranges.iter().enumerate().any(|(j, &(s2, e2, r2))| {
                            (r2 < r || (r2 == r && j < i)) && s2 < e && s < e2
                        })
                })
                .collect();
            let mut idx = 0;
            out.retain(|_| {
                let k = idx < first || keep[idx - first];
                idx += 1;
                k
            });
        }
        if let Some((_, needles)) = &self.vault {
            for &(start, _, idx) in &scratch.vault_hits {
                let needle = &needles[idx];
                let (ls, le) = line_bounds(buf, start);
                if filters::inline_allowed(&buf[ls..le]) {
                    continue;
                }
                let mut f = self.finding(
                    VAULT_RULE,
                    &format!("Value of the vault secret {}", needle.name),
                    buf,
                    start,
                    &needle.value,
                    origin,
                    format!("[{}]", needle.name),
                    Some(needle.name.clone()),
                    Confidence::High,
                );
                f.legacy_fingerprint = Some(std::mem::replace(
                    &mut f.fingerprint,
                    keyed_fingerprint(
                        &self.fingerprint_key,
                        VAULT_RULE,
                        origin.path,
                        &needle.value,
                    ),
                ));
                out.push(f);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run_rule(
        &self,
        ri: usize,
        buf: &[u8],
        ws: usize,
        we: usize,
        origin: &Origin<'_>,
        scratch: &mut Scratch,
        out: &mut Vec<Finding>,
    ) {
        let rule = &self.set.rules[ri];
        let hay = &buf[..we];
        let mut pos = ws;
        while pos <= we {
            let locs = &mut scratch.locs[ri];
            let Some(m) = rule.regex.captures_read_at(locs, hay, pos) else {
                break;
            };
            pos = if m.end() > m.start() {
                m.end()
            } else {
                m.end() + 1
            };
            // The secret is the first group that took part (rules with alternatives have one
            // group per alternative), else the whole match.
            let (s, e) = (1..locs.len())
                .find_map(|i| locs.get(i))
                .unwrap_or((m.start(), m.end()));
            if scratch.seen.contains(&(ri, s)) {
                continue;
            }
            scratch.seen.push((ri, s));
            if let Some(f) = self.check(rule, buf, m.start(), s, e, origin) {
                out.push(f);
                scratch.ranges.push((s, e, rank(rule)));
            }
        }
    }

    /// Apply the filters to a candidate at `buf[s..e]`, found by a regex match starting at `ms`.
    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        rule: &Rule,
        buf: &[u8],
        ms: usize,
        s: usize,
        e: usize,
        origin: &Origin<'_>,
    ) -> Option<Finding> {
        let secret = &buf[s..e];
        if !rule.paths.is_empty()
            && !rule
                .paths
                .iter()
                .any(|r| r.is_match(origin.path.as_bytes()))
        {
            return None;
        }
        if rule.entropy > 0.0 && filters::entropy(secret) < rule.entropy {
            return None;
        }
        let mut confidence = rule.confidence;
        if let Some(v) = rule.validate {
            if !filters::validate(v, secret) {
                // A published checksum that fails lowers confidence: the prefix alone is
                // unambiguous. A structural check that fails means it is not this format.
                if !v.is_checksum() {
                    return None;
                }
                confidence = confidence.min(rule.bad_checksum);
            }
        }
        if filters::allowlisted(&self.set.allowlist, rule, secret) {
            return None;
        }
        let (ls, le) = line_bounds(buf, s);
        let line = &buf[ls..le];
        let before = s.checked_sub(1).map(|i| buf[i]);
        let rest = &buf[e..le.max(e)];
        match rule.filter {
            Filter::None => {}
            Filter::Generic => {
                let path = origin.path.as_bytes();
                if self
                    .set
                    .allowlist
                    .generic_skip_paths
                    .iter()
                    .any(|r| r.is_match(path))
                {
                    return None;
                }
                if filters::generic_rejects(secret, before, rest, line)
                    || filters::public_name(filters::name_at(buf, ms, s))
                {
                    return None;
                }
            }
            Filter::Password | Filter::PasswordArg => {
                if filters::password_rejects(secret, before, rest, rule.filter == Filter::Password)
                    || filters::public_name(filters::name_at(buf, ms, s))
                {
                    return None;
                }
            }
            Filter::Named => {
                if !filters::names_provider(buf, ms, &rule.keywords) {
                    return None;
                }
            }
        }
        if filters::inline_allowed(line) {
            return None;
        }
        let excerpt = redact(secret);
        Some(self.finding(
            &rule.id,
            &rule.description,
            buf,
            s,
            secret,
            origin,
            excerpt,
            None,
            confidence,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &self,
        rule: &str,
        description: &str,
        buf: &[u8],
        s: usize,
        secret: &[u8],
        origin: &Origin<'_>,
        excerpt: String,
        secret_name: Option<String>,
        confidence: Confidence,
    ) -> Finding {
        let line_idx = memchr::memchr_iter(b'\n', &buf[..s]).count();
        let line = match origin.line_map {
            Some(map) => map.get(line_idx).copied().unwrap_or(0),
            None => line_idx as u32 + 1,
        };
        let line_start = memchr::memrchr(b'\n', &buf[..s]).map_or(0, |p| p + 1);
        Finding {
            rule: rule.to_string(),
            description: description.to_string(),
            path: origin.path.to_string(),
            line,
            column: (s - line_start) as u32 + 1,
            commit: origin.commit.map(str::to_string),
            author: origin.author.map(str::to_string),
            secret_name,
            excerpt,
            confidence,
            fingerprint: fingerprint(rule, origin.path, secret),
            legacy_fingerprint: None,
        }
    }
}

/// How specific a rule is, for dropping the less specific of two findings on the same bytes: a
/// provider format (0) wins over the generic high-entropy rule (1), which wins over a password
/// field (2).
fn rank(rule: &Rule) -> u8 {
    match rule.filter {
        Filter::None | Filter::Named => 0,
        Filter::Generic => 1,
        Filter::Password | Filter::PasswordArg => 2,
    }
}

/// The region a rule's regex runs on for a keyword hit at `start..end`: the hit's line, clipped to
/// `BACK` bytes before and `FORWARD` bytes after (minified files have megabyte-long lines).
fn window(buf: &[u8], start: usize, end: usize, multiline: bool) -> (usize, usize) {
    let lo = start.saturating_sub(BACK);
    let ws = memchr::memrchr(b'\n', &buf[lo..start]).map_or(lo, |p| lo + p + 1);
    let we = if multiline {
        (end + FORWARD_MULTILINE).min(buf.len())
    } else {
        let hi = (end + FORWARD).min(buf.len());
        memchr::memchr(b'\n', &buf[end..hi]).map_or(hi, |p| end + p)
    };
    (ws, we)
}

fn line_bounds(buf: &[u8], at: usize) -> (usize, usize) {
    let ls = memchr::memrchr(b'\n', &buf[..at]).map_or(0, |p| p + 1);
    let le = memchr::memchr(b'\n', &buf[at..]).map_or(buf.len(), |p| at + p);
    (ls, le)
}

/// A fingerprint of a finding that does not reveal the secret: SHA-256 over rule, path and value.
pub fn fingerprint(rule: &str, path: &str, secret: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"keep-scan/v1\0");
    h.update(rule.as_bytes());
    h.update(b"\0");
    h.update(path.as_bytes());
    h.update(b"\0");
    h.update(secret);
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The fingerprint of a vault-value finding: HMAC-SHA256 under the vault's scan subkey over rule,
/// path and value (length-prefixed), truncated to 128 bits like [`fingerprint`]. A guess at the value
/// cannot be checked against it without the key.
pub fn keyed_fingerprint(key: &[u8; 32], rule: &str, path: &str, secret: &[u8]) -> String {
    crate::crypto::keys::hmac_parts(
        key,
        &[
            b"keep-scan/v2 vault value",
            rule.as_bytes(),
            path.as_bytes(),
            secret,
        ],
    )[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// At most a four-character prefix of a secret (less for short ones), then a mask.
pub fn redact(secret: &[u8]) -> String {
    let n = (secret.len() / 4).min(4);
    let prefix: String = secret[..n]
        .iter()
        .take_while(|b| b.is_ascii_graphic())
        .map(|&b| b as char)
        .collect();
    format!("{prefix}*****")
}

#[cfg(test)]
mod tests {
    use super::*;

    use base64::Engine;

    fn scan_text(det: &Detector, text: &[u8]) -> Vec<Finding> {
        let mut out = Vec::new();
        let origin = Origin {
            path: "t",
            ..Origin::default()
        };
        det.scan(text, &origin, &mut det.scratch(), &mut out);
        out
    }

    /// A PEM block assembled at run time (so this file holds none).
    fn pem(sep: &str) -> String {
        let body = base64::engine::general_purpose::STANDARD.encode([7u8; 900].map(|b| b ^ 0x5a));
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let armour = |w: &str| format!("-----{w} RSA {}-----", "PRIVATE KEY");
        format!(
            "{}{sep}{}{sep}{}",
            armour("BEGIN"),
            lines.join(sep),
            armour("END")
        )
    }

    #[test]
    fn private_keys_span_lines_and_json_escapes() {
        let det = Detector::new(RuleSet::builtin().unwrap(), Vec::new()).unwrap();
        let text = format!("x = 1\n{}\n", pem("\n"));
        let found = scan_text(&det, text.as_bytes());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].rule.as_str(), found[0].line), ("private-key", 2));
        let json = format!("{{\n  \"private_key\": \"{}\\n\"\n}}\n", pem("\\n"));
        let found = scan_text(&det, json.as_bytes());
        assert_eq!(found.len(), 1, "{found:?}");
        // An elided body is documentation, not a key.
        let doc = format!(
            "-----BEGIN RSA {}-----\n...\n-----END RSA PRIVATE KEY-----\n",
            "PRIVATE KEY"
        );
        assert!(scan_text(&det, doc.as_bytes()).is_empty());
    }

    #[test]
    fn tokens_deep_in_long_lines_and_vault_values_are_found() {
        let needle = Needle {
            name: "keep://p/dev/DB".into(),
            value: Zeroizing::new(b"an ordinary phrase".to_vec()),
        };
        let det = Detector::new(RuleSet::builtin().unwrap(), vec![needle]).unwrap();
        let mut line = "var a=1;".repeat(200_000);
        line.push_str(&format!(
            "k=\"{}{}\";",
            "sk_live_", "Zq8Lm2Xr5Tn7Vb1Kc4Hd9Fg3"
        ));
        line.push_str(" an ordinary phrase, again an ordinary phrase\n");
        let found = scan_text(&det, line.as_bytes());
        let rules: Vec<&str> = found.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(
            rules,
            ["stripe-secret-key", VAULT_RULE, VAULT_RULE],
            "{found:?}"
        );
        assert_eq!(found[1].secret_name.as_deref(), Some("keep://p/dev/DB"));
        // Excerpts never hold the value or the text around it.
        for f in &found[1..] {
            assert!(!f.excerpt.contains("ordinary"), "{}", f.excerpt);
            assert!(!f.excerpt.contains("phrase"), "{}", f.excerpt);
        }
    }

    #[test]
    fn redaction_shows_at_most_four_characters() {
        assert_eq!(redact(b"abcdefghijklmnopqrstuvwxyz"), "abcd*****");
        assert_eq!(redact(b"abcdefgh"), "ab*****");
        assert_eq!(redact(b"abc"), "*****");
    }

    #[test]
    fn excerpts_hold_only_the_findings_own_prefix() {
        let det = Detector::new(RuleSet::builtin().unwrap(), Vec::new()).unwrap();
        let line = format!(
            "neighbour=Quiet-Words-Here-{} key: {}{}\n",
            7, "sk_live_", "Zq8Lm2Xr5Tn7Vb1Kc4Hd9Fg3"
        );
        let found = scan_text(&det, line.as_bytes());
        let stripe: Vec<_> = found
            .iter()
            .filter(|f| f.rule == "stripe-secret-key")
            .collect();
        assert_eq!(stripe.len(), 1, "{found:?}");
        assert_eq!(stripe[0].excerpt, "sk_l*****");
    }

    #[test]
    fn windows_stay_on_the_line_and_are_clipped() {
        let buf = b"first line\nsecond token line\nthird";
        let s = 18; // "token"
        assert_eq!(window(buf, s, s + 5, false), (11, 28));
        let long = vec![b'a'; 5000];
        let (ws, we) = window(&long, 2500, 2505, false);
        assert_eq!((ws, we), (2500 - BACK, 2505 + FORWARD));
    }
}
