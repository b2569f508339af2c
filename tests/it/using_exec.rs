//! `keep exec`: the child's environment, exit codes (including a death by signal), the TTY, signal
//! forwarding under --redact, redaction of raw and encoded values through real pipes, --clean, --only
//! and --env-file references. Also: failures never start the command.

use crate::common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{code, stderr, stdout, TestVault};

fn vault() -> TestVault {
    let tv = TestVault::new();
    tv.set("TOKEN", "hunter2-canary-value");
    tv.set("MULTI", "line one\nline 'two' $HOME \"q\"");
    tv
}

#[test]
fn the_child_sees_the_secrets_and_the_inherited_environment() {
    let tv = vault();
    let out = tv
        .keep(&[
            "exec",
            "--",
            "sh",
            "-c",
            "printf '%s|%s|%s' \"$TOKEN\" \"$MULTI\" \"$INHERITED\"",
        ])
        .env("INHERITED", "from-parent")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "hunter2-canary-value|line one\nline 'two' $HOME \"q\"|from-parent"
    );
}

#[test]
fn keeps_own_credentials_are_not_passed_on() {
    let tv = vault();
    let out = tv
        .keep(&[
            "exec",
            "--",
            "sh",
            "-c",
            "printf '%s|%s' \"${KEEP_PASSPHRASE-unset}\" \"$TOKEN\"",
        ])
        .env_remove("KEEP_PASSPHRASE_FILE")
        .env("KEEP_PASSPHRASE", common::PASSPHRASE)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "unset|hunter2-canary-value");
}

#[test]
fn clean_drops_the_parent_environment() {
    let tv = vault();
    let out = tv
        .keep(&["exec", "--clean", "--", "/usr/bin/env"])
        .env("INHERITED", "from-parent")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut names: Vec<String> = stdout(&out)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_string()))
        .filter(|k| k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names, vec!["MULTI", "TOKEN"], "{}", stdout(&out));
}

