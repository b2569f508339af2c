//! Every command, one canary: a vault holding a distinctive value runs every subcommand clap defines
//! (sync against OpenBao and moto, scan, rotate, audit, lint, export/import, env/materialize/inject,
//! exec, hsm on SoftHSM2, every slot operation), each plain and with `--json`, with
//! `RUST_BACKTRACE=1`. The value must not reach stderr, nor stdout unless printing it is the
//! command's purpose (`get`, `env`, `inject` to stdout, `exec` without `--redact`), and then it must
//! be there. A panic is forced (stdout on /dev/full) and its output checked too.
//!
//! The covered set is computed from the runs themselves (each command line is parsed with keep's own
//! clap definition), then compared with the whole command tree: a new subcommand without a canary run
//! fails `every_command_has_a_canary_run`.
//!
//! The runs go in phases (the value in and out, using it, sync, rotation, ...). A failed check is
//! recorded with its phase and the run goes on, so one failure does not hide the others; the test
//! fails at the end with every failure listed (each is also printed as it happens).

use crate::canary_support;
use crate::common;
use crate::custody_support;
use crate::sync_support;

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};

use canary_support::{assert_absent, contains, find_form, CANARY, CANARY_NAME};
use clap::CommandFactory;
use common::{code, stderr, TestVault, PASSPHRASE};
use custody_support::{age_identity, SoftToken};
use sync_support::{Bao, Moto, Peer};

/// Every command path of keep's clap tree: leaves, plus groups that run on their own (`audit`).
fn command_tree() -> BTreeSet<String> {
    fn walk(cmd: &clap::Command, prefix: &str, out: &mut BTreeSet<String>) {
        let subs: Vec<_> = cmd
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .collect();
        if !prefix.is_empty() && (subs.is_empty() || !cmd.is_subcommand_required_set()) {
            out.insert(prefix.to_string());
        }
        for s in subs {
            let path = if prefix.is_empty() {
                s.get_name().to_string()
            } else {
                format!("{prefix} {}", s.get_name())
            };
            walk(s, &path, out);
        }
    }
    let mut out = BTreeSet::new();
    // Built first: clap builds a subcommand's arguments and nested groups (`audit verify`) only
    // when it is used (`defer`, src/cli/args.rs).
    let mut cmd = keep::cli::Cli::command();
    cmd.build();
    walk(&cmd, "", &mut out);
    out
}

/// The command path clap finds in `args` (`slot add age`), exactly as keep parses it.
fn command_path(args: &[&str]) -> String {
    let matches = keep::cli::Cli::command()
        .try_get_matches_from(std::iter::once("keep").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?} does not parse: {e}"));
    let mut names = Vec::new();
    let mut m = &matches;
    while let Some((name, sub)) = m.subcommand() {
        names.push(name.to_string());
        m = sub;
    }
    names.join(" ")
}

/// How one canary run is set up and judged.
#[derive(Default)]
struct Opts {
    stdin: Option<Vec<u8>>,
    env: Vec<(String, String)>,
    /// Printing the value on stdout is the command's purpose: it must be there (plain run).
    prints: bool,
    /// Expected exit code of the plain run.
    code: i32,
    /// Also run with `--json` (the same expected code).
    json: bool,
}

fn opts(code: i32) -> Opts {
    Opts {
        code,
        json: true,
        ..Opts::default()
    }
}

struct Runner {
    tv: TestVault,
    token: SoftToken,
    peer_env: Vec<(String, String)>,
    covered: BTreeSet<String>,
    runs: usize,
    /// The phase the runs belong to, for the failure list.
    phase: &'static str,
    /// Every failed check so far, with its phase.
    failures: Vec<String>,
}

/// The message of a caught panic (a failed assertion).
fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

impl Runner {
    /// Start a phase: the failures from here on are filed under `name`.
    fn phase(&mut self, name: &'static str) {
        self.phase = name;
    }

