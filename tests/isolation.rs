//! Isolation (issue 14): what a child, a hook, a hand-off file, a keep.toml or a server can make keep
//! do. Every attack runs through the real binary in a temp dir and asserts the exit code, that the
//! message names what failed, and that nothing else was lost.

mod common;

use std::process::Command;

use common::{code, stderr, stdout, TestVault};

const KEEP: &str = env!("CARGO_BIN_EXE_keep");

/// A shell script that tries to read every key reachable from the session and user-session
/// keyrings, printing what it could read as hex (nothing when none is readable).
const READ_KEYRINGS: &str = "for ring in @s @us @u; do \
     for id in $(keyctl rlist $ring 2>/dev/null); do keyctl pipe $id 2>/dev/null | od -An -tx1; done; \
   done; true";

#[test]
fn an_exec_child_does_not_share_the_unlocked_session() {
    let tv = TestVault::new();
    tv.set("A", "value-of-a");
    let out = tv.run_with_stdin(&["--env", "prod", "set", "B"], b"prod-only-value-b");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(code(&tv.run(&["unlock", "--ttl", "2m"])), 0);
    let no_pass = |args: &[&str]| {
        tv.keep(args)
            .env_remove("KEEP_PASSPHRASE_FILE")
            .output()
            .unwrap()
    };
    // The control: keep itself (and keyctl run from here) reads through the session.
    let direct = no_pass(&["--env", "prod", "get", "B"]);
    let readable_here = Command::new("sh")
        .args(["-c", READ_KEYRINGS])
        .output()
        .unwrap();

    // A nested keep in the child is locked out (exit 6), for plain exec and for --redact.
    let nested = no_pass(&[
        "exec", "--only", "A", "--", KEEP, "--env", "prod", "get", "B",
    ]);
    let nested_redact = no_pass(&[
        "exec", "--redact", "--only", "A", "--", KEEP, "--env", "prod", "get", "B",
    ]);
    // keyctl in the child cannot read any key, keep's cached master key included.
    let keyctl = no_pass(&["exec", "--only", "A", "--", "sh", "-c", READ_KEYRINGS]);
    // With the explicit opt-in, the nested call works.
    let inherited = no_pass(&[
        "exec",
        "--inherit-session",
        "--only",
        "A",
        "--",
        KEEP,
        "--env",
        "prod",
        "get",
        "B",
    ]);
    assert_eq!(code(&tv.run(&["lock"])), 0);

    assert_eq!(
        (code(&direct), stdout(&direct)),
        (0, "prod-only-value-b".to_string())
    );
    assert!(
        !readable_here.stdout.is_empty(),
        "the control: the cached key is readable outside a child"
    );
    for (what, out) in [("exec", &nested), ("exec --redact", &nested_redact)] {
        assert_eq!(code(out), 6, "{what}: {}", stderr(out));
        assert!(stderr(out).contains("locked"), "{what}: {}", stderr(out));
        assert!(!stdout(out).contains("prod-only-value-b"), "{what}");
    }
    assert_eq!(code(&keyctl), 0, "{}", stderr(&keyctl));
    assert!(
        keyctl.stdout.is_empty(),
        "the child read a key: {}",
        stdout(&keyctl)
    );
    assert_eq!(
        (code(&inherited), stdout(&inherited)),
        (0, "prod-only-value-b".to_string()),
        "{}",
        stderr(&inherited)
    );
}

#[test]
fn a_rotation_hook_does_not_share_the_unlocked_session() {
    let tv = TestVault::new();
    tv.set("API_TOKEN", "the-old-token-value");
    tv.set("OTHER", "another-secret-value");
    std::fs::write(
        tv.path().join("keep.toml"),
        format!(
            "[secrets.API_TOKEN]\ngenerator = \"token:24\"\non_rotate = [{:?}]\n",
            format!(
                "{KEEP} get OTHER > nested.txt 2> nested.err; echo $? > nested.code; \
                 ({READ_KEYRINGS}) > keys.txt"
            )
        ),
    )
    .unwrap();
    assert_eq!(code(&tv.run(&["unlock", "--ttl", "2m"])), 0);
    let out = tv
        .keep(&["rotate", "API_TOKEN"])
        .env_remove("KEEP_PASSPHRASE_FILE")
        .output()
        .unwrap();
    assert_eq!(code(&tv.run(&["lock"])), 0);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let read = |f: &str| std::fs::read_to_string(tv.path().join(f)).unwrap();
    assert_eq!(read("nested.code").trim(), "6", "{}", read("nested.err"));
    assert_eq!(read("nested.txt"), "");
    assert_eq!(read("keys.txt"), "", "the hook read a key");
}
