//! `keep scan` and `keep hook install` through the real binary. Every secret-shaped string is built
//! at run time from pieces, so this file itself holds none (the project scans itself clean).

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::TestVault;
use keep::scan::filters::base62;

/// A GitHub classic token with a valid CRC32 tail.
fn github_token(body: &str) -> String {
    format!(
        "{}_{body}{}",
        "ghp",
        base62(crc32fast::hash(body.as_bytes()), 6)
    )
}

fn aws_key() -> String {
    format!("{}{}", "AK", "IAZ7Q4RTWXY2M6PLKN")
}

fn stripe_key() -> String {
    format!("{}_live_{}", "sk", "4eC39HqLyjWDarjtT1zdp7dcQ8mVbN2x")
}

fn scan(tv: &TestVault, args: &[&str]) -> Output {
    let mut all = vec!["scan", "--no-vault"];
    all.extend_from_slice(args);
    tv.run(&all)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// `git` in `dir` with a fixed identity and no user config.
fn git_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.args(["-c", "user.name=Test", "-c", "user.email=t@example.org"])
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    cmd
}

fn git(dir: &Path, args: &[&str]) {
    let out = git_cmd(dir).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "git {args:?}: {err}");
}

/// A temp folder with an empty git repository in `repo/`.
fn new_repo() -> (TestVault, std::path::PathBuf) {
    let tv = TestVault::empty();
    let repo = tv.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    (tv, repo)
}