#[test]
fn only_limits_the_secrets_and_a_secret_wins_a_clash_with_a_notice() {
    let tv = vault();
    let out = tv
        .keep(&[
            "exec",
            "--verbose",
            "--only",
            "TOKEN",
            "--",
            "sh",
            "-c",
            "printf '%s|%s' \"$TOKEN\" \"${MULTI-unset}\"",
        ])
        .env("TOKEN", "parent-value")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "hunter2-canary-value|unset");
    assert!(stderr(&out).contains("TOKEN"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
}

#[test]
fn the_exit_code_is_the_commands() {
    let tv = vault();
    for redact in [false, true] {
        let mut args = vec!["exec"];
        if redact {
            args.push("--redact");
        }
        args.extend(["--", "sh", "-c", "exit 42"]);
        assert_eq!(code(&tv.run(&args)), 42, "redact={redact}");
    }
}

#[test]
fn a_death_by_signal() {
    let tv = vault();
    // Without --redact keep *is* the command, so the caller sees the signal itself.
    let out = tv.run(&["exec", "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(out.status.signal(), Some(libc::SIGTERM), "{:?}", out.status);
    // With --redact keep is the parent and reports 128+N.
    let out = tv.run(&["exec", "--redact", "--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(code(&out), 128 + libc::SIGKILL, "{}", stderr(&out));
}

#[test]
fn without_redact_keep_becomes_the_command() {
    let tv = vault();
    let out = tv.run(&["exec", "--", "sh", "-c", "cat /proc/$$/comm; echo $$ > pid"]);
    assert_eq!(code(&out), 0);
    assert_eq!(
        stdout(&out),
        "sh\n",
        "the process is sh, not keep with a child"
    );
}

#[test]
fn command_not_found_and_not_executable_start_nothing() {
    let tv = vault();
    let out = tv.run(&["exec", "--", "no-such-command-xyz"]);
    assert_eq!(code(&out), 127, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no-such-command-xyz"),
        "{}",
        stderr(&out)
    );
    let script = tv.path().join("not-exec.sh");
    std::fs::write(&script, "#!/bin/sh\ntouch started\n").unwrap();
    let out = tv.run(&["exec", "--", script.to_str().unwrap()]);
    assert_eq!(code(&out), 126, "{}", stderr(&out));
    let out = tv.run(&["exec", "--redact", "--", "no-such-command-xyz"]);
    assert_eq!(code(&out), 127, "{}", stderr(&out));
    let out = tv.run(&["exec", "--json", "--", "no-such-command-xyz"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], 127);
    assert!(!tv.path().join("started").exists());
}

#[test]
fn a_missing_secret_or_reference_starts_nothing() {
    let tv = vault();
    let marker = tv.path().join("started");
    let touch = format!("touch {}", marker.display());
    let out = tv.run(&["exec", "--only", "TOKEN,NOPE", "--", "sh", "-c", &touch]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("NOPE"));
    std::fs::write(tv.path().join("refs.env"), "A=keep://default/dev/NOPE\n").unwrap();
    let out = tv.run(&["exec", "--env-file", "refs.env", "--", "sh", "-c", &touch]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("keep://default/dev/NOPE"),
        "{}",
        stderr(&out)
    );
    std::fs::write(tv.path().join("bad.env"), "A=1\nB=\"unterminated\n").unwrap();
    let out = tv.run(&["exec", "--env-file", "bad.env", "--", "sh", "-c", &touch]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let out = tv.run(&[
        "exec",
        "--env-file",
        "missing.env",
        "--",
        "sh",
        "-c",
        &touch,
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(!marker.exists(), "the command must never start");
}

#[test]
fn env_file_references_resolve_and_literals_pass_through() {
    let tv = vault();
    tv.set("keep://web/prod/API_KEY", "prod-api-key-value");
    std::fs::write(
        tv.path().join("app.env"),
        "# committed: references only\nexport API_KEY=keep://web/prod/API_KEY\nMODE='literal $x'\nTOKEN=keep://default/dev/TOKEN\n",
    )
    .unwrap();
    let out = tv.run(&[
        "exec",
        "--clean",
        "--env-file",
        "app.env",
        "--",
        "sh",
        "-c",
        "printf '%s|%s|%s' \"$API_KEY\" \"$MODE\" \"$TOKEN\"",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "prod-api-key-value|literal $x|hunter2-canary-value"
    );
}

#[test]
fn the_tty_belongs_to_the_command() {
    let tv = vault();
    let keep = env!("CARGO_BIN_EXE_keep");
    // `script` gives the command a pseudo-terminal on stdin, stdout and stderr.
    let inner = format!(
        "{keep} exec -- sh -c 'test -t 0 && test -t 1 && test -t 2 && echo TTY-OK || echo NO-TTY'"
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .current_dir(tv.path())
        .env("KEEP_VAULT", tv.vault_path())
        .env("KEEP_PASSPHRASE_FILE", tv.pass_file())
        .env("HOME", tv.path())
        .env("XDG_DATA_HOME", tv.path().join("xdg"))
        .stdin(Stdio::null())
        .output()
        .expect("script (bsdutils) is installed by scripts/setup.d/40-using.sh");
    let text = stdout(&out);
    assert!(text.contains("TTY-OK"), "{text}{}", stderr(&out));
}

#[test]
fn redact_forwards_sigint_sigterm_and_sighup_and_returns_the_childs_code() {
    let tv = vault();
    for (signal, name) in [
        (libc::SIGINT, "INT"),
        (libc::SIGTERM, "TERM"),
        (libc::SIGHUP, "HUP"),
    ] {
        let script = format!(
            "trap 'echo got-{name}; exit 7' {name}; echo ready; while :; do sleep 0.05; done"
        );
        let mut child = tv
            .keep(&["exec", "--redact", "--", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
        // SAFETY: plain kill of our own child (keep), which must pass the signal on.
        unsafe { libc::kill(child.id() as i32, signal) };
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("keep did not exit after SIG{name}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(lines.next().unwrap().unwrap(), format!("got-{name}"));
        assert_eq!(status.code(), Some(7), "SIG{name}");
    }
}

#[test]
fn redact_replaces_values_split_across_writes_and_encoded_forms() {
    let tv = vault();
    // The value is written one byte at a time with pauses, so keep reads it in pieces.
    let script = r#"
        v="$TOKEN"
        printf 'start '
        while [ -n "$v" ]; do
            rest="${v#?}"; printf '%s' "${v%"$rest"}"; v="$rest"; sleep 0.02
        done
        printf ' end\n'
        printf '%s' "$TOKEN" | base64
        printf 'alice:%s' "$TOKEN" | base64
        printf '{"t":"%s"}\n' "$MULTI" | sed 's/$/\\n/' | tr -d '\n'; echo
        echo "url=hunter2-canary-value%21" >&2
        printf 'line one\nline two\n'
    "#;
    let out = tv.run(&["exec", "--redact", "--", "sh", "-c", script]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let err = stderr(&out);
    assert!(text.contains("start [REDACTED:TOKEN] end\n"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        !text.contains("aHVudGVyMi1jYW5hcnktdmFsdWU"),
        "base64: {text}"
    );
    assert!(
        !text.contains("Omh1bnRlcjItY2FuYXJ5LXZhbHVl"),
        "basic auth: {text}"
    );
    assert!(err.contains("url=[REDACTED:TOKEN]%21"), "{err}");
    assert!(
        text.contains("line one\nline two\n"),
        "short ordinary text passes: {text}"
    );
}
