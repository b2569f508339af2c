//! Checks that turn a regex match into a finding or throw it away: entropy, format checksums,
//! placeholders, and the generic rule's heuristics. Most of a scanner's precision lives here.

use base64::Engine;

use super::rules::{Allowlist, Rule, Validator};

/// Shannon entropy of `data` in bits per byte.
pub fn entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Encode `n` in base62, left-padded with `0` to `width` characters.
pub fn base62(mut n: u32, width: usize) -> String {
    let mut out = vec![b'0'; width];
    let mut i = width;
    while n > 0 && i > 0 {
        i -= 1;
        out[i] = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).expect("base62 is ASCII")
}

/// GitHub's (and npm's) token checksum: the last six characters of the final `_` segment are the
/// base62 CRC32 of the characters before them in that segment.
pub fn crc32_base62_ok(token: &[u8]) -> bool {
    let segment = match token.iter().rposition(|&b| b == b'_') {
        Some(i) => &token[i + 1..],
        None => token,
    };
    if segment.len() <= 6 || !segment.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (body, tail) = segment.split_at(segment.len() - 6);
    base62(crc32fast::hash(body), 6).as_bytes() == tail
}

fn jwt_ok(token: &[u8]) -> bool {
    let Some(header) = token.split(|&b| b == b'.').next() else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.strip_suffix(b"=").unwrap_or(header))
    else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&decoded)
        .ok()
        .and_then(|v| v.get("alg").cloned())
        .is_some()
}

fn private_key_ok(block: &[u8]) -> bool {
    // The body between the armour lines: count base64 characters, ignoring whitespace and the
    // literal `\n` escapes of keys pasted into JSON.
    let Some(h) = block
        .get(5..)
        .and_then(|b| memchr::memmem::find(b, b"-----"))
    else {
        return false;
    };
    let start = 5 + h + 5;
    let Some(end) = memchr::memmem::rfind(block, b"-----END") else {
        return false;
    };
    let Some(body) = block.get(start..end) else {
        return false;
    };
    let b64 = body
        .iter()
        .filter(|b| b.is_ascii_alphanumeric() || **b == b'+' || **b == b'/')
        .count();
    b64 >= 64 && !body.windows(3).any(|w| w == b"...")
}

/// Whether a candidate passes its rule's format check.
pub fn validate(v: Validator, secret: &[u8]) -> bool {
    match v {
        Validator::Crc32Base62 => crc32_base62_ok(secret),
        Validator::Jwt => jwt_ok(secret),
        Validator::PrivateKey => private_key_ok(secret),
    }
}

/// Whether `secret` is a placeholder or otherwise allowlisted, for any rule.
pub fn allowlisted(allow: &Allowlist, rule: &Rule, secret: &[u8]) -> bool {
    // Stopwords are short; lowercase into a stack buffer only as much as needed.
    let lower: Vec<u8> = secret.to_ascii_lowercase();
    if allow
        .stopwords
        .iter()
        .any(|w| memchr::memmem::find(&lower, w.as_bytes()).is_some())
    {
        return true;
    }
    allow.secrets.iter().any(|r| r.is_match(secret))
        || rule.allow.iter().any(|r| r.is_match(secret))
}

/// The generic assignment rule's heuristics: a value that looks like code, a name, a path or a hash
/// is not a secret.
pub fn generic_rejects(secret: &[u8], before: Option<u8>, rest: &[u8], line: &[u8]) -> bool {
    // A call or an index: `token = get_token(...)`, `key = cfg["x"]`; a reference: `&self.key`.
    let after = rest.first().copied();
    if matches!(after, Some(b'(' | b'[' | b'{' | b'<'))
        || matches!(secret.first(), Some(b'&' | b'$'))
    {
        return true;
    }
    // Unquoted and followed by code punctuation: a type or a name, as in `key: Ed25519PublicKey,`,
    // `pub type KEY = pkcs7_digest;`, `auth: nl80211_auth_type::X`.
    let quoted = matches!(before, Some(b'"' | b'\'' | b'`'));
    if !quoted {
        let next = rest
            .iter()
            .position(|&b| b != b' ')
            .map(|i| &rest[i..])
            .unwrap_or(&[]);
        if matches!(next.first(), Some(b',' | b';' | b')' | b'>' | b'=')) || next.starts_with(b"::")
        {
            return true;
        }
    }
    if looks_like_identifier(secret) {
        return true;
    }
    let digits = secret.iter().filter(|b| b.is_ascii_digit()).count();
    let letters = secret.iter().filter(|b| b.is_ascii_alphabetic()).count();
    if digits == 0 || letters == 0 {
        return true;
    }
    // Dotted or slashed names: `settings.API_KEY`, `config/keys/prod.pem`, `a.b.c`.
    let dots = secret.iter().filter(|&&b| b == b'.' || b == b'/').count();
    if dots > 0 && secret.split(|&b| b == b'.' || b == b'/').all(is_identifier) {
        return true;
    }
    // A git commit id or a content hash named as such.
    let is_hex = secret.iter().all(u8::is_ascii_hexdigit);
    if is_hex && matches!(secret.len(), 40 | 64) {
        let l = line.to_ascii_lowercase();
        for hint in [
            &b"commit"[..],
            b"sha",
            b"rev",
            b"hash",
            b"digest",
            b"checksum",
            b"integrity",
        ] {
            if memchr::memmem::find(&l, hint).is_some() {
                return true;
            }
        }
    }
    // An identifier in SCREAMING_CASE or snake_case with a version digit: `API_KEY_V2`.
    if secret
        .iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
        && secret.contains(&b'_')
    {
        return true;
    }
    false
}

