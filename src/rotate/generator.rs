//! Value generators: `token:N`, `hex:N`, `password:LEN[:CLASSES]`, `uuid`, `age`, `ed25519`.
//!
//! All randomness comes from the OS CSPRNG (`crypto::random`, or the `age` crate's OS RNG for age
//! identities). Keys are made and encoded by the `age` and `ssh-key` crates, never by hand. Passwords
//! pick each character uniformly by rejection sampling (no modulo bias), and a password missing a
//! requested class is thrown away whole and drawn again, which keeps the result uniform over every
//! password that has all the classes.

use std::fmt;

use base64::Engine;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::random;
use crate::error::{Error, Result};
use crate::value::SecretValue;

/// The character classes of `password:LEN:CLASSES`: `l` lower, `u` upper, `d` digits, `s` symbols.
pub const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
pub const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
pub const DIGITS: &[u8] = b"0123456789";
/// Symbols that need no quoting in a `.env` file or a shell's double quotes (no quotes, backslash,
/// backtick, `$` or space).
pub const SYMBOLS: &[u8] = b"!#%&()*+,-./:;<=>?@[]^_{|}~";

/// A parsed generator spec. It is written as its spec (`token:32`) wherever it is stored or shown:
/// keep.toml, sealed policies and pending rows, `--json`. Parsing happens once, where the spec
/// enters keep (the file, the flag, the vault row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Generator {
    /// N random bytes, URL-safe base64 without padding.
    Token(usize),
    /// N random bytes, lower-case hex (2N characters), like `openssl rand -hex N`.
    Hex(usize),
    /// LEN characters with at least one of each class.
    Password { len: usize, classes: Vec<char> },
    /// A random (v4) UUID.
    Uuid,
    /// An age X25519 identity; its recipient is public metadata.
    Age,
    /// An OpenSSH Ed25519 private key; its public key is public metadata.
    Ed25519,
}

/// Public material that goes with a generated value (stored as metadata, safe to show).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicPart {
    /// `age-recipient` or `ssh-ed25519`.
    pub kind: String,
    pub text: String,
}

/// A generated value and its public part.
pub struct Generated {
    pub value: SecretValue,
    pub public: Option<PublicPart>,
}

const MAX_BYTES: usize = 1024;

fn usage(spec: &str, why: &str) -> Error {
    Error::Usage(format!(
        "invalid generator {spec:?}: {why}. Use token:N, hex:N, password:LEN[:CLASSES] (classes from \
         l u d s), uuid, age or ed25519"
    ))
}

impl Generator {
    /// The clap value parser of `--generate`/`--generator`: [`Generator::parse`], its message
    /// for clap to show after the option's name (a bad spec is a usage error, exit 2).
    pub fn parse_arg(spec: &str) -> std::result::Result<Generator, String> {
        Generator::parse(spec).map_err(|e| e.to_string())
    }

    /// Parse a spec such as `token:32` or `password:24:lud`.
    pub fn parse(spec: &str) -> Result<Generator> {
        let mut parts = spec.split(':');
        let kind = parts.next().unwrap_or_default();
        let args: Vec<&str> = parts.collect();
        let number = |s: Option<&&str>, what: &str, min: usize| -> Result<usize> {
            let s = s.ok_or_else(|| usage(spec, &format!("{kind} needs {what}")))?;
            let n: usize = s
                .parse()
                .map_err(|_| usage(spec, &format!("{what} must be a number")))?;
            if !(min..=MAX_BYTES).contains(&n) {
                return Err(usage(spec, &format!("{what} must be {min} to {MAX_BYTES}")));
            }
            Ok(n)
        };
        let no_more = |n: usize| {
            if args.len() > n {
                Err(usage(spec, "too many fields"))
            } else {
                Ok(())
            }
        };
        let g = match kind {
            "token" => {
                no_more(1)?;
                Generator::Token(number(args.first(), "a byte count", 8)?)
            }
            "hex" => {
                no_more(1)?;
                Generator::Hex(number(args.first(), "a byte count", 8)?)
            }
            "password" => {
                no_more(2)?;
                let len = number(args.first(), "a length", 4)?;
                let mut classes: Vec<char> = match args.get(1) {
                    None => vec!['l', 'u', 'd', 's'],
                    Some(c) => c.chars().collect(),
                };
                if classes.is_empty() || classes.iter().any(|c| !"luds".contains(*c)) {
                    return Err(usage(spec, "classes are letters from l, u, d, s"));
                }
                classes.sort_unstable();
                classes.dedup();
                if len < classes.len() {
                    return Err(usage(
                        spec,
                        "the length is shorter than the number of classes",
                    ));
                }
                Generator::Password { len, classes }
            }
            "uuid" => {
                no_more(0)?;
                Generator::Uuid
            }
            "age" => {
                no_more(0)?;
                Generator::Age
            }
            "ed25519" => {
                no_more(0)?;
                Generator::Ed25519
            }
            _ => return Err(usage(spec, "unknown generator")),
        };
        Ok(g)
    }

