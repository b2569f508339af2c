//! Retries with jittered exponential backoff, for providers whose client does not bring its own (the
//! AWS SDK does: see `aws.rs`). Throttling (429) and server errors (5xx) are retried; everything else
//! fails at once, because retrying "permission denied" only delays the message.

use std::time::Duration;

/// Attempts in total, including the first.
pub const MAX_ATTEMPTS: u32 = 4;
const BASE: Duration = Duration::from_millis(100);
const CAP: Duration = Duration::from_secs(5);

/// Whether an attempt may be tried again.
pub enum Attempt<E> {
    Retry(E),
    Fail(E),
}

/// "Full jitter": a uniformly random delay in `[0, min(cap, base * 2^n)]`, so that clients throttled
/// together do not retry together.
pub fn delay(attempt: u32) -> Duration {
    let ceiling = BASE.saturating_mul(1 << attempt.min(16)).min(CAP);
    let r = u64::from_le_bytes(crate::crypto::random::bytes::<8>());
    let millis = ceiling.as_millis() as u64;
    Duration::from_millis(if millis == 0 { 0 } else { r % (millis + 1) })
}

/// Run `op` until it succeeds, fails for good, or has used `MAX_ATTEMPTS`.
pub fn run<T, E>(mut op: impl FnMut() -> Result<T, Attempt<E>>) -> Result<T, E> {
    let mut attempt = 0;
    loop {
        match op() {
            Ok(v) => return Ok(v),
            Err(Attempt::Fail(e)) => return Err(e),
            Err(Attempt::Retry(e)) => {
                attempt += 1;
                if attempt >= MAX_ATTEMPTS {
                    return Err(e);
                }
                std::thread::sleep(delay(attempt));
            }
        }
    }
}

/// Whether an HTTP status is worth retrying.
pub fn retryable_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_the_growing_ceiling() {
        for n in 0..10 {
            assert!(delay(n) <= BASE.saturating_mul(1 << n).min(CAP));
        }
    }

    #[test]
    fn retries_only_what_is_retryable_and_gives_up() {
        let mut calls = 0;
        let r: Result<(), &str> = run(|| {
            calls += 1;
            Err(Attempt::Retry("busy"))
        });
        assert_eq!((r, calls), (Err("busy"), MAX_ATTEMPTS));
        let mut calls = 0;
        let r: Result<(), &str> = run(|| {
            calls += 1;
            Err(Attempt::Fail("denied"))
        });
        assert_eq!((r, calls), (Err("denied"), 1));
        assert!(retryable_status(503) && retryable_status(429) && !retryable_status(403));
    }
}
