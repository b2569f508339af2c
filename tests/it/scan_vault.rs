//! `keep scan` with an unlocked vault of many values, through the real binary: the filtered matcher
//! (src/scan/vault_match.rs) reports what a plain leftmost-longest search over every value does.
//! Values that extend one another, share their first 8 bytes, are exactly 8 bytes, sit at the very
//! start and the very end of a file, overlap, or are stored twice are each found where expected.

use crate::common::{code, stderr, TestVault};

const LONGER: &str = "shared-prefix-value-and-more";
const BASE: &str = "shared-prefix-value";
/// Same first 8 bytes as `BASE` ("shared-p").
const SIBLING: &str = "shared-pine-cone";
/// Starts inside `LONGER`: hidden by it there (matches do not overlap), found on its own.
const INSIDE: &str = "prefix-value-and";
const EIGHT: &str = "kiwi-fig";
const TWICE: &str = "stored-under-two-names";

fn filler(i: usize) -> String {
    format!("filler-{i:03}-words")
}

#[test]
fn scan_with_many_vault_values_finds_each_where_a_plain_search_would() {
    let tv = TestVault::new();
    let mut env: String = (0..300)
        .map(|i| format!("FILLER_{i:03}={}\n", filler(i)))
        .collect();
    for (name, value) in [
        ("LONGER", LONGER),
        ("BASE", BASE),
        ("SIBLING", SIBLING),
        ("INSIDE", INSIDE),
        ("EIGHT", EIGHT),
        ("TWICE_A", TWICE),
        ("TWICE_B", TWICE),
    ] {
        env.push_str(&format!("{name}={value}\n"));
    }
    std::fs::write(tv.path().join("in.env"), env).unwrap();
    let out = tv.run(&["import", "in.env"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    std::fs::remove_file(tv.path().join("in.env")).unwrap();

    let lines = [
        format!("{LONGER} then {BASE}, {SIBLING}"),
        format!("{BASE}{EIGHT} {INSIDE} {TWICE}"),
        (0..300)
            .step_by(37)
            .map(filler)
            .collect::<Vec<_>>()
            .join(" "),
        format!("end {EIGHT}"),
    ];
    // No newline at the end: the last value ends the file.
    std::fs::write(tv.path().join("notes.txt"), lines.join("\n")).unwrap();
    let col = |line: usize, s: &str| lines[line].find(s).unwrap() + 1;
    let mut want = vec![
        (1, 1, "LONGER".to_string()),
        (1, LONGER.len() + 7, "BASE".into()),
        (1, col(0, SIBLING), "SIBLING".into()),
        (2, 1, "BASE".into()),
        (2, BASE.len() + 1, "EIGHT".into()),
        (2, col(1, INSIDE), "INSIDE".into()),
        (2, col(1, TWICE), "TWICE".into()),
        (4, 5, "EIGHT".into()),
    ];
    for i in (0..300).step_by(37) {
        want.push((3, col(2, &filler(i)), format!("FILLER_{i:03}")));
    }
    want.sort();

    assert!(tv.run(&["unlock", "--ttl", "2m"]).status.success());
    let out = tv
        .keep(&["scan", "--format", "json", "notes.txt"])
        .env_remove("KEEP_PASSPHRASE_FILE")
        .output()
        .unwrap();
    let _ = tv.run(&["lock"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut got: Vec<(usize, usize, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "keep-vault-value")
        .map(|f| {
            let name = f["secret_name"].as_str().unwrap();
            let name = name.trim_start_matches("keep://default/dev/");
            // Either address of the value stored twice may name it; it is found once.
            let name = if name.starts_with("TWICE_") {
                "TWICE"
            } else {
                name
            };
            (
                f["line"].as_u64().unwrap() as usize,
                f["column"].as_u64().unwrap() as usize,
                name.to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(got, want);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("filler-"),
        "a value was printed"
    );
}
