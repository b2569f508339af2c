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

/// Decode base64 in either alphabet (standard or URL-safe), padded or not.
fn b64_any(text: &[u8]) -> Option<Vec<u8>> {
    let trimmed: Vec<u8> = text
        .iter()
        .copied()
        .take_while(|&b| b != b'=')
        .map(|b| match b {
            b'+' => b'-',
            b'/' => b'_',
            b => b,
        })
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()
}

fn json_object(segment: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_slice::<serde_json::Value>(&b64_any(segment)?).ok()? {
        serde_json::Value::Object(m) => Some(m),
        _ => None,
    }
}

/// A JWT: the header is a JSON object with an `alg`, the payload a JSON object (either base64
/// alphabet: some libraries emit standard base64 with `/` and `+`).
fn jwt_ok(token: &[u8]) -> bool {
    let mut parts = token.split(|&b| b == b'.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
        return false;
    };
    json_object(header).is_some_and(|h| h.contains_key("alg")) && json_object(payload).is_some()
}

/// A base64-wrapped JWT: the decoded text, trimmed, is a JWT.
fn jwt_base64_ok(text: &[u8]) -> bool {
    b64_any(text).is_some_and(|inner| {
        let inner = inner.trim_ascii();
        inner.starts_with(b"eyJ") && jwt_ok(inner)
    })
}

/// A Discord bot token's first segment is the base64 of the bot's numeric id.
fn discord_ok(token: &[u8]) -> bool {
    let first = token.split(|&b| b == b'.').next().unwrap_or(b"");
    b64_any(first).is_some_and(|id| {
        (17..=20).contains(&id.len()) && id.iter().all(u8::is_ascii_digit) && id[0] != b'0'
    })
}

/// `Basic` credentials decode to printable `user:password` with a password of 3 bytes or more.
fn basic_auth_ok(text: &[u8]) -> bool {
    b64_any(text).is_some_and(|d| {
        d.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
            && d.iter()
                .position(|&b| b == b':')
                .is_some_and(|i| d.len() - i > 3)
    })
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
        Validator::Discord => discord_ok(secret),
        Validator::JwtBase64 => jwt_base64_ok(secret),
        Validator::BasicAuth => basic_auth_ok(secret),
    }
}

/// A UUID (`8-4-4-4-12` hex): request ids and resource ids, not secrets, unless a rule says its
/// provider uses UUID-shaped keys.
pub fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A made-up value: runs of consecutive characters (`abc`, `123`, `a1b2c3`) or a short pattern
/// repeated, as documentation and SDK samples write them (`AbC123dEf456GhI789`,
/// `a1b2c3d4...NRAL`). Random tokens almost never have three such runs: each position starts one
/// with a probability of about 1 in 4,000.
pub fn looks_made_up(s: &[u8]) -> bool {
    if s.len() < 8 || s.len() > 256 {
        return false;
    }
    // `b` follows `a`: digits counting up, or letters in alphabet order whatever their case.
    let next_ci = |a: u8, b: u8| {
        (a.is_ascii_digit() && b.is_ascii_digit() && b == a + 1)
            || (a.is_ascii_alphabetic()
                && b.is_ascii_alphabetic()
                && b.to_ascii_lowercase() == a.to_ascii_lowercase() + 1)
    };
    // Runs of three or more consecutive characters (`abc`, `123`) and interleaved ones (`a1b2c3`):
    // how many, and how many characters they cover.
    let (mut runs, mut covered, mut i) = (0usize, 0usize, 0usize);
    while i + 2 < s.len() {
        if next_ci(s[i], s[i + 1]) && next_ci(s[i + 1], s[i + 2]) {
            let mut j = i + 2;
            while j + 1 < s.len() && next_ci(s[j], s[j + 1]) {
                j += 1;
            }
            runs += 1;
            covered += j + 1 - i;
            i = j + 1;
            continue;
        }
        if i + 5 < s.len()
            && next_ci(s[i], s[i + 2])
            && next_ci(s[i + 2], s[i + 4])
            && next_ci(s[i + 1], s[i + 3])
            && next_ci(s[i + 3], s[i + 5])
        {
            runs += 2;
            covered += 6;
            i += 6;
            continue;
        }
        i += 1;
    }
    if runs >= 3 || covered * 2 >= s.len() {
        return true;
    }
    // A period of at most a quarter of the length (`abcdabcdabcdabcd`).
    (1..=s.len() / 4).any(|p| s[p..].iter().zip(s).all(|(a, b)| a == b))
}

