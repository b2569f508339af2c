//! Attacks on the audit log by someone who can write the vault file (sqlite3, cp) but holds no key,
//! through the real binary: each is caught by `keep audit verify` comparing the chain with its
//! witness outside the file (exit 1, naming the first missing entry), and nothing else is lost.
//! Also: a kill -9 between the witness line and the commit is "pending", not an alarm; forged
//! failed-unlock rows stay marked unauthenticated, sanitised and clamped in every view.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use common::{code, stderr, stdout, TestVault};
use rusqlite::{params, Connection};

fn db(tv: &TestVault) -> Connection {
    Connection::open(tv.vault_path()).unwrap()
}

/// Fold the WAL into the vault file, so that the file alone is the whole vault (what `cp` of a
/// quiet vault copies).
fn settle(tv: &TestVault) {
    let c = db(tv);
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
}

/// The audit log's authenticated head, as an attacker copies it out of the file.
fn head(tv: &TestVault) -> Vec<u8> {
    db(tv)
        .query_row("SELECT value FROM meta WHERE key = 'audit_head'", [], |r| {
            r.get(0)
        })
        .unwrap()
}

/// Put `head` back into the file, as an attacker with sqlite3 would.
fn put_head(tv: &TestVault, head: &[u8]) {
    db(tv)
        .execute(
            "UPDATE meta SET value = ?1 WHERE key = 'audit_head'",
            params![head],
        )
        .unwrap();
}

fn entries(tv: &TestVault) -> u64 {
    db(tv)
        .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get::<_, i64>(0))
        .unwrap() as u64
}

fn witness_dir(tv: &TestVault) -> PathBuf {
    tv.path().join(".local/state/keep")
}

/// The one witness file of the test's vault.
fn witness(tv: &TestVault) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(witness_dir(tv))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".audit.jsonl"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// `keep audit verify --json [extra]`: exit code and document.
fn verify_json(tv: &TestVault, extra: &[&str]) -> (i32, serde_json::Value) {
    tv.audit_verify_json(extra)
}

/// `keep audit verify`: exit code and stderr.
fn verify_text(tv: &TestVault) -> (i32, String) {
    let out = tv.run(&["audit", "verify"]);
    (code(&out), format!("{}{}", stdout(&out), stderr(&out)))
}

fn busy() -> TestVault {
    let tv = TestVault::new();
    tv.set("ALPHA", "alpha-value-1");
    tv.set("BETA", "beta-value-2");
    assert_eq!(tv.get("ALPHA"), "alpha-value-1");
    tv
}

/// Every value still reads back: the attack lost nothing else.
fn values_intact(tv: &TestVault) {
    assert_eq!(tv.get("ALPHA"), "alpha-value-1");
    assert_eq!(tv.get("BETA"), "beta-value-2");
}

#[test]
fn a_normal_sequence_of_commands_is_intact_and_fully_witnessed() {
    let tv = busy();
    tv.set("ALPHA", "alpha-value-1");
    assert_eq!(code(&tv.run(&["ls"])), 0);
    assert_eq!(code(&tv.run(&["history", "ALPHA"])), 0);
    assert_eq!(code(&tv.run(&["rm", "BETA"])), 0);
    assert_eq!(code(&tv.run(&["get", "BETA"])), 3);
    tv.set("BETA", "beta-value-2");
    let (c, doc) = verify_json(&tv, &[]);
    assert_eq!(c, 0, "{doc}");
    assert_eq!(doc["intact"], true);
    let n = entries(&tv);
    assert_eq!(doc["entries"], n);
    assert_eq!(doc["witness"]["witnessed"], n, "{doc}");
    assert_eq!(doc["witness"]["start_reason"], "new");
    assert!(doc["witness"]["problem"].is_null());
    let (c, text) = verify_text(&tv);
    assert_eq!(c, 0, "{text}");
    assert!(
        text.contains(&format!("the witness agrees on {n} of them")),
        "{text}"
    );
    // Owner-only, and no name or value in it.
    let w = witness(&tv);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&w), 0o600);
    assert_eq!(mode(&witness_dir(&tv)), 0o700);
    let text = std::fs::read_to_string(&w).unwrap();
    for secret in ["ALPHA", "BETA", "alpha-value-1", "beta-value-2"] {
        assert!(!text.contains(secret), "the witness holds {secret}");
    }
    values_intact(&tv);
}