/// An identifier (`fts5_tokenizer_v2`, `PrivateKeyAttestNone`) rather than a random token: it has
/// structure (`_` or camelCase humps) and is made of word-length letter runs, where random base62
/// splits into runs of one or two letters. About 1.5% of random 32-character base62 strings pass
/// as identifiers; that is the recall this costs the generic rule.
fn looks_like_identifier(s: &[u8]) -> bool {
    if !s.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_') {
        return false;
    }
    let (mut runs, mut short, mut letters, mut cur) = (0usize, 0usize, 0usize, 0usize);
    let mut close = |cur: &mut usize| {
        if *cur > 0 {
            runs += 1;
            short += usize::from(*cur <= 2);
            letters += *cur;
            *cur = 0;
        }
    };
    let mut humps = false;
    for (i, &b) in s.iter().enumerate() {
        let hump = i > 0 && s[i - 1].is_ascii_lowercase() && b.is_ascii_uppercase();
        humps |= hump;
        if b.is_ascii_alphabetic() {
            if hump {
                close(&mut cur);
            }
            cur += 1;
        } else {
            close(&mut cur);
        }
    }
    close(&mut cur);
    let structure = humps || s.contains(&b'_');
    runs > 0 && structure && short * 100 <= runs * 34 && letters >= 4 * runs
}

fn is_identifier(part: &[u8]) -> bool {
    !part.is_empty()
        && !part[0].is_ascii_digit()
        && part
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        && part.iter().filter(|b| b.is_ascii_digit()).count() * 4 < part.len()
}

/// Whether the line carries an inline allow comment.
pub fn inline_allowed(line: &[u8]) -> bool {
    memchr::memmem::find(line, b"keep:allow").is_some()
        || memchr::memmem::find(line, b"gitleaks:allow").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checksum-valid GitHub-style token built at run time.
    fn gh_token(prefix: &str, body: &str) -> String {
        format!(
            "{prefix}{body}{}",
            base62(crc32fast::hash(body.as_bytes()), 6)
        )
    }

    #[test]
    fn entropy_orders_random_above_repetitive() {
        assert_eq!(entropy(b"aaaaaaaa"), 0.0);
        assert!((entropy(b"ab") - 1.0).abs() < 1e-9);
        assert!(entropy(b"q8Zr2LmX0pT7vK4n") > 3.5);
    }

    #[test]
    fn github_checksums_are_checked() {
        let good = gh_token("ghp_", "Xy7Q2mZk9LpR4tVb8NcW1sHd6FgJ3a");
        assert!(crc32_base62_ok(good.as_bytes()));
        let mut bad = good.into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        assert!(!crc32_base62_ok(&bad));
        let fine = format!(
            "github_pat_11ABCDEFG0123456789abc_{}",
            gh_token(
                "",
                "Zq8Lm2Xr5Tn7Vb1Kc4Hd9Fg3Js6Wp0Ay2Ue5Io8Pq1Rs4Tu7Vw0Xy3Za6"
            )
        );
        assert!(crc32_base62_ok(fine.as_bytes()));
    }

    #[test]
    fn jwt_headers_must_decode() {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let jwt = format!(
            "{}.{}.c2lnbmF0dXJlLWJ5dGVz",
            enc(r#"{"alg":"HS256","typ":"JWT"}"#),
            enc(r#"{"sub":"1234567890"}"#)
        );
        assert!(jwt_ok(jwt.as_bytes()));
        assert!(!jwt_ok(b"eyJub3Rqc29uIGF0IGFsbA.eyJ4Ijp9.abcdefghijkl"));
    }

    #[test]
    fn generic_values_that_look_like_code_are_rejected() {
        assert!(generic_rejects(b"get_token_v2", None, b"(x)", b""));
        assert!(generic_rejects(b"settings.api_key", None, b"", b""));
        assert!(generic_rejects(b"abcdefghijkl", None, b"", b""));
        assert!(generic_rejects(b"API_KEY_V2", None, b"", b""));
        assert!(generic_rejects(b"fts5_tokenizer_v2", None, b"", b""));
        assert!(generic_rejects(b"&self.dot2_token", None, b"", b""));
        // keep:allow (a made-up value)
        let line = b"token = q8Zr2LmX0pT7vK4n"; // keep:allow
        assert!(!generic_rejects(&line[8..], None, b"", line));
        assert!(generic_rejects(b"Ed25519PublicKey9", None, b",", b""));
        assert!(!generic_rejects(&line[8..], Some(b'"'), b"\",", line));
    }
}
