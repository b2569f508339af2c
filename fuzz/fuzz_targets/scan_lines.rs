//! Feeds the scanner's detection pipeline (`keep::scan::Detector::scan` with the built-in rules and
//! two vault values as needles) arbitrary bytes, with one needle planted on a line of its own at an
//! input-chosen offset.
//!
//! Beyond "no panic" it asserts:
//! - every finding points inside the buffer: its line exists and its column lies on that line;
//! - the planted vault value is always reported, by its address, on the line where it was planted
//!   (a vault value in the clear is the leak `keep scan` exists to catch);
//! - no finding's excerpt or fingerprint contains a vault value (findings must not leak what they
//!   report);
//! - scanning is deterministic: a second pass with the same scratch space gives the same findings.
#![no_main]

use std::sync::OnceLock;

use keep::scan::{Detector, Needle, Origin, RuleSet};
use libfuzzer_sys::fuzz_target;
use zeroize::Zeroizing;

/// Two vault values. Neither has a border (no proper prefix that is also a suffix), so an occurrence
/// can never be shadowed by an overlapping earlier one.
const PLANTED: &[u8] = b"Zq8wN3xpLk7Vb2Rm";
const OTHER: &[u8] = b"hunter2-correct-horse";

fn detector() -> &'static Detector {
    static D: OnceLock<Detector> = OnceLock::new();
    D.get_or_init(|| {
        let needles = vec![
            Needle {
                name: "keep://app/prod/PLANTED".into(),
                value: Zeroizing::new(PLANTED.to_vec()),
            },
            Needle {
                name: "keep://app/prod/OTHER".into(),
                value: Zeroizing::new(OTHER.to_vec()),
            },
        ];
        Detector::new(RuleSet::builtin().expect("built-in rules"), needles).expect("detector")
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    let Some((&at, input)) = data.split_first() else {
        return;
    };
    // Plant the needle on its own line at a newline boundary chosen by the first byte.
    let cut = if input.is_empty() {
        0
    } else {
        usize::from(at) * input.len() / 255
    };
    let mut buf = Vec::with_capacity(input.len() + PLANTED.len() + 2);
    buf.extend_from_slice(&input[..cut]);
    buf.push(b'\n');
    let planted_at = buf.len();
    buf.extend_from_slice(PLANTED);
    buf.push(b'\n');
    buf.extend_from_slice(&input[cut..]);
    let planted_line = buf[..planted_at].iter().filter(|&&b| b == b'\n').count() as u32 + 1;

    let d = detector();
    let origin = Origin {
        path: "src/config.rs",
        ..Origin::default()
    };
    let mut scratch = d.scratch();
    let mut out = Vec::new();
    d.scan(&buf, &origin, &mut scratch, &mut out);

    let lines: Vec<&[u8]> = buf.split(|&b| b == b'\n').collect();
    for f in &out {
        assert!(
            f.line >= 1 && (f.line as usize) <= lines.len(),
            "line {}",
            f.line
        );
        let line = lines[f.line as usize - 1];
        assert!(
            f.column >= 1 && (f.column as usize) <= line.len(),
            "column {}",
            f.column
        );
        for secret in [PLANTED, OTHER] {
            assert!(
                !contains(f.excerpt.as_bytes(), secret),
                "excerpt leaks a vault value"
            );
        }
        assert_eq!(f.fingerprint.len(), 32);
    }
    assert!(
        out.iter().any(
            |f| f.secret_name.as_deref() == Some("keep://app/prod/PLANTED")
                && f.line == planted_line
                && f.column == 1
        ),
        "the planted vault value was not reported at line {planted_line}"
    );

    let mut again = Vec::new();
    d.scan(&buf, &origin, &mut scratch, &mut again);
    assert_eq!(out, again, "a second scan disagrees");
});