/// Whether `secret` is a placeholder or otherwise allowlisted, for any rule.
pub fn allowlisted(allow: &Allowlist, rule: &Rule, secret: &[u8]) -> bool {
    if !rule.uuid_format && is_uuid(secret) {
        return true;
    }
    if rule.validate != Some(Validator::PrivateKey) && looks_made_up(secret) {
        return true;
    }
    // The candidate may be a vault value (or any secret): its lowercase copy is wiped when dropped.
    let lower = zeroize::Zeroizing::new(secret.to_ascii_lowercase());
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
    // An XML element (`<apiToken>VALUE</apiToken>`): the value must close it.
    if before == Some(b'>') {
        if after != Some(b'<') {
            return true;
        }
    } else if matches!(after, Some(b'(' | b'[' | b'{' | b'<'))
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
    if dotted_name(secret) || snake_words(secret) {
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
    let humps = s
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase());
    let (runs, short, letters) = letter_runs(s);
    let structure = humps || s.contains(&b'_');
    runs > 0 && structure && short * 100 <= runs * 34 && letters >= 4 * runs
}

/// Dotted or slashed names: `settings.API_KEY`, `a.b.c`, `config/keys/prod.pem`. Random base64 has
/// slashes too but never dots, and its pieces mix cases (`wJalrXUtnFEMI/K7MDENG`) where path
/// segments are one case.
fn dotted_name(s: &[u8]) -> bool {
    let s = s
        .strip_prefix(b"./")
        .or_else(|| s.strip_prefix(b"~/"))
        .or_else(|| s.strip_prefix(b"/"))
        .unwrap_or(s);
    let parts = || s.split(|&b| b == b'.' || b == b'/');
    if s.contains(&b'.') {
        parts().all(is_identifier)
    } else if s.contains(&b'/') {
        parts().all(|p| {
            is_identifier(p)
                && (p.iter().all(|b| !b.is_ascii_uppercase())
                    || p.iter().all(|b| !b.is_ascii_lowercase()))
        })
    } else {
        false
    }
}