#[test]
fn a_whole_file_rollback_is_reported_with_the_first_missing_entry() {
    let tv = busy();
    settle(&tv);
    let old = std::fs::read(tv.vault_path()).unwrap();
    let before = entries(&tv);
    // The reads to hide.
    for _ in 0..3 {
        assert_eq!(tv.get("BETA"), "beta-value-2");
    }
    settle(&tv);
    std::fs::write(tv.vault_path(), &old).unwrap();
    assert_eq!(entries(&tv), before);
    // The chain alone is consistent: only the witness sees it.
    assert_eq!(verify_json(&tv, &["--no-witness"]).0, 0);
    let (c, doc) = verify_json(&tv, &[]);
    assert_eq!(c, 1, "{doc}");
    assert_eq!(doc["intact"], false);
    assert_eq!(doc["chain_intact"], true);
    assert_eq!(doc["first_bad"]["seq"], before + 1, "{doc}");
    let (c, text) = verify_text(&tv);
    assert_eq!(c, 1);
    assert!(text.contains(&format!("#{}", before + 1)), "{text}");
    assert!(text.contains("older copy"), "{text}");
    values_intact(&tv);
    // Writing to the rolled-back vault does not paper over it: the witness recorded other entries
    // at those positions.
    let (c, doc) = verify_json(&tv, &[]);
    assert_eq!(c, 1, "{doc}");
    assert_eq!(doc["first_bad"]["seq"], before + 1, "{doc}");
    assert!(
        doc["first_bad"]["what"]
            .as_str()
            .unwrap()
            .contains("rolled back"),
        "{doc}"
    );
}

#[test]
fn cut_rows_with_the_old_head_restored_are_reported() {
    let tv = busy();
    let old_head = head(&tv);
    let before = entries(&tv);
    for _ in 0..2 {
        assert_eq!(tv.get("ALPHA"), "alpha-value-1");
    }
    assert!(entries(&tv) > before);
    db(&tv)
        .execute("DELETE FROM audit WHERE seq > ?1", [before as i64])
        .unwrap();
    put_head(&tv, &old_head);
    assert_eq!(verify_json(&tv, &["--no-witness"]).0, 0);
    let (c, doc) = verify_json(&tv, &[]);
    assert_eq!(c, 1, "{doc}");
    assert_eq!(doc["first_bad"]["seq"], before + 1, "{doc}");
    let (_, text) = verify_text(&tv);
    assert!(text.contains(&format!("from #{} on", before + 1)), "{text}");
    assert!(text.contains("cut"), "{text}");
    values_intact(&tv);
}

