//! Live secrets (issue 20): `exec --watch` restarts (or signals) its command when a value it injected
//! changes, from any process, and not for a value it did not inject; a command that ignores the
//! restart signal is killed after `--grace`; keep's own SIGTERM leaves no process behind; a rotation
//! reaches the running command; `materialize --watch` swaps the kubelet layout atomically; the
//! watcher stops with its own exit code when `keep lock` runs (6) or the vault file is replaced (5).
//!
//! No sleep is an assertion: each test waits, with a timeout, for a line in the command's log or a
//! file's content, and changes are ordered so that a change that must not restart anything is
//! followed by one that must, whose effect proves the first was seen and passed over.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common;

use common::{code, stderr, TestVault};

/// How long any awaited effect may take (the goal is 250 ms; a loaded CI machine gets slack).
const TIMEOUT: Duration = Duration::from_secs(20);

/// Wait until `cond` holds, checking every 10 ms; panics with `what` after [`TIMEOUT`].
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < TIMEOUT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The log's lines that start with `word`.
fn lines(log: &Path, word: &str) -> Vec<String> {
    read(log)
        .lines()
        .filter(|l| l.starts_with(word))
        .map(str::to_string)
        .collect()
}

/// A command that logs `start PID VALUE-OF-A` and then `TRAP PID` for each signal in `traps`
/// (exiting on TERM unless `ignore_term`), and otherwise waits.
fn logging_child(tv: &TestVault, ignore_term: bool) -> PathBuf {
    let log = tv.path().join("child.log");
    let term = if ignore_term {
        "trap 'echo ignored-term $$ >> \"$LOG\"' TERM".to_string()
    } else {
        "trap 'echo term $$ >> \"$LOG\"; exit 0' TERM".to_string()
    };
    let script = format!(
        "#!/bin/sh\nLOG={log:?}\necho \"start $$ $A\" >> \"$LOG\"\n{term}\n\
         trap 'echo hup $$ >> \"$LOG\"' HUP\nwhile :; do sleep 0.02; done\n",
        log = log.display().to_string()
    );
    let path = tv.path().join("child.sh");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    log
}

