//! The canary and a live keep process: caught while blocked (on stdin, on a rotation hook, on a
//! `--redact` child, on a sync server that never answers), keep's own `/proc/<pid>/cmdline` and
//! `/proc/<pid>/environ` must not hold the value. The processes keep starts on purpose (a hook, an
//! exec'd command) may, and each test checks that they do: that proves the look reaches the right
//! process and can see the value when it is there.
//!
//! And no core dump: with RLIMIT_CORE raised to unlimited before exec and SIGABRT sent while keep
//! holds the value, no core file appears, while the same setup on `sleep` does leave one (the
//! control, which fails loudly when the machine's core_pattern cannot write a core to the cwd).

use crate::canary_support;
use crate::common;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use canary_support::{
    assert_proc_clean, children, contains, proc_file, wait_blocked, wait_until, CANARY,
};
use common::TestVault;

/// Kill and reap a child when the test ends, however it ends.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `cmd` with stdin piped and its output discarded; killed and reaped when the guard drops.
fn spawn_quiet(cmd: &mut Command) -> (u32, Reap) {
    let child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (child.id(), Reap(child))
}

fn vault_with_canary() -> TestVault {
    let tv = TestVault::new();
    tv.set("API_KEY", CANARY);
    tv
}

/// The child of `pid` whose environment holds the canary (the hook or command keep started).
fn child_with_canary(pid: u32) -> Option<u32> {
    children(pid)
        .into_iter()
        .find(|c| contains(&proc_file(*c, "environ"), CANARY.as_bytes()))
}

#[test]
fn keep_blocked_on_stdin_in_set_holds_no_canary_in_argv_or_environ() {
    let tv = vault_with_canary();
    let (pid, mut reap) = spawn_quiet(&mut tv.keep(&["set", "SECOND"]));
    let mut stdin = reap.0.stdin.take().unwrap();
    // Half a value: keep has read it and waits for the rest.
    stdin.write_all(CANARY.as_bytes()).unwrap();
    stdin.flush().unwrap();
    wait_blocked(pid);
    assert_proc_clean("keep set, reading stdin", pid);
    drop(stdin);
    drop(reap);
}

/// Run `keep ARGS` until it has started a child holding the value, then check keep itself is clean
/// and that the child's environment has `var` (the control), and stop the child.
fn parent_clean_child_holds(tv: &TestVault, args: &[&str], what: &str, var: &[u8]) {
    let (pid, _reap) = spawn_quiet(&mut tv.keep(args));
    let mut holder = None;
    wait_until(&format!("the child of {what}"), || {
        holder = child_with_canary(pid);
        holder.is_some()
    });
    wait_blocked(pid);
    assert_proc_clean(what, pid);
    let holder = holder.unwrap();
    assert!(
        contains(&proc_file(holder, "environ"), var),
        "the child is the process with the value"
    );
    for p in children(holder).into_iter().chain([holder]) {
        let _ = Command::new("kill").arg(p.to_string()).status();
    }
}

#[test]
fn keep_waiting_for_a_rotation_hook_holds_no_canary_but_the_hook_does() {
    let tv = vault_with_canary();
    std::fs::write(
        tv.path().join("keep.toml"),
        "[secrets.API_KEY]\ngenerator = \"token:24\"\nmax_age = \"90d\"\non_rotate = [\"sleep 30\"]\n",
    )
    .unwrap();
    // The hook (sh -c 'sleep 30') gets the old value as KEEP_OLD.
    parent_clean_child_holds(
        &tv,
        &["rotate", "API_KEY"],
        "keep rotate, waiting for its hook",
        b"KEEP_OLD=",
    );
}

#[test]
fn exec_redact_keeps_the_value_in_the_child_only() {
    let tv = vault_with_canary();
    parent_clean_child_holds(
        &tv,
        &["exec", "--redact", "--", "sleep", "30"],
        "keep exec --redact, parent of its command",
        b"API_KEY=",
    );
}

#[test]
fn keep_pushing_to_a_server_that_never_answers_holds_no_canary() {
    let tv = vault_with_canary();
    // A listener that accepts and then says nothing: keep blocks on the response.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let _ = tx.send(());
            std::thread::sleep(std::time::Duration::from_secs(60));
            drop(stream);
        }
    });
    std::fs::write(
        tv.path().join("keep.toml"),
        "[sync.slow]\nprovider = \"vault\"\nmount = \"secret\"\npath = \"app/dev\"\n",
    )
    .unwrap();
    let (pid, _reap) = spawn_quiet(
        tv.keep(&["push", "slow"])
            .env("VAULT_ADDR", format!("http://127.0.0.1:{port}"))
            .env("VAULT_TOKEN", "not-a-real-token"),
    );
    rx.recv_timeout(std::time::Duration::from_secs(20))
        .expect("keep push connected to the listener");
    wait_blocked(pid);
    assert_proc_clean("keep push, waiting for the server", pid);
}

/// The core files a crash left in `dir` (core_pattern `core`: `core` or `core.<pid>`).
fn cores_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n == "core" || n.starts_with("core."))
        .collect()
}

