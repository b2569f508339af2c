//! The streaming redactor as a property: however the output is cut into reads, the result equals
//! redacting the whole output at once, and no injected value survives.

use keep::env::redact::Patterns;
use proptest::prelude::*;

/// Values drawn from lowercase letters and digits; text around them from a disjoint alphabet plus the
/// values' own letters, so partial matches and near misses are common.
fn value() -> impl Strategy<Value = String> {
    "[a-z0-9]{4,24}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn values_straddling_reads_are_redacted(
        values in prop::collection::vec(value(), 1..5),
        pieces in prop::collection::vec(("[ a-z\n.:=]{0,12}", any::<prop::sample::Index>()), 1..12),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        // Interleave filler text with whole values.
        let mut text = Vec::new();
        for (filler, which) in &pieces {
            text.extend_from_slice(filler.as_bytes());
            text.extend_from_slice(values[which.index(values.len())].as_bytes());
        }
        let names: Vec<String> = (0..values.len()).map(|i| format!("S{i}")).collect();
        let patterns = Patterns::new(names.iter().map(String::as_str).zip(values.iter().map(|v| v.as_bytes())));
        let whole = patterns.redact_all(&text);

        let mut cut_points: Vec<usize> = cuts.iter().map(|c| c.index(text.len() + 1)).collect();
        cut_points.sort();
        let mut streamed = Vec::new();
        let mut r = patterns.stream();
        let mut from = 0;
        for c in cut_points.into_iter().chain([text.len()]) {
            r.push(&text[from..c], &mut streamed);
            from = c;
        }
        r.finish(&mut streamed);

        prop_assert_eq!(&streamed, &whole);
        let shown = String::from_utf8_lossy(&streamed).into_owned();
        for v in &values {
            prop_assert!(!shown.contains(v.as_str()), "{} survived in {}", v, shown);
        }
    }

    #[test]
    fn one_byte_reads_equal_one_read(
        v in value(),
        before in "[ a-z]{0,30}",
        after in "[ a-z]{0,30}",
    ) {
        let patterns = Patterns::new([("V", v.as_bytes())]);
        let text = format!("{before}{v}{after}");
        let mut out = Vec::new();
        let mut r = patterns.stream();
        for b in text.as_bytes() {
            r.push(std::slice::from_ref(b), &mut out);
        }
        r.finish(&mut out);
        prop_assert_eq!(out, patterns.redact_all(text.as_bytes()));
    }
}

#[test]
fn encoded_forms_are_redacted() {
    use base64::Engine;
    let v = "s3cr3t/p@ss word+é";
    let patterns = Patterns::new([("PW", v.as_bytes())]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(v);
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("user:{v}"));
    let json = serde_json::to_string(v).unwrap();
    let input = format!(
        "a {b64} b {b64url} c Basic {basic} d {json} e https://x/?p=s3cr3t%2Fp%40ss%20word%2B%C3%A9 f s3cr3t%2fp%40ss+word%2b%c3%a9\n"
    );
    let out = String::from_utf8(patterns.redact_all(input.as_bytes())).unwrap();
    assert!(!out.contains(&b64) && !out.contains(&b64url), "{out}");
    assert!(!out.contains("s3cr3t"), "{out}");
    assert!(out.contains("d \"[REDACTED:PW]\" e"), "{out}");
    assert!(out.contains("Basic "), "{out}");
    assert!(
        !out.contains(&basic[8..]),
        "the value's part of the basic-auth string is gone: {out}"
    );
}