/// Letter runs (split at digits, `_`, `-` and camelCase humps): how many, how many of one or two
/// letters, and how many letters in all.
fn letter_runs(s: &[u8]) -> (usize, usize, usize) {
    let (mut runs, mut short, mut letters, mut cur) = (0usize, 0usize, 0usize, 0usize);
    let mut close = |cur: &mut usize| {
        if *cur > 0 {
            runs += 1;
            short += usize::from(*cur <= 2);
            letters += *cur;
            *cur = 0;
        }
    };
    for (i, &b) in s.iter().enumerate() {
        let hump = i > 0 && s[i - 1].is_ascii_lowercase() && b.is_ascii_uppercase();
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
    (runs, short, letters)
}

/// A word or a few (`prod`, `API`, `Keypad8`, `keyName`), not a random piece of a token.
fn word_like(p: &[u8]) -> bool {
    let (runs, short, letters) = letter_runs(p);
    if runs == 0 {
        return p.len() <= 4;
    }
    let one_case = p.iter().all(|b| !b.is_ascii_lowercase()) || {
        let mut it = p.iter().filter(|b| b.is_ascii_alphabetic());
        it.next();
        it.all(u8::is_ascii_lowercase)
    };
    (runs == 1 && one_case && letters + 2 >= p.len())
        || (short * 100 <= runs * 34 && letters >= 4 * runs)
}

/// An identifier made of `_`- or `-`-separated words with at most a few odd parts
/// (`kVK_ANSI_Keypad8`, `SDL_SCANCODE_KP_0`, `x-aws-ec2-metadata-token`).
fn snake_words(s: &[u8]) -> bool {
    let sep = |b: &u8| *b == b'_' || *b == b'-';
    if !s.iter().any(sep) || !s.iter().all(|b| b.is_ascii_alphanumeric() || sep(b)) {
        return false;
    }
    let parts: Vec<&[u8]> = s.split(sep).filter(|p| !p.is_empty()).collect();
    let words = parts
        .iter()
        .filter(|p| p.iter().filter(|b| b.is_ascii_alphabetic()).count() >= 3 && word_like(p))
        .count();
    parts.len() >= 2 && words >= 2 && words * 2 >= parts.len()
}

/// The identifier a regex match starting at `ms` names (up to the value at `s`): `dbPassword` in
/// `const dbPassword = "..."`, `STRIPE_PUBLISHABLE_KEY` in `STRIPE_PUBLISHABLE_KEY=pk_live_...`.
pub fn name_at(buf: &[u8], ms: usize, s: usize) -> &[u8] {
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.';
    let mut start = ms;
    while start > 0 && is_name(buf[start - 1]) {
        start -= 1;
    }
    let mut end = ms;
    while end < s && is_name(buf[end]) {
        end += 1;
    }
    &buf[start..end]
}

/// A name that holds a public value or a property of a key rather than the key: a publishable or
/// public key, a site key, a key id or name, a prefix, a type, a length.
pub fn public_name(name: &[u8]) -> bool {
    let n = name.to_ascii_lowercase();
    let has = |w: &[u8]| memchr::memmem::find(&n, w).is_some();
    if has(b"public")
        || has(b"publishable")
        || has(b"pubkey")
        || has(b"pub_key")
        || has(b"sitekey")
        || has(b"site_key")
    {
        return true;
    }
    const SUFFIXES: &[&[u8]] = &[
        b"id",
        b"ids",
        b"name",
        b"names",
        b"type",
        b"kind",
        b"prefix",
        b"suffix",
        b"hint",
        b"header",
        b"field",
        b"column",
        b"format",
        b"alg",
        b"algorithm",
        b"version",
        b"len",
        b"length",
        b"size",
        b"count",
        b"ttl",
        b"path",
        b"file",
        b"index",
        b"label",
        b"mode",
        b"policy",
        b"scope",
        b"scopes",
    ];
    SUFFIXES.iter().any(|s| {
        n.ends_with(s) && {
            // A whole word: `key_id`, `keyId`, `tokenType`, not `paid` or `android`.
            let cut = name.len() - s.len();
            cut > 0 && {
                let (p, c) = (name[cut - 1], name[cut]);
                p == b'_'
                    || p == b'-'
                    || p == b'.'
                    || (p.is_ascii_lowercase() && c.is_ascii_uppercase())
                    || (s.len() >= 4 && p.is_ascii_alphabetic())
            }
        }
    })
}

/// A provider-named rule's match starts a word: `OKTA_TOKEN`, `myOktaToken`, `okta.token`, not
/// `rookTable` (a keyword inside a word) or `sumOfExposures` (a keyword across a camelCase hump).
pub fn names_provider(buf: &[u8], ms: usize, keywords: &[String]) -> bool {
    if ms >= buf.len() {
        return false;
    }
    if let Some(&p) = ms.checked_sub(1).and_then(|i| buf.get(i)) {
        let camel = p.is_ascii_lowercase() && buf[ms].is_ascii_uppercase();
        if p.is_ascii_alphabetic() && !camel {
            return false;
        }
    }
    let mut end = ms;
    while end < buf.len() {
        let b = buf[end];
        if !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') {
            break;
        }
        if end > ms && buf[end - 1].is_ascii_lowercase() && b.is_ascii_uppercase() {
            break;
        }
        end += 1;
    }
    let word = buf[ms..end].to_ascii_lowercase();
    keywords.iter().any(|k| word.starts_with(k.as_bytes()))
}

