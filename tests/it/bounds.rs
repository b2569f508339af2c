//! Bounds (issue 14): inputs that are too large or too deep are refused before they cost time or
//! memory, with a clear usage error (exit 2), and nothing is written. Redaction's bounds are in
//! tests/it/using_redact.rs; the figures are in BENCHMARKS.md.

use crate::common;

use common::{code, stderr, TestVault};

const MIB: usize = 1 << 20;

fn ls(tv: &TestVault) -> Vec<u8> {
    tv.run(&["ls", "--json"]).stdout
}

#[test]
fn import_refuses_deep_nesting_before_parsing() {
    let tv = TestVault::new();
    tv.set("TOKEN", "unchanged-value");
    let before = ls(&tv);
    let deep = 40_000;
    let cases = [
        ("flow.yaml", format!("NEW_A: 1\nB: {}\n", "[".repeat(deep))),
        (
            "flow.json",
            format!("{{\"NEW_A\": \"1\", \"B\": {}", "[".repeat(deep)),
        ),
        (
            "block.yaml",
            (0..100)
                .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
                .collect::<String>(),
        ),
    ];
    for (file, text) in &cases {
        std::fs::write(tv.path().join(file), text).unwrap();
        let out = tv.run(&["import", file]);
        assert_eq!(code(&out), 2, "{file}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("nested more than 64 levels") && err.contains(file),
            "{file}: {err}"
        );
        assert_eq!(ls(&tv), before, "{file}: nothing imported");
    }
    // A value holding brackets inside a JSON string is not nesting.
    std::fs::write(
        tv.path().join("ok.json"),
        format!("{{\"BRACKETS\": \"{}\"}}", "[".repeat(100)),
    )
    .unwrap();
    let out = tv.run(&["import", "ok.json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(tv.get("BRACKETS"), "[".repeat(100));
}

#[test]
fn import_and_set_refuse_input_over_16_mib() {
    let tv = TestVault::new();
    tv.set("TOKEN", "unchanged-value");
    let before = ls(&tv);
    let big = format!("BIG={}\n", "x".repeat(16 * MIB));
    std::fs::write(tv.path().join("big.env"), &big).unwrap();
    let out = tv.run(&["import", "big.env"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("big.env: larger than 16 MiB"),
        "{}",
        stderr(&out)
    );
    let out = tv.run_with_stdin(&["import", "-"], big.as_bytes());
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("larger than 16 MiB"),
        "{}",
        stderr(&out)
    );
    let out = tv.run_with_stdin(&["set", "BIG"], "y".repeat(16 * MIB + 1).as_bytes());
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("larger than 16 MiB") && stderr(&out).contains("nothing was stored"),
        "{}",
        stderr(&out)
    );
    assert_eq!(ls(&tv), before, "nothing written");

    // Exactly at the limit is accepted.
    let out = tv.run_with_stdin(
        &["set", "--raw", "AT_LIMIT"],
        "z".repeat(16 * MIB).as_bytes(),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(tv.get("AT_LIMIT").len(), 16 * MIB);
}

/// `unlock --ttl` has a maximum (7 days): the kernel takes 32-bit seconds, so `4294967296s` used to
/// become a permanent key (timeout 0) and `4294967300s` four seconds. Both, and anything over 7 days,
/// are usage errors before the vault is opened; 7 days itself is accepted.
#[test]
fn unlock_ttl_has_a_maximum() {
    let tv = TestVault::new();
    for ttl in [
        "4294967296s",
        "4294967300s",
        "8d",
        "169h",
        "0s",
        "500ms",
        "soon",
    ] {
        let out = tv.run(&["unlock", "--ttl", ttl]);
        assert_eq!(code(&out), 2, "--ttl {ttl}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("--ttl"),
            "--ttl {ttl}: {}",
            stderr(&out)
        );
        // Nothing was cached: a command without the passphrase file is still locked (exit 6).
        let locked = tv
            .keep(&["ls"])
            .env_remove("KEEP_PASSPHRASE_FILE")
            .output()
            .unwrap();
        assert_eq!(code(&locked), 6, "--ttl {ttl}: {}", stderr(&locked));
    }
    let out = tv.run(&["unlock", "--ttl", "4294967300s"]);
    assert!(stderr(&out).contains("at most 7 days"), "{}", stderr(&out));
    let out = tv.run(&["unlock", "--ttl", "7d"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("for 7d "), "{}", stderr(&out));
    assert_eq!(code(&tv.run(&["lock"])), 0);
}

/// Issue 17.3: line numbers come from the single parsing pass (they were found by searching the file
/// again for every key, which made import quadratic). A 100,000-line file with a bad entry near the
/// end names the right line, for a syntax error and for a bad name, and imports nothing.
#[test]
fn a_100k_line_import_names_the_right_line() {
    let tv = TestVault::new();
    let before = ls(&tv);
    for (bad, line) in [("not-a-name=x", 99_990), ("DOTTED.NAME=x", 99_995)] {
        let mut text = String::with_capacity(2 * MIB);
        for i in 1..=100_000 {
            if i == line {
                text.push_str(bad);
            } else if i % 1000 == 0 {
                // Multiline values and comments shift no line number.
                text.push_str(&format!("# comment {i}\n"));
                continue;
            } else {
                text.push_str(&format!("KEY_{i}=\"value {i}\""));
            }
            text.push('\n');
        }
        std::fs::write(tv.path().join("big.env"), &text).unwrap();
        let out = tv.run(&["import", "big.env"]);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("big.env: line {line}:")),
            "{bad}: {}",
            stderr(&out)
        );
        assert_eq!(ls(&tv), before, "nothing imported");
    }
    // And the lines after a multiline value count its lines.
    std::fs::write(
        tv.path().join("multi.env"),
        "A=\"one\ntwo\nthree\"\nB='x\ny'\nbad-name=1\n",
    )
    .unwrap();
    let out = tv.run(&["import", "multi.env"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("line 6:"), "{}", stderr(&out));
}
