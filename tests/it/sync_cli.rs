//! Sync command-line behaviour that needs no real provider: unknown targets, bad `[sync.*]` tables,
//! flag rules, a missing token, and retries against a listener on 127.0.0.1 that only ever answers 503
//! (throttling and 5xx are retried with backoff, then exit 7). Then the wording against a real
//! OpenBao server: which side changed, hints in the caller's scope, "in sync", a push a remote
//! change blocked, and `rotate` with a linked target.

use crate::common;
use crate::sync_support;

use common::{code, stderr, stdout, TestVault};
use sync_support::{Bao, Loc, Peer};

fn with_toml(toml: &str) -> TestVault {
    let tv = TestVault::new();
    std::fs::write(tv.path().join("keep.toml"), toml).unwrap();
    tv
}

#[test]
fn an_unknown_target_is_not_found() {
    let tv = with_toml("[sync.prod]\nprovider = \"aws\"\nregion = \"us-east-1\"\n");
    let out = tv.run(&["diff", "staging"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("prod"),
        "the message lists the known targets: {}",
        stderr(&out)
    );
}

#[test]
fn a_misspelt_key_in_a_sync_table_is_a_usage_error() {
    let tv = with_toml("[sync.prod]\nprovider = \"aws\"\nprefx = \"a/\"\n");
    let out = tv.run(&["push", "prod"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("prefx"), "{}", stderr(&out));
}

#[test]
fn force_delete_requires_prune() {
    let tv = with_toml("[sync.prod]\nprovider = \"aws\"\n");
    let out = tv.run(&["push", "prod", "--force-delete-without-recovery"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

#[test]
fn a_vault_target_without_a_token_is_a_remote_failure_naming_the_target() {
    let tv = with_toml("[sync.team]\nprovider = \"vault\"\npath = \"app/dev\"\n");
    let out = tv
        .keep(&["pull", "team"])
        .env("VAULT_ADDR", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sync target team"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("VAULT_TOKEN"), "{}", stderr(&out));
}

/// A listener on 127.0.0.1 that answers every request with 503 and counts them; stops when dropped
/// (the thread ends after `max` requests or when the test process exits).
struct Unavailable {
    port: u16,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Unavailable {
    fn start(max: usize) -> Unavailable {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(max) {
                let Ok(mut s) = stream else { continue };
                let mut buf = [0u8; 65536];
                let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                let _ = s.read(&mut buf);
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = s.write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
                      Content-Length: 2\r\nConnection: close\r\n\r\n{}",
                );
            }
        });
        Unavailable { port, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn vault_5xx_is_retried_with_backoff_then_exit_7() {
    let server = Unavailable::start(50);
    let tv = with_toml("[sync.team]\nprovider = \"vault\"\npath = \"app/dev\"\n");
    let out = tv
        .keep(&["diff", "team"])
        .env("VAULT_ADDR", format!("http://127.0.0.1:{}", server.port))
        .env("VAULT_TOKEN", "t")
        .output()
        .unwrap();
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert!(stderr(&out).contains("HTTP 503"), "{}", stderr(&out));
    assert_eq!(server.hits(), 4, "one request and three retries");
}

#[test]
fn aws_5xx_is_retried_then_exit_7() {
    let server = Unavailable::start(50);
    let tv =
        with_toml("[sync.prod]\nprovider = \"aws\"\nregion = \"us-east-1\"\nprefix = \"app/\"\n");
    let out = tv
        .keep(&["diff", "prod"])
        .env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", server.port),
        )
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sync target prod"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        server.hits(),
        4,
        "the SDK's standard retry mode: one request and three retries"
    );
}

/// A project `app` with a bundle target `team` at `secret/app/prod` and no `env` of its own, so the
/// target follows `--env`: every command below runs with `--env prod` and every hint must too.
fn bao_vault(bao: &Bao) -> TestVault {
    with_toml(&format!(
        "project = \"app\"\n[sync.team]\n{}{}",
        bao.provider_toml(),
        loc().toml()
    ))
}

fn loc() -> Loc {
    Loc::Bundle("app/prod".into())
}

fn prod(tv: &TestVault, bao: &Bao, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--env", "prod"];
    all.extend_from_slice(args);
    tv.keep(&all).envs(bao.env()).output().unwrap()
}

/// The stdout line that names `name`.
fn line_of(out: &std::process::Output, name: &str) -> String {
    stdout(out)
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no line for {name} in:\n{}", stdout(out)))
        .to_string()
}

/// Synced once, then a teammate adds THEIRS and changes KEPT remotely while MINE changes and
/// LOCALNEW is added here.
fn drifted(bao: &Bao) -> TestVault {
    let tv = bao_vault(bao);
    tv.set("keep://app/prod/KEPT", "one");
    tv.set("keep://app/prod/MINE", "a");
    let out = prod(&tv, bao, &["push", "team"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    bao.remote_set(&loc(), "THEIRS", "teammate-added");
    bao.remote_set(&loc(), "KEPT", "two");
    tv.set("keep://app/prod/MINE", "b");
    tv.set("keep://app/prod/LOCALNEW", "x");
    tv
}

#[test]
fn diff_prints_in_sync_when_nothing_differs() {
    let bao = Bao::start();
    let tv = bao_vault(&bao);
    tv.set("keep://app/prod/KEPT", "one");
    assert_eq!(code(&prod(&tv, &bao, &["push", "team"])), 0);
    let out = prod(&tv, &bao, &["diff", "team"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("team: in sync"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "no drift lines");
}

#[test]
fn diff_says_which_side_changed_with_the_command_in_the_same_scope() {
    let bao = Bao::start();
    let tv = drifted(&bao);
    let out = prod(&tv, &bao, &["diff", "team"]);
    assert_eq!(code(&out), 1, "drift: {}", stderr(&out));
    let theirs = line_of(&out, "THEIRS");
    assert!(
        theirs.contains("added remotely; `keep --env prod pull team` takes it"),
        "{theirs}"
    );
    assert!(
        !theirs.contains("--prune"),
        "a teammate's new name is never a prune candidate: {theirs}"
    );
    let kept = line_of(&out, "KEPT");
    assert!(
        kept.contains("changed remotely; `keep --env prod pull team` takes it"),
        "{kept}"
    );
    let mine = line_of(&out, "MINE");
    assert!(
        mine.contains("changed locally; `keep --env prod push team` sends it"),
        "{mine}"
    );
    let new = line_of(&out, "LOCALNEW");
    assert!(
        new.contains("added locally; `keep --env prod push team` sends it"),
        "{new}"
    );
    // diff changed nothing on either side.
    assert_eq!(bao.remote_get(&loc(), "MINE").as_deref(), Some("a"));
    assert_eq!(tv.get("keep://app/prod/KEPT"), "one");
}

#[test]
fn a_push_a_remote_change_blocked_exits_1_and_names_the_pull() {
    let bao = Bao::start();
    let tv = drifted(&bao);
    let out = prod(&tv, &bao, &["push", "team"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("not pushed: KEPT") && err.contains("`keep --env prod pull team` takes them"),
        "{err}"
    );
    assert!(
        !line_of(&out, "THEIRS").contains("--prune"),
        "{}",
        stdout(&out)
    );
    // The local changes went out; the teammate's changes were kept.
    assert_eq!(bao.remote_get(&loc(), "MINE").as_deref(), Some("b"));
    assert_eq!(bao.remote_get(&loc(), "LOCALNEW").as_deref(), Some("x"));
    assert_eq!(bao.remote_get(&loc(), "KEPT").as_deref(), Some("two"));
    assert_eq!(
        bao.remote_get(&loc(), "THEIRS").as_deref(),
        Some("teammate-added")
    );
    // Once pulled, a push has nothing left to do and exits 0.
    assert_eq!(code(&prod(&tv, &bao, &["pull", "team"])), 0);
    assert_eq!(tv.get("keep://app/prod/KEPT"), "two");
    let out = prod(&tv, &bao, &["push", "team"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("in sync"), "{}", stderr(&out));
}

#[test]
fn rotate_prints_its_result_before_the_sync_failure_and_no_push_pushes_nothing() {
    let bao = Bao::start();
    let tv = bao_vault(&bao);
    tv.set("keep://app/prod/TOKEN", "v1");
    assert_eq!(code(&prod(&tv, &bao, &["push", "team"])), 0);
    bao.remote_set(&loc(), "TOKEN", "theirs");

    let out = prod(&tv, &bao, &["rotate", "TOKEN", "--generator", "hex:16"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    let rotated = err.find("Rotated keep://app/prod/TOKEN to version 2");
    let failed = err.find("changed remotely since the last sync");
    assert!(
        rotated.is_some() && failed.is_some() && rotated < failed,
        "the rotation's result comes first: {err}"
    );
    assert!(
        err.contains("`keep --env prod push team --prefer local`"),
        "{err}"
    );
    assert_eq!(tv.get("keep://app/prod/TOKEN").len(), 32);
    assert_eq!(bao.remote_get(&loc(), "TOKEN").as_deref(), Some("theirs"));

    // --no-push: rotated, exit 0, the target untouched, and the command that sends it named.
    let before = tv.get("keep://app/prod/TOKEN");
    let out = prod(
        &tv,
        &bao,
        &["rotate", "TOKEN", "--generator", "hex:16", "--no-push"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_ne!(tv.get("keep://app/prod/TOKEN"), before);
    assert!(
        stderr(&out).contains("Not pushed (--no-push); `keep --env prod push team`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(bao.remote_get(&loc(), "TOKEN").as_deref(), Some("theirs"));
}

#[test]
fn prefer_can_name_single_secrets() {
    let bao = Bao::start();
    let tv = bao_vault(&bao);
    tv.set("keep://app/prod/A", "a0");
    tv.set("keep://app/prod/B", "b0");
    assert_eq!(code(&prod(&tv, &bao, &["push", "team"])), 0);
    bao.remote_set(&loc(), "A", "a-remote");
    bao.remote_set(&loc(), "B", "b-remote");
    tv.set("keep://app/prod/A", "a-local");
    tv.set("keep://app/prod/B", "b-local");

    // One name decided, the other still in conflict: nothing is changed.
    let out = prod(&tv, &bao, &["pull", "team", "--prefer", "A=remote"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("B"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--prefer NAME=local|remote"),
        "{}",
        stderr(&out)
    );
    assert_eq!(tv.get("keep://app/prod/A"), "a-local");

    let out = prod(
        &tv,
        &bao,
        &[
            "pull", "team", "--prefer", "A=remote", "--prefer", "B=local",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(tv.get("keep://app/prod/A"), "a-remote");
    assert_eq!(tv.get("keep://app/prod/B"), "b-local");

    // A per-name choice beside the global one wins for that name.
    let out = prod(
        &tv,
        &bao,
        &["push", "team", "--prefer", "remote", "--prefer", "B=local"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(bao.remote_get(&loc(), "B").as_deref(), Some("b-local"));
    assert_eq!(bao.remote_get(&loc(), "A").as_deref(), Some("a-remote"));

    for bad in [
        &["--prefer", "A=sideways"][..],
        &["--prefer", "local", "--prefer", "remote"][..],
        &["--prefer", "A=local", "--prefer", "A=remote"][..],
    ] {
        let mut args = vec!["pull", "team"];
        args.extend_from_slice(bad);
        let out = prod(&tv, &bao, &args);
        assert_eq!(code(&out), 2, "{bad:?}: {}", stderr(&out));
    }
}

/// `inherited = true` (issue 19). `prod` extends `shared`: a default target of prod pushes prod's own
/// records only; one with `inherited = true` pushes shared's too, prod's own record winning a name
/// both hold, and its audit entry names the record each value was read from. A pull never touches
/// the ancestor: a remote change to an inherited name becomes prod's own version, and a remote
/// deletion of one leaves shared's record alone (exit 0, a note naming shared).
#[test]
fn an_inherited_target_syncs_the_ancestors_secrets_and_a_pull_never_changes_them() {
    let bao = Bao::start();
    let p = bao.provider_toml();
    let tv = with_toml(&format!(
        "project = \"app\"\n[env.prod]\nextends = \"shared\"\n\
         [sync.own]\nenv = \"prod\"\n{p}layout = \"bundle\"\npath = \"app/own\"\n\
         [sync.all]\nenv = \"prod\"\ninherited = true\n{p}layout = \"bundle\"\npath = \"app/all\"\n"
    ));
    tv.set("keep://app/shared/DB_URL", "shared-db");
    tv.set("keep://app/shared/SHARED_ONLY", "from-shared");
    tv.set("keep://app/shared/GONE", "g");
    tv.set("keep://app/prod/DB_URL", "prod-db");
    tv.set("keep://app/prod/API_KEY", "prod-key");
    let run = |args: &[&str]| tv.keep(args).envs(bao.env()).output().unwrap();
    let (own, all) = (Loc::Bundle("app/own".into()), Loc::Bundle("app/all".into()));

    let out = run(&["push", "own"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let remote = bao.read("app/own").expect("the own bundle");
    assert_eq!(
        remote,
        serde_json::json!({"API_KEY": "prod-key", "DB_URL": "prod-db"}),
        "the default pushes prod's own records only"
    );

    let out = run(&["push", "all"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(bao.remote_get(&all, "DB_URL").as_deref(), Some("prod-db"));
    assert_eq!(bao.remote_get(&all, "API_KEY").as_deref(), Some("prod-key"));
    assert_eq!(
        bao.remote_get(&all, "SHARED_ONLY").as_deref(),
        Some("from-shared")
    );
    assert_eq!(bao.remote_get(&all, "GONE").as_deref(), Some("g"));
    let audit = tv.run(&["audit", "--json"]);
    let pushed: Vec<String> = serde_json::from_slice::<serde_json::Value>(&audit.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["command"] == "push" && e["action"] == "read")
        .map(|e| e["secret"].as_str().unwrap().to_string())
        .collect();
    for read in [
        "keep://app/prod/DB_URL",
        "keep://app/prod/API_KEY",
        "keep://app/shared/SHARED_ONLY",
        "keep://app/shared/GONE",
    ] {
        assert!(pushed.contains(&read.to_string()), "{read} in {pushed:?}");
    }
    assert!(
        !pushed.contains(&"keep://app/shared/DB_URL".to_string()),
        "prod's own DB_URL was pushed, not shared's: {pushed:?}"
    );

    // A teammate changes an inherited name and deletes another.
    bao.remote_set(&all, "SHARED_ONLY", "changed-remotely");
    let mut fields = bao.read("app/all").unwrap();
    fields.as_object_mut().unwrap().remove("GONE");
    bao.write("app/all", fields);
    let out = run(&["pull", "all", "--prune"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        said.contains("inherited from shared"),
        "the deletion left alone is explained: {said}"
    );
    let get = |a: &str| stdout(&tv.run(&["get", a])).trim_end().to_string();
    assert_eq!(get("keep://app/prod/SHARED_ONLY"), "changed-remotely");
    assert_eq!(get("keep://app/shared/SHARED_ONLY"), "from-shared");
    assert_eq!(get("keep://app/shared/GONE"), "g");
    let out = tv.run(&["--env", "prod", "get", "GONE"]);
    assert_ne!(code(&out), 0, "prod never had its own GONE");

    // The default target sees prod's records only: SHARED_ONLY is prod's own now, GONE never was.
    let out = run(&["diff", "own"]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert!(
        line_of(&out, "SHARED_ONLY").starts_with('+'),
        "{}",
        stdout(&out)
    );
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    assert_eq!(bao.remote_get(&own, "SHARED_ONLY"), None);
    let out = tv.run(&["audit", "verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}