/// Whether a value in a password field is not a password: a reference (`$PW`, `%PW%`, `!vault`,
/// `*alias`), a call, an index, a path, an identifier, a URL, a word without digits or symbols, or
/// (in an assignment, `statement`) an unquoted value that does not end the statement, which is code.
pub fn password_rejects(secret: &[u8], before: Option<u8>, rest: &[u8], statement: bool) -> bool {
    let quote = before.filter(|b| matches!(b, b'"' | b'\'' | b'`'));
    if let Some(q) = quote {
        // The value must close its quote: else it holds a space (prose) or is cut.
        if rest.first() != Some(&q) && !rest.starts_with(&[b'\\', q]) {
            return true;
        }
    }
    // ODBC braces a value that holds `;`.
    let v = match secret {
        [b'{', inner @ .., b'}'] => inner,
        v => v,
    };
    let v = v.trim_ascii();
    if v.len() < 6 {
        return true;
    }
    let lower = zeroize::Zeroizing::new(v.to_ascii_lowercase());
    let has = |w: &[u8]| memchr::memmem::find(&lower, w).is_some();
    if has(b"password") || has(b"passwd") || has(b"secret") || has(b"://") || has(b"pass123") {
        return true;
    }
    if matches!(
        v[0],
        b'$' | b'%' | b'&' | b'*' | b'#' | b'!' | b'\\' | b'~' | b'-'
    ) || v.iter().any(|b| b"(){}[]".contains(b))
    {
        return true;
    }
    if v.starts_with(b"/") || v.starts_with(b"./") || dotted_name(v) || is_email(v) {
        return true;
    }
    // A name in code (`password = userPassword2`). On a command line, in a URL or a connection
    // string a variable is written `$X`, `%X%` or `${X}` instead, so a camelCase-looking value
    // there is a password.
    if (statement && looks_like_identifier(v))
        || (v
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            && v.contains(&b'_'))
    {
        return true;
    }
    let digits = v.iter().filter(|b| b.is_ascii_digit()).count();
    let symbols = v
        .iter()
        .filter(|b| !b.is_ascii_alphanumeric() && !b"-_.".contains(b))
        .count();
    if digits == 0 && symbols == 0 {
        return true;
    }
    if quote.is_none() {
        if digits == v.len() {
            return true;
        }
        if statement {
            // `password = hashed_pw_v2`: a variable.
            let var = v[0].is_ascii_alphabetic()
                && v.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
                && (v.contains(&b'_')
                    || v.windows(2)
                        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase()));
            if var {
                return true;
            }
            let tail = rest.trim_ascii_start();
            let ends = tail.is_empty() || tail.starts_with(b"#") || tail.starts_with(b"//");
            if !ends || v.ends_with(b",") || v.ends_with(b";") {
                return true;
            }
        }
    }
    false
}