    /// Make a new value.
    pub fn generate(&self) -> Result<Generated> {
        let plain = |value: SecretValue| Generated {
            value,
            public: None,
        };
        Ok(match self {
            Generator::Token(n) => {
                let bytes = random_bytes(*n);
                plain(SecretValue::from(
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&*bytes),
                ))
            }
            Generator::Hex(n) => {
                let bytes = random_bytes(*n);
                let mut s = String::with_capacity(2 * n);
                for b in bytes.iter() {
                    s.push_str(&format!("{b:02x}"));
                }
                plain(SecretValue::from(s))
            }
            Generator::Password { len, classes } => plain(password(*len, classes)),
            Generator::Uuid => {
                let bytes: [u8; 16] = random::bytes();
                plain(SecretValue::from(
                    uuid::Builder::from_random_bytes(bytes)
                        .into_uuid()
                        .hyphenated()
                        .to_string(),
                ))
            }
            Generator::Age => {
                use age::secrecy::ExposeSecret;
                let id = age::x25519::Identity::generate();
                Generated {
                    value: SecretValue::from(id.to_string().expose_secret()),
                    public: Some(PublicPart {
                        kind: "age-recipient".into(),
                        text: id.to_public().to_string(),
                    }),
                }
            }
            Generator::Ed25519 => {
                let seed = Zeroizing::new(random::bytes::<32>());
                let pair = ssh_key::private::Ed25519Keypair::from_seed(&seed);
                let key = ssh_key::PrivateKey::new(pair.into(), "keep")
                    .map_err(|e| Error::Usage(format!("cannot build an Ed25519 key: {e}")))?;
                let private = key
                    .to_openssh(ssh_key::LineEnding::LF)
                    .map_err(|e| Error::Usage(format!("cannot encode an Ed25519 key: {e}")))?;
                let public = key
                    .public_key()
                    .to_openssh()
                    .map_err(|e| Error::Usage(format!("cannot encode an Ed25519 key: {e}")))?;
                Generated {
                    value: SecretValue::from(private.as_str()),
                    public: Some(PublicPart {
                        kind: "ssh-ed25519".into(),
                        text: public,
                    }),
                }
            }
        })
    }
}

impl std::str::FromStr for Generator {
    type Err = Error;
    fn from_str(spec: &str) -> Result<Generator> {
        Generator::parse(spec)
    }
}

impl TryFrom<String> for Generator {
    type Error = Error;
    fn try_from(spec: String) -> Result<Generator> {
        Generator::parse(&spec)
    }
}

impl From<Generator> for String {
    fn from(g: Generator) -> String {
        g.to_string()
    }
}

impl fmt::Display for Generator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Generator::Token(n) => write!(f, "token:{n}"),
            Generator::Hex(n) => write!(f, "hex:{n}"),
            // The default classes print as they are usually written, `password:24`, so a spec shown
            // back (`keep rotate --dry-run`, `status`) reads as the user wrote it.
            Generator::Password { len, classes } if classes[..] == ['d', 'l', 's', 'u'] => {
                write!(f, "password:{len}")
            }
            Generator::Password { len, classes } => {
                write!(f, "password:{len}:{}", classes.iter().collect::<String>())
            }
            Generator::Uuid => f.write_str("uuid"),
            Generator::Age => f.write_str("age"),
            Generator::Ed25519 => f.write_str("ed25519"),
        }
    }
}

