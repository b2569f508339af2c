//! Isolation (issue 14): what a child, a hook, a hand-off file, a keep.toml or a server can make keep
//! do. Every attack runs through the real binary in a temp dir and asserts the exit code, that the
//! message names what failed, and that nothing else was lost.

use crate::common;
use crate::custody_support;
use crate::sync_support;

use std::path::Path;
use std::process::Command;

use common::{code, stderr, stdout, TestVault};

const KEEP: &str = env!("CARGO_BIN_EXE_keep");

trait InDir {
    /// `keep get NAME` run from `dir`: the value, or `None` when it fails.
    fn get_in(&self, dir: &Path, name: &str) -> Option<String>;
}

impl InDir for TestVault {
    fn get_in(&self, dir: &Path, name: &str) -> Option<String> {
        let out = self.keep(&["get", name]).current_dir(dir).output().unwrap();
        (code(&out) == 0).then(|| stdout(&out))
    }
}

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

/// A shared object whose constructor writes `marker` — what an attacker's `LD_PRELOAD` would load.
fn marker_library(dir: &Path, marker: &Path) -> std::path::PathBuf {
    let src = dir.join("evil.c");
    let lib = dir.join("evil.so");
    std::fs::write(
        &src,
        format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void planted(void) {{\n\
             FILE *f = fopen({:?}, \"a\"); if (f) {{ fputs(\"loaded\\n\", f); fclose(f); }}\n}}\n",
            marker.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .output()
        .expect("cc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lib
}

#[test]
fn set_and_import_refuse_a_loader_variable_unless_keep_toml_declares_it() {
    let tv = TestVault::new();
    let out = tv.run_with_stdin(&["set", "LD_PRELOAD"], b"/tmp/evil.so");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("LD_PRELOAD"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("allow_loader = true"),
        "{}",
        stderr(&out)
    );

    std::fs::write(
        tv.path().join("handoff.env"),
        "DATABASE_URL=postgres://db\nNODE_OPTIONS='--require /tmp/evil.js'\n",
    )
    .unwrap();
    let out = tv.run(&["import", "handoff.env"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("NODE_OPTIONS"), "{}", stderr(&out));
    assert!(stderr(&out).contains("handoff.env"), "{}", stderr(&out));
    // Nothing of the file was written, not even the harmless name.
    assert_eq!(code(&tv.run(&["get", "DATABASE_URL"])), 3);

    // Declared in keep.toml, the same name is stored.
    std::fs::write(
        tv.path().join("keep.toml"),
        "[secrets.NODE_OPTIONS]\nallow_loader = true\n",
    )
    .unwrap();
    let out = tv.run(&["import", "handoff.env"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(tv.get("NODE_OPTIONS"), "--require /tmp/evil.js");
}

#[test]
fn a_pull_carrying_a_loader_variable_is_refused_and_writes_nothing() {
    let bao = sync_support::Bao::start();
    let tv = vault_with_bundle_target();
    let (status, body) = bao.api(
        "POST",
        "secret/data/app/dev",
        Some(serde_json::json!({ "data": { "API_KEY": "pulled-value", "LD_PRELOAD": "/tmp/evil.so" } })),
    );
    assert!((200..300).contains(&status), "{body}");
    let pull = || {
        let mut c = tv.keep(&["pull", "t"]);
        c.envs(sync_support::Peer::env(&bao));
        c.output().unwrap()
    };
    let out = pull();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("LD_PRELOAD"), "{}", stderr(&out));
    assert!(stderr(&out).contains("pull from t"), "{}", stderr(&out));
    assert_eq!(code(&tv.run(&["get", "API_KEY"])), 3, "nothing was written");
    assert_eq!(code(&tv.run(&["get", "LD_PRELOAD"])), 3);
}

#[test]
fn exec_never_injects_a_planted_loader_variable() {
    let tv = TestVault::new();
    let marker = tv.path().join("loaded.txt");
    let lib = marker_library(tv.path(), &marker);
    // Planted: stored while a keep.toml allowed it, which is then gone (a hand-off or pull made by an
    // older keep would leave the same vault).
    std::fs::write(
        tv.path().join("keep.toml"),
        "[secrets.LD_PRELOAD]\nallow_loader = true\n",
    )
    .unwrap();
    tv.set("LD_PRELOAD", lib.to_str().unwrap());
    tv.set("API_KEY", "an-ordinary-secret");
    // The control: where keep.toml declares it, it is injected and the library loads.
    let out = tv.run(&["exec", "--", "/bin/true"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        marker.exists(),
        "the control: the planted library loads when injected"
    );
    std::fs::remove_file(&marker).unwrap();

    std::fs::remove_file(tv.path().join("keep.toml")).unwrap();
    for args in [
        &["exec", "--", "/bin/true"][..],
        &["exec", "--redact", "--", "/bin/true"][..],
    ] {
        let out = tv.run(args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("LD_PRELOAD"), "{}", stderr(&out));
        assert!(stderr(&out).contains("not injected"), "{}", stderr(&out));
        assert!(!marker.exists(), "{args:?} loaded the planted library");
    }
    // The other secrets still are injected.
    let out = tv.run(&[
        "exec",
        "--",
        "sh",
        "-c",
        "printf %s \"$API_KEY\"; test -z \"$LD_PRELOAD\"",
    ]);
    assert_eq!(
        (code(&out), stdout(&out)),
        (0, "an-ordinary-secret".to_string()),
        "{}",
        stderr(&out)
    );
}

/// An age hand-off file holding `doc` (a keep-export JSON document), made with the `age` CLI as an
/// attacker who knows only the public recipient would; returns (file, identity).
fn handoff(tv: &TestVault, doc: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let identity = tv.path().join("me.key");
    if !identity.exists() {
        let out = Command::new("age-keygen")
            .arg("-o")
            .arg(&identity)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = Command::new("age-keygen")
        .arg("-y")
        .arg(&identity)
        .output()
        .unwrap();
    let recipient = stdout(&out).trim().to_string();
    let plain = tv.path().join("doc.json");
    std::fs::write(&plain, doc).unwrap();
    let file = tv.path().join("handoff.age");
    let out = Command::new("age")
        .args(["-r", &recipient, "-o"])
        .arg(&file)
        .arg(&plain)
        .output()
        .unwrap();
    assert!(out.status.success(), "age: {}", stderr(&out));
    std::fs::remove_file(&plain).unwrap();
    (file, identity)
}

#[test]
fn an_age_handoff_writes_only_the_current_scope_unless_all() {
    let tv = TestVault::new();
    tv.set("keep://billing/prod/DB_URL", "the-real-production-url");
    let (file, identity) = handoff(
        &tv,
        r#"{"format":"keep-export","version":1,"secrets":[
            {"address":"keep://default/dev/API_KEY","value":"handed-over-key"},
            {"address":"keep://billing/prod/DB_URL","value":"postgres://attacker"}]}"#,
    );
    let import = |extra: &[&str]| {
        let mut args = vec!["--identity", identity.to_str().unwrap(), "import"];
        args.extend_from_slice(extra);
        args.push(file.to_str().unwrap());
        tv.run(&args)
    };
    let expected = "+ keep://default/dev/API_KEY\n\
                    - keep://billing/prod/DB_URL  (skipped: another scope; --all imports it)\n";

    let dry = import(&["--dry-run"]);
    assert_eq!(code(&dry), 0, "{}", stderr(&dry));
    assert_eq!(stdout(&dry), expected);
    assert!(
        stderr(&dry).contains("nothing was written"),
        "{}",
        stderr(&dry)
    );
    assert_eq!(
        code(&tv.run(&["get", "API_KEY"])),
        3,
        "a dry run writes nothing"
    );
    assert!(!stdout(&dry).contains("handed-over-key") && !stderr(&dry).contains("attacker"));

    let real = import(&[]);
    assert_eq!(code(&real), 0, "{}", stderr(&real));
    assert_eq!(stdout(&real), expected, "the real run prints the same list");
    assert!(
        stderr(&real).contains("1 of other scopes skipped"),
        "{}",
        stderr(&real)
    );
    assert_eq!(tv.get("API_KEY"), "handed-over-key");
    assert_eq!(
        tv.get("keep://billing/prod/DB_URL"),
        "the-real-production-url"
    );

    // The JSON report lists the same, by address and action.
    let out = tv.run(&[
        "--json",
        "--identity",
        identity.to_str().unwrap(),
        "import",
        "--dry-run",
        "--all",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["items"][0]["action"], "unchanged");
    assert_eq!(doc["items"][1]["address"], "keep://billing/prod/DB_URL");
    assert_eq!(doc["items"][1]["action"], "change");

    // Asked for explicitly, the other scope is written.
    let all = import(&["--all"]);
    assert_eq!(code(&all), 0, "{}", stderr(&all));
    assert!(
        stdout(&all).contains("~ keep://billing/prod/DB_URL"),
        "{}",
        stdout(&all)
    );
    assert_eq!(tv.get("keep://billing/prod/DB_URL"), "postgres://attacker");

    // --all means nothing for a dotenv file: a usage error, not a silent no-op.
    std::fs::write(tv.path().join("plain.env"), "A=1\n").unwrap();
    assert_eq!(code(&tv.run(&["import", "--all", "plain.env"])), 2);
    let out = tv.run(&["import", "--dry-run", "plain.env"]);
    assert_eq!(
        (code(&out), stdout(&out)),
        (0, "+ keep://default/dev/A\n".to_string())
    );
    assert_eq!(code(&tv.run(&["get", "A"])), 3);
}

#[test]
fn an_age_handoff_carrying_a_loader_variable_is_refused() {
    let tv = TestVault::new();
    let (file, identity) = handoff(
        &tv,
        r#"{"format":"keep-export","version":1,"secrets":[
            {"address":"keep://default/dev/API_KEY","value":"handed-over-key"},
            {"address":"keep://default/dev/LD_PRELOAD","value":"/tmp/evil.so"}]}"#,
    );
    let out = tv.run(&[
        "--identity",
        identity.to_str().unwrap(),
        "import",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("LD_PRELOAD"), "{}", stderr(&out));
    assert_eq!(code(&tv.run(&["get", "API_KEY"])), 3, "nothing was written");
}

/// `chown` a file to `uid` (the tests run as root, which may).
fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), None).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_discovered_keep_toml_someone_else_owns_or_can_write_is_refused() {
    let tv = TestVault::new();
    tv.set("API_TOKEN", "the-current-token");
    // Another user's keep.toml above the working directory, whose hook would save the new token.
    let toml = tv.path().join("keep.toml");
    std::fs::write(
        &toml,
        "[secrets.API_TOKEN]\ngenerator = \"token:24\"\non_rotate = [\"printf %s \\\"$KEEP_NEW\\\" > stolen.txt\"]\n",
    )
    .unwrap();
    chown(&toml, 65534);
    chmod(&toml, 0o644);
    let work = tv.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let in_work = |args: &[&str]| tv.keep(args).current_dir(&work).output().unwrap();

    let out = in_work(&["rotate", "API_TOKEN"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(toml.to_str().unwrap()),
        "names the file: {err}"
    );
    assert!(err.contains("uid 65534"), "names the owner: {err}");
    assert!(err.contains("--config"), "says how to trust it: {err}");
    assert!(
        !tv.path().join("stolen.txt").exists(),
        "the hook did not run"
    );
    assert!(!work.join("stolen.txt").exists(), "the hook did not run");
    assert_eq!(
        tv.get_in(&work, "API_TOKEN"),
        None,
        "refused for every command"
    );
    // Named explicitly, another owner's file is accepted (the user chose it).
    let out = in_work(&["--config", toml.to_str().unwrap(), "get", "API_TOKEN"]);
    assert_eq!(
        (code(&out), stdout(&out)),
        (0, "the-current-token".to_string()),
        "{}",
        stderr(&out)
    );

    // Ours, but writable by others: refused when discovered and when named.
    chown(&toml, 0);
    chmod(&toml, 0o666);
    let out = in_work(&["get", "API_TOKEN"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("writable by group and others"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("chmod go-w"), "{}", stderr(&out));
    let out = in_work(&["--config", toml.to_str().unwrap(), "get", "API_TOKEN"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    chmod(&toml, 0o620);
    let out = in_work(&["get", "API_TOKEN"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("writable by its group"),
        "{}",
        stderr(&out)
    );

    // Ours and 0644: used as before; the secret was never changed by the refused runs.
    chmod(&toml, 0o644);
    assert_eq!(
        tv.get_in(&work, "API_TOKEN").as_deref(),
        Some("the-current-token")
    );
}

/// A one-thread HTTP server on 127.0.0.1 that answers each request with `answer(path)` (status,
/// body); runs until the test process ends.
fn fake_server(answer: impl Fn(&str) -> (u16, Vec<u8>) + Send + 'static) -> String {
    fake_server_seeing_bodies(move |path, _| answer(path))
}

/// [`fake_server`], with the request's body passed to `answer` too.
fn fake_server_seeing_bodies(
    answer: impl Fn(&str, &[u8]) -> (u16, Vec<u8>) + Send + 'static,
) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            let _ = std::io::Read::read_exact(&mut reader, &mut body);
            let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
            let (status, body) = answer(&path, &body);
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            );
            let _ = s
                .write_all(head.as_bytes())
                .and_then(|_| s.write_all(&body));
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// Garbage a server can answer with 200: an HTML page, truncated JSON, JSON of the wrong shape, and
/// a body over keep's 16 MiB limit.
fn garbage() -> Vec<(&'static str, Vec<u8>)> {
    let mut huge = br#"{"data":{"data":{"A":""#.to_vec();
    huge.resize(huge.len() + (17 << 20), b'x');
    huge.extend_from_slice(br#""},"metadata":{"version":9}}}"#);
    vec![
        (
            "an HTML page",
            b"<html><body>Sign in to the proxy</body></html>".to_vec(),
        ),
        ("truncated JSON", br#"{"data":{"data":{"A":"one","#.to_vec()),
        (
            "JSON of the wrong shape",
            br#"{"unexpected":true}"#.to_vec(),
        ),
        ("an over-large body", huge),
    ]
}

/// A vault whose keep.toml has target `t`: the Vault KV v2 bundle `secret/app/dev`.
fn vault_with_bundle_target() -> TestVault {
    let tv = TestVault::new();
    std::fs::write(
        tv.path().join("keep.toml"),
        "[sync.t]\nprovider = \"vault\"\nmount = \"secret\"\nlayout = \"bundle\"\npath = \"app/dev\"\n",
    )
    .unwrap();
    tv
}

#[test]
fn a_vault_answering_garbage_is_exit_7_and_changes_nothing() {
    // A real first sync, so that keep has a recorded base in which "the remote is empty" would mean
    // "deleted remotely".
    let bao = sync_support::Bao::start();
    let tv = vault_with_bundle_target();
    tv.set("A", "local-one");
    tv.set("B", "local-two");
    let out = tv
        .keep(&["push", "t"])
        .envs(sync_support::Peer::env(&bao))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    for (what, body) in garbage() {
        let body = std::sync::Arc::new(body);
        let b = body.clone();
        let addr = fake_server(move |path| {
            if path.contains("sys/internal/ui/mounts") {
                // The mount detection answers properly, so the garbage reaches the data reads.
                (
                    200,
                    br#"{"data":{"type":"kv","path":"secret/","options":{"version":"2"}}}"#
                        .to_vec(),
                )
            } else {
                (200, b.to_vec())
            }
        });
        for extra in [
            &[][..],
            &["--prune"][..],
            &["--prefer", "remote", "--prune"][..],
        ] {
            let mut args = vec!["pull", "t"];
            args.extend_from_slice(extra);
            let out = tv
                .keep(&args)
                .env("VAULT_ADDR", &addr)
                .env("VAULT_TOKEN", sync_support::ROOT_TOKEN)
                .output()
                .unwrap();
            assert_eq!(code(&out), 7, "{what} {extra:?}: {}", stderr(&out));
            assert!(
                stderr(&out).contains("sync target t"),
                "{what}: {}",
                stderr(&out)
            );
            assert_eq!(tv.get("A"), "local-one", "{what} {extra:?}");
            assert_eq!(tv.get("B"), "local-two", "{what} {extra:?}");
        }
        // The whole-server case too: even the mount detection answers garbage.
        let addr = fake_server(move |_| (200, body.to_vec()));
        let out = tv
            .keep(&["pull", "t", "--prune"])
            .env("VAULT_ADDR", &addr)
            .env("VAULT_TOKEN", sync_support::ROOT_TOKEN)
            .output()
            .unwrap();
        assert_eq!(code(&out), 7, "{what}: {}", stderr(&out));
        assert_eq!(
            (tv.get("A"), tv.get("B")),
            ("local-one".into(), "local-two".into())
        );
    }
    let out = tv.run(&["ls"]);
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stdout(&out));
}

#[test]
fn a_gcp_answering_garbage_is_exit_7_and_changes_nothing() {
    let gcp = sync_support::gcp::Gcp::start();
    let tv = TestVault::new();
    std::fs::write(
        tv.path().join("keep.toml"),
        format!(
            "[sync.t]\n{}prefix = \"app/\"\n",
            sync_support::Peer::provider_toml(&gcp)
        ),
    )
    .unwrap();
    tv.set("A", "local-one");
    let out = tv
        .keep(&["push", "t"])
        .envs(sync_support::Peer::env(&gcp))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for (what, body) in garbage() {
        let addr = fake_server(move |_| (200, body.clone()));
        let out = tv
            .keep(&["pull", "t", "--prune"])
            .envs(sync_support::Peer::env(&gcp))
            .env(
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER",
                format!("{addr}/"),
            )
            .output()
            .unwrap();
        assert_eq!(code(&out), 7, "{what}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("sync target t"),
            "{what}: {}",
            stderr(&out)
        );
        assert_eq!(tv.get("A"), "local-one", "{what}");
    }
}

#[test]
fn a_server_echoing_a_refused_write_never_puts_the_value_in_keeps_message() {
    const VALUE: &str = "echoed-secret-canary-4f1e";
    let tv = vault_with_bundle_target();
    tv.set("A", VALUE);
    // A Vault whose mount is KV v2 and empty, and that refuses the write quoting what it got, as a
    // strict JSON validator or a misconfigured proxy might; or a denial carrying terminal escapes.
    for (status, quote_body, hint) in [
        (400, true, "repeats part of what keep sent"),
        (403, false, "permission denied"),
    ] {
        let addr = fake_server_seeing_bodies(move |path, body| {
            if path.contains("sys/internal/ui/mounts") {
                let mount = br#"{"data":{"type":"kv","path":"secret/","options":{"version":"2"}}}"#;
                return (200, mount.to_vec());
            }
            if body.is_empty() {
                return (404, br#"{"errors":[]}"#.to_vec());
            }
            let text = if quote_body {
                format!("cannot parse {}", String::from_utf8_lossy(body))
            } else {
                "denied \u{1b}[2J\u{1b}]0;owned\u{7} here".to_string()
            };
            (
                status,
                serde_json::json!({ "errors": [text] })
                    .to_string()
                    .into_bytes(),
            )
        });
        let out = tv
            .keep(&["push", "t"])
            .env("VAULT_ADDR", &addr)
            .env("VAULT_TOKEN", sync_support::ROOT_TOKEN)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(code(&out), 7, "{err}");
        assert!(err.contains(&format!("HTTP {status}")), "{err}");
        assert!(err.contains(hint), "{err}");
        assert!(
            !err.contains(VALUE) && !stdout(&out).contains(VALUE),
            "{err}"
        );
        assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    }
}

#[test]
fn a_pull_deletes_local_secrets_only_with_prune() {
    let bao = sync_support::Bao::start();
    let tv = vault_with_bundle_target();
    tv.set("A", "one");
    tv.set("B", "two");
    let run = |args: &[&str]| {
        tv.keep(args)
            .envs(sync_support::Peer::env(&bao))
            .output()
            .unwrap()
    };
    assert_eq!(code(&run(&["push", "t"])), 0);
    // A teammate removes B remotely; keep also has a local-only C.
    let (status, body) = bao.api(
        "POST",
        "secret/data/app/dev",
        Some(serde_json::json!({ "data": { "A": "one" } })),
    );
    assert!((200..300).contains(&status), "{body}");
    tv.set("C", "local-only");

    let out = run(&["pull", "t"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("`keep pull t --prune` deletes it here"),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("deleted 0"), "{}", stderr(&out));
    assert_eq!(
        (tv.get("B"), tv.get("C")),
        ("two".into(), "local-only".into())
    );

    let out = run(&["pull", "t", "--prune"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("deleted 1"), "{}", stderr(&out));
    assert_eq!(
        code(&tv.run(&["get", "B"])),
        3,
        "--prune takes the remote deletion"
    );
    assert_eq!(
        tv.get("C"),
        "local-only",
        "a local-only secret is never pruned"
    );
}

/// `keep hsm info` with the lock in its default place: no `KEEP_PKCS11_LOCK`, no `XDG_RUNTIME_DIR`,
/// and `TMPDIR` at `tmp` (where the per-user folder `keep-0` goes).
fn hsm_info(
    token: &custody_support::SoftToken,
    tv: &TestVault,
    tmp: &Path,
) -> std::process::Output {
    token
        .keep(tv, &["hsm", "info"])
        .env_remove("KEEP_PKCS11_LOCK")
        .env_remove("XDG_RUNTIME_DIR")
        .env("TMPDIR", tmp)
        .env("KEEP_PKCS11_LOCK_TIMEOUT", "1s")
        .output()
        .unwrap()
}

#[test]
fn the_hsm_lock_cannot_be_held_or_planted_by_another_user() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let token = custody_support::SoftToken::new("lock");
    let tv = TestVault::new();
    let tmp = tv.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let dir = tmp.join("keep-0");

    // First use: the folder is created 0700 and ours, the lock file 0600 and ours.
    let out = hsm_info(&token, &tv, &tmp);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let meta = std::fs::symlink_metadata(&dir).unwrap();
    assert_eq!(
        (meta.is_dir(), meta.mode() & 0o777, meta.uid()),
        (true, 0o700, 0)
    );
    let lock = dir.join("pkcs11.lock");
    assert_eq!(std::fs::metadata(&lock).unwrap().mode() & 0o777, 0o600);

    // Held by another process: keep gives up after the timeout with exit 8, naming file and holder.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lock)
        .unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), libc::LOCK_EX) },
        0
    );
    std::fs::write(&lock, "424242\n").unwrap();
    let start = std::time::Instant::now();
    let out = hsm_info(&token, &tv, &tmp);
    let waited = start.elapsed();
    drop(file);
    assert_eq!(code(&out), 8, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(lock.to_str().unwrap()),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("pid 424242"), "{}", stderr(&out));
    assert!(
        waited >= std::time::Duration::from_secs(1),
        "it waited the timeout: {waited:?}"
    );
    // Released, it works again.
    assert_eq!(code(&hsm_info(&token, &tv, &tmp)), 0);

    // A lock file another user made (or a link planted in its place) is refused.
    chown(&lock, 65534);
    let out = hsm_info(&token, &tv, &tmp);
    assert_eq!(code(&out), 8, "{}", stderr(&out));
    assert!(stderr(&out).contains("uid 65534"), "{}", stderr(&out));
    std::fs::remove_file(&lock).unwrap();
    let victim = tv.path().join("victim");
    std::fs::write(&victim, "keep out").unwrap();
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    let out = hsm_info(&token, &tv, &tmp);
    assert_eq!(code(&out), 8, "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep out");
    std::fs::remove_file(&lock).unwrap();

    // The folder: another user's, too open, or a link: each refused, naming the folder.
    chown(&dir, 65534);
    let out = hsm_info(&token, &tv, &tmp);
    assert_eq!(code(&out), 8, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(dir.to_str().unwrap()),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("uid 65534"), "{}", stderr(&out));
    chown(&dir, 0);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = hsm_info(&token, &tv, &tmp);
    assert_eq!(code(&out), 8, "{}", stderr(&out));
    assert!(stderr(&out).contains("mode 0777"), "{}", stderr(&out));
    std::fs::remove_dir(&dir).unwrap();
    let elsewhere = tv.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
    let out = hsm_info(&token, &tv, &tmp);
    assert_eq!(code(&out), 8, "{}", stderr(&out));
    assert!(stderr(&out).contains("not a folder"), "{}", stderr(&out));
}

#[test]
fn materialize_dir_never_deletes_outside_its_folder() {
    let tv = TestVault::new();
    tv.set("API_KEY", "first");
    let mounted = tv.path().join("mounted");
    let out = tv.run(&["materialize", "--dir", "mounted"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // A victim folder beside it, named like a data folder, and `..data` re-pointed at it.
    let victim = tv.path().join("victim");
    std::fs::create_dir_all(victim.join("..x")).unwrap();
    std::fs::write(victim.join("..x").join("API_KEY"), "victim's file").unwrap();
    std::fs::write(victim.join("..x").join("notes.txt"), "victim's notes").unwrap();
    let data = mounted.join("..data");
    std::fs::remove_file(&data).unwrap();
    std::os::unix::fs::symlink("../victim/..x", &data).unwrap();
    tv.set("API_KEY", "second");
    let out = tv.run(&["materialize", "--dir", "mounted"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(victim.join("..x").join("API_KEY")).unwrap(),
        "victim's file"
    );
    assert_eq!(
        std::fs::read_to_string(victim.join("..x").join("notes.txt")).unwrap(),
        "victim's notes"
    );
    assert_eq!(
        std::fs::read_to_string(mounted.join("API_KEY")).unwrap(),
        "second"
    );

    // A link named like keep's own data folder, pointing out: removed as a link, its target kept.
    let outside = tv.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("API_KEY"), "outside file").unwrap();
    let fake = "..1700000000_000000001_1";
    std::os::unix::fs::symlink(&outside, mounted.join(fake)).unwrap();
    std::fs::remove_file(&data).unwrap();
    std::os::unix::fs::symlink(fake, &data).unwrap();
    tv.set("API_KEY", "third");
    let out = tv.run(&["materialize", "--dir", "mounted"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(outside.join("API_KEY")).unwrap(),
        "outside file"
    );
    assert_eq!(
        std::fs::read_to_string(mounted.join("API_KEY")).unwrap(),
        "third"
    );

    // keep's own previous data folder is still removed after the swap.
    let before = std::fs::read_link(&data).unwrap();
    assert!(mounted.join(&before).is_dir());
    let out = tv.run(&["materialize", "--dir", "mounted"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        !mounted.join(&before).exists(),
        "{before:?} was not cleaned up"
    );
    assert_ne!(std::fs::read_link(&data).unwrap(), before);
}

/// Values that break naive quoting: quotes of both kinds, backslashes, `$(` and backticks that would
/// run a command (touching `pwned`), line breaks, YAML and JSON structure, unicode.
fn hostile_values() -> Vec<(&'static str, String)> {
    vec![
        (
            "TICKS",
            "`touch pwned` and $(touch pwned) and ${HOME}".into(),
        ),
        ("QUOTES", "it's \"quoted\" '' \\' \\\" end\\".into()),
        (
            "LINES",
            "line one\nline two\r\n\tindented: yes\n- item\n".into(),
        ),
        (
            "STRUCT",
            "}, \"admin\": true, {\"x\": [1]} # not a comment".into(),
        ),
        ("UNICODE", "pässwörd ✓ \u{2028} done".into()),
    ]
}

#[test]
fn dotenv_output_sourced_by_bash_gives_the_values_byte_for_byte() {
    let tv = TestVault::new();
    for (name, value) in hostile_values() {
        let out = tv.run_with_stdin(&["set", "--raw", name], value.as_bytes());
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let out = tv.run(&["env", "--format", "dotenv"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    std::fs::write(tv.path().join("out.env"), &out.stdout).unwrap();
    // The same file through `materialize`, which writes the dotenv format too.
    let out = tv.run(&["materialize", "mat.env", "--force"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for file in ["out.env", "mat.env"] {
        for (name, value) in hostile_values() {
            let script = format!(". ./{file}; printf %s \"${name}\" > got.bin");
            let out = Command::new("bash")
                .args(["-c", &script])
                .current_dir(tv.path())
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap())
                .output()
                .unwrap();
            assert!(out.status.success(), "{file}: {}", stderr(&out));
            assert_eq!(
                std::fs::read(tv.path().join("got.bin")).unwrap(),
                value.as_bytes(),
                "{file}: {name} read back differently"
            );
        }
        assert!(
            !tv.path().join("pwned").exists(),
            "sourcing {file} ran a command"
        );
    }
    // And keep's own import reads the file back to the same values (a round trip, no `$` expanded).
    let other = TestVault::new();
    std::fs::copy(tv.path().join("out.env"), other.path().join("in.env")).unwrap();
    let out = other.run(&["import", "in.env"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for (name, value) in hostile_values() {
        assert_eq!(other.get(name), value, "{name} after import");
    }
}

#[test]
fn inject_filters_keep_json_yaml_and_shell_structure_intact() {
    let tv = TestVault::new();
    for (name, value) in hostile_values() {
        let out = tv.run_with_stdin(&["set", "--raw", name], value.as_bytes());
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let names: Vec<&str> = hostile_values().iter().map(|(n, _)| *n).collect();
    let json_tpl = format!(
        "{{\n{}\n  \"admin\": false\n}}\n",
        names
            .iter()
            .map(|n| format!("  \"{n}\": {{{{ keep://default/dev/{n} | json }}}},"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let yaml_tpl = names
        .iter()
        .map(|n| format!("{n}: {{{{ keep://default/dev/{n} | yaml }}}}\n"))
        .collect::<String>()
        + "admin: false\n";
    let shell_tpl = names
        .iter()
        .map(|n| format!("{n}={{{{ keep://default/dev/{n} | shell }}}}\n"))
        .collect::<String>();
    for (file, tpl) in [
        ("a.json.tpl", &json_tpl),
        ("a.yaml.tpl", &yaml_tpl),
        ("a.sh.tpl", &shell_tpl),
    ] {
        std::fs::write(tv.path().join(file), tpl).unwrap();
    }
    let render = |tpl: &str| {
        let out = tv.run(&["inject", "-i", tpl]);
        assert_eq!(code(&out), 0, "{tpl}: {}", stderr(&out));
        out.stdout
    };

    let doc: serde_json::Value = serde_json::from_slice(&render("a.json.tpl")).unwrap();
    let yaml: serde_json::Value = serde_yaml_ng::from_slice(&render("a.yaml.tpl")).unwrap();
    for d in [&doc, &yaml] {
        assert_eq!(d["admin"], false, "{d}");
        assert_eq!(d.as_object().unwrap().len(), names.len() + 1, "{d}");
        for (name, value) in hostile_values() {
            assert_eq!(d[name].as_str(), Some(value.as_str()), "{name} in {d}");
        }
    }
    std::fs::write(tv.path().join("a.sh"), render("a.sh.tpl")).unwrap();
    for (name, value) in hostile_values() {
        let out = Command::new("sh")
            .args(["-c", &format!(". ./a.sh; printf %s \"${name}\"")])
            .current_dir(tv.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(out.stdout, value.as_bytes(), "{name} through | shell");
    }
    assert!(!tv.path().join("pwned").exists(), "a value ran a command");

    // An unknown filter is a usage error naming the line.
    std::fs::write(
        tv.path().join("bad.tpl"),
        "x\n{{ keep://default/dev/TICKS | xml }}\n",
    )
    .unwrap();
    let out = tv.run(&["inject", "-i", "bad.tpl"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 2") && stderr(&out).contains("xml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn rotation_does_not_overwrite_a_concurrent_set() {
    let tv = TestVault::new();
    tv.set("API_TOKEN", "the-old-token-value");
    // The hook runs `keep set` on the same name while the rotation waits for it (credentials are
    // withheld from hooks, so it names the passphrase file itself).
    let hook = format!(
        "printf %s concurrent-value | KEEP_PASSPHRASE_FILE={} {KEEP} set API_TOKEN",
        tv.pass_file().display()
    );
    let toml = |hook: &str| {
        std::fs::write(
            tv.path().join("keep.toml"),
            format!("[secrets.API_TOKEN]\ngenerator = \"token:24\"\non_rotate = [{hook:?}]\n"),
        )
        .unwrap()
    };
    toml(&hook);
    let out = tv.run(&["--json", "rotate", "API_TOKEN"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "conflict", "{doc}");
    assert_eq!(
        tv.get("API_TOKEN"),
        "concurrent-value",
        "the concurrent set wins"
    );
    let out = tv.run(&["rotate", "API_TOKEN", "--show-pending"]);
    assert_eq!(
        code(&out),
        0,
        "the new value is kept pending: {}",
        stderr(&out)
    );
    let pending = stdout(&out);
    assert!(!pending.is_empty());
    // The text report says so and how to go on.
    toml(&hook);
    let out = tv.run(&["rotate", "API_TOKEN", "--retry"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing was overwritten"),
        "{}",
        stderr(&out)
    );

    // With the consumer no longer racing, a retry promotes the pending value.
    toml("true");
    let out = tv.run(&["rotate", "API_TOKEN", "--retry"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let now = tv.get("API_TOKEN");
    assert_eq!(now.len(), 32, "the generated token is current: {now}");
    assert!(
        pending.contains(&now),
        "the promoted value is the pending one"
    );
}
