//! `keep lint` on fixtures: each rule fires on its fixture, no value appears in the output, and a
//! clean vault in a clean repository has no findings.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{code, stderr, TestVault};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git is installed (scripts/setup.d/50-rotation.sh)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn project(tv: &TestVault) -> PathBuf {
    let dir = tv.path().join("proj");
    std::fs::create_dir_all(dir.join("config")).unwrap();
    git(&dir, &["init", "-q"]);
    dir
}

fn set_in(tv: &TestVault, address: &str, value: &str) {
    let out = tv.run_with_stdin(&["set", address], value.as_bytes());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

fn lint(tv: &TestVault, dir: &Path) -> (i32, serde_json::Value, String) {
    let out = tv
        .keep(&["lint", "--json"])
        .current_dir(dir)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}\n{}", String::from_utf8_lossy(&out.stdout), stderr(&out)));
    (
        code(&out),
        doc,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn rules(doc: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["level"].as_str().unwrap().to_string(),
                f["secrets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().rsplit('/').next().unwrap().to_string())
                    .chain(f["path"].as_str().map(String::from))
                    .collect::<Vec<_>>()
                    .join(","),
            )
        })
        .collect();
    v.sort();
    v
}

const VALUES: &[(&str, &str)] = &[
    ("keep://default/dev/SHARED", "shared-Value-9f8e7d6c5b"),
    ("keep://default/prod/SHARED", "shared-Value-9f8e7d6c5b"),
    ("WEAK", "changeme"),
    ("SHORT", "a1B2"),
    ("LOW", "abababababababababab"),
    ("OLD", "old-but-strong-Q8z1Lk4"),
    ("LEAKED", "leaked-Xy7Qw9Zp3Lm2Tt"),
];

#[test]
fn each_rule_fires_on_its_fixture_without_showing_values() {
    let tv = TestVault::new();
    let dir = project(&tv);
    for (addr, value) in VALUES {
        set_in(&tv, addr, value);
    }
    let out = tv.run(&["policy", "set", "OLD", "--max-age", "1s"]);
    assert_eq!(code(&out), 0);
    std::fs::write(
        dir.join("config/app.yml"),
        "api:\n  key: leaked-Xy7Qw9Zp3Lm2Tt\n",
    )
    .unwrap();
    std::fs::write(dir.join(".env"), "X=1\n").unwrap();
    git(&dir, &["add", ".env"]);
    std::fs::write(dir.join(".env.local"), "Y=2\n").unwrap();
    // Ignored files are neither dotenv findings nor plaintext findings (materialize writes these).
    std::fs::write(dir.join(".gitignore"), ".env.production\n").unwrap();
    std::fs::write(
        dir.join(".env.production"),
        "LEAKED=leaked-Xy7Qw9Zp3Lm2Tt\n",
    )
    .unwrap();
    std::fs::write(dir.join(".env.example"), "LEAKED=\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));

    let (c, doc, raw) = lint(&tv, &dir);
    assert_eq!(c, 1, "{raw}");
    let got = rules(&doc);
    let expected: Vec<(String, String, String)> = [
        ("dotenv-not-ignored", "error", ".env.local"),
        ("dotenv-tracked", "error", ".env"),
        ("low-entropy", "warning", "LOW"),
        ("overdue", "error", "OLD"),
        ("plaintext-in-file", "error", "LEAKED,config/app.yml"),
        ("reused-across-envs", "error", "SHARED,SHARED"),
        ("too-short", "error", "SHORT"),
        ("weak-default", "error", "WEAK"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(got, expected);
    let leak = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "plaintext-in-file")
        .unwrap();
    assert_eq!(leak["line"], 2);
    for (_, value) in VALUES.iter().filter(|(_, v)| v.len() > 4) {
        assert!(!raw.contains(value), "lint output shows a value: {raw}");
    }
    // Human output, same verdict, and every line names what it found.
    let out = tv.keep(&["lint"]).current_dir(&dir).output().unwrap();
    assert_eq!(code(&out), 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("error[weak-default]"), "{text}");
    let reused = text
        .lines()
        .find(|l| l.starts_with("error[reused-across-envs]"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        reused.contains("keep://default/dev/SHARED")
            && reused.contains("keep://default/prod/SHARED"),
        "{reused}"
    );
    // The overdue hint acts on the secret it names, whatever the current scope.
    let overdue = text
        .lines()
        .find(|l| l.starts_with("error[overdue]"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(overdue.contains("policy of 1s"), "{overdue}");
    assert!(
        overdue.contains("`keep rotate keep://default/dev/OLD`"),
        "{overdue}"
    );
    for (_, value) in VALUES.iter().filter(|(_, v)| v.len() > 4) {
        assert!(!text.contains(value), "lint output shows a value: {text}");
    }
}

#[test]
fn warnings_alone_exit_zero() {
    let tv = TestVault::new();
    let dir = project(&tv);
    set_in(&tv, "LOW", "abababababababababab");
    let (c, doc, _) = lint(&tv, &dir);
    assert_eq!(rules(&doc).len(), 1);
    assert_eq!(c, 0);
}

#[test]
fn a_clean_vault_has_no_findings() {
    let tv = TestVault::new();
    let dir = project(&tv);
    set_in(
        &tv,
        "keep://default/dev/DB_URL",
        "postgres://app:Zq8wL1xT4vN7@db/dev",
    );
    set_in(
        &tv,
        "keep://default/prod/DB_URL",
        "postgres://app:Pm3Kd9Ry2Hs6@db/prod",
    );
    for spec in ["token:32", "password:24"] {
        let out = tv.run(&["set", "GEN", "--generate", spec]);
        assert_eq!(code(&out), 0);
    }
    let out = tv.run(&["policy", "set", "GEN", "--max-age", "30d"]);
    assert_eq!(code(&out), 0);
    std::fs::write(dir.join(".gitignore"), ".env\n").unwrap();
    std::fs::write(
        dir.join(".env"),
        "DB_URL=postgres://app:Zq8wL1xT4vN7@db/dev\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("config/app.yml"),
        "db: keep://default/dev/DB_URL\n",
    )
    .unwrap();
    git(&dir, &["add", ".gitignore", "config/app.yml"]);
    let (c, doc, raw) = lint(&tv, &dir);
    assert_eq!(c, 0, "{raw}");
    assert_eq!(doc["findings"].as_array().unwrap().len(), 0, "{raw}");
}