fn random_bytes(n: usize) -> Zeroizing<Vec<u8>> {
    let mut buf = Zeroizing::new(vec![0u8; n]);
    random::fill(&mut buf);
    buf
}

/// The alphabet of a class letter.
pub fn class_alphabet(class: char) -> &'static [u8] {
    match class {
        'l' => LOWER,
        'u' => UPPER,
        'd' => DIGITS,
        _ => SYMBOLS,
    }
}

/// A uniform index below `n` (n <= 256) from a stream of random bytes, by rejection sampling: bytes
/// at or above the largest multiple of `n` are dropped, so every index is equally likely.
fn uniform_index(n: usize, pool: &mut RandomPool) -> usize {
    let limit = 256 - (256 % n);
    loop {
        let b = pool.next() as usize;
        if b < limit {
            return b % n;
        }
    }
}

/// Random bytes drawn from the OS in blocks.
struct RandomPool {
    buf: Zeroizing<[u8; 64]>,
    pos: usize,
}

impl RandomPool {
    fn new() -> RandomPool {
        RandomPool {
            buf: Zeroizing::new([0; 64]),
            pos: 64,
        }
    }

    fn next(&mut self) -> u8 {
        if self.pos == self.buf.len() {
            random::fill(&mut self.buf[..]);
            self.pos = 0;
        }
        self.pos += 1;
        self.buf[self.pos - 1]
    }
}

fn password(len: usize, classes: &[char]) -> SecretValue {
    let alphabet: Vec<u8> = classes
        .iter()
        .flat_map(|c| class_alphabet(*c).iter().copied())
        .collect();
    let mut pool = RandomPool::new();
    loop {
        let mut out = Zeroizing::new(Vec::with_capacity(len));
        for _ in 0..len {
            out.push(alphabet[uniform_index(alphabet.len(), &mut pool)]);
        }
        let complete = classes
            .iter()
            .all(|c| out.iter().any(|b| class_alphabet(*c).contains(b)));
        if complete {
            return SecretValue::new(std::mem::take(&mut *out));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn specs_round_trip_and_bad_ones_are_usage_errors() {
        for spec in [
            "token:32",
            "hex:16",
            "password:24:dlsu",
            "uuid",
            "age",
            "ed25519",
        ] {
            let g = Generator::parse(spec).unwrap();
            assert_eq!(Generator::parse(&g.to_string()).unwrap(), g);
        }
        // Shown in one form whatever order the classes were written in; the default set short.
        for (spec, shown) in [
            ("password:24", "password:24"),
            ("password:24:usld", "password:24"),
            ("password:24:ul", "password:24:lu"),
        ] {
            assert_eq!(Generator::parse(spec).unwrap().to_string(), shown);
        }
        for bad in [
            "",
            "token",
            "token:x",
            "token:4",
            "hex:99999",
            "password:3",
            "password:8:lx",
            "password:8:",
            "uuid:1",
            "rsa",
            "token:16:1",
        ] {
            assert!(
                matches!(Generator::parse(bad), Err(Error::Usage(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn uniform_index_rejects_the_biased_tail() {
        // 256 % 100 = 56: bytes 200..=255 must be rejected, so a pool of only such bytes followed by
        // 7 yields 7.
        let mut pool = RandomPool {
            buf: Zeroizing::new([255; 64]),
            pos: 0,
        };
        pool.buf[10] = 7;
        assert_eq!(uniform_index(100, &mut pool), 7);
        assert_eq!(pool.pos, 11);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn passwords_have_every_requested_class(len in 4usize..40, mask in 1u8..16) {
            let classes: Vec<char> = ['d', 'l', 's', 'u']
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, c)| *c)
                .collect();
            prop_assume!(len >= classes.len());
            let v = password(len, &classes);
            prop_assert_eq!(v.len(), len);
            for c in &classes {
                prop_assert!(v.expose().iter().any(|b| class_alphabet(*c).contains(b)));
            }
            let allowed: Vec<u8> = classes.iter().flat_map(|c| class_alphabet(*c).to_vec()).collect();
            prop_assert!(v.expose().iter().all(|b| allowed.contains(b)));
        }
    }
}