/// Start `cmd` in `dir` with RLIMIT_CORE unlimited, wait until it blocks, SIGABRT it, and return the
/// core files left in `dir`.
fn abort_with_cores_on(
    mut cmd: Command,
    dir: &Path,
    before_abort: impl FnOnce(u32),
) -> Vec<String> {
    cmd.current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            let unlimited = libc::rlimit {
                rlim_cur: libc::RLIM_INFINITY,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &unlimited) == 0 {
                return Ok(());
            }
            // Without CAP_SYS_RESOURCE (a container) the hard limit cannot rise: take the soft limit
            // up to it. If that is 0 the control below fails and says so.
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_CORE, &mut lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_CORE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(CANARY.as_bytes());
    let pid = child.id();
    wait_blocked(pid);
    before_abort(pid);
    // SAFETY: kill with a pid we own and a valid signal.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGABRT) }, 0);
    let status = child.wait().unwrap();
    drop(stdin);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{status:?}");
    cores_in(dir)
}

#[test]
fn sigabrt_with_unlimited_core_size_leaves_no_core_of_keep() {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern")
        .expect("/proc/sys/kernel/core_pattern (the core-dump test needs Linux)");
    assert!(
        pattern.trim() == "core" || pattern.trim() == "core.%p" || pattern.trim() == "core.%e.%p",
        "this test needs core dumps written to the working directory, but \
         /proc/sys/kernel/core_pattern is {:?}. As root: `echo core > /proc/sys/kernel/core_pattern` \
         (a pipe such as systemd-coredump or apport would take the core away and make the test \
         meaningless)",
        pattern.trim()
    );

    // Control: the same setup on `sleep` does dump core, so the check below can fail.
    let control = tempfile::tempdir().unwrap();
    let mut sleep = Command::new("sleep");
    sleep.arg("30");
    let cores = abort_with_cores_on(sleep, control.path(), |_| {});
    assert!(
        !cores.is_empty(),
        "control: `sleep` killed by SIGABRT with RLIMIT_CORE raised left no core in {} \
         (core_pattern {:?}, this process's core limits: {:?}); the keep half of this test would \
         pass vacuously. Allow core dumps for the test run (`ulimit -c unlimited` before \
         scripts/test.sh, or a container with a nonzero hard core limit)",
        control.path().display(),
        pattern.trim(),
        std::fs::read_to_string("/proc/self/limits")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .unwrap_or("?")
    );

    // keep, blocked in `set` with the value half read: no core.
    let tv = vault_with_canary();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tv.keep(&["set", "SECOND"]);
    cmd.env("KEEP_VAULT", tv.vault_path());
    let cores = abort_with_cores_on(cmd, dir.path(), |pid| {
        let limits = String::from_utf8(proc_file(pid, "limits")).unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .unwrap();
        assert_eq!(
            line.split_whitespace().nth(4),
            Some("0"),
            "keep lowered the core limit it was given: {line}"
        );
    });
    assert!(
        cores.is_empty(),
        "keep left a core dump: {cores:?} in {}",
        dir.path().display()
    );
}

/// The owner of `/proc/<pid>/status`: the process's uid when it is dumpable, root when it is not
/// (proc(5), PR_SET_DUMPABLE).
fn proc_owner(pid: u32) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/status"))
        .unwrap()
        .uid()
}

#[test]
fn keep_is_not_dumpable() {
    const NOBODY: u32 = 65534;
    let tv = vault_with_canary();
    // keep runs as nobody, so the owner of its /proc files tells whether it is dumpable.
    let open_up = |p: &Path| {
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: chown on a path we created.
        assert_eq!(unsafe { libc::chown(c.as_ptr(), NOBODY, NOBODY) }, 0);
    };
    // Every file and folder of the temp home: keep as nobody writes the vault and, since the audit
    // witness, `$XDG_STATE_HOME/keep/` too.
    fn open_tree(dir: &Path, open_up: &dyn Fn(&Path)) {
        open_up(dir);
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                open_tree(&p, open_up);
            } else {
                open_up(&p);
            }
        }
    }
    open_tree(tv.path(), &open_up);
    let spawn_as_nobody = |mut cmd: Command| {
        // SAFETY: setgid/setuid are async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setgid(NOBODY) != 0 || libc::setuid(NOBODY) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };

    // Control: a plain program as nobody owns its /proc files.
    let mut sleeper = Command::new("sleep");
    sleeper.arg("30");
    let control = Reap(spawn_as_nobody(sleeper));
    wait_blocked(control.0.id());
    assert_eq!(
        proc_owner(control.0.id()),
        NOBODY,
        "control: a dumpable process owns its /proc files"
    );

    let mut keep = spawn_as_nobody(tv.keep(&["set", "SECOND"]));
    let mut stdin = keep.stdin.take().unwrap();
    stdin.write_all(CANARY.as_bytes()).unwrap();
    let pid = keep.id();
    let _reap = Reap(keep);
    wait_blocked(pid);
    let status = String::from_utf8(proc_file(pid, "status")).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.contains(&NOBODY.to_string())),
        "keep runs as nobody: {status}"
    );
    assert_eq!(
        proc_owner(pid),
        0,
        "keep's /proc files belong to root: it set PR_SET_DUMPABLE 0"
    );
}
