//! Durations as people write them: `90d`, `12h`, `1d12h`, `15m`. The one formatter for every
//! duration keep shows (policies, TTLs, ages), so what the user typed reads back as typed, and what
//! keep prints can be typed back (`humantime` parses every form made here).

use std::time::{Duration, SystemTime};

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

/// A length of time as people write it on the command line (`keep policy set --max-age 90d`): a
/// humantime duration longer than zero. The error says what is expected; clap names the option.
pub fn parse_span(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{e} (use e.g. 90d, 12h, 1m)"))?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

/// A point in time as people write it on the command line (`keep audit --since`, `keep audit
/// compact --before`): a date `YYYY-MM-DD` (midnight UTC), an RFC 3339 time (`2026-01-31T12:00:00Z`),
/// or a duration (`90d`, `12h`) meaning that long before now. The error says what the three forms
/// are; the caller names its option.
pub fn parse_point(text: &str) -> Result<SystemTime, String> {
    let text = text.trim();
    let is_date = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let as_time = if is_date {
        humantime::parse_rfc3339(&format!("{text}T00:00:00Z"))
    } else {
        humantime::parse_rfc3339_weak(text)
    };
    if let Ok(t) = as_time {
        return Ok(t);
    }
    if is_date {
        return Err(format!("{text:?} is not a date (YYYY-MM-DD)"));
    }
    let d = humantime::parse_duration(text).map_err(|_| {
        format!(
            "{text:?} is not a date (2026-01-31), a time (2026-01-31T12:00:00Z) or a duration \
             (90d, 12h)"
        )
    })?;
    Ok(SystemTime::now()
        .checked_sub(d)
        .unwrap_or(SystemTime::UNIX_EPOCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_in_time_parse_as_dates_times_and_durations_ago() {
        let day = |s: &str| {
            parse_point(s)
                .unwrap()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        assert_eq!(day("2026-01-31"), 1_769_817_600);
        assert_eq!(day("2026-01-31T12:00:00Z"), 1_769_817_600 + 43_200);
        let then = parse_point("90d").unwrap();
        let ago = SystemTime::now().duration_since(then).unwrap().as_secs();
        assert!((90 * 86_400..90 * 86_400 + 3_600).contains(&ago), "{ago}");
        for bad in ["2026-13-01", "yesterday", "", "90 parsecs"] {
            assert!(parse_point(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spans_are_durations_longer_than_zero() {
        assert_eq!(parse_span("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_span(" 1h30m "), Ok(Duration::from_secs(5_400)));
        for bad in ["0s", "0d", "", "soon", "-5d"] {
            assert!(parse_span(bad).is_err(), "{bad}");
        }
    }

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