/// The head alone put back from an older copy, the newer rows left in place: the head authenticates,
/// but a read cannot be recorded after it without clashing with rows that exist. keep refuses the
/// read as integrity damage (exit 5, naming the audit log, no value on stdout) instead of failing on
/// a SQLite constraint, and appends nothing.
#[test]
fn an_old_head_put_back_over_newer_rows_refuses_reads_as_damage() {
    let tv = busy();
    let old_head = head(&tv);
    assert_eq!(tv.get("ALPHA"), "alpha-value-1");
    let after = entries(&tv);
    put_head(&tv, &old_head);
    let out = tv.run(&["get", "ALPHA"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("audit log"), "{}", stderr(&out));
    assert!(stderr(&out).contains("older"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("alpha-value-1"));
    assert_eq!(entries(&tv), after, "nothing was appended");
    let (c, doc) = verify_json(&tv, &["--no-witness"]);
    assert_eq!(c, 1, "{doc}");
}

#[test]
fn a_deleted_witness_is_reported_not_ignored() {
    let tv = busy();
    let w = witness(&tv);
    std::fs::remove_file(&w).unwrap();
    let (c, text) = verify_text(&tv);
    assert_eq!(c, 1, "{text}");
    assert!(
        text.contains(&format!("no witness at {}", w.display())),
        "{text}"
    );
    let (c, doc) = verify_json(&tv, &[]);
    assert_eq!(c, 1);
    assert_eq!(doc["witness"]["found"], false);
    // --no-witness checks the chain alone, and says so.
    let out = tv.run(&["audit", "verify", "--no-witness"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("--no-witness"), "{}", stderr(&out));
    // The next command starts a new witness, and the gap stays reported.
    values_intact(&tv);
    let (c, doc) = verify_json(&tv, &[]);
    assert_eq!(c, 1, "{doc}");
    assert_eq!(doc["witness"]["start_reason"], "missing");
    assert!(
        doc["witness"]["problem"]["what"]
            .as_str()
            .unwrap()
            .contains("started again"),
        "{doc}"
    );
}

#[test]
fn a_witness_planted_as_a_symbolic_link_is_refused() {
    let tv = busy();
    let w = witness(&tv);
    let elsewhere = tv.path().join("elsewhere.jsonl");
    std::fs::rename(&w, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &w).unwrap();
    let before = std::fs::read(&elsewhere).unwrap();
    let out = tv.run(&["get", "ALPHA"]);
    assert_eq!(code(&out), 8, "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert_eq!(
        std::fs::read(&elsewhere).unwrap(),
        before,
        "followed the link"
    );
    let (c, text) = verify_text(&tv);
    assert_eq!(c, 1, "{text}");
    std::fs::remove_file(&w).unwrap();
    std::fs::rename(&elsewhere, &w).unwrap();
    assert_eq!(verify_text(&tv).0, 0);
    values_intact(&tv);
}

#[test]
fn an_unwritable_witness_fails_the_command_and_changes_nothing() {
    let tv = busy();
    let dir = witness_dir(&tv);
    let aside = tv.path().join("witness-aside");
    std::fs::rename(&dir, &aside).unwrap();
    // A file where the witness folder should be: nothing can be created or opened under it.
    std::fs::write(&dir, b"not a folder").unwrap();
    let before = entries(&tv);
    let out = tv.run_with_stdin(&["set", "ALPHA"], b"changed-without-witness");
    assert_eq!(code(&out), 8, "{}", stderr(&out));
    assert!(stderr(&out).contains("audit witness"), "{}", stderr(&out));
    assert_eq!(
        entries(&tv),
        before,
        "an entry committed without its witness line"
    );
    std::fs::remove_file(&dir).unwrap();
    std::fs::rename(&aside, &dir).unwrap();
    values_intact(&tv);
    assert_eq!(verify_text(&tv).0, 0);
}

#[test]
fn a_kill_between_the_witness_line_and_the_commit_is_pending_not_an_alarm() {
    let tv = busy();
    let w = witness(&tv);
    let before = entries(&tv);
    // SIGKILL `keep set` on its second fdatasync of the witness: the set's own witness line is
    // written (the first is the unlock's), its transaction not yet committed.
    let keep = tv.keep(&["set", "ALPHA"]);
    let mut cmd = Command::new("strace");
    cmd.args(["-qq", "-f", "-o", "/dev/null", "-P"])
        .arg(&w)
        .args([
            "-e",
            "trace=fdatasync",
            "-e",
            "inject=fdatasync:signal=SIGKILL:when=2",
        ])
        .arg(env!("CARGO_BIN_EXE_keep"))
        .args(["set", "ALPHA"])
        .current_dir(tv.path())
        .env_clear()
        .envs(keep.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .expect("strace (scripts/setup.d/60-canary.sh installs it)");
    {
        use std::io::Write;
        let _ = child
            .stdin
            .take()
            .unwrap()
            .write_all(b"never-committed-value");
    }
    let out = child.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0), "the kill did not happen");
    // The unlock committed (one entry); the set did not.
    assert_eq!(entries(&tv), before + 1);
    let (c, doc) = verify_json(&tv, &[]);
    assert_eq!(c, 0, "{doc}");
    assert_eq!(
        doc["witness"]["pending"],
        serde_json::json!({"first": before + 2, "last": before + 2}),
        "{doc}"
    );
    let (_, text) = verify_text(&tv);
    assert!(text.contains("Pending"), "{text}");
    // The value was not changed, and later commands turn the pending line into an abandoned one.
    values_intact(&tv);
    let (c, doc) = verify_json(&tv, &[]);
    assert_eq!(c, 0, "{doc}");
    assert!(doc["witness"]["pending"].is_null(), "{doc}");
    assert_eq!(doc["witness"]["abandoned"], 1, "{doc}");
}

/// Plant an unauthenticated failed-unlock record, as an attacker with sqlite3 would.
fn forge(tv: &TestVault, user: &str, host: &str, command: &str, t: u64) {
    let body = serde_json::json!({
        "t": t, "user": user, "host": host, "pid": 4242, "command": command,
        "action": "unlock-failed", "outcome": "auth",
    });
    db(tv)
        .execute(
            "INSERT INTO audit_unauthenticated (body) VALUES (?1)",
            params![serde_json::to_vec(&body).unwrap()],
        )
        .unwrap();
}

fn ms(v: &serde_json::Value) -> u64 {
    let t = humantime::parse_rfc3339_weak(v.as_str().unwrap()).unwrap();
    t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

#[test]
fn forged_failed_unlocks_stay_unauthenticated_sanitised_and_clamped() {
    let tv = busy();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    forge(
        &tv,
        "mallory\x1b[2J\x1b[H",
        "evil\u{202e}tsoh",
        "get\nFAKE ROW",
        0,
    );
    let ten_years = 10 * 365 * 24 * 3600 * 1000;
    forge(&tv, "mallory", "h\x07", "get", now + ten_years);
    // The next unlock folds them into the chain.
    values_intact(&tv);
    let out = tv.run(&["audit", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let folded: Vec<&serde_json::Value> = all
        .iter()
        .filter(|e| e["action"] == "unlock-failed")
        .collect();
    assert_eq!(folded.len(), 2, "{all:?}");
    let first_folded = all
        .iter()
        .position(|e| e["action"] == "unlock-failed")
        .unwrap();
    let previous = ms(&all[first_folded - 1]["time"]);
    for e in &folded {
        assert_eq!(e["authenticated"], false, "{e}");
        assert!(e["seq"].as_u64().is_some(), "folded into the chain: {e}");
        let (t, fold) = (ms(&e["time"]), ms(&e["folded_at"]));
        assert!(t >= previous && t <= fold, "{e}: not clamped");
        assert!(e["claimed_time"].is_string(), "the claim is kept: {e}");
        for field in ["user", "host", "command"] {
            let v = e[field].as_str().unwrap();
            assert!(
                !v.chars().any(|c| c.is_control() || c == '\u{202e}'),
                "{field} {v:?}"
            );
        }
    }
    assert_eq!(folded[0]["user"], "mallory\\u{1b}[2J\\u{1b}[H");
    assert_eq!(folded[0]["command"], "get\\nFAKE ROW");
    assert_eq!(
        ms(&folded[0]["time"]),
        previous,
        "back-dated: clamped to the entry before"
    );
    assert_eq!(ms(&folded[1]["time"]), ms(&folded[1]["folded_at"]));
    // Every other entry is authenticated.
    assert!(all
        .iter()
        .filter(|e| e["action"] != "unlock-failed")
        .all(|e| e["authenticated"] == true));

    // Text: each forged row on one line, marked, with nothing a terminal would act on.
    let out = tv.run(&["audit"]);
    let text = stdout(&out);
    assert!(!text.contains('\x1b') && !text.contains('\x07') && !text.contains('\u{202e}'));
    assert!(!text.lines().any(|l| l.starts_with("FAKE ROW")), "{text}");
    let marked: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("unlock-failed"))
        .collect();
    assert_eq!(marked.len(), 2, "{text}");
    assert!(
        marked.iter().all(|l| l.contains("[UNAUTHENTICATED")),
        "{text}"
    );
    assert!(text.contains("mallory\\u{1b}[2J"), "{text}");

    // --unusual (new user, new host): marked too, in text and JSON.
    let out = tv.run(&["audit", "--unusual", "--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let findings: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let by_mallory: Vec<_> = findings
        .iter()
        .filter(|f| f["user"].as_str().unwrap().starts_with("mallory"))
        .collect();
    assert!(!by_mallory.is_empty(), "{findings:?}");
    assert!(by_mallory.iter().all(|f| f["authenticated"] == false));
    let out = tv.run(&["audit", "--unusual"]);
    let text = stdout(&out);
    assert!(
        !text.contains('\x1b') && !text.contains('\u{202e}'),
        "{text}"
    );
    assert!(text.contains("[UNAUTHENTICATED]"), "{text}");
    // The chain (and witness) stay intact: folding is legitimate, the marking says what it proves.
    let (c, text) = verify_text(&tv);
    assert_eq!(c, 0, "{text}");
}
