//! The operating system's CSPRNG, the only source of randomness keep uses.

/// Fill `buf` from the OS CSPRNG.
///
/// Failure to read the OS RNG means the machine cannot do cryptography safely at all; there is no
/// sensible fallback, so this panics with a message that carries no secret.
pub fn fill(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

/// `N` fresh random bytes.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    fill(&mut out);
    out
}
