//! The canary test for the commands that use secrets (all but `materialize`, whose job is to write
//! them): a known value must never appear in stderr, in `--json` error output, in any process's
//! command line, or in any file other than the vault (and the outputs the user asked for).

use crate::canary_support;
use crate::common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use canary_support::{children, files_under, CANARY};
use common::{stderr, stdout, TestVault};

fn contains(haystack: &[u8], needle: &str) -> bool {
    canary_support::find_form(haystack, needle).is_some()
}

#[test]
fn the_canary_never_leaks() {
    let tv = TestVault::new();
    tv.set("SECRET", CANARY);
    tv.set("OTHER", "other-value");
    std::fs::write(
        tv.path().join("refs.env"),
        "REF=keep://default/dev/SECRET\n",
    )
    .unwrap();
    std::fs::write(tv.path().join("tpl"), "x={{ keep://default/dev/SECRET }}\n").unwrap();
    std::fs::write(
        tv.path().join("import.env"),
        format!("IMPORTED={CANARY}-2\n"),
    )
    .unwrap();
    std::fs::write(
        tv.path().join("bad.env"),
        format!("OK=1\nBAD=\"{CANARY}\\q\"\n"),
    )
    .unwrap();
    std::fs::write(
        tv.path().join("bad.json"),
        format!("{{\"A\": [\"{CANARY}\"]}}"),
    )
    .unwrap();
    std::fs::write(
        tv.path().join("keep.toml"),
        "[env.dev]\nrequired = [\"SECRET\", \"MISSING\"]\n",
    )
    .unwrap();

    // Successful and failing runs of every command except materialize, each also with --json.
    let runs: Vec<Vec<&str>> = vec![
        vec!["exec", "--", "true"],
        vec![
            "exec",
            "--redact",
            "--",
            "sh",
            "-c",
            "echo \"$SECRET\"; echo \"$SECRET\" >&2",
        ],
        vec![
            "exec",
            "--env-file",
            "refs.env",
            "--",
            "sh",
            "-c",
            "test -n \"$REF\"",
        ],
        vec!["exec", "--", "no-such-command"],
        vec!["exec", "--only", "SECRET,NOPE", "--", "true"],
        vec!["exec", "--redact", "--", "sh", "-c", "kill -TERM $$"],
        vec!["env", "--format", "docker", "--only", "NOPE"],
        vec!["inject", "-i", "tpl", "-o", "out.conf"],
        vec!["import", "import.env"],
        vec!["import", "bad.env"],
        vec!["import", "bad.json"],
        vec!["example"],
        vec!["check"],
    ];
    for args in &runs {
        for json in [false, true] {
            let mut a = args.clone();
            if json {
                a.insert(0, "--json");
            }
            let out = tv.run(&a);
            assert!(
                !contains(&out.stderr, CANARY),
                "{a:?} stderr: {}",
                stderr(&out)
            );
            // The redacted child's output is stdout too: it must be redacted.
            if a.contains(&"--redact") || json {
                assert!(
                    !contains(&out.stdout, CANARY),
                    "{a:?} stdout: {}",
                    stdout(&out)
                );
            }
        }
    }
    // A secret with a line break cannot be rendered as docker; the error names it, not its value.
    tv.set("MULTI", &format!("{CANARY}\nsecond"));
    let out = tv.run(&["env", "--format", "docker"]);
    assert_eq!(common::code(&out), 2);
    assert!(
        !contains(&out.stderr, CANARY) && !contains(&out.stdout, CANARY),
        "{}",
        stderr(&out)
    );

    // Command lines: keep (and the command it becomes) never carry the value in argv.
    for redact in [false, true] {
        let mut args = vec!["exec"];
        if redact {
            args.push("--redact");
        }
        args.extend(["--", "sh", "-c", "echo ready; sleep 5"]);
        let mut child = tv.keep(&args).stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n");
        let mut pids = vec![child.id()];
        pids.extend(children(child.id()));
        for pid in &pids {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            assert!(
                !contains(&cmdline, CANARY),
                "pid {pid}: {}",
                String::from_utf8_lossy(&cmdline)
            );
        }
        if redact {
            assert!(pids.len() > 1, "keep stays the parent under --redact");
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    // Files: only the vault (and the output the user asked inject for) may hold the value.
    for f in files_under(tv.path()) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        // The vault, the output inject was asked for, and this test's own import inputs.
        if name.starts_with("vault.db")
            || ["out.conf", "import.env", "bad.env", "bad.json"].contains(&name.as_str())
        {
            continue;
        }
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !contains(&bytes, CANARY),
            "{} holds the canary",
            f.display()
        );
    }
    assert!(contains(
        &std::fs::read(tv.path().join("out.conf")).unwrap(),
        CANARY
    ));
}

