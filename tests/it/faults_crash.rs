//! Crash consistency: `keep set`, `rotate`, `import`, `pull` (against a real OpenBao dev server) and
//! `rekey` are SIGKILLed at a random point, 50 times each (250 kills), and after every kill the vault
//! must open, pass SQLite's `integrity_check` and `keep audit verify`, and give back every committed
//! value. Each command's write is one transaction, so a kill leaves all of it or none of it: a killed
//! import or pull never leaves half the names updated, and a killed rotation leaves the old value
//! current (with or without a pending one) or the new value current, never both; a killed re-key
//! leaves the old key's vault or the new key's, each verifying whole (`keep verify`).
//!
//! The kill point is uniform over 0..1.3× the command's own measured run time (measured once per
//! family, so a slower CI machine still gets kills spread over the whole run). The seed is printed;
//! `KEEP_FAULT_SEED=N cargo test --test faults_crash -- --nocapture` replays a run.

use crate::common;
use crate::faults_support;
use crate::sync_support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{code, stderr, stdout, TestVault};
use faults_support::{audit_ok, integrity_ok, names, versions, Rng};
use sync_support::Bao;

const ROUNDS: usize = 50;

/// What happened to one killed run.
#[derive(Default, Debug)]
struct Tally {
    /// Still running when SIGKILL arrived.
    killed_running: usize,
    /// Finished before the kill (exit 0).
    finished: usize,
    /// Killed while running and the write nevertheless committed (killed after the commit).
    killed_after_commit: usize,
    /// Killed while running before the commit: the vault shows the previous state.
    killed_before_commit: usize,
}

impl Tally {
    /// Count one round: `running` when the kill arrived, `ok` its exit, `wrote` whether its write
    /// is in the vault. A run that finished before the kill must have written.
    fn record(&mut self, round: usize, running: bool, ok: bool, wrote: bool) {
        match (running, wrote) {
            (false, _) => {
                assert!(ok && wrote, "round {round}: finished without writing");
                self.finished += 1
            }
            (true, true) => self.killed_after_commit += 1,
            (true, false) => self.killed_before_commit += 1,
        }
        self.killed_running += running as usize;
    }

    fn report(&self, family: &str) {
        eprintln!(
            "{family}: {ROUNDS} rounds: {} killed while running ({} before the commit, {} after it), \
             {} finished first",
            self.killed_running,
            self.killed_before_commit,
            self.killed_after_commit,
            self.finished
        );
        assert!(
            self.killed_before_commit > 0,
            "{family}: no kill landed before the commit; the kill points do not cover the write"
        );
    }
}

/// Spawn `cmd` (feeding `stdin`), SIGKILL it after `delay`, and say whether it was still running.
fn run_and_kill(mut cmd: Command, stdin: Option<&[u8]>, delay: Duration) -> (bool, bool) {
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let _ = pipe.write_all(bytes);
    }
    std::thread::sleep(delay);
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let status = child.wait().unwrap();
    (running, status.success())
}

/// How long one uninterrupted run of `make()` takes (the median of three), from the moment its
/// input is written.
fn measure(mut make: impl FnMut() -> (Command, Option<Vec<u8>>)) -> Duration {
    let mut times: Vec<Duration> = (0..3)
        .map(|_| {
            let (mut cmd, stdin) = make();
            let mut start = Instant::now();
            let mut child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            if let Some(bytes) = stdin {
                child.stdin.take().unwrap().write_all(&bytes).unwrap();
                // run_and_kill starts its delay once the input is written, so measure from there.
                start = Instant::now();
            }
            drop(child.stdin.take());
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            start.elapsed()
        })
        .collect();
    times.sort();
    times[1]
}

fn delay(rng: &mut Rng, typical: Duration) -> Duration {
    let max = typical.as_micros() as u64 * 13 / 10;
    Duration::from_micros(rng.below(max.max(1)))
}

/// The checks after every kill that do not depend on the command.
fn after_kill(tv: &TestVault, round: usize) {
    integrity_ok(&tv.vault_path());
    audit_ok(tv, &format!("round {round}"));
    assert!(names(tv).contains(&"STABLE".to_string()));
    assert_eq!(tv.get("STABLE"), "committed-before-the-storm");
}

/// Every version of `name` decrypts.
fn all_versions_decrypt(tv: &TestVault, name: &str) {
    for v in versions(tv, name) {
        let out = tv.run(&["get", name, "--version", &v.to_string()]);
        assert_eq!(code(&out), 0, "{name} version {v}: {}", stderr(&out));
    }
}