#[test]
fn findings_exit_1_with_redacted_excerpts_and_clean_trees_exit_0() {
    let tv = TestVault::empty();
    let tok = github_token("Xy7Q2mZk9LpR4tVb8NcW1sHd6FgJ3a");
    write(
        tv.path(),
        "src/app.py",
        &format!("import os\nGITHUB_TOKEN = \"{tok}\"\n"),
    );
    write(
        tv.path(),
        "deploy/.env",
        &format!("AWS_ACCESS_KEY_ID={}\n", aws_key()),
    );
    let out = scan(&tv, &["src", "deploy"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(text.contains("src/app.py:2:17  github-token"), "{text}");
    assert!(
        text.contains("deploy/.env:1:19  aws-access-key-id"),
        "{text}"
    );
    assert!(
        !text.contains(&tok) && !text.contains(&aws_key()),
        "a secret was printed: {text}"
    );
    assert!(
        !text.contains(&tok[..5]),
        "more than 4 characters shown: {text}"
    );

    let clean = TestVault::empty();
    write(
        clean.path(),
        "ok.py",
        "KEY_LENGTH = 32\nfor key, value in items():\n    pass\n",
    );
    let out = scan(&clean, &["."]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn placeholders_bad_checksums_and_inline_allow_are_not_reported() {
    let tv = TestVault::empty();
    let mut bad = github_token("Xy7Q2mZk9LpR4tVb8NcW1sHd6FgJ3a");
    let last = bad.pop().unwrap();
    bad.push(if last == 'A' { 'B' } else { 'A' });
    let text = format!(
        "AWS_ACCESS_KEY_ID={}\nAPI_KEY=your-api-key-here\nGITHUB_TOKEN=${{GITHUB_TOKEN}}\n\
         REQUEST_KEY=3f2b6c1e-9a4d-4c2b-8e7f-1a2b3c4d5e6f\n\
         STRIPE_KEY={} # keep:allow\n",
        format_args!("{}{}", "AKIA", "IOSFODNN7EXAMPLE"),
        stripe_key()
    );
    write(tv.path(), "cfg.env", &text);
    let out = scan(&tv, &["cfg.env"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // A classic token whose published checksum fails is still reported (the prefix is
    // unambiguous), with low confidence: a SARIF `note`, not an `error`.
    write(tv.path(), "old.env", &format!("OLD_TOKEN={bad}\n"));
    let out = scan(&tv, &["old.env", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &doc["runs"][0]["results"][0];
    assert_eq!(r["ruleId"], "github-token");
    assert_eq!(r["level"], "note");
    assert_eq!(r["properties"]["confidence"], "low");
}

#[test]
fn stdin_json_and_the_rule_list() {
    let tv = TestVault::empty();
    let out = tv.run_with_stdin(
        &["scan", "--no-vault", "--format", "json", "-"],
        format!("key: {}\n", stripe_key()).as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &doc["findings"][0];
    assert_eq!(f["rule"], "stripe-secret-key");
    assert_eq!(f["path"], "-");
    assert_eq!(f["line"], 1);
    assert_eq!(f["fingerprint"].as_str().unwrap().len(), 32);

    let out = tv.run(&["scan", "--rules"]);
    assert!(out.status.success());
    let list = stdout(&out);
    assert!(list.lines().count() >= 60, "{list}");
    for id in [
        "github-fine-grained-pat",
        "private-key",
        "jwt",
        "npm-access-token",
        "generic-secret",
    ] {
        assert!(list.contains(id), "{id} missing");
    }
}

#[test]
fn baselines_hold_fingerprints_and_silence_accepted_findings() {
    let tv = TestVault::empty();
    write(tv.path(), "a.env", &format!("STRIPE={}\n", stripe_key()));
    let out = scan(&tv, &[".", "--write-baseline", "base.json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base = std::fs::read_to_string(tv.path().join("base.json")).unwrap();
    assert!(
        !base.contains(&stripe_key()[8..]),
        "the baseline holds the secret"
    );
    assert_eq!(
        scan(&tv, &["a.env", "--baseline", "base.json"])
            .status
            .code(),
        Some(0)
    );
    // A new secret is still reported.
    write(tv.path(), "b.env", &format!("AWS={}\n", aws_key()));
    let out = scan(&tv, &["a.env", "b.env", "--baseline", "base.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("b.env") && !stdout(&out).contains("a.env"));
    // Writing with a baseline in use accepts the new findings on top of the old ones.
    let out = scan(
        &tv,
        &[
            "a.env",
            "b.env",
            "--baseline",
            "base.json",
            "--write-baseline",
            "both.json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let both: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tv.path().join("both.json")).unwrap())
            .unwrap();
    assert_eq!(both["fingerprints"].as_array().unwrap().len(), 2, "{both}");
    assert_eq!(
        scan(&tv, &["a.env", "b.env", "--baseline", "both.json"])
            .status
            .code(),
        Some(0)
    );
    // A damaged baseline is a usage error, not a silent pass.
    std::fs::write(tv.path().join("bad.json"), "{").unwrap();
    assert_eq!(
        scan(&tv, &["a.env", "--baseline", "bad.json"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn sarif_output_validates_against_the_sarif_2_1_0_schema() {
    let tv = TestVault::empty();
    let tok = github_token("Pq3Zr8Lm2Xk5Tn7Vb1Kc4Hd9Fg6Js0");
    write(
        tv.path(),
        "dir with space/x.yaml",
        &format!("token: {tok}\n"),
    );
    let out = scan(&tv, &[".", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../data/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let result = &doc["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "github-token");
    let idx = result["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(
        doc["runs"][0]["tool"]["driver"]["rules"][idx]["id"],
        "github-token"
    );
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "dir%20with%20space/x.yaml"
    );
    // A document the schema must reject, so the check above can fail.
    let mut broken = doc.clone();
    broken["version"] = "2.0.0".into();
    assert!(!validator.is_valid(&broken));
}

#[test]
fn walks_honour_gitignore_and_skip_binary_and_large_files() {
    let tv = TestVault::empty();
    write(tv.path(), ".gitignore", "ignored/\n");
    write(tv.path(), "ignored/a.env", &format!("AWS={}\n", aws_key()));
    std::fs::write(
        tv.path().join("blob.bin"),
        format!("\0\0AWS={}\n", aws_key()),
    )
    .unwrap();
    let big = format!("AWS={}\n{}", aws_key(), "x".repeat(2 << 20));
    write(tv.path(), "big.txt", &big);
    let out = scan(&tv, &[".", "--max-file-mib", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = scan(&tv, &["big.txt", "--max-file-mib", "3"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn staged_changes_and_history_report_added_lines() {
    let (tv, repo) = new_repo();
    write(&repo, "README.md", "hello\n");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "first"]);
    write(
        &repo,
        "app.env",
        &format!("A=1\nB=2\nSTRIPE={}\n", stripe_key()),
    );
    // Not staged yet: the index is clean.
    let out = tv
        .keep(&["scan", "--no-vault", "--staged"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    git(&repo, &["add", "app.env"]);
    let out = tv
        .keep(&["scan", "--no-vault", "--staged"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("app.env:3:8  stripe-secret-key"),
        "{}",
        stdout(&out)
    );
    git(&repo, &["commit", "-qm", "add config"]);

    let out = tv
        .keep(&["scan", "--no-vault", "--git", "--format", "json"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &doc["findings"][0];
    assert_eq!(f["path"], "app.env");
    assert_eq!(f["line"], 3);
    assert_eq!(f["author"], "Test <t@example.org>");
    assert_eq!(f["commit"].as_str().unwrap().len(), 40);
    // Only the commits after HEAD: nothing.
    let out = tv
        .keep(&["scan", "--no-vault", "--git", "--since", "HEAD"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Outside a repository: a usage error that says so.
    let out = tv
        .keep(&["scan", "--no-vault", "--staged"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_hook_chains_an_existing_one_and_blocks_a_leaking_commit() {
    let (tv, repo) = new_repo();
    let hooks = repo.join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let old = hooks.join("pre-commit");
    std::fs::write(
        &old,
        "#!/bin/sh\necho previous-hook-ran >> \"$(git rev-parse --git-dir)/ran\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();

    let out = tv
        .keep(&["hook", "install"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(hooks.join("pre-commit.keep-chained").exists());
    let again = tv
        .keep(&["hook", "install"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already installed"));

    let commit = |msg: &str| {
        git_cmd(&repo)
            .args(["commit", "-qm", msg])
            .env("KEEP_BIN", env!("CARGO_BIN_EXE_keep"))
            .env("KEEP_VAULT", tv.vault_path())
            .output()
            .unwrap()
    };
    write(&repo, "leak.env", &format!("AWS={}\n", aws_key()));
    git(&repo, &["add", "leak.env"]);
    let out = commit("leak");
    assert!(!out.status.success(), "the commit went through");
    // git sends a hook's stdout to its own stderr.
    let said = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("aws-access-key-id"), "{said}");
    // It says the commit was blocked and how to go on.
    for hint in [
        "commit blocked",
        "keep set",
        "keep:allow",
        "--write-baseline",
        "--no-verify",
    ] {
        assert!(said.contains(hint), "no {hint:?} in {said}");
    }
    assert!(std::fs::read_to_string(repo.join(".git/ran"))
        .unwrap()
        .contains("previous-hook-ran"));
    write(&repo, "leak.env", "AWS=from-the-vault\n");
    git(&repo, &["add", "leak.env"]);
    let out = commit("clean");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn an_unlocked_vault_makes_the_scan_find_its_values_by_name() {
    let tv = TestVault::new();
    let set = tv.run_with_stdin(&["set", "DB_PASS"], b"plain words no rule would flag");
    assert!(set.status.success());
    let short = tv.run_with_stdin(&["set", "PIN"], b"1234");
    assert!(short.status.success());
    write(
        tv.path(),
        "notes.txt",
        "the db: plain words no rule would flag\npin 1234\n",
    );
    // Locked: no vault findings, and no prompt (stdin is null, no passphrase is used).
    let locked = tv
        .keep(&["scan", "notes.txt"])
        .env_remove("KEEP_PASSPHRASE_FILE")
        .output()
        .unwrap();
    assert_eq!(locked.status.code(), Some(0), "{}", stdout(&locked));

    assert!(tv.run(&["unlock", "--ttl", "2m"]).status.success());
    let out = tv
        .keep(&["scan", "notes.txt"])
        .env_remove("KEEP_PASSPHRASE_FILE")
        .output()
        .unwrap();
    let _ = tv.run(&["lock"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(text.contains("notes.txt:1:9  keep-vault-value"), "{text}");
    assert!(text.contains("keep://default/dev/DB_PASS"), "{text}");
    assert!(
        !text.contains("plain words"),
        "the value was printed: {text}"
    );
    assert!(
        !text.contains("PIN"),
        "values under 8 bytes are not looked for: {text}"
    );
}

#[test]
fn the_project_scans_itself_clean() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(env!("CARGO_BIN_EXE_keep"))
        // Fingerprints hash the path as scanned, so scan `.` from the root, as users and the
        // baseline file do, wherever the checkout lives.
        .current_dir(root)
        .args([
            "scan",
            "--no-vault",
            "--baseline",
            ".keep-baseline.json",
            ".",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "keep scan found leaks in the repository:\n{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Random characters from `alphabet`, by a small LCG seeded per test: values no rule was written
/// from (the rules were checked against another generator while they were written).
struct Lcg(u64);

impl Lcg {
    fn take(&mut self, alphabet: &str, n: usize) -> String {
        let a = alphabet.as_bytes();
        (0..n)
            .map(|_| {
                self.0 = self
                    .0
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                a[((self.0 >> 33) % a.len() as u64) as usize] as char
            })
            .collect()
    }
    fn alnum(&mut self, n: usize) -> String {
        // Make sure of a digit and both cases, as real tokens have.
        loop {
            let v = self.take(ALNUM, n);
            if v.bytes().any(|b| b.is_ascii_digit())
                && v.bytes().any(|b| b.is_ascii_lowercase())
                && v.bytes().any(|b| b.is_ascii_uppercase())
            {
                return v;
            }
        }
    }
    fn hex(&mut self, n: usize) -> String {
        self.take("0123456789abcdef", n)
    }
    fn uuid(&mut self) -> String {
        format!(
            "{}-{}-{}-{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(4),
            self.hex(4),
            self.hex(12)
        )
    }
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// What one line must give: `Some((rule, confidence))`, or `None` for no finding.
type Want = Option<(&'static str, &'static str)>;
/// Findings per (path, 1-based line): (rule, confidence).
type ByLine = std::collections::BTreeMap<(String, u64), Vec<(String, String)>>;
/// A test file: path, text, and what each of its lines must give.
type Case = (&'static str, String, Vec<Want>);

/// Scan `files` (path, text) and return, per file and 1-based line, the (rule, confidence) found.
fn findings_by_line(tv: &TestVault, files: &[(&str, String)]) -> ByLine {
    for (rel, text) in files {
        write(tv.path(), rel, text);
    }
    let out = tv
        .keep(&["scan", "--no-vault", "--format", "json", "."])
        .current_dir(tv.path())
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let mut got = std::collections::BTreeMap::new();
    for f in doc["findings"].as_array().unwrap() {
        got.entry((
            f["path"]
                .as_str()
                .unwrap()
                .trim_start_matches("./")
                .to_string(),
            f["line"].as_u64().unwrap(),
        ))
        .or_insert_with(Vec::new)
        .push((
            f["rule"].as_str().unwrap().to_string(),
            f["confidence"].as_str().unwrap().to_string(),
        ));
    }
    got
}

/// Each line of each file must be found by `rule` (or not found, for `None`).
fn assert_lines(got: &ByLine, rel: &str, text: &str, want: &[Want]) {
    for (i, (line, want)) in text.lines().zip(want).enumerate() {
        let found = got.get(&(rel.to_string(), i as u64 + 1));
        match want {
            Some((rule, conf)) => assert!(
                found.is_some_and(|f| f.iter().any(|(r, c)| r == rule && c == conf)),
                "{rel}:{}: wanted {rule} ({conf}), got {found:?}: {line}",
                i + 1
            ),
            None => assert!(
                found.is_none(),
                "{rel}:{}: false positive {found:?}: {line}",
                i + 1
            ),
        }
    }
}

#[test]
fn issue_18_formats_are_found_with_their_confidence() {
    let tv = TestVault::empty();
    let mut g = Lcg(0x18_01);
    let b64 = base64::engine::general_purpose::STANDARD;
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let crc_tail = |body: &str| base62(crc32fast::hash(body.as_bytes()), 6);
    let fine_body = g.alnum(53);
    let fine_ok = format!(
        "{}_pat_11{}_{fine_body}{}",
        "github",
        g.alnum(20),
        crc_tail(&fine_body)
    );
    let fine_plain = format!("{}_pat_11{}_{}", "github", g.alnum(20), g.alnum(59));
    let discord = format!(
        "{}.{}.{}",
        b64.encode("412987365019283746").trim_end_matches('='),
        g.alnum(6),
        g.alnum(38)
    );
    let jwt = format!(
        "{}.{}.{}",
        b64url.encode(r#"{"alg":"RS256","kid":"k1"}"#),
        b64url.encode(r#"{"sub":"svc-a_b/c","scope":"x>y?z"}"#),
        b64url.encode(g.alnum(40))
    );
    let lines = [
        (
            format!("GH_PAT={fine_ok}"),
            ("github-fine-grained-pat", "high"),
        ),
        (
            format!("GH_PAT={fine_plain}"),
            ("github-fine-grained-pat", "medium"),
        ),
        (
            format!("VAULT_TOKEN=s.{}", g.alnum(24)),
            ("hashicorp-vault-legacy-token", "high"),
        ),
        (
            format!("VAULT_TOKEN={}.{}", "hvs", g.alnum(24)),
            ("hashicorp-vault-token", "high"),
        ),
        (
            format!("token: {}.{}", "hvb", g.alnum(130)),
            ("hashicorp-vault-token", "high"),
        ),
        (
            format!(
                "BOT_TOKEN={}:AA{}",
                583_017_492_u64,
                g.take(&format!("{ALNUM}_-"), 33)
            ),
            ("telegram-bot-token", "high"),
        ),
        (
            format!(
                "TEAMS_HOOK=\"https://contoso.{}/webhookb2/{}@{}/IncomingWebhook/{}/{}\"",
                "webhook.office.com",
                g.uuid(),
                g.uuid(),
                g.hex(32),
                g.uuid()
            ),
            ("microsoft-teams-webhook", "high"),
        ),
        (
            format!(
                "BUNDLE_ENTERPRISE__CONTRIBSYS__COM={}:{}",
                g.hex(8),
                g.hex(8)
            ),
            ("sidekiq-secret", "high"),
        ),
        (
            format!("TWILIO_AUTH_TOKEN={}", g.hex(32)),
            ("twilio-auth-token", "medium"),
        ),
        (
            format!(
                "secret_key = \"{}/{}+{}\"",
                g.alnum(13),
                g.alnum(13),
                g.alnum(12)
            ),
            ("generic-secret", "medium"),
        ),
        (
            format!("    client.run(\"{discord}\")"),
            ("discord-bot-token", "high"),
        ),
        (format!("ID_TOKEN = \"{jwt}\""), ("jwt", "high")),
        (
            format!("  token: {}", b64.encode(&jwt)),
            ("jwt-base64", "high"),
        ),
        (
            format!("HEROKU_API_KEY={}", g.uuid()),
            ("provider-uuid-key", "medium"),
        ),
        (
            format!("sendbird_api_token: \"{}\"", g.uuid()),
            ("provider-uuid-key", "medium"),
        ),
    ];
    let text: String = lines.iter().map(|(l, _)| format!("{l}\n")).collect();
    let want: Vec<_> = lines.iter().map(|(_, w)| Some(*w)).collect();
    let got = findings_by_line(&tv, &[("deploy/app.env", text.clone())]);
    assert_lines(&got, "deploy/app.env", &text, &want);
}

#[test]
fn issue_18_contexts_from_real_files_are_found() {
    let tv = TestVault::empty();
    let mut g = Lcg(0x18_02);
    let files: Vec<Case> = vec![
        (
            "cmd/main.go",
            format!(
                "package main\nvar apiSecret string = \"{}\"\nconst authToken string = \"{}\"\n",
                g.alnum(32),
                g.alnum(32)
            ),
            vec![None, Some(("generic-secret", "medium")), Some(("generic-secret", "medium"))],
        ),
        (
            "web/db.php",
            format!("<?php\n$password .= \"{}-{}!\";\n", g.alnum(6), g.take("0123456789", 3)),
            vec![None, Some(("password-assignment", "medium"))],
        ),
        (
            "Makefile",
            format!(
                "API_TOKEN :::= {}\nDEPLOY_TOKEN ?= {}\nEXTRA_SECRET += {}\n",
                g.alnum(30),
                g.alnum(30),
                g.alnum(30)
            ),
            vec![Some(("generic-secret", "medium")); 3],
        ),
        (
            "conf/app.xml",
            format!(
                "<config>\n  <apiToken>{}</apiToken>\n  <add key=\"ClearTextPassword\" value=\"Kettle-{}\" />\n</config>\n",
                g.alnum(30),
                g.take("0123456789", 4)
            ),
            vec![
                None,
                Some(("generic-secret", "medium")),
                Some(("xml-secret-element", "medium")),
                None,
            ],
        ),
        (
            "home/.netrc",
            format!(
                "machine git.internal.example\n  login deploy\n  password Pebble-{}\n",
                g.take("0123456789", 4)
            ),
            vec![None, None, Some(("netrc-file-password", "medium"))],
        ),
        (
            "scripts/ops.sh",
            format!(
                "echo 'machine api.example login bot password Lantern-{}' > ~/.netrc\n\
                 curl -u deploy:Granite-{}! https://ci.internal/api\n\
                 curl -H 'Authorization: Bearer {}' https://ci.internal/api\n\
                 psexec \\\\\\\\build01 -u CORP\\\\svc -p Harbor-{}! cmd.exe\n",
                g.take("0123456789", 3),
                g.take("0123456789", 3),
                g.alnum(28),
                g.take("0123456789", 3)
            ),
            vec![
                Some(("netrc-password", "medium")),
                Some(("curl-user-password", "medium")),
                Some(("authorization-header", "high")),
                Some(("cli-password-flag", "medium")),
            ],
        ),
        (
            "src/Db.cs",
            format!(
                "var cs = \"Server=sql01;Database=app;User Id=sa;Password=Meadow-{}#;\";\n",
                g.take("0123456789", 3)
            ),
            vec![Some(("connection-string-password", "medium"))],
        ),
        (
            "docker-compose.yml",
            format!(
                "services:\n  cache:\n    url: http://admin:Copper{}@localhost:6379\n    environment:\n      DB_PASSWORD: Willow{}x\n",
                g.take("0123456789", 3),
                g.take("0123456789", 3)
            ),
            vec![
                None,
                None,
                Some(("url-credentials", "medium")),
                None,
                Some(("password-assignment", "medium")),
            ],
        ),
        (
            "app/settings.py",
            format!(
                "password = \"Summer{}!\"\nsecret = \"Orchard-{}\"\n",
                g.take("0123456789", 4),
                g.take("0123456789", 3)
            ),
            vec![Some(("password-assignment", "medium")); 2],
        ),
    ];
    let inputs: Vec<(&str, String)> = files.iter().map(|(p, t, _)| (*p, t.clone())).collect();
    let got = findings_by_line(&tv, &inputs);
    for (rel, text, want) in &files {
        assert_lines(&got, rel, text, want);
    }
}

#[test]
fn issue_18_false_positives_are_not_reported() {
    let tv = TestVault::empty();
    let mut g = Lcg(0x18_03);
    let text = [
        "keyPrefix = X25519PublicKeyPrefix".to_string(),
        "key = kVK_ANSI_Keypad8".to_string(),
        format!(
            "  apiKey: \"{}{}\",",
            "AIza", "SyDOCAbC123dEf456GhI789jKl012-MnO"
        ),
        format!("rookTable = \"{}\"", g.alnum(40)),
        format!("sumOfExposures = \"{}\"", g.alnum(64)),
        format!(
            "SLACK_BOT_TOKEN={}-123456789012-1234567890123-my-bot-token",
            "xoxb"
        ),
        format!("API_KEY={}_live_RANDOMSTRING", "sk"),
        "NEW_RELIC_LICENSE_KEY=a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6NRAL".to_string(),
        format!("STRIPE_PUBLISHABLE_KEY={}_live_{}", "pk", g.alnum(24)),
        format!("SIGNING_KEY_ID={}", g.alnum(24)),
        "password = getpass.getpass()".to_string(),
        "password = os.environ['DB_PASSWORD']".to_string(),
        "password: ${DB_PASSWORD}".to_string(),
        "secret: my-tls-secret".to_string(),
        "password = hashed_pw_v2".to_string(),
        "password: !vault |".to_string(),
        "passwordField = \"password-input\"".to_string(),
        "if password == confirm_password:".to_string(),
        "password_min_length = 12".to_string(),
        "You must enter a password to continue.".to_string(),
        "curl -u $USER:$TOKEN https://ci.internal/api".to_string(),
        "Server=db;User Id=sa;Password=<YourStrong@Passw0rd>;".to_string(),
        "amqp://guest:guest@localhost:5672".to_string(),
        "postgres://postgres:postgres@localhost/db".to_string(),
        format!("REQUEST_ID={}", g.uuid()),
        "const X_AWS_EC2_METADATA_TOKEN: &str = \"x-aws-ec2-metadata-token\";".to_string(),
    ]
    .map(|l| format!("{l}\n"))
    .concat();
    let got = findings_by_line(&tv, &[("src/negatives.txt", text.clone())]);
    assert_lines(
        &got,
        "src/negatives.txt",
        &text,
        &vec![None; text.lines().count()],
    );
}

#[test]
fn excerpts_never_show_the_text_around_a_finding() {
    // A neighbouring password no rule knows, 20 bytes before a Stripe key on the same line: the old
    // 32-byte context printed it in text, JSON and SARIF.
    let tv = TestVault::empty();
    let neighbour = "quiet-neighbour-words";
    write(
        tv.path(),
        "app.ini",
        &format!("conn {neighbour} {}\n", stripe_key()),
    );
    for format in ["text", "json", "sarif"] {
        let out = scan(&tv, &["app.ini", "--format", format]);
        assert_eq!(out.status.code(), Some(1), "{format}");
        let text = stdout(&out);
        assert!(
            !text.contains("neighbour"),
            "{format} shows the neighbour: {text}"
        );
        assert!(!text.contains("conn "), "{format} shows the line: {text}");
        assert!(text.contains("sk_l*****"), "{format}: {text}");
    }
    let out = scan(&tv, &["app.ini", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["findings"][0]["excerpt"], "sk_l*****");
}

#[test]
fn control_characters_in_paths_and_authors_are_escaped_in_text_output() {
    let (tv, repo) = new_repo();
    // A file name that would recolour the terminal and start a fake line.
    let evil = "evil\u{1b}[32mok\nfake.env";
    write(&repo, evil, &format!("AWS={}\n", aws_key()));
    let out = tv
        .keep(&["scan", "--no-vault", "."])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        !text.contains('\u{1b}') && text.lines().count() == 1,
        "{text:?}"
    );
    assert!(text.contains("evil\\u{1b}[32mok\\nfake.env"), "{text:?}");
    // The JSON keeps the real name (it is data, escaped by JSON itself).
    let out = tv
        .keep(&["scan", "--no-vault", "--format", "json", "."])
        .current_dir(&repo)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["findings"][0]["path"], evil);

    // An author with control characters, through --git.
    std::fs::remove_file(repo.join(evil)).unwrap();
    write(&repo, "leak.env", &format!("AWS={}\n", aws_key()));
    git(&repo, &["add", "leak.env"]);
    let commit = git_cmd(&repo)
        .args([
            "-c",
            "user.name=Mal\u{7}lory\u{1b}]0;pwned x",
            "commit",
            "-qm",
            "x",
        ])
        .output()
        .unwrap();
    assert!(
        commit.status.success(),
        "{}",
        String::from_utf8_lossy(&commit.stderr)
    );
    let out = tv
        .keep(&["scan", "--no-vault", "--git"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    assert!(text.contains("Mal\\u{7}lory\\u{1b}]0;pwned x"), "{text:?}");
}

/// Every simple SHA-256 an attacker might try over rule, path and value, as hex (full and cut to
/// 128 bits), to check a fingerprint against guesses.
fn unsalted_candidates(rule: &str, path: &str, value: &str) -> Vec<String> {
    use sha2::{Digest, Sha256};
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for sep in ["", "\0", "|", ":", "/", "\n", " "] {
        for order in [
            [rule, path, value],
            [path, rule, value],
            [value, rule, path],
        ] {
            inputs.push(order.join(sep).into_bytes());
            inputs.push(format!("keep-scan/v1{sep}{}", order.join(sep)).into_bytes());
        }
        inputs.push(format!("keep-scan/v1\0{rule}\0{path}\0{value}").into_bytes());
    }
    inputs.push(value.as_bytes().to_vec());
    inputs
        .iter()
        .flat_map(|i| {
            let hex: String = Sha256::digest(i)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            [hex[..32].to_string(), hex]
        })
        .collect()
}

fn vault_fingerprint(tv: &TestVault, args: &[&str]) -> (Output, Vec<String>) {
    let mut all = vec!["scan"];
    all.extend_from_slice(args);
    let out = tv
        .keep(&all)
        .current_dir(tv.path())
        .env_remove("KEEP_PASSPHRASE_FILE")
        .output()
        .unwrap();
    let prints = if args.contains(&"sarif") {
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["partialFingerprints"]["keepScan/v1"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    } else {
        Vec::new()
    };
    (out, prints)
}

#[test]
fn vault_value_fingerprints_are_keyed_stable_and_old_baselines_still_load() {
    let weak = "summer2024!";
    let tv = TestVault::new();
    assert!(tv
        .run_with_stdin(&["set", "DB_PASS"], weak.as_bytes())
        .status
        .success());
    write(tv.path(), "notes.txt", &format!("db: {weak}\n"));
    assert!(tv.run(&["unlock", "--ttl", "2m"]).status.success());
    let (out, first) = vault_fingerprint(&tv, &["notes.txt", "--format", "sarif"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, second) = vault_fingerprint(&tv, &["notes.txt", "--format", "sarif"]);
    // Other findings on the line (none expected) would be listed too: take the vault one.
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first, second, "not stable across runs with the same vault");
    let fp = &first[0];
    assert_eq!(fp.len(), 32);
    for guess in unsalted_candidates("keep-vault-value", "notes.txt", weak) {
        assert!(
            !guess.starts_with(fp.as_str()),
            "the fingerprint is an unsalted hash"
        );
    }

    // A version 1 baseline (unsalted, as keep wrote before) still accepts the finding, with a
    // warning; rewriting it stores the keyed fingerprint instead of the unsalted one.
    let legacy = &unsalted_candidates("keep-vault-value", "notes.txt", weak)
        .into_iter()
        .find(|c| {
            use sha2::{Digest, Sha256};
            let h: String =
                Sha256::digest(format!("keep-scan/v1\0keep-vault-value\0notes.txt\0{weak}"))
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
            *c == h[..32]
        })
        .unwrap();
    write(
        tv.path(),
        "old.json",
        &format!("{{\"keep_scan_baseline\": 1, \"fingerprints\": [\"{legacy}\"]}}\n"),
    );
    let (out, _) = vault_fingerprint(&tv, &["notes.txt", "--baseline", "old.json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("unsalted") && err.contains("--write-baseline"),
        "{err}"
    );
    let (out, _) = vault_fingerprint(
        &tv,
        &[
            "notes.txt",
            "--baseline",
            "old.json",
            "--write-baseline",
            "new.json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let new: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tv.path().join("new.json")).unwrap())
            .unwrap();
    assert_eq!(new["keep_scan_baseline"], 2);
    assert_eq!(new["fingerprints"], serde_json::json!([fp]), "{new}");
    let (out, _) = vault_fingerprint(&tv, &["notes.txt", "--baseline", "new.json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("unsalted"));

    // Another vault holding the same value gives another fingerprint.
    let other = TestVault::new();
    assert!(other
        .run_with_stdin(&["set", "DB_PASS"], weak.as_bytes())
        .status
        .success());
    write(other.path(), "notes.txt", &format!("db: {weak}\n"));
    assert!(other.run(&["unlock", "--ttl", "2m"]).status.success());
    let (_, theirs) = vault_fingerprint(&other, &["notes.txt", "--format", "sarif"]);
    let _ = other.run(&["lock"]);
    let _ = tv.run(&["lock"]);
    assert_eq!(theirs.len(), 1);
    assert_ne!(theirs[0], *fp);
}

#[test]
fn the_hooks_advice_works_and_uninstall_restores_the_chained_hook() {
    let (tv, repo) = new_repo();
    let hooks = repo.join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let previous = "#!/bin/sh\necho previous-hook-ran >> \"$(git rev-parse --git-dir)/ran\"\n";
    std::fs::write(hooks.join("pre-commit"), previous).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        hooks.join("pre-commit"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let keep_in = |args: &[&str]| tv.keep(args).current_dir(&repo).output().unwrap();
    assert!(keep_in(&["hook", "install"]).status.success());
    let commit = |msg: &str, keep_bin: &str| {
        git_cmd(&repo)
            .args(["commit", "-qm", msg])
            .env("KEEP_BIN", keep_bin)
            .env("KEEP_VAULT", tv.vault_path())
            .output()
            .unwrap()
    };
    let bin = env!("CARGO_BIN_EXE_keep");
    write(&repo, "fixture.env", &format!("AWS={}\n", aws_key()));
    git(&repo, &["add", "fixture.env"]);
    assert!(!commit("leak", bin).status.success());

    // keep itself failing blocks the commit too, and says so.
    let out = commit("leak", "/nonexistent/keep");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("commit blocked") && err.contains("failed (exit 127)"),
        "{err}"
    );

    // Following the printed advice: accept the findings in the baseline, then the commit passes.
    let out = tv
        .keep(&[
            "scan",
            "--no-vault",
            "--staged",
            "--write-baseline",
            ".keep-baseline.json",
        ])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    git(&repo, &["add", ".keep-baseline.json"]);
    let out = commit("accepted fixture", bin);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Uninstall: ours is removed, the previous hook is back as it was and nothing else is left.
    let out = keep_in(&["hook", "uninstall"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("previous hook is back"));
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        previous
    );
    assert!(!hooks.join("pre-commit.keep-chained").exists());
    write(&repo, "leak2.env", &format!("AWS2={}\n", aws_key()));
    git(&repo, &["add", "leak2.env"]);
    assert!(commit("no keep hook now", bin).status.success());
    // Again: nothing to remove, and a hook that is not ours is left alone (exit 2).
    let out = keep_in(&["hook", "uninstall"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not keep's hook"));
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        previous
    );
    std::fs::remove_file(hooks.join("pre-commit")).unwrap();
    let out = keep_in(&["hook", "uninstall", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["removed"], false);
}
