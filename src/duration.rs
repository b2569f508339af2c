//! Durations as people write them: `90d`, `12h`, `1d12h`, `15m`. The one formatter for every
//! duration keep shows (policies, TTLs, ages), so what the user typed reads back as typed, and what
//! keep prints can be typed back (`humantime` parses every form made here).

use std::time::Duration;

const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];

/// Exact, in days, hours, minutes and seconds, largest first, zero parts left out: `90d`, `1d12h`,
/// `1h30m`, `45s`. Under a second it is milliseconds (`500ms`); above, sub-second parts are dropped.
pub fn exact(d: Duration) -> String {
    let mut left = d.as_secs();
    if left == 0 {
        return match d.subsec_millis() {
            0 => "0s".into(),
            ms => format!("{ms}ms"),
        };
    }
    let mut out = String::new();
    for (size, unit) in UNITS {
        if left >= size {
            out.push_str(&format!("{}{unit}", left / size));
            left %= size;
        }
    }
    out
}

/// Approximate, in the largest whole unit, rounded down: `3d`, `5h`, `12m`, `40s`. For ages, where
/// the exact second is noise.
pub fn approx(d: Duration) -> String {
    let secs = d.as_secs();
    let (size, unit) = UNITS
        .into_iter()
        .find(|(size, _)| secs >= *size)
        .unwrap_or((1, "s"));
    format!("{}{unit}", secs / size)
}

/// [`exact`] of whole seconds.
pub fn exact_secs(secs: u64) -> String {
    exact(Duration::from_secs(secs))
}

/// [`approx`] of whole seconds.
pub fn approx_secs(secs: u64) -> String {
    approx(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_typed_reads_back_as_typed() {
        for typed in [
            "90d", "30d", "1d12h", "12h", "1h30m", "15m", "45s", "1d1s", "365d",
        ] {
            let d = humantime::parse_duration(typed).unwrap();
            assert_eq!(exact(d), typed);
        }
        assert_eq!(exact(humantime::parse_duration("36h").unwrap()), "1d12h");
        assert_eq!(exact(Duration::ZERO), "0s");
        assert_eq!(exact(Duration::from_millis(500)), "500ms");
    }

    #[test]
    fn what_is_printed_parses_back_to_the_same_duration() {
        for secs in [
            1, 59, 60, 61, 3_599, 3_600, 86_399, 86_400, 7_776_000, 7_776_061, 31_622_400,
        ] {
            let d = Duration::from_secs(secs);
            assert_eq!(humantime::parse_duration(&exact(d)).unwrap(), d, "{secs}");
        }
    }

    #[test]
    fn approx_takes_the_largest_whole_unit() {
        assert_eq!(approx_secs(0), "0s");
        assert_eq!(approx_secs(40), "40s");
        assert_eq!(approx_secs(12 * 60 + 5), "12m");
        assert_eq!(approx_secs(5 * 3_600 + 59), "5h");
        assert_eq!(approx_secs(3 * 86_400 + 80_000), "3d");
    }
}