/// `keep --verbose exec --watch ARGS -- ./child.sh`.
fn watch(tv: &TestVault, args: &[&str]) -> Child {
    let mut all = vec!["exec", "--watch"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--", "./child.sh"]);
    spawn(tv, &all)
}

/// A vault with `A=one`, and `exec --watch ARGS` running the logging command, started.
fn started(ignore_term: bool, args: &[&str]) -> (TestVault, PathBuf, Child) {
    let tv = TestVault::new();
    tv.set("A", "one");
    let log = logging_child(&tv, ignore_term);
    let keep = watch(&tv, args);
    wait_until("the first start", || lines(&log, "start").len() == 1);
    (tv, log, keep)
}

/// `keep --verbose ARGS` in the background, its stderr going to `keep.err`.
fn spawn(tv: &TestVault, args: &[&str]) -> Child {
    let err = std::fs::File::create(tv.path().join("keep.err")).unwrap();
    let mut all = vec!["--verbose"];
    all.extend_from_slice(args);
    tv.keep(&all)
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap()
}

/// What keep said so far.
fn said(tv: &TestVault) -> String {
    read(&tv.path().join("keep.err"))
}

/// The pid in a `start PID VALUE` line.
fn pid_of(line: &str) -> i32 {
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Wait for keep to exit; its code and stderr.
fn finish(tv: &TestVault, mut child: Child) -> (i32, String) {
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("keep did not exit: {}", said(tv));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let code = status
        .code()
        .unwrap_or_else(|| panic!("keep was killed: {status:?}"));
    (code, said(tv))
}

fn reads_of(tv: &TestVault, name: &str) -> usize {
    let out = tv.run(&["audit", "--json", "--action", "read", "--name", name]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
        .unwrap()
        .len()
}

fn sigterm(child: &Child) {
    // SAFETY: plain kill on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
}

#[test]
fn a_change_of_an_injected_value_restarts_the_command_and_an_unrelated_one_does_not() {
    let (tv, log, keep) = started(false, &["--only", "A"]);
    let reads = reads_of(&tv, "A");
    // Not injected: a name outside --only, and the same name in another scope.
    tv.set("B", "changed");
    let out = tv.run_with_stdin(&["--env", "prod", "set", "A"], b"elsewhere");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Injected: this one restarts the command; the changes above were seen before it.
    tv.set("A", "two");
    wait_until("the restart", || lines(&log, "start").len() == 2);
    let starts = lines(&log, "start");
    assert!(
        starts[0].ends_with(" one") && starts[1].ends_with(" two"),
        "{starts:?}"
    );
    assert_eq!(
        lines(&log, "term").len(),
        1,
        "the first command got SIGTERM"
    );
    assert!(!alive(pid_of(&starts[0])));
    // One refresh read A (and was audited); the unrelated changes read nothing.
    assert_eq!(reads_of(&tv, "A"), reads + 1);
    // Writing the same value again is a new version but not a change: no restart. The change after
    // it proves it was seen.
    tv.set("A", "two");
    tv.set("A", "three");
    wait_until("the second restart", || lines(&log, "start").len() == 3);
    assert!(lines(&log, "start")[2].ends_with(" three"));
    sigterm(&keep);
    let (code, err) = finish(&tv, keep);
    assert_eq!(code, 0, "the command exited 0 on SIGTERM: {err}");
    assert!(
        err.contains("restarting the command"),
        "--verbose shows it: {err}"
    );
    assert!(
        !err.contains("two") && !err.contains("three"),
        "no value in messages: {err}"
    );
}

#[test]
fn a_whole_scope_watch_restarts_when_a_secret_is_added_to_the_scope() {
    let (tv, log, keep) = started(false, &[]);
    let out = tv.run_with_stdin(&["--env", "prod", "set", "NEW"], b"elsewhere");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    tv.set("NEW", "here");
    wait_until("the restart", || lines(&log, "start").len() == 2);
    sigterm(&keep);
    let (_, err) = finish(&tv, keep);
    assert_eq!(err.matches("restarted the command").count(), 1, "{err}");
}

#[test]
fn signal_hup_is_delivered_without_a_restart() {
    let (tv, log, keep) = started(false, &["--signal", "HUP"]);
    tv.set("A", "two");
    wait_until("the HUP", || lines(&log, "hup").len() == 1);
    tv.set("A", "three");
    wait_until("the second HUP", || lines(&log, "hup").len() == 2);
    let start = &lines(&log, "start")[0];
    assert_eq!(lines(&log, "start").len(), 1, "never restarted");
    assert!(lines(&log, "hup")[0].ends_with(&pid_of(start).to_string()));
    assert!(alive(pid_of(start)));
    sigterm(&keep);
    let (code, err) = finish(&tv, keep);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("sent signal 1"), "{err}");
}

#[test]
fn a_command_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let (tv, log, keep) = started(true, &["--grace", "300ms"]);
    let first = pid_of(&lines(&log, "start")[0]);
    tv.set("A", "two");
    wait_until("the restart", || lines(&log, "start").len() == 2);
    assert_eq!(lines(&log, "ignored-term").len(), 1, "it got SIGTERM first");
    assert!(!alive(first), "and SIGKILL after the grace period");
    // keep's own SIGTERM: the same grace, then SIGKILL; nothing is left behind.
    let second = pid_of(&lines(&log, "start")[1]);
    sigterm(&keep);
    let (code, err) = finish(&tv, keep);
    assert_eq!(code, 128 + libc::SIGKILL, "{err}");
    assert!(!alive(second), "no process left behind");
    assert_eq!(err.matches("sending SIGKILL").count(), 2, "{err}");
}

#[test]
fn keeps_own_sigterm_stops_the_command_and_keep_exits_with_its_status() {
    let (tv, log, keep) = started(false, &[]);
    let pid = pid_of(&lines(&log, "start")[0]);
    sigterm(&keep);
    let (code, err) = finish(&tv, keep);
    assert_eq!(code, 0, "the command's own status: {err}");
    assert_eq!(lines(&log, "term").len(), 1);
    assert!(!alive(pid));
}

#[test]
fn a_command_that_exits_on_its_own_gives_keep_its_code() {
    let tv = TestVault::new();
    tv.set("A", "one");
    let out = tv.run(&[
        "exec",
        "--watch",
        "--",
        "sh",
        "-c",
        "test \"$A\" = one && exit 7",
    ]);
    assert_eq!(code(&out), 7, "{}", stderr(&out));
}

#[test]
fn a_rotation_with_a_hook_reaches_the_watched_command() {
    let (tv, log, keep) = started(false, &["--only", "A"]);
    std::fs::write(
        tv.path().join("keep.toml"),
        "[secrets.A]\ngenerator = \"token:24\"\nmax_age = \"90d\"\non_rotate = [\"printf %s \\\"$KEEP_NEW\\\" > hook.txt\"]\n",
    )
    .unwrap();
    let out = tv.run(&["rotate", "A"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    wait_until("the restart", || lines(&log, "start").len() == 2);
    let new = read(&tv.path().join("hook.txt"));
    assert_eq!(new.len(), 32, "the hook saw the new value first");
    assert_eq!(
        lines(&log, "start")[1],
        format!("start {} {new}", pid_of(&lines(&log, "start")[1]))
    );
    sigterm(&keep);
    finish(&tv, keep);
}

#[test]
fn materialize_dir_watch_swaps_atomically_and_a_reader_never_sees_a_mix() {
    let tv = TestVault::new();
    std::fs::write(tv.path().join("v.env"), "A=0\nB=0\n").unwrap();
    let out = tv.run(&["import", "v.env"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let dir = tv.path().join("secrets");
    let keep = spawn(&tv, &["materialize", "--dir", "secrets", "--watch"]);
    wait_until("the watcher", || said(&tv).contains("watching"));
    assert_eq!(read(&dir.join("A")), "0");
    // A reader that resolves `..data` once, as a program reading a mounted Secret does.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (dir, stop) = (dir.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut seen = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let Ok(data) = std::fs::read_link(dir.join("..data")) else {
                    continue;
                };
                let (a, b) = (
                    std::fs::read_to_string(dir.join(&data).join("A")),
                    std::fs::read_to_string(dir.join(&data).join("B")),
                );
                // The old folder can go between the two reads: that is no mix, read again.
                if let (Ok(a), Ok(b)) = (a, b) {
                    assert_eq!(a, b, "a mix of two versions in {}", data.display());
                    seen += 1;
                }
            }
            seen
        })
    };
    for round in 1..=5 {
        std::fs::write(tv.path().join("v.env"), format!("A={round}\nB={round}\n")).unwrap();
        let out = tv.run(&["import", "v.env"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        wait_until("the rewrite", || {
            read(&dir.join("A")) == round.to_string() && read(&dir.join("B")) == round.to_string()
        });
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0, "the reader read");
    // Each swap removes the previous folder (just after the swap).
    let data_folders = || {
        std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                keep::using::materialize::is_data_folder_name(&name.to_string_lossy())
            })
            .count()
    };
    wait_until("one data folder", || data_folders() == 1);
    sigterm(&keep);
    let (code, err) = finish(&tv, keep);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn materialize_file_watch_rewrites_the_file() {
    let tv = TestVault::new();
    tv.set("A", "one");
    let keep = spawn(&tv, &["materialize", "app.env", "--watch"]);
    let file = tv.path().join("app.env");
    wait_until("the watcher", || said(&tv).contains("watching"));
    assert!(read(&file).contains("A='one'"));
    tv.set("A", "two");
    wait_until("the rewrite", || read(&file).contains("A='two'"));
    assert!(read(&file).starts_with("# Generated by keep"));
    sigterm(&keep);
    assert_eq!(finish(&tv, keep).0, 0);
}

#[test]
fn the_watcher_stops_with_a_clear_message_when_keep_lock_runs() {
    let (tv, log, keep) = started(false, &[]);
    let pid = pid_of(&lines(&log, "start")[0]);
    let out = tv.run(&["lock"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (code, err) = finish(&tv, keep);
    assert_eq!(code, 6, "{err}");
    assert!(
        err.contains("the session was locked (`keep lock`)"),
        "{err}"
    );
    assert!(!alive(pid), "the command was stopped");
    assert_eq!(lines(&log, "term").len(), 1);
}

/// A watcher opened from `keep unlock --ttl`'s session ends with it: the first change after the
/// session expired stops it (exit 6) before anything new is decrypted.
#[test]
fn a_watcher_opened_from_the_session_stops_when_its_ttl_runs_out() {
    let tv = TestVault::new();
    tv.set("A", "one");
    let log = logging_child(&tv, false);
    let out = tv.run(&["unlock", "--ttl", "2s"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = std::fs::File::create(tv.path().join("keep.err")).unwrap();
    let keep = tv
        .keep(&["--verbose", "exec", "--watch", "--", "./child.sh"])
        .env_remove("KEEP_PASSPHRASE_FILE")
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap();
    wait_until("the first start", || lines(&log, "start").len() == 1);
    let pid = pid_of(&lines(&log, "start")[0]);
    wait_until("the session to expire", || {
        let out = tv
            .keep(&["get", "A"])
            .env_remove("KEEP_PASSPHRASE_FILE")
            .output()
            .unwrap();
        code(&out) == 6
    });
    tv.set("A", "two");
    let (code, err) = finish(&tv, keep);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("`keep unlock --ttl` ran out"), "{err}");
    assert!(!alive(pid), "the command was stopped");
    assert!(
        lines(&log, "start").iter().all(|l| !l.contains("two")),
        "the new value reached the command after the session ended"
    );
}

#[test]
fn the_watcher_stops_with_a_clear_message_when_the_vault_file_is_replaced() {
    let tv = TestVault::new();
    tv.set("A", "one");
    let copy = tv.path().join("copy.db");
    std::fs::copy(tv.vault_path(), &copy).unwrap();
    let keep = spawn(&tv, &["materialize", "app.env", "--watch"]);
    wait_until("the watcher", || said(&tv).contains("watching"));
    std::fs::rename(&copy, tv.vault_path()).unwrap();
    let (code, err) = finish(&tv, keep);
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains("was replaced or removed while keep watched it"),
        "{err}"
    );
}

#[test]
fn watch_flags_need_watch_and_bad_signals_are_usage_errors() {
    let tv = TestVault::new();
    for args in [
        &["exec", "--signal", "HUP", "--", "true"][..],
        &["exec", "--watch", "--signal", "NOPE", "--", "true"],
        &["exec", "--watch", "--grace", "soon", "--", "true"],
    ] {
        let out = tv.run(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
    }
}
