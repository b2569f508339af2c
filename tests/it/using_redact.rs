//! The streaming redactor as a property: however the output is cut into reads, the result equals
//! redacting the whole output at once, and no injected value survives. Also through the binary:
//! large values, overlapping occurrences.

use crate::common;

use common::{code, stderr, stdout, TestVault};
use keep::using::redact::Patterns;
use proptest::prelude::*;

/// A multiline value of about `kib` KiB shaped like a kubeconfig: YAML keys and long base64 rows,
/// every row distinct.
fn kubeconfig(kib: usize) -> String {
    use base64::Engine;
    let mut text = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    let mut i = 0u32;
    while text.len() < kib * 1024 {
        let row: Vec<u8> = (0..450u32)
            .map(|k| {
                (k.wrapping_mul(2654435761)
                    .wrapping_add(i.wrapping_mul(40503))
                    >> 7) as u8
            })
            .collect();
        text.push_str(&format!(
            "- cluster:\n    certificate-authority-data: {}\n    server: https://10.0.{}.1:6443\n",
            base64::engine::general_purpose::STANDARD.encode(row),
            i % 250
        ));
        i += 1;
    }
    text.truncate(kib * 1024);
    text.trim_end().to_string()
}

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

/// A 64 KiB value (the size that took 73 s and 17.9 GiB when every prefix of every pattern was
/// stored) is redacted through real pipes, whole and inside longer output; the figures are in
/// BENCHMARKS.md (benches/redact.sh), this test checks the result.
#[test]
fn a_64_kib_value_is_redacted_through_the_binary() {
    let tv = TestVault::new();
    let big = kubeconfig(64);
    assert!(big.len() > 60 * 1024);
    tv.set("KUBECONFIG", &big);
    let out = tv.run(&[
        "exec",
        "--redact",
        "--",
        "sh",
        "-c",
        "printf 'before %s after\\n' \"$KUBECONFIG\"; printf '%s' \"$KUBECONFIG\" | base64 -w0; echo",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let shown = stdout(&out);
    assert_eq!(
        shown, "before [REDACTED:KUBECONFIG] after\n[REDACTED:KUBECONFIG]\n",
        "the value and its base64 form are masked, the text around them kept"
    );
}

/// Overlapping occurrences of a value leave no part of it visible (leftmost-first matching used to
/// skip the overlap and print the tail).
#[test]
fn overlapping_occurrences_leave_nothing_visible() {
    let tv = TestVault::new();
    tv.set("TOKEN", "abcabc");
    let out = tv.run(&["exec", "--redact", "--", "sh", "-c", "echo x-abcabcabc-y"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "x-[REDACTED:TOKEN]-y\n");
}

/// Issue 15.9: one line of a multiline value, printed on its own (`sed -n 2p`), is redacted too.
/// PEM armour lines and short lines (under 16 bytes, like `kind: Config`) are public boilerplate and
/// are left alone; the value printed whole is still one marker.
#[test]
fn each_line_of_a_multiline_value_is_redacted() {
    let tv = TestVault::new();
    let pem = "-----BEGIN PRIVATE KEY-----\n\
               MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n\
               MZR5SwhLl9eRyaLk38SK+YLCH1Od0pnxRWWbL3EqzqrkVeQ8bHxUX3GK7NO47jXy\n\
               short\n\
               -----END PRIVATE KEY-----";
    tv.set("TLS_KEY", pem);
    let script = "printf '%s\\n' \"$TLS_KEY\" | sed -n 2p; \
                  printf '%s\\n' \"$TLS_KEY\" | sed -n 3p | tr -d '\\n'; echo ' <- line 3'; \
                  printf '%s\\n' \"$TLS_KEY\" | sed -n 1p; \
                  printf '%s\\n' \"$TLS_KEY\" | sed -n 4p; \
                  printf 'whole: %s\\n' \"$TLS_KEY\"";
    let out = tv.run(&["exec", "--redact", "--", "sh", "-c", script]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "[REDACTED:TLS_KEY]\n\
         [REDACTED:TLS_KEY] <- line 3\n\
         -----BEGIN PRIVATE KEY-----\n\
         short\n\
         whole: [REDACTED:TLS_KEY]\n"
    );
}