#[test]
fn killed_sets_leave_every_committed_value() {
    let mut rng = Rng::new("set");
    let tv = TestVault::new();
    tv.set("STABLE", "committed-before-the-storm");
    let value = |i: usize| format!("round-{i:03}-{}", "v".repeat(256 * 1024));
    let typical = measure(|| (tv.keep(&["set", "CRASHY"]), Some(value(999).into_bytes())));
    let mut t = Tally::default();
    let mut committed = versions(&tv, "CRASHY").len();
    for round in 0..ROUNDS {
        let (running, ok) = run_and_kill(
            tv.keep(&["set", "CRASHY"]),
            Some(value(round).as_bytes()),
            delay(&mut rng, typical),
        );
        after_kill(&tv, round);
        let now = versions(&tv, "CRASHY");
        assert_eq!(now, (1..=now.len() as u64).collect::<Vec<_>>(), "gaps");
        let wrote = now.len() == committed + 1;
        assert!(wrote || now.len() == committed, "round {round}: {now:?}");
        if wrote {
            assert_eq!(tv.get("CRASHY"), value(round));
        }
        t.record(round, running, ok, wrote);
        committed = now.len();
    }
    all_versions_decrypt(&tv, "CRASHY");
    t.report("set");
}

#[test]
fn killed_rotations_are_old_plus_pending_or_new_never_half() {
    let mut rng = Rng::new("rotate");
    let tv = TestVault::new();
    tv.set("STABLE", "committed-before-the-storm");
    tv.set("TOKEN", "the-first-token");
    // A hook that takes a moment widens the window between "pending stored" and "promoted".
    std::fs::write(
        tv.path().join("keep.toml"),
        "[secrets.TOKEN]\ngenerator = \"token:24\"\nmax_age = \"90d\"\non_rotate = [\"sleep 0.02\"]\n",
    )
    .unwrap();
    let pending = |tv: &TestVault| -> bool {
        let out = tv.run(&["status", "--json"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        let s = list.into_iter().find(|s| s["name"] == "TOKEN").unwrap();
        !s["pending"].is_null()
    };
    let typical = measure(|| (tv.keep(&["rotate", "TOKEN"]), None));
    let mut t = Tally::default();
    let mut left_pending = 0;
    for round in 0..ROUNDS {
        let before = versions(&tv, "TOKEN").len();
        let current = tv.get("TOKEN");
        let (running, ok) = run_and_kill(
            tv.keep(&["rotate", "TOKEN"]),
            None,
            delay(&mut rng, typical),
        );
        after_kill(&tv, round);
        let now = versions(&tv, "TOKEN").len();
        let is_pending = pending(&tv);
        if now == before + 1 {
            // Promoted: the new value is current and nothing is left pending.
            assert!(
                !is_pending,
                "round {round}: new value current AND still pending"
            );
            assert_ne!(tv.get("TOKEN"), current);
        } else {
            assert_eq!(now, before, "round {round}");
            assert_eq!(
                tv.get("TOKEN"),
                current,
                "round {round}: old value not current"
            );
            if is_pending {
                // The pending value decrypts.
                let out = tv.run(&["rotate", "TOKEN", "--show-pending"]);
                assert_eq!(code(&out), 0, "{}", stderr(&out));
                assert_eq!(stdout(&out).len(), 32);
                left_pending += 1;
            }
        }
        t.record(round, running, ok, now == before + 1);
    }
    all_versions_decrypt(&tv, "TOKEN");
    eprintln!("rotate: {left_pending} kills left the old value current with a pending one");
    t.report("rotate");
}

/// The tag every `PREFIXk` name of the current scope carries (they must all agree: one
/// transaction), or None before the first write. Values come from `keep env --format json`.
fn agreed_tag(tv: &TestVault, prefix: &str, n: usize) -> Option<String> {
    let present: Vec<String> = names(tv)
        .into_iter()
        .filter(|x| x.starts_with(prefix))
        .collect();
    if present.is_empty() {
        return None;
    }
    assert_eq!(present.len(), n, "half the names: {present:?}");
    let out = tv.run(&["env", "--format", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tags: Vec<String> = (0..n)
        .map(|k| {
            let v = doc[format!("{prefix}{k}")].as_str().unwrap();
            v.split('-').next().unwrap().to_string()
        })
        .collect();
    assert!(
        tags.iter().all(|t| t == &tags[0]),
        "names from different writes: {tags:?}"
    );
    Some(tags[0].clone())
}

/// ROUNDS rounds of: `prepare(tag)` (new values tagged `tag` for the `n` names `PREFIXk`), run
/// `cmd()` and kill it; then every name must carry this round's tag or all the previous one.
fn all_or_nothing_rounds(
    tv: &TestVault,
    rng: &mut Rng,
    typical: Duration,
    (prefix, n): (&str, usize),
    prepare: impl Fn(&str),
    cmd: impl Fn() -> Command,
) -> Tally {
    let mut t = Tally::default();
    let mut last = agreed_tag(tv, prefix, n);
    for round in 0..ROUNDS {
        let tag = format!("r{round:03}");
        prepare(&tag);
        let (running, ok) = run_and_kill(cmd(), None, delay(rng, typical));
        after_kill(tv, round);
        let now = agreed_tag(tv, prefix, n);
        let wrote = now.as_deref() == Some(tag.as_str());
        assert!(
            wrote || now == last,
            "round {round}: {now:?} after {last:?}"
        );
        t.record(round, running, ok, wrote);
        last = now;
    }
    t
}

#[test]
fn killed_imports_are_all_or_nothing() {
    const N: usize = 40;
    let mut rng = Rng::new("import");
    let tv = TestVault::new();
    tv.set("STABLE", "committed-before-the-storm");
    let file = tv.path().join("in.env");
    let write_file = |tag: &str| {
        let body: String = (0..N)
            .map(|k| format!("IMP_{k}={tag}-{k}-{}\n", "i".repeat(2048)))
            .collect();
        std::fs::write(&file, body).unwrap();
    };
    write_file("r999");
    let typical = measure(|| (tv.keep(&["import", "in.env"]), None));
    let t = all_or_nothing_rounds(&tv, &mut rng, typical, ("IMP_", N), write_file, || {
        tv.keep(&["import", "in.env"])
    });
    for k in 0..N {
        all_versions_decrypt(&tv, &format!("IMP_{k}"));
    }
    t.report("import");
}

#[test]
fn killed_pulls_from_openbao_are_all_or_nothing() {
    const N: usize = 20;
    let mut rng = Rng::new("pull");
    let bao = Bao::start();
    let tv = TestVault::new();
    std::fs::write(
        tv.path().join("keep.toml"),
        "project = \"app\"\n[sync.t]\nprovider = \"vault\"\nmount = \"secret\"\n\
         layout = \"bundle\"\npath = \"app/dev\"\n",
    )
    .unwrap();
    tv.set("STABLE", "committed-before-the-storm");
    let pull = || {
        let mut c = tv.keep(&["pull", "t", "--prefer", "remote"]);
        c.envs(sync_support::Peer::env(&bao));
        c
    };
    let remote = |tag: &str| {
        let fields: serde_json::Map<String, serde_json::Value> = (0..N)
            .map(|k| (format!("PULLED_{k}"), format!("{tag}-{k}-pulled").into()))
            .collect();
        let (status, body) = bao.api(
            "POST",
            "secret/data/app/dev",
            Some(serde_json::json!({ "data": fields })),
        );
        assert!((200..300).contains(&status), "{body}");
    };
    let mut n = 0;
    let typical = measure(|| {
        n += 1;
        remote(&format!("m{n}"));
        (pull(), None)
    });
    let t = all_or_nothing_rounds(&tv, &mut rng, typical, ("PULLED_", N), remote, pull);
    for k in 0..N {
        all_versions_decrypt(&tv, &format!("PULLED_{k}"));
    }
    t.report("pull");
}

/// The header MAC, which a committed re-key replaces (it is under the new key's check subkey).
fn header_check(tv: &TestVault) -> Vec<u8> {
    rusqlite::Connection::open(tv.vault_path())
        .unwrap()
        .query_row("SELECT value FROM meta WHERE key = 'check'", [], |r| {
            r.get(0)
        })
        .unwrap()
}

#[test]
fn killed_rekeys_leave_the_old_vault_or_the_new_one() {
    const N: usize = 60;
    let mut rng = Rng::new("rekey");
    let tv = TestVault::new();
    tv.set("STABLE", "committed-before-the-storm");
    let lines: String = (0..N).map(|k| format!("RK_{k}=value-{k}\n")).collect();
    std::fs::write(tv.path().join("in.env"), lines).unwrap();
    assert_eq!(code(&tv.run(&["import", "in.env"])), 0);
    let typical = measure(|| (tv.keep(&["rekey"]), None));
    let mut t = Tally::default();
    for round in 0..ROUNDS {
        let before = header_check(&tv);
        let (running, ok) = run_and_kill(tv.keep(&["rekey"]), None, delay(&mut rng, typical));
        after_kill(&tv, round);
        // Old or new, the whole vault verifies: never a mix of the two keys.
        let out = tv.run(&["verify"]);
        assert_eq!(code(&out), 0, "round {round}: {}", stderr(&out));
        for k in (0..N).step_by(7) {
            assert_eq!(tv.get(&format!("RK_{k}")), format!("value-{k}"));
        }
        t.record(round, running, ok, header_check(&tv) != before);
    }
    t.report("rekey");
}
