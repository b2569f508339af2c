//! Canary: a known secret value goes through every core command, and must appear nowhere it should
//! not: stderr, `--json` error output, the process's argv, its core-dump setting, or any file on disk
//! (the vault holds it only encrypted).

mod canary_support;
mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use canary_support::{assert_absent, files_under, CANARY};
use common::{code, TestVault};

#[test]
fn the_canary_never_leaks() {
    let tv = TestVault::new();
    // While `set` waits for its value on stdin, look at the live process.
    let mut child = tv
        .keep(&["set", "CANARY_SECRET"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(CANARY.as_bytes()).unwrap();
    // Wait until the process has the value in memory but has not exited (stdin still open).
    let deadline = Instant::now() + Duration::from_secs(10);
    let limits = loop {
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
        if !limits.is_empty() || Instant::now() > deadline {
            break limits;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    std::thread::sleep(Duration::from_millis(100));
    assert_absent(
        "/proc/<pid>/cmdline",
        &std::fs::read(format!("/proc/{pid}/cmdline")).unwrap(),
    );
    assert_absent(
        "/proc/<pid>/environ",
        &std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default(),
    );
    let core_line = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert!(
        core_line.split_whitespace().nth(4) == Some("0"),
        "core dumps must be off: {core_line}"
    );
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 0);
    assert_absent("set's stderr", &out.stderr);
    assert_absent("set's stdout", &out.stdout);

    tv.set("OTHER", "plain");
    // Every command except `get` (whose purpose is to print the value) keeps it off stdout too.
    let commands: &[&[&str]] = &[
        &["ls"],
        &["ls", "--json"],
        &["ls", "--all-envs", "--json"],
        &["history", "CANARY_SECRET", "--json"],
        &["history", "CANARY_SECRET"],
        &["slot", "ls", "--json"],
        &["get", "NOPE", "--json"],
        &["rollback", "CANARY_SECRET", "--to", "9", "--json"],
        &["rm", "CANARY_SECRET", "--json"],
        &["rollback", "CANARY_SECRET", "--to", "1", "--json"],
        &["get", "--version", "2", "CANARY_SECRET", "--json"],
    ];
    for args in commands {
        let out = tv.run(args);
        assert_absent(&format!("stderr of {args:?}"), &out.stderr);
        assert_absent(&format!("stdout of {args:?}"), &out.stdout);
    }
    // `get` prints it on stdout, and only there.
    let out = tv.run(&["get", "CANARY_SECRET"]);
    assert_eq!(out.stdout, CANARY.as_bytes());
    assert_absent("get's stderr", &out.stderr);
    // A failed unlock with the value around says nothing of it.
    std::fs::write(tv.pass_file(), "wrong").unwrap();
    let out = tv.run(&["get", "CANARY_SECRET", "--json"]);
    assert_eq!(code(&out), 4);
    assert_absent("a failed get", &[out.stdout, out.stderr].concat());

    // No file anywhere holds the plaintext: not the vault, its WAL, or anything else.
    let files = files_under(tv.path());
    assert!(files.iter().any(|f| f.ends_with("vault.db")));
    for f in files {
        assert_absent(&f.display().to_string(), &std::fs::read(&f).unwrap());
    }
}