    /// Run the assertions in `f`; a failure is recorded under the current phase, and the test goes
    /// on.
    fn soft(&mut self, what: &str, f: impl FnOnce()) {
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            let message = format!("[{}] {what}: {}", self.phase, panic_text(p.as_ref()));
            eprintln!("canary failure: {message}");
            self.failures.push(message);
        }
    }

    fn cmd(&self, args: &[&str], o: &Opts) -> Command {
        let mut c = self.tv.keep(args);
        self.token.env(&mut c);
        c.envs(self.peer_env.iter().map(|(k, v)| (k, v)))
            .envs(o.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_BACKTRACE", "1")
            .env("TMPDIR", self.tv.path().join("tmp"));
        c
    }

    fn output(&self, args: &[&str], o: &Opts) -> Output {
        let mut child = self
            .cmd(args, o)
            .stdin(if o.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = &o.stdin {
            use std::io::Write;
            let _ = child.stdin.take().unwrap().write_all(input);
        }
        child.wait_with_output().unwrap()
    }

    /// Run `args` (and `--json args`), check the exit code and where the canary went. A failed check
    /// is recorded (see [`Runner::soft`]); the plain run's output is returned either way.
    fn check(&mut self, args: &[&str], o: Opts) -> Output {
        self.covered.insert(command_path(args));
        let out = self.output(args, &o);
        self.runs += 1;
        let json = o.json.then(|| {
            let mut a = vec!["--json"];
            a.extend_from_slice(args);
            let j = self.output(&a, &o);
            self.runs += 1;
            (a, j)
        });
        self.soft(&format!("{args:?}"), || {
            judge(args, &o, &out, json.as_ref())
        });
        out
    }
}

/// The checks of one canary run: its exit code, and where the value went, plain and with `--json`.
fn judge(args: &[&str], o: &Opts, out: &Output, json: Option<&(Vec<&str>, Output)>) {
    assert_eq!(
        code(out),
        o.code,
        "{args:?}: {}{}",
        stderr(out),
        String::from_utf8_lossy(&out.stdout)
    );
    assert_absent(&format!("stderr of {args:?}"), &out.stderr);
    if o.prints {
        assert!(
            contains(&out.stdout, CANARY.as_bytes()),
            "{args:?} exists to print the value, and did not"
        );
    } else {
        assert_absent(&format!("stdout of {args:?}"), &out.stdout);
    }
    if let Some((a, j)) = json {
        assert_absent(&format!("stderr of {a:?}"), &j.stderr);
        if !o.prints {
            assert_absent(&format!("stdout of {a:?}"), &j.stdout);
        }
        if code(j) >= 2 && !j.stdout.is_empty() {
            // A failing --json run (exit 1 is "findings", a normal document) prints one JSON
            // error document.
            let doc: serde_json::Value = serde_json::from_slice(&j.stdout)
                .unwrap_or_else(|e| panic!("{a:?}: not JSON ({e}): {}", stderr(j)));
            assert!(doc.get("error").is_some(), "{a:?}: {doc}");
        }
    }
}

fn write(tv: &TestVault, rel: &str, text: &str) {
    let p = tv.path().join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
}

#[test]
fn every_command_has_a_canary_run() {
    let bao = Bao::start();
    let moto = Moto::start();
    let tv = TestVault::new();
    std::fs::create_dir(tv.path().join("tmp")).unwrap();
    let mut peer_env = bao.env();
    peer_env.extend(moto.env());
    let mut r = Runner {
        tv,
        token: SoftToken::new("canary"),
        peer_env,
        covered: BTreeSet::new(),
        runs: 0,
        phase: "setup",
        failures: Vec::new(),
    };
    let label = r.token.label.clone();
    let t = r.tv.path().to_path_buf();
    write(
        &r.tv,
        "keep.toml",
        &format!(
            "[env.dev]\nrequired = [\"{CANARY_NAME}\", \"MISSING\"]\n\
             [secrets.ROTATED]\ngenerator = \"token:24\"\nmax_age = \"1d\"\n\
             on_rotate = [\"test -n \\\"$KEEP_NEW\\\"\"]\n\
             [sync.bao]\n{}layout = \"bundle\"\npath = \"canary/dev\"\n\
             [sync.aws]\n{}layout = \"per-key\"\nprefix = \"canary/\"\n",
            bao.provider_toml(),
            moto.provider_toml()
        ),
    );
    let (id_file, recipient) = age_identity(&t, "age.key");
    let id_file = id_file.to_str().unwrap().to_string();

    // --- the value goes in, and comes out where asked ---
    r.phase("the value goes in");
    r.check(
        &["set", CANARY_NAME],
        Opts {
            stdin: Some(CANARY.as_bytes().to_vec()),
            ..opts(0)
        },
    );
    write(&r.tv, "canary.txt", CANARY);
    r.check(&["set", "FROM_FILE", "--from-file", "canary.txt"], opts(0));
    r.check(&["set", "ROTATED", "--generate", "token:24"], opts(0));
    r.check(&["set", "OTHER", "--generate", "hex:8"], opts(0));
    r.check(
        &["get", CANARY_NAME],
        Opts {
            prints: true,
            ..opts(0)
        },
    );
    r.check(&["get", "NOPE"], opts(3));
    r.check(&["get", CANARY_NAME, "--version", "9"], opts(3));
    r.check(&["ls"], opts(0));
    r.check(&["ls", "--all-envs", "--deleted"], opts(0));
    r.check(&["history", CANARY_NAME], opts(0));
    r.check(&["rm", "FROM_FILE"], opts(0));
    r.check(&["rollback", "FROM_FILE", "--to", "1"], opts(0));
    r.check(&["rollback", CANARY_NAME, "--to", "7"], opts(3));
    r.check(&["cp", CANARY_NAME, "keep://default/stage"], opts(0));
    r.check(
        &["mv", "keep://default/stage", "keep://default/stage2"],
        opts(0),
    );
    r.check(&["scopes"], opts(0));
    let moved = format!("keep://default/stage2/{CANARY_NAME}");
    r.check(&["rm", &moved], opts(0));
    r.check(&["purge", &moved, "--yes"], opts(0));

    // --- using the secrets ---
    r.phase("using the secrets");
    r.check(
        &["env"],
        Opts {
            prints: true,
            ..opts(0)
        },
    );
    r.check(&["env", "--format", "docker", "--only", "NOPE"], opts(3));
    r.check(
        &[
            "exec",
            "--",
            "sh",
            "-c",
            &format!("printf %s \"${CANARY_NAME}\""),
        ],
        Opts {
            prints: true,
            ..opts(0)
        },
    );
    r.check(
        &[
            "exec",
            "--redact",
            "--",
            "sh",
            "-c",
            &format!("echo \"${CANARY_NAME}\"; echo \"${CANARY_NAME}\" >&2"),
        ],
        opts(0),
    );
    r.check(&["exec", "--", "no-such-command"], opts(127));
    r.check(&["materialize", "out.env"], opts(0));
    r.check(&["materialize", "--dir", "out.d"], opts(0));
    r.check(&["example", "-o", "env.example"], opts(0));
    write(
        &r.tv,
        "tpl",
        &format!("x={{{{ keep://default/dev/{CANARY_NAME} }}}}\n"),
    );
    r.check(&["inject", "-i", "tpl", "-o", "out.conf"], opts(0));
    r.check(
        &["inject", "-i", "tpl"],
        Opts {
            prints: true,
            ..opts(0)
        },
    );
    write(&r.tv, "bad.tpl", "x={{ keep://default/dev/NOPE }}\n");
    r.check(&["inject", "-i", "bad.tpl"], opts(3));
    write(&r.tv, "import.env", &format!("IMPORTED=\"{CANARY}\"\n"));
    r.check(&["import", "import.env"], opts(0));
    write(&r.tv, "bad.env", &format!("OK=1\nBAD=\"{CANARY}\\q\"\n"));
    r.check(&["import", "bad.env"], opts(2));
    r.check(&["check"], opts(1));

    // --- sync: OpenBao (bundle) and moto (per-key), both ways ---
    r.phase("sync");
    for target in ["bao", "aws"] {
        r.check(
            &["diff", target],
            Opts {
                json: false,
                ..opts(1)
            },
        );
        r.check(&["push", target, "--dry-run"], opts(0));
        r.check(
            &["push", target],
            Opts {
                json: false,
                ..opts(0)
            },
        );
        r.check(&["diff", target], opts(0));
        r.check(&["pull", target, "--dry-run"], opts(0));
        r.check(&["pull", target], opts(0));
    }
    r.check(&["push", "nowhere"], opts(3));
    r.soft("OpenBao holds the pushed value", || {
        assert_eq!(
            bao.remote_get(&sync_support::Loc::Bundle("canary/dev".into()), CANARY_NAME)
                .as_deref(),
            Some(CANARY),
            "the push reached OpenBao, so the runs above handled the value"
        )
    });

    // --- rotation, policy, status, audit, lint ---
    r.phase("rotation");
    r.check(&["rotate", "ROTATED"], opts(0));
    r.check(&["rotate", "--all", "--dry-run"], opts(0));
    r.check(&["rotate", "--due"], opts(0));
    r.check(&["policy", "set", CANARY_NAME, "--max-age", "30d"], opts(0));
    r.check(&["status", "--all-envs"], opts(0));
    r.check(&["policy", "rm", CANARY_NAME], opts(0));
    r.check(&["audit"], opts(0));
    r.check(&["audit", "--name", CANARY_NAME, "--since", "1h"], opts(0));
    r.check(&["audit", "--unusual"], opts(0));
    r.check(&["audit", "verify"], opts(0));
    r.check(
        &["audit", "compact", "--before", "1s", "--dry-run"],
        opts(0),
    );
    r.check(&["audit", "compact", "--before", "1s"], opts(0));
    r.check(&["audit", "verify"], opts(0));
    r.check(&["verify"], opts(0));
    write(&r.tv, ".env", &format!("PLAIN_COPY={CANARY}\n"));
    r.check(&["lint"], opts(1));
    std::fs::remove_file(t.join(".env")).unwrap();

    // --- export / import through age ---
    r.phase("export / import through age");
    r.check(&["export", "--age", &recipient, "--armor"], opts(0));
    r.check(
        &["export", "--age", &recipient, "-o", "backup.age"],
        opts(0),
    );
    r.check(&["export", "--age", "age1notarecipient"], opts(2));
    r.check(
        &[
            "--env",
            "restored",
            "--identity",
            &id_file,
            "import",
            "backup.age",
        ],
        Opts {
            json: false,
            ..opts(0)
        },
    );

    // --- scan: files, stdin and git history holding the value, with the vault unlocked ---
    r.phase("scan");
    r.check(&["unlock", "--ttl", "5m"], opts(0));
    write(&r.tv, "repo/config.yml", &format!("api: {CANARY}\n"));
    git(&t.join("repo"), &["init", "-q"]);
    git(&t.join("repo"), &["add", "."]);
    git(&t.join("repo"), &["commit", "-qm", "leak"]);
    let out = r.check(&["scan", "repo"], opts(1));
    r.soft("scan repo", || {
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("config.yml"),
            "scan found the vault value: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    r.check(&["scan", "--format", "sarif", "repo"], opts(1));
    r.check(
        &["scan", "-"],
        Opts {
            stdin: Some(format!("token={CANARY}\n").into_bytes()),
            ..opts(1)
        },
    );
    r.check(
        &["scan", "--write-baseline", "baseline.json", "repo"],
        Opts {
            json: false,
            ..opts(0)
        },
    );
    r.check(&["scan", "--rules"], opts(0));
    let repo = t.join("repo");
    let mut git_scan = r.cmd(&["scan", "--git"], &Opts::default());
    let out = git_scan.current_dir(&repo).output().unwrap();
    r.soft("scan --git", || {
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        assert_absent("stdout of scan --git", &out.stdout);
        assert_absent("stderr of scan --git", &out.stderr);
    });
    r.covered.insert("scan".into());
    let mut hook = r.cmd(&["hook", "install"], &Opts::default());
    let out = hook.current_dir(&repo).output().unwrap();
    r.soft("hook install", || {
        assert_eq!(code(&out), 0, "{}", stderr(&out))
    });
    r.covered.insert(command_path(&["hook", "install"]));
    let mut unhook = r.cmd(&["hook", "uninstall"], &Opts::default());
    let out = unhook.current_dir(&repo).output().unwrap();
    r.soft("hook uninstall", || {
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_absent("stdout of hook uninstall", &out.stdout);
        assert_absent("stderr of hook uninstall", &out.stderr);
    });
    r.covered.insert(command_path(&["hook", "uninstall"]));
    r.check(&["lock"], opts(0));

    // --- key slots and the HSM (passwd first: with an HSM slot the vault opens through it) ---
    r.phase("key slots and the HSM");
    write(&r.tv, "pass2", "another passphrase for the canary\n");
    let pass2 = t.join("pass2").to_str().unwrap().to_string();
    r.check(
        &["passwd"],
        Opts {
            env: vec![("KEEP_NEW_PASSPHRASE_FILE".into(), pass2.clone())],
            json: false,
            ..opts(0)
        },
    );
    std::fs::copy(&pass2, r.tv.pass_file()).unwrap();
    // A wrong passphrase with the value around: exit 4, nothing said of the value.
    write(&r.tv, "pass", &format!("{PASSPHRASE}-wrong\n"));
    r.check(&["get", CANARY_NAME], opts(4));
    r.check(&["env"], opts(4));
    std::fs::copy(&pass2, r.tv.pass_file()).unwrap();
    // A re-key re-seals every record, the canary's included: none of it may show.
    r.check(&["rekey"], opts(0));
    r.check(&["hsm", "info"], opts(0));
    r.check(
        &["hsm", "keygen", "--token", &label, "--key", "canary-wrap"],
        Opts {
            json: false,
            ..opts(0)
        },
    );
    r.check(&["hsm", "keys", "--token", &label], opts(0));
    r.check(
        &[
            "slot",
            "add",
            "hsm",
            "--token",
            &label,
            "--key",
            "canary-wrap",
        ],
        Opts {
            json: false,
            ..opts(0)
        },
    );
    r.check(
        &["slot", "add", "age", "--recipient", &recipient],
        Opts {
            json: false,
            ..opts(0)
        },
    );
    r.check(
        &["slot", "add", "recovery"],
        Opts {
            json: false,
            ..opts(0)
        },
    );
    write(&r.tv, "pass3", "a third passphrase for the canary\n");
    let pass3 = t.join("pass3").to_str().unwrap().to_string();
    r.check(
        custody_support::ADD_CHEAP_PASSPHRASE,
        Opts {
            env: vec![("KEEP_NEW_PASSPHRASE_FILE".into(), pass3)],
            json: false,
            ..opts(0)
        },
    );
    let out = r.check(&["slot", "ls"], opts(0));
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse::<u32>().ok())
        .max()
        .expect("slot ls lists ids");
    r.check(
        &["slot", "rm", &last.to_string()],
        Opts {
            json: false,
            ..opts(0)
        },
    );
    r.check(&["slot", "rm", "999"], opts(3));
    // The value still reads through the HSM slot alone.
    let out = r.output(
        &["get", CANARY_NAME],
        &Opts {
            env: vec![("KEEP_PASSPHRASE_FILE".into(), String::new())],
            ..Opts::default()
        },
    );
    r.soft("get through the HSM slot alone", || {
        assert_eq!(out.stdout, CANARY.as_bytes(), "{}", stderr(&out))
    });

    // --- lifecycle and docs ---
    r.phase("lifecycle and docs");
    r.check(
        &[
            "--vault",
            "second/vault.db",
            "init",
            "--kdf-memory",
            "1MiB",
            "--kdf-iterations",
            "1",
            "--recovery",
        ],
        Opts {
            json: false,
            ..opts(0)
        },
    );
    r.check(
        &["completions", "bash"],
        Opts {
            json: false,
            ..opts(0)
        },
    );
    r.check(
        &["man"],
        Opts {
            json: false,
            ..opts(0)
        },
    );

    // --- a forced panic: stdout is /dev/full, and `audit` prints with `print!`, which panics ---
    r.phase("a forced panic");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = r
        .cmd(&["audit", "--name", CANARY_NAME], &Opts::default())
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    r.soft("audit with stdout on /dev/full", || {
        let err = stderr(&out);
        assert_eq!(code(&out), 101, "{err}");
        assert!(
            err.contains("keep panicked") && err.contains("keep::cli::audit"),
            "writing to /dev/full panics, with a backtrace under RUST_BACKTRACE=1: {err}"
        );
        assert_absent("panic output", &out.stderr);
        assert!(
            !err.contains("No space left"),
            "the panic hook withholds formatted payloads: {err}"
        );
    });

    // Nothing the runs left behind holds the value except the vault and the outputs asked for.
    r.phase("leftovers and coverage");
    let allowed = [
        "vault.db",
        "vault.db-wal",
        "canary.txt",
        "import.env",
        "bad.env",
        "config.yml",
        "out.env",
        "out.conf",
    ];
    for f in canary_support::files_under(&t) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if allowed.contains(&name.as_str()) || f.starts_with(t.join("out.d")) {
            continue;
        }
        if let Some(form) = find_form(&std::fs::read(&f).unwrap(), CANARY) {
            r.soft("files left behind", || {
                panic!("{} holds the canary ({form})", f.display())
            });
        }
    }
    // The repo's git objects are zlib-compressed, so they were not searched as text: the only
    // plaintext of the value there is the file this test committed.

    let tree = command_tree();
    let missing: Vec<String> = tree.difference(&r.covered).cloned().collect();
    r.soft("coverage", || {
        assert!(
            missing.is_empty(),
            "commands without a canary run (add them to tests/it/canary_commands.rs): {missing:?}"
        )
    });
    eprintln!(
        "canary: {} command paths covered, {} keep runs, {} failed check(s)",
        r.covered.len(),
        r.runs,
        r.failures.len()
    );
    assert!(
        r.failures.is_empty(),
        "{} canary check(s) failed:\n{}",
        r.failures.len(),
        r.failures.join("\n\n")
    );
}

#[test]
fn the_command_tree_is_read_from_clap() {
    // The tree walk is what makes the coverage check bite: it must see nested groups and leaves.
    let tree = command_tree();
    for path in [
        "slot add age",
        "audit",
        "audit verify",
        "hsm keygen",
        "push",
        "man",
    ] {
        assert!(tree.contains(path), "{path} missing from {tree:?}");
    }
    assert!(
        !tree.contains("slot"),
        "a group that needs a subcommand is not a command"
    );
    assert!(tree.len() >= 40, "{} commands: {tree:?}", tree.len());
}