/// `user@example.net`: an address (anonymous FTP's conventional password), not a secret.
fn is_email(v: &[u8]) -> bool {
    let Some(at) = v.iter().position(|&b| b == b'@') else {
        return false;
    };
    let (user, host) = (&v[..at], &v[at + 1..]);
    !user.is_empty()
        && user
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(b))
        && host.contains(&b'.')
        && dotted_name(host)
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

    /// Random characters from `alphabet`, by a small LCG (these tests need no real RNG, only values
    /// no rule was written from).
    fn random(seed: u64, alphabet: &[u8], n: usize) -> Vec<u8> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                alphabet[((x >> 33) % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    #[test]
    fn made_up_values_are_told_from_random_ones() {
        for v in [
            &b"AbC123dEf456GhI789jKl012"[..],
            b"a1b2c3d4e5f6a1b2c3d4e5f6a1b2",
            b"ABCDE123",
            b"xyzXYZxyzXYZxyzXYZ",
        ] {
            assert!(looks_made_up(v), "{}", String::from_utf8_lossy(v));
        }
        // Random base62 values of token length are almost never taken for made-up ones.
        let flagged = (0..2000)
            .filter(|&i| looks_made_up(&random(i, ALNUM, 40)))
            .count();
        assert!(flagged <= 2, "{flagged} of 2000 random values");
    }

    #[test]
    fn base64_with_slashes_is_not_a_path_but_word_paths_are() {
        let mut v = random(7, ALNUM, 40);
        v[9] = b'/';
        v[25] = b'/';
        assert!(!dotted_name(&v), "{}", String::from_utf8_lossy(&v));
        assert!(dotted_name(b"config/keys/prod.pem"));
        assert!(dotted_name(b"settings.API_KEY"));
        assert!(snake_words(b"kVK_ANSI_Keypad8"));
        assert!(snake_words(b"x-aws-ec2-metadata-token"));
        assert!(!snake_words(&random(
            3,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
            32
        )));
    }

    #[test]
    fn provider_names_must_start_a_word() {
        let kw = vec!["okta".to_string(), "sumo".to_string()];
        let at = |text: &[u8], word: &[u8]| {
            let ms = memchr::memmem::find(&text.to_ascii_lowercase(), word).unwrap();
            names_provider(text, ms, &kw)
        };
        assert!(at(b"OKTA_TOKEN = x", b"okta"));
        assert!(at(b"myOktaToken = x", b"okta"));
        assert!(at(b"sumologic_key = x", b"sumo"));
        assert!(!at(b"rookTable = x", b"okta"));
        assert!(!at(b"sumOfExposures = x", b"sumo"));
    }

    #[test]
    fn public_names_are_told_from_secret_ones() {
        for n in [
            &b"STRIPE_PUBLISHABLE_KEY"[..],
            b"keyPrefix",
            b"key_id",
            b"tokenType",
            b"site_key",
        ] {
            assert!(public_name(n), "{}", String::from_utf8_lossy(n));
        }
        for n in [
            &b"STRIPE_SECRET_KEY"[..],
            b"api_key",
            b"authToken",
            b"paid_token",
        ] {
            assert!(!public_name(n), "{}", String::from_utf8_lossy(n));
        }
    }

    #[test]
    fn password_fields_take_ordinary_passwords_but_not_references() {
        let q = Some(b'"');
        // Quoted and closed, in code; unquoted at the end of a config line.
        assert!(!password_rejects(b"Winter-2031!", q, b"\";", true));
        assert!(!password_rejects(b"tr0ub4dor99", None, b"", true));
        assert!(!password_rejects(b"tr0ub4dor99", None, b" # prod", true));
        for (v, before, rest) in [
            (&b"${DB_PASSWORD}"[..], q, &b"\""[..]),
            (b"getpass()", None, b""),
            (b"os.environ", None, b"[x]"),
            (b"my-tls-cert", None, b""),
            (b"hashed_pw_v2", None, b""),
            (b"user_input1", None, b""),
            (b"!vault", None, b" |"),
            (b"/run/secrets/db", None, b""),
            (b"pw123456", None, b" if x else y"),
            (b"Winter-2031!", q, b" and more\""),
            (b"12345678", None, b""),
            (b"ftp@mirror.example.net", None, b""),
        ] {
            assert!(
                password_rejects(v, before, rest, true),
                "{}",
                String::from_utf8_lossy(v)
            );
        }
        // On a command line the value need not end the line.
        assert!(!password_rejects(b"Autumn-77", None, b" cmd.exe", false));
    }

    #[test]
    fn structural_validators() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let id = b"718293045566778899";
        let disc = format!(
            "{}.{}.{}",
            STANDARD.encode(id).trim_end_matches('='),
            String::from_utf8(random(1, ALNUM, 6)).unwrap(),
            String::from_utf8(random(2, ALNUM, 38)).unwrap()
        );
        assert!(discord_ok(disc.as_bytes()));
        let not_id = format!(
            "{}.abcdef.{}",
            STANDARD.encode(b"hello world, here"),
            "x".repeat(30)
        );
        assert!(!discord_ok(not_id.as_bytes()));
        // A JWT whose payload has characters of both base64 alphabets, and the same JWT wrapped.
        let jwt = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
            STANDARD
                .encode(r#"{"sub":"a>>?b","n":"~~~"}"#)
                .trim_end_matches('='),
            URL_SAFE_NO_PAD.encode(random(4, ALNUM, 32))
        );
        assert!(jwt.contains('/') || jwt.contains('+'), "{jwt}");
        assert!(jwt_ok(jwt.as_bytes()));
        assert!(jwt_base64_ok(STANDARD.encode(&jwt).as_bytes()));
        assert!(!jwt_base64_ok(STANDARD.encode("eyJ-not-a-jwt").as_bytes()));
        assert!(basic_auth_ok(STANDARD.encode("deploy:Hx8-pl").as_bytes()));
        assert!(!basic_auth_ok(STANDARD.encode("no colon here").as_bytes()));
    }
}
