//! Generators through `keep set NAME --generate SPEC` (formats, parsed back with the crates that
//! define them) and through the library (statistical sanity of passwords and tokens).

use crate::common;

use std::collections::HashMap;
use std::str::FromStr;

use base64::Engine;
use common::{code, stderr, TestVault};
use keep::rotate::generator::{class_alphabet, DIGITS, LOWER, SYMBOLS, UPPER};
use keep::rotate::Generator;

fn generate(tv: &TestVault, name: &str, spec: &str) -> (String, serde_json::Value) {
    let out = tv.run(&["set", name, "--generate", spec, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (tv.get(name), doc)
}

#[test]
fn formats() {
    let tv = TestVault::new();
    let (token, _) = generate(&tv, "TOKEN", "token:32");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&token)
        .expect("URL-safe base64");
    assert_eq!(bytes.len(), 32);

    let (hex, _) = generate(&tv, "HEX", "hex:16");
    assert_eq!(hex.len(), 32);
    assert!(hex
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));

    let (pw, _) = generate(&tv, "PW", "password:24:lud");
    assert_eq!(pw.len(), 24);
    for class in [LOWER, UPPER, DIGITS] {
        assert!(pw.bytes().any(|b| class.contains(&b)), "{class:?}");
    }
    assert!(!pw.bytes().any(|b| SYMBOLS.contains(&b)));

    let (id, _) = generate(&tv, "ID", "uuid");
    let parsed = uuid::Uuid::parse_str(&id).unwrap();
    assert_eq!(parsed.get_version_num(), 4);

    let (identity, doc) = generate(&tv, "AGE_KEY", "age");
    let parsed = age::x25519::Identity::from_str(&identity).expect("an age identity");
    assert_eq!(doc["public"]["kind"], "age-recipient");
    assert_eq!(doc["public"]["text"], parsed.to_public().to_string());

    let (openssh, doc) = generate(&tv, "SSH_KEY", "ed25519");
    let key = ssh_key::PrivateKey::from_openssh(&openssh).expect("an OpenSSH key");
    assert_eq!(key.algorithm(), ssh_key::Algorithm::Ed25519);
    assert_eq!(doc["public"]["kind"], "ssh-ed25519");
    let public = key.public_key().to_openssh().unwrap();
    assert_eq!(doc["public"]["text"], public);

    // The public part is kept as metadata and shown by `status --json`.
    let out = tv.run(&["status", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ssh = list.iter().find(|s| s["name"] == "SSH_KEY").unwrap();
    assert_eq!(ssh["public"]["text"], public);

    // Two generations never repeat.
    let (again, _) = generate(&tv, "TOKEN", "token:32");
    assert_ne!(again, token);
}

#[test]
fn bad_specs_are_usage_errors_and_change_nothing() {
    let tv = TestVault::new();
    for spec in [
        "token",
        "password:3",
        "password:12:x",
        "rsa:2048",
        "hex:abc",
    ] {
        let out = tv.run(&["set", "X", "--generate", spec]);
        assert_eq!(code(&out), 2, "{spec}: {}", stderr(&out));
    }
    assert_eq!(code(&tv.run(&["get", "X"])), 3);
}

/// Chi-square statistic of `counts` against `expected` frequencies.
fn chi_square(counts: &HashMap<u8, usize>, alphabet: &[u8], total: usize) -> f64 {
    let e = total as f64 / alphabet.len() as f64;
    alphabet
        .iter()
        .map(|c| {
            let o = *counts.get(c).unwrap_or(&0) as f64;
            (o - e) * (o - e) / e
        })
        .sum()
}

#[test]
fn password_characters_are_uniform_and_classes_proportional() {
    let g = Generator::parse("password:64:luds").unwrap();
    let alphabet: Vec<u8> = ['l', 'u', 'd', 's']
        .iter()
        .flat_map(|c| class_alphabet(*c).to_vec())
        .collect();
    let mut counts: HashMap<u8, usize> = HashMap::new();
    let n = 1500;
    for _ in 0..n {
        let v = g.generate().unwrap().value;
        for b in v.expose() {
            *counts.entry(*b).or_default() += 1;
        }
    }
    let total = n * 64;
    assert!(counts.keys().all(|b| alphabet.contains(b)));
    // 88 symbols, 87 degrees of freedom: the 99.9999th percentile is about 170. A modulo bias (256 %
    // 88 = 80 favoured characters) would push this into the hundreds at this sample size.
    let chi = chi_square(&counts, &alphabet, total);
    assert!(chi < 170.0, "chi-square {chi}");
    // Class shares follow alphabet sizes within 2 percentage points.
    for class in [LOWER, UPPER, DIGITS, SYMBOLS] {
        let got: usize = class.iter().map(|c| counts.get(c).unwrap_or(&0)).sum();
        let share = got as f64 / total as f64;
        let expected = class.len() as f64 / alphabet.len() as f64;
        assert!((share - expected).abs() < 0.02, "{share} vs {expected}");
    }
}

#[test]
fn short_passwords_still_get_every_class() {
    let g = Generator::parse("password:4:luds").unwrap();
    for _ in 0..300 {
        let v = g.generate().unwrap().value;
        for class in [LOWER, UPPER, DIGITS, SYMBOLS] {
            assert!(v.expose().iter().any(|b| class.contains(b)));
        }
    }
}

#[test]
fn token_bytes_are_uniform() {
    let g = Generator::parse("hex:64").unwrap();
    let mut counts: HashMap<u8, usize> = HashMap::new();
    let n = 1000;
    for _ in 0..n {
        let v = g.generate().unwrap().value;
        for b in v.expose() {
            *counts.entry(*b).or_default() += 1;
        }
    }
    let alphabet = b"0123456789abcdef";
    // 15 degrees of freedom: the 99.9999th percentile is about 52.
    let chi = chi_square(&counts, alphabet, n * 128);
    assert!(chi < 52.0, "chi-square {chi}");
}
