//! Weak values: too short, low entropy, or a well-known default. Judged on the value's bytes in memory
//! only; findings name the secret, never the value.

/// Shorter than this is an error.
pub const MIN_LEN: usize = 8;
/// Estimated entropy below this many bits is a warning.
pub const MIN_BITS: f64 = 40.0;

/// Values that ship in examples and tutorials (compared case-insensitively).
const DEFAULTS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "password",
    "passw0rd",
    "password1",
    "password123",
    "secret",
    "secret123",
    "mysecret",
    "your-secret-key",
    "your-secret-key-change-in-production",
    "your_secret_key",
    "supersecret",
    "admin",
    "administrator",
    "root",
    "default",
    "example",
    "test",
    "testing",
    "qwerty",
    "letmein",
    "123456",
    "12345678",
    "123456789",
    "1234567890",
    "abc123",
    "xxx",
    "todo",
    "replaceme",
    "replace-me",
];

/// Fragments that mark a placeholder wherever they appear.
const PLACEHOLDER_FRAGMENTS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "change-in-production",
    "replace-me",
    "replaceme",
    "your-secret",
    "your_secret",
];

/// What is wrong with a value, if anything.
#[derive(Clone, Debug, PartialEq)]
pub enum Weakness {
    /// A well-known default or placeholder.
    Default,
    /// Fewer than [`MIN_LEN`] bytes.
    TooShort(usize),
    /// Estimated entropy in bits.
    LowEntropy(f64),
}

/// Shannon entropy of the value's byte distribution times its length: an upper-bound estimate that
/// is low for repeated or narrow-alphabet values. Cheap, and honest about being an estimate.
pub fn estimated_bits(value: &[u8]) -> f64 {
    if value.is_empty() {
        return 0.0;
    }
    let mut counts = [0usize; 256];
    for b in value {
        counts[*b as usize] += 1;
    }
    let n = value.len() as f64;
    let per_byte: f64 = counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / n;
            -p * p.log2()
        })
        .sum();
    per_byte * n
}

/// Judge a value.
pub fn check(value: &[u8]) -> Option<Weakness> {
    let lower = String::from_utf8_lossy(value).trim().to_ascii_lowercase();
    if DEFAULTS.contains(&lower.as_str()) || PLACEHOLDER_FRAGMENTS.iter().any(|f| lower.contains(f))
    {
        return Some(Weakness::Default);
    }
    if value.len() < MIN_LEN {
        return Some(Weakness::TooShort(value.len()));
    }
    let bits = estimated_bits(value);
    if bits < MIN_BITS {
        return Some(Weakness::LowEntropy(bits));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_short_and_low_entropy_are_caught() {
        for v in [
            "changeme",
            "PASSWORD",
            "secret",
            "your-secret-key-change-in-production",
        ] {
            assert_eq!(check(v.as_bytes()), Some(Weakness::Default), "{v}");
        }
        assert_eq!(check(b"x7Q"), Some(Weakness::TooShort(3)));
        assert!(matches!(
            check(b"aaaaaaaaaaaaaaaaaaaa"),
            Some(Weakness::LowEntropy(_))
        ));
        assert!(matches!(
            check(b"abababababab"),
            Some(Weakness::LowEntropy(_))
        ));
    }

    #[test]
    fn random_values_pass() {
        for v in [
            "kX9-2mQv_Lr8ZpT4wYc1",
            "3f9a1c0e7b5d2a8f4c6e1b9d",
            "Tr0ub4dor&3-horse-Battery",
        ] {
            assert_eq!(check(v.as_bytes()), None, "{v}");
        }
    }
}
