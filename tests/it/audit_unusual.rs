//! `keep audit --unusual` through the real binary: sensitive environments, bursts and repeated failed
//! unlocks are flagged with thresholds from keep.toml; a quiet log has no findings.

use crate::common;

use common::{code, stderr, TestVault};

fn unusual(tv: &TestVault) -> (i32, Vec<serde_json::Value>) {
    let out = tv.run(&["audit", "--unusual", "--json"]);
    let findings =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", stderr(&out)));
    (code(&out), findings)
}

fn rules(findings: &[serde_json::Value]) -> Vec<&str> {
    findings
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect()
}

#[test]
fn a_quiet_log_has_nothing_unusual() {
    let tv = TestVault::new();
    tv.set("A", "value-a-123456789");
    tv.get("A");
    let (c, findings) = unusual(&tv);
    assert_eq!((c, findings.len()), (0, 0), "{findings:?}");
}

#[test]
fn sensitive_reads_bursts_and_failed_unlocks_are_flagged() {
    let tv = TestVault::new();
    std::fs::write(
        tv.path().join("keep.toml"),
        "[env.prod]\nsensitive = true\n[audit]\nburst_reads = 2\nfailed_unlocks = 2\n",
    )
    .unwrap();
    for n in ["A", "B", "C"] {
        tv.set(n, "value-123456789");
    }
    let out = tv.run_with_stdin(&["set", "keep://default/prod/P"], b"prod-value-123");
    assert_eq!(code(&out), 0);
    assert_eq!(code(&tv.run(&["get", "keep://default/prod/P"])), 0);
    for n in ["A", "B", "C"] {
        tv.get(n);
    }
    std::fs::write(tv.path().join("wrong"), "nope\n").unwrap();
    for _ in 0..2 {
        let out = tv
            .keep(&["ls"])
            .env("KEEP_PASSPHRASE_FILE", tv.path().join("wrong"))
            .output()
            .unwrap();
        assert_eq!(code(&out), 4);
    }
    let (c, findings) = unusual(&tv);
    assert_eq!(c, 1);
    assert_eq!(
        rules(&findings),
        ["sensitive-read", "burst", "failed-unlocks"],
        "{findings:?}"
    );
    assert!(findings[0]["detail"]
        .as_str()
        .unwrap()
        .contains("keep://default/prod/P"));
    // Thresholds are configurable: raise them and the burst and failures are no longer unusual.
    std::fs::write(
        tv.path().join("keep.toml"),
        "[audit]\nburst_reads = 50\nfailed_unlocks = 5\n",
    )
    .unwrap();
    let (c, findings) = unusual(&tv);
    assert_eq!((c, findings.len()), (0, 0), "{findings:?}");
    // A bad threshold is a usage error.
    std::fs::write(
        tv.path().join("keep.toml"),
        "[audit]\nburst_window = \"often\"\n",
    )
    .unwrap();
    assert_eq!(code(&tv.run(&["audit", "--unusual"])), 2);
}