/// A recovery code from `keep slot add recovery`'s stderr.
fn recovery_code(err: &str) -> String {
    err.split_whitespace()
        .find(|w| w.len() == 39 && w.matches('-').count() == 7)
        .unwrap_or_else(|| panic!("no recovery code in: {err}"))
        .to_string()
}

/// Every credential variable keep knows (and one it will only know later, to prove the rule is by
/// prefix), each holding a real, working credential where keep reads it: none may reach an `exec`
/// command (plain, `--clean`, `--redact`) or an `on_rotate` hook.
#[test]
fn credential_variables_never_reach_a_child() {
    let tv = TestVault::new();
    tv.set("SECRET", CANARY);
    let out = tv.run(&["slot", "add", "recovery"]);
    assert_eq!(common::code(&out), 0, "{}", stderr(&out));
    let code_text = recovery_code(&stderr(&out));
    std::fs::write(tv.path().join("recovery"), format!("{code_text}\n")).unwrap();
    let identity = tv.path().join("identity.txt");
    let gen = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&identity)
        .output()
        .expect("age-keygen");
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    std::fs::write(tv.path().join("pin"), "123456\n").unwrap();
    let p = |f: &str| tv.path().join(f).to_str().unwrap().to_string();
    let credentials: Vec<(&str, String)> = vec![
        ("KEEP_PASSPHRASE", common::PASSPHRASE.to_string()),
        ("KEEP_PASSPHRASE_FILE", p("pass")),
        ("KEEP_NEW_PASSPHRASE", "a-new-passphrase".into()),
        ("KEEP_NEW_PASSPHRASE_FILE", p("pass")),
        ("KEEP_RECOVERY_KEY", code_text.clone()),
        ("KEEP_RECOVERY_KEY_FILE", p("recovery")),
        ("KEEP_PKCS11_PIN", "123456".into()),
        ("KEEP_PKCS11_PIN_FILE", p("pin")),
        ("KEEP_AGE_IDENTITY", p("identity.txt")),
        ("KEEP_AGE_IDENTITY_FUTURE_FORM", p("identity.txt")),
    ];
    std::fs::write(
        tv.path().join("keep.toml"),
        "[secrets.SECRET]\ngenerator = \"token:24\"\non_rotate = [\"env > hook.env\"]\n",
    )
    .unwrap();
    let dump = "env > child.env; echo \"$SECRET\"";
    let runs: Vec<Vec<&str>> = vec![
        vec!["exec", "--", "sh", "-c", dump],
        vec!["exec", "--clean", "--", "/bin/sh", "-c", dump],
        vec!["exec", "--redact", "--", "sh", "-c", dump],
        vec!["rotate", "SECRET"],
    ];
    for args in &runs {
        let _ = std::fs::remove_file(tv.path().join("child.env"));
        let _ = std::fs::remove_file(tv.path().join("hook.env"));
        let mut cmd = tv.keep(args);
        for (k, v) in &credentials {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(common::code(&out), 0, "{args:?}: {}", stderr(&out));
        let file = if args[0] == "rotate" {
            "hook.env"
        } else {
            "child.env"
        };
        let env = std::fs::read_to_string(tv.path().join(file)).unwrap();
        // The control: the child's environment was captured, with what it was given.
        if args[0] == "rotate" {
            assert!(env.contains("KEEP_NEW="), "{env}");
        } else {
            assert!(env.contains("SECRET="), "{args:?}: {env}");
        }
        for (k, v) in &credentials {
            assert!(
                !env.contains(&format!("{k}=")),
                "{args:?} passed {k}: {env}"
            );
            assert!(
                !env.contains(v.as_str()),
                "{args:?} passed the value of {k}"
            );
        }
    }
}
