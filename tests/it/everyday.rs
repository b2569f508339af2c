//! Everyday use through the real binary, as a new user meets it: prompts on the controlling terminal
//! (under a pseudo-terminal made by util-linux `script`), empty inputs and variables, mistyped
//! environments and names, hints that act on the right scope, and the README's quickstart run verbatim.

use crate::common;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{code, stderr, TestVault, PASSPHRASE};

/// How long a prompt may take to appear: generous, because a debug build runs the default Argon2id
/// cost on a machine shared with other builds. Only a hang reaches it.
const PROMPT_WAIT: Duration = Duration::from_secs(120);

/// `sh -c LINE` under a pseudo-terminal: `script -qec LINE /dev/null`. The shell, keep and
/// everything they start have the pty as their controlling terminal (`/dev/tty`); what they print on
/// it is collected, and what the test "types" is written to it.
struct Pty {
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    /// How much of `output` earlier `expect`s consumed.
    seen: usize,
    line: String,
}

impl Pty {
    /// Start `line` in `dir` with exactly the environment `env` (plus PATH with keep's folder first,
    /// HOME = `dir` and TERM=dumb): no credential variable unless the test gives one.
    fn start(dir: &Path, line: &str, env: &[(&str, OsString)]) -> Pty {
        let bin = Path::new(env!("CARGO_BIN_EXE_keep")).parent().unwrap();
        let path = std::env::join_paths(
            std::iter::once(bin.to_path_buf())
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
        )
        .unwrap();
        let mut cmd = Command::new("script");
        cmd.args(["-qec", line, "/dev/null"])
            .current_dir(dir)
            .env_clear()
            .env("PATH", path)
            .env("HOME", dir)
            .env("TERM", "dumb")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("util-linux `script` is installed");
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut out = child.stdout.take().unwrap();
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            child,
            output,
            seen: 0,
            line: line.to_string(),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Wait until `text` appears in the terminal output after what earlier calls consumed.
    fn expect(&mut self, text: &str) {
        if self.next_prompt(&[text]).is_none() {
            panic!(
                "`{}` ended without printing {text:?}; the terminal showed:\n{}",
                self.line,
                self.text()
            );
        }
    }

    /// Wait for the next of `prompts` to appear (the earliest, if several did), or for the command
    /// to end without another one: `None`.
    fn next_prompt<'a>(&mut self, prompts: &[&'a str]) -> Option<&'a str> {
        let start = Instant::now();
        loop {
            let ended = self.child.try_wait().unwrap().is_some();
            if ended {
                // Let the reader thread drain what was printed last.
                std::thread::sleep(Duration::from_millis(100));
            }
            let all = self.text();
            let rest = all.get(self.seen..).unwrap_or_default();
            if let Some((i, p)) = prompts
                .iter()
                .filter_map(|p| rest.find(p).map(|i| (i, *p)))
                .min()
            {
                self.seen += i + p.len();
                return Some(p);
            }
            if ended {
                return None;
            }
            assert!(
                start.elapsed() < PROMPT_WAIT,
                "`{}` neither prompted nor ended after {PROMPT_WAIT:?}:\n{all}",
                self.line
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Type `text` and Enter, after a human's pause: keep prints a prompt a moment before it turns
    /// the terminal's echo off, and a line typed in between would be echoed.
    fn type_line(&mut self, text: &str) {
        std::thread::sleep(Duration::from_millis(300));
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(format!("{text}\r").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Wait for the command to end: its exit code and the whole terminal output.
    fn finish(mut self) -> (i32, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > PROMPT_WAIT {
                let _ = self.child.kill();
                panic!(
                    "`{}` did not end; the terminal showed:\n{}",
                    self.line,
                    self.text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        drop(self.child.stdin.take());
        std::thread::sleep(Duration::from_millis(100));
        (status.code().expect("not killed"), self.text())
    }
}

/// The environment of a pty test on `tv`'s vault, without any credential variable.
fn vault_env(tv: &TestVault) -> Vec<(&'static str, OsString)> {
    vec![
        ("KEEP_VAULT", tv.vault_path().into_os_string()),
        ("XDG_DATA_HOME", tv.path().join("xdg").into_os_string()),
    ]
}

/// `keep ARGS` in a session of its own (no controlling terminal), with `env` on top of `tv`'s
/// environment and without its passphrase file; the exit code must come without waiting.
fn without_terminal(tv: &TestVault, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = tv.keep(args);
    cmd.env_remove("KEEP_PASSPHRASE_FILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > PROMPT_WAIT {
            let _ = child.kill();
            panic!("keep {args:?} waited for input without a terminal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `line` under a pty on `tv`'s vault with no credential variable (plus `extra`), typing `typed`
/// at the vault passphrase prompt: the exit code and what the terminal showed.
fn with_prompt(
    tv: &TestVault,
    line: &str,
    extra: &[(&'static str, OsString)],
    typed: &str,
) -> (i32, String) {
    let mut env = vault_env(tv);
    env.extend_from_slice(extra);
    let mut pty = Pty::start(tv.path(), line, &env);
    pty.expect("Vault passphrase:");
    pty.type_line(typed);
    pty.finish()
}

// ---- 1. Prompts on the controlling terminal ----

#[test]
fn a_piped_value_still_gets_its_passphrase_prompt_on_the_terminal() {
    let tv = TestVault::new();
    let (status, screen) = with_prompt(
        &tv,
        "printf 'postgres://db/app' | keep set DATABASE_URL",
        &[],
        PASSPHRASE,
    );
    assert_eq!(status, 0, "{screen}");
    assert!(
        screen.contains("Set keep://default/dev/DATABASE_URL"),
        "{screen}"
    );
    assert!(
        !screen.contains(PASSPHRASE),
        "the passphrase was echoed: {screen}"
    );
    assert_eq!(tv.get("DATABASE_URL"), "postgres://db/app");
}

#[test]
fn import_from_stdin_and_exec_prompt_on_the_terminal_too() {
    let tv = TestVault::new();
    let (status, screen) = with_prompt(
        &tv,
        "printf 'A_KEY=from-import\\n' | keep import -",
        &[],
        PASSPHRASE,
    );
    assert_eq!(status, 0, "{screen}");
    assert_eq!(tv.get("A_KEY"), "from-import");

    // exec with stdin from /dev/null: the prompt still reaches the terminal, and the child gets the value.
    let (status, screen) = with_prompt(
        &tv,
        "keep exec -- sh -c 'echo \"child saw [$A_KEY]\"' </dev/null",
        &[],
        PASSPHRASE,
    );
    assert_eq!(status, 0, "{screen}");
    assert!(screen.contains("child saw [from-import]"), "{screen}");
}

#[test]
fn a_wrong_passphrase_typed_at_the_prompt_is_exit_4_and_changes_nothing() {
    let tv = TestVault::new();
    tv.set("TOKEN", "old");
    let (status, screen) = with_prompt(
        &tv,
        "printf new | keep set TOKEN",
        &[],
        "not the passphrase",
    );
    assert_eq!(status, 4, "{screen}");
    assert_eq!(tv.get("TOKEN"), "old");
}

#[test]
fn without_a_controlling_terminal_keep_exits_6_at_once() {
    let tv = TestVault::new();
    tv.set("TOKEN", "v");
    for args in [
        &["get", "TOKEN"][..],
        &["set", "OTHER"],
        &["exec", "--", "true"],
        &["import", "-"],
    ] {
        let out = without_terminal(&tv, args, &[]);
        assert_eq!(code(&out), 6, "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("no terminal to ask on"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(tv.get("TOKEN"), "v");
}

// ---- 2. An empty credential variable is unset ----

#[test]
fn an_empty_credential_variable_counts_as_unset_and_is_named() {
    let tv = TestVault::new();
    tv.set("TOKEN", "v");
    for (vars, named) in [
        (
            &[("KEEP_PASSPHRASE", "")][..],
            "KEEP_PASSPHRASE is set but empty",
        ),
        (
            &[("KEEP_PASSPHRASE_FILE", ""), ("KEEP_PASSPHRASE", "")],
            "KEEP_PASSPHRASE_FILE, KEEP_PASSPHRASE are set but empty",
        ),
        (
            &[("KEEP_PKCS11_PIN", "")],
            "KEEP_PKCS11_PIN is set but empty",
        ),
        (
            &[("KEEP_RECOVERY_KEY", "")],
            "KEEP_RECOVERY_KEY is set but empty",
        ),
        (
            &[("KEEP_AGE_IDENTITY", "")],
            "KEEP_AGE_IDENTITY is set but empty",
        ),
    ] {
        let out = without_terminal(&tv, &["get", "TOKEN"], vars);
        assert_eq!(code(&out), 6, "{vars:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(named), "{vars:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
    // An empty variable does not hide a credential that is there.
    let out = tv
        .keep(&["get", "TOKEN"])
        .env("KEEP_PASSPHRASE", "")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, b"v");
}

#[test]
fn init_with_empty_passphrase_variables_creates_no_vault() {
    let tv = TestVault::empty();
    let out = without_terminal(
        &tv,
        &["init", "--kdf-memory", "1MiB", "--kdf-iterations", "1"],
        &[("KEEP_NEW_PASSPHRASE", ""), ("KEEP_PASSPHRASE", "")],
    );
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("no terminal to ask on"), "{err}");
    assert!(
        err.contains("KEEP_PASSPHRASE, KEEP_NEW_PASSPHRASE are set but empty"),
        "{err}"
    );
    assert!(
        !tv.vault_path().exists(),
        "a vault with an empty passphrase was created"
    );
}

#[test]
fn an_empty_variable_on_a_terminal_means_the_prompt() {
    let tv = TestVault::new();
    tv.set("TOKEN", "on-the-terminal");
    let empty = [("KEEP_PASSPHRASE", OsString::new())];
    let (status, screen) = with_prompt(&tv, "keep get TOKEN", &empty, PASSPHRASE);
    assert_eq!(status, 0, "{screen}");
    assert!(screen.contains("on-the-terminal"), "{screen}");
}

// ---- init on a terminal ----

#[test]
fn init_on_a_terminal_asks_again_when_the_passphrases_differ_and_warns_on_a_weak_one() {
    let tv = TestVault::empty();
    let env = vault_env(&tv);
    let mut pty = Pty::start(
        tv.path(),
        "keep init --kdf-memory 1MiB --kdf-iterations 1",
        &env,
    );
    pty.expect("New passphrase:");
    pty.type_line("short");
    pty.expect("this passphrase is weak (5 characters");
    pty.expect("Repeat the new passphrase:");
    pty.type_line("shorter");
    pty.expect("The two passphrases differ; try again.");
    pty.expect("New passphrase:");
    pty.type_line(PASSPHRASE);
    pty.expect("Repeat the new passphrase:");
    pty.type_line(PASSPHRASE);
    pty.expect("Create a recovery key");
    pty.type_line("n");
    let (status, screen) = pty.finish();
    assert_eq!(status, 0, "{screen}");
    assert_eq!(
        screen.matches("this passphrase is weak").count(),
        1,
        "only the short one is weak: {screen}"
    );
    assert!(screen.contains("Next: `printf"), "{screen}");
    assert!(!screen.contains("recovery key for"), "{screen}");
    // The vault opens with the passphrase typed the second time.
    let ls = tv.run(&["ls"]);
    assert_eq!(code(&ls), 0, "{}", stderr(&ls));
}

// ---- 3. Empty input never replaces a value ----

#[test]
fn empty_input_never_replaces_a_value_unless_allowed() {
    let tv = TestVault::new();
    tv.set("TOKEN", "keep-me");
    // `failing_cmd | keep set TOKEN`: nothing, or only the newline `echo "$UNSET"` gives.
    for input in [&b""[..], b"\n"] {
        let out = tv.run_with_stdin(&["set", "TOKEN"], input);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(stderr(&out).contains("is empty"), "{}", stderr(&out));
        assert!(stderr(&out).contains("--allow-empty"), "{}", stderr(&out));
    }
    let empty = tv.path().join("empty.txt");
    std::fs::write(&empty, b"").unwrap();
    let out = tv.run(&["set", "TOKEN", "--from-file", empty.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("empty.txt is empty"),
        "{}",
        stderr(&out)
    );
    assert_eq!(tv.get("TOKEN"), "keep-me");
    let history: serde_json::Value =
        serde_json::from_slice(&tv.run(&["history", "TOKEN", "--json"]).stdout).unwrap();
    assert_eq!(
        history["versions"].as_array().unwrap().len(),
        1,
        "{history}"
    );

    let out = tv.run_with_stdin(&["set", "TOKEN", "--allow-empty"], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(tv.get("TOKEN"), "");
}

// ---- 4. A mistyped environment or name is an error that says what exists ----

/// A project folder: keep.toml (project billing, default dev, [env.prod] and an empty [env.staging]),
/// DATABASE_URL in dev and prod, ONLY_DEV in dev.
fn billing() -> TestVault {
    let tv = TestVault::new();
    std::fs::write(
        tv.path().join("keep.toml"),
        "project = \"billing\"\ndefault_env = \"dev\"\n\n[env.prod]\nrequired = [\"DATABASE_URL\"]\n\n[env.staging]\n",
    )
    .unwrap();
    tv.set("DATABASE_URL", "postgres://dev");
    tv.set("ONLY_DEV", "dev-only-value");
    let out = tv.run_with_stdin(
        &["--env", "prod", "set", "DATABASE_URL"],
        b"postgres://prod",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    tv
}

#[test]
fn a_mistyped_environment_is_exit_3_naming_the_ones_that_exist() {
    let tv = billing();
    let marker = tv.path().join("child-ran");
    let run_child = format!("touch {}", marker.display());
    for args in [
        &["--env", "prdo", "exec", "--", "sh", "-c", &run_child][..],
        &["--env", "prdo", "env"],
        &["--env", "prdo", "ls"],
        &["--env", "prdo", "get", "DATABASE_URL"],
        &["--env", "prdo", "status"],
        &["--env", "prdo", "rotate", "--all", "--dry-run"],
        &["--env", "prdo", "materialize", "out.env"],
        &[
            "--env",
            "prdo",
            "export",
            "--age",
            "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
            "-o",
            "out.age",
        ],
    ] {
        let out = tv.run(args);
        let err = stderr(&out);
        assert_eq!(code(&out), 3, "{args:?}: {err}");
        assert!(
            err.contains("environment \"prdo\" of project \"billing\" has no secrets"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("keep.toml does not declare it"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("environments with secrets: dev, prod"),
            "{args:?}: {err}"
        );
        assert!(err.contains("did you mean prod?"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    assert!(!marker.exists(), "the child ran with no secrets");
    assert!(!tv.path().join("out.env").exists());
    assert!(!tv.path().join("out.age").exists());

    // A declared environment may be empty; a new one is started by `set`.
    let out = tv.run(&["--env", "staging", "ls"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = tv.run_with_stdin(&["--env", "qa", "set", "X"], b"value-in-qa");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(code(&tv.run(&["--env", "qa", "ls"])), 0);

    // A mistyped project too.
    let out = tv.run(&["--project", "biling", "ls"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("did you mean billing?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_empty_default_scope_is_not_an_error() {
    let tv = TestVault::new();
    let out = tv.run(&["ls"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let out = tv.run(&["exec", "--", "true"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn a_missing_name_suggests_the_close_one_or_where_it_exists() {
    let tv = billing();
    for args in [
        &["get", "DATABSE_URL"][..],
        &["history", "DATABSE_URL"],
        &["rm", "DATABSE_URL"],
        &["rollback", "DATABSE_URL", "--to", "1"],
    ] {
        let out = tv.run(args);
        assert_eq!(code(&out), 3, "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("(did you mean DATABASE_URL?)"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = tv.run(&["--env", "prod", "get", "ONLY_DEV"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("(it exists as keep://billing/dev/ONLY_DEV)"),
        "{}",
        stderr(&out)
    );
    // exec and env --only too, before anything starts.
    for args in [
        &["exec", "--only", "ONLY_DEV,DATABSE_URL", "--", "true"][..],
        &["env", "--only", "DATABSE_URL"],
    ] {
        let out = tv.run(args);
        assert_eq!(code(&out), 3, "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("(did you mean DATABASE_URL?)"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = tv.run(&["get", "SOMETHING_ELSE"]);
    assert_eq!(code(&out), 3);
    assert!(!stderr(&out).contains("did you mean"), "{}", stderr(&out));
    assert_eq!(tv.get("DATABASE_URL"), "postgres://dev");
}

// ---- 6. Hints act on the scope the command acted on ----

#[test]
fn rm_and_rotate_hints_name_the_scope_they_acted_on() {
    let tv = billing();
    let out = tv.run_with_stdin(&["--env", "prod", "set", "API_KEY"], b"prod-key-1");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = tv.run(&["--env", "prod", "rm", "API_KEY"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let hint = "`keep --env prod rollback API_KEY --to 1`";
    assert!(stderr(&out).contains(hint), "{}", stderr(&out));
    // The hint, typed as printed, restores the prod secret.
    let out = tv.run(&["--env", "prod", "rollback", "API_KEY", "--to", "1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let got = tv.run(&["--env", "prod", "get", "API_KEY"]);
    assert_eq!(got.stdout, b"prod-key-1");

    // In the default scope the hint needs no flags.
    tv.set("LOCAL", "dev-value-1");
    let out = tv.run(&["rm", "LOCAL"]);
    assert!(
        stderr(&out).contains("`keep rollback LOCAL --to 1`"),
        "{}",
        stderr(&out)
    );

    // KEEP_ENV=prod is the default the next command gets too: no flag needed.
    let out = tv
        .keep(&["rm", "API_KEY"])
        .env("KEEP_ENV", "prod")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`keep rollback API_KEY --to 3`"),
        "{}",
        stderr(&out)
    );

    // rotate --all in prod: manual secrets are set in prod.
    let out = tv.run(&["--env", "prod", "rotate", "--all"]);
    let err = stderr(&out);
    assert!(
        err.contains("rotate it by hand (`keep --env prod set DATABASE_URL`)"),
        "{err}"
    );
    assert!(!err.contains("(`keep set DATABASE_URL`)"), "{err}");
    // rotate one name without a generator: the policy hint is for prod.
    let out = tv.run(&["--env", "prod", "rotate", "DATABASE_URL"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("`keep --env prod policy set DATABASE_URL --max-age D --generator SPEC`"),
        "{}",
        stderr(&out)
    );
    // No pending rotation: `keep status` for prod.
    let out = tv.run(&["--env", "prod", "rotate", "DATABASE_URL", "--discard"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`keep --env prod status` lists pending ones"),
        "{}",
        stderr(&out)
    );
    // A deleted secret's hints use its full address.
    let out = tv.run(&["--env", "prod", "rm", "DATABASE_URL"]);
    assert_eq!(code(&out), 0);
    let out = tv.run(&["--env", "prod", "get", "DATABASE_URL"]);
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).contains("`keep history keep://billing/prod/DATABASE_URL`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(tv.get("DATABASE_URL"), "postgres://dev");
}

#[test]
fn check_hints_set_in_the_checked_environment() {
    let tv = billing();
    let out = tv.run(&["--env", "prod", "rm", "DATABASE_URL"]);
    assert_eq!(code(&out), 0);
    let out = tv.run(&["--env", "prod", "check"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("set them with `keep --env prod set NAME`"),
        "{}",
        stderr(&out)
    );
}

// ---- 8. Durations read back as written ----

#[test]
fn durations_read_back_as_written() {
    let tv = TestVault::new();
    // Built at run time, as the repository scan expects of test values.
    tv.set("API_TOKEN", &["a", "strong", "Value", "8d7f6e5c"].join("-"));
    for (typed, shown) in [
        ("90d", "every 90d"),
        ("36h", "every 1d12h"),
        ("90m", "every 1h30m"),
    ] {
        let out = tv.run(&["policy", "set", "API_TOKEN", "--max-age", typed]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(stderr(&out).contains(shown), "{typed}: {}", stderr(&out));
    }
    tv.run(&["policy", "set", "API_TOKEN", "--max-age", "90d"]);
    let out = tv.run(&["status"]);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(table.contains("90d manual"), "{table}");
    assert!(!table.contains("month"), "{table}");
}

/// `--max-age` is parsed by clap before anything opens the vault: a bad or zero length is exit 2,
/// names the option, and leaves the policy as it was.
#[test]
fn a_bad_max_age_is_a_usage_error_and_changes_nothing() {
    let tv = TestVault::new();
    tv.set("API_TOKEN", &["a", "strong", "Value", "8d7f6e5c"].join("-"));
    let out = tv.run(&["policy", "set", "API_TOKEN", "--max-age", "30d"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for bad in ["0s", "soon", ""] {
        let out = tv.run(&["policy", "set", "API_TOKEN", "--max-age", bad]);
        assert_eq!(code(&out), 2, "{bad}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("--max-age"),
            "{bad}: {}",
            stderr(&out)
        );
    }
    let out = tv.run(&["status"]);
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(table.contains("30d manual"), "{table}");
}

// ---- The README, verbatim ----

/// The lines of the first `sh` code block after `heading` in README.md.
fn readme_block(heading: &str, lang: &str) -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let after = readme
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no {heading:?} section"))
        .1;
    let block = after
        .split_once(&format!("```{lang}\n"))
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .unwrap_or_else(|| panic!("no ```{lang} block under {heading:?}"))
        .0;
    block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn the_readme_quickstart_works_verbatim_on_a_terminal() {
    let lines = readme_block("## Quickstart", "sh");
    assert!(lines.len() >= 4, "{lines:?}");
    let home = tempfile::tempdir().unwrap();
    // The default vault path, the default (full) Argon2id cost: exactly what a new user gets.
    let env = vec![("XDG_DATA_HOME", home.path().join("data").into_os_string())];
    let answers = [
        ("New passphrase:", PASSPHRASE),
        ("Repeat the new passphrase:", PASSPHRASE),
        ("Vault passphrase:", PASSPHRASE),
        ("[y/N]", "n"),
    ];
    let mut unlocked = false;
    let mut screens = String::new();
    for line in &lines {
        let mut pty = Pty::start(home.path(), line, &env);
        let mut prompts = Vec::new();
        while let Some(prompt) = pty.next_prompt(&answers.map(|(p, _)| p)) {
            let (_, reply) = answers.iter().find(|(p, _)| *p == prompt).unwrap();
            prompts.push(prompt);
            pty.type_line(reply);
        }
        let (status, screen) = pty.finish();
        screens.push_str(&format!("$ {line}\n{screen}\n"));
        assert_eq!(
            status, 0,
            "README quickstart line `{line}` failed:\n{screens}"
        );
        if unlocked {
            assert!(
                prompts.is_empty(),
                "`{line}` asked {prompts:?} after `keep unlock`:\n{screens}"
            );
        }
        unlocked |= line.starts_with("keep unlock");
        unlocked &= !line.starts_with("keep lock");
    }
    // What the block promises, seen on the terminal.
    for line in &lines {
        if let Some(value) = line
            .strip_prefix("printf '")
            .and_then(|rest| rest.split_once('\'').map(|(v, _)| v))
        {
            assert!(
                screens.matches(value).count() >= 2,
                "the value set is not shown by get and exec:\n{screens}"
            );
        }
    }
    assert!(
        !screens.contains(PASSPHRASE),
        "a passphrase was echoed:\n{screens}"
    );
}

#[test]
fn the_readme_keep_toml_reference_is_what_keep_parses() {
    let tv = TestVault::new();
    let toml = readme_block("## keep.toml reference", "toml").join("\n");
    std::fs::write(tv.path().join("keep.toml"), toml).unwrap();
    let out = tv.run(&["status"]);
    assert_eq!(code(&out), 0, "README's keep.toml: {}", stderr(&out));
    // And a typo is an error that points to that section.
    std::fs::write(
        tv.path().join("keep.toml"),
        "project = \"billing\"\ndefault_evn = \"dev\"\n",
    )
    .unwrap();
    let out = tv.run(&["status"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("(see README.md, \"keep.toml reference\")"),
        "{}",
        stderr(&out)
    );
}

// ---- Should-fix: first steps, status, slot ls, help ----

#[test]
fn a_bare_keep_without_a_vault_says_how_to_start() {
    let tv = TestVault::empty();
    let out = tv.run(&[]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("no vault yet at"), "{err}");
    assert!(err.contains("keep init"), "{err}");
    // With a vault, a bare keep prints the usual help.
    let tv = TestVault::new();
    let out = tv.run(&[]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("Usage: keep"), "{}", stderr(&out));
}

#[test]
fn a_value_in_argv_is_refused_without_repeating_it() {
    let tv = TestVault::new();
    let value = "hunter2-in-argv-Q9z";
    let out = tv.run(&["set", "FOO", value]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(!err.contains(value), "the value was repeated: {err}");
    assert!(err.contains("printf %s \"$VALUE\" | keep set FOO"), "{err}");
    assert!(err.contains("nothing was stored"), "{err}");
    assert_eq!(code(&tv.run(&["get", "FOO"])), 3);
    // A value that looks like a flag too.
    let out = tv.run(&["set", "FOO", "-x7Secret"]);
    assert_eq!(code(&out), 2);
    assert!(!stderr(&out).contains("x7Secret"), "{}", stderr(&out));
}

#[test]
fn slot_ls_needs_no_key() {
    let tv = TestVault::new();
    let out = without_terminal(&tv, &["slot", "ls"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("passphrase"), "{text}");
    assert!(
        stderr(&out).contains("without unlocking"),
        "{}",
        stderr(&out)
    );
    let out = without_terminal(&tv, &["slot", "ls", "--json"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc[0]["kind"], "passphrase", "{doc}");
}

#[test]
fn unlock_status_says_whether_and_for_how_long() {
    let tv = TestVault::new();
    let out = without_terminal(&tv, &["unlock", "--status"], &[]);
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(stderr(&out).contains("Locked"), "{}", stderr(&out));
    let out = tv.run(&["unlock", "--ttl", "10m"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("for 10m"), "{}", stderr(&out));
    let out = without_terminal(&tv, &["unlock", "--status"], &[]);
    let locked_again = tv.run(&["lock"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("Unlocked"), "{err}");
    assert!(
        err.contains("for about 10m more") || err.contains("for about 9m more"),
        "{err}"
    );
    assert_eq!(code(&locked_again), 0);
    let out = tv.run(&["unlock", "--status", "--json"]);
    assert_eq!(code(&out), 6);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["unlocked"], false, "{doc}");
    // No vault: said as such, not "locked".
    let empty = TestVault::empty();
    let out = empty.run(&["unlock", "--status"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
}

#[test]
fn a_command_help_lists_its_own_options_before_the_global_ones() {
    let tv = TestVault::empty();
    let out = tv.run(&["set", "--help"]);
    assert_eq!(code(&out), 0);
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let own = help.find("--from-file").unwrap_or_else(|| panic!("{help}"));
    let heading = help
        .find("Global options:")
        .unwrap_or_else(|| panic!("{help}"));
    let global = help.find("--vault").unwrap();
    assert!(own < heading && heading < global, "{help}");
}
