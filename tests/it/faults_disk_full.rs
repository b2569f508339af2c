//! Disk full: a write that runs out of room fails with exit 8 and a message that says what happened
//! and what to do, and leaves the vault as it was (every earlier value readable, `integrity_check`
//! ok, the audit chain intact), and a retry once there is room succeeds.
//!
//! Two ways to run out: the file-size limit (`ulimit -f`, RLIMIT_FSIZE set in the child), where
//! write(2) fails with EFBIG and, by default, the kernel also sends SIGXFSZ, which killed keep
//! without a word before `hardening::ignore_sigxfsz`; and a real full file system, a 2 MiB tmpfs
//! (ENOSPC). Mounting needs root (CAP_SYS_ADMIN), which these tests have here and in CI.

use crate::common;
use crate::faults_support;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{code, stderr, stdout, TestVault};
use faults_support::{audit_ok, feed, integrity_ok, versions};

/// Run `cmd` with `stdin` as input and the file-size limit at `limit` bytes.
fn run_limited(mut cmd: Command, stdin: &[u8], limit: u64) -> Output {
    // SAFETY: only setrlimit, which is async-signal-safe, runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let r = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    feed(&mut cmd, stdin)
}

/// What the vault holds: every name's versions and current value.
fn snapshot(tv: &TestVault, names: &[&str]) -> Vec<(String, Vec<u64>, String)> {
    names
        .iter()
        .map(|n| (n.to_string(), versions(tv, n), tv.get(n)))
        .collect()
}

fn assert_failed_cleanly(out: &Output, what: &str, says: &str) {
    assert_eq!(
        out.status.code(),
        Some(8),
        "{what}: want exit 8 (system error), got {:?}: {}",
        out.status,
        stderr(out)
    );
    let err = stderr(out);
    assert!(err.contains(says), "{what}: {err}");
    assert!(err.contains("nothing was"), "{what}: {err}");
    assert!(
        !err.contains("xxxxxxxx"),
        "{what}: the value leaked into the message"
    );
}

#[test]
fn past_the_file_size_limit_set_and_import_fail_cleanly_and_change_nothing() {
    let tv = TestVault::new();
    tv.set("A", "first");
    tv.set("A", "second");
    tv.set("B", "other");
    let before = snapshot(&tv, &["A", "B"]);
    let big = "x".repeat(2 * 1024 * 1024);
    // Limit: well above the vault's files now, well below what a 2 MiB value needs.
    let limit = 512 * 1024;
    for f in ["vault.db", "vault.db-wal"] {
        let p = tv.vault_path().with_file_name(f);
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(len < limit / 2, "{} is already {len} bytes", p.display());
    }

    let out = run_limited(tv.keep(&["set", "BIG"]), big.as_bytes(), limit);
    assert_failed_cleanly(&out, "set past ulimit -f", "file-size limit");

    let env: String = (0..64)
        .map(|k| format!("IMP_{k}={}\n", "x".repeat(32 * 1024)))
        .collect();
    std::fs::write(tv.path().join("big.env"), env).unwrap();
    let out = run_limited(tv.keep(&["import", "big.env"]), b"", limit);
    assert_failed_cleanly(&out, "import past ulimit -f", "file-size limit");

    // JSON errors carry the same exit code and kind.
    let out = run_limited(tv.keep(&["--json", "set", "BIG"]), big.as_bytes(), limit);
    assert_eq!(code(&out), 8, "{}", stderr(&out));

    // Nothing changed.
    assert_eq!(snapshot(&tv, &["A", "B"]), before);
    assert_eq!(code(&tv.run(&["get", "BIG"])), 3);
    assert_eq!(code(&tv.run(&["get", "IMP_0"])), 3);
    integrity_ok(&tv.vault_path());
    audit_ok(&tv, "after EFBIG");
    // Without the limit the same commands work.
    tv.set("BIG", &big);
    assert_eq!(tv.get("BIG").len(), big.len());
    assert_eq!(code(&tv.run(&["import", "big.env"])), 0);
    assert_eq!(versions(&tv, "IMP_63"), vec![1]);
}

/// A tmpfs mounted for one test, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::Builder::new()
            .prefix("keep-tmpfs-")
            .tempdir()
            .unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mount -t tmpfs (this test needs root with CAP_SYS_ADMIN): {}",
            stderr(&out)
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Fill the file system holding `dir` to `free` bytes with a filler file; returns its path.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    loop {
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        let c = std::ffi::CString::new(dir.as_os_str().to_str().unwrap()).unwrap();
        // SAFETY: valid path and out-pointer.
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0);
        if st.f_bavail as u64 * st.f_frsize as u64 <= leave {
            break;
        }
        if f.write_all(&chunk).is_err() {
            break;
        }
    }
    f.sync_all().unwrap();
    filler
}

#[test]
fn on_a_full_tmpfs_set_and_import_fail_cleanly_and_change_nothing() {
    let fs = Tmpfs::mount("2m");
    let tv = TestVault::new();
    let vault = fs.path().join("vault.db");
    let keep = |args: &[&str]| {
        let mut c = tv.keep(args);
        c.env("KEEP_VAULT", &vault);
        c
    };
    let ok = |args: &[&str], stdin: &[u8]| {
        let out = feed(&mut keep(args), stdin);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        out
    };
    ok(
        &["init", "--kdf-memory", "1MiB", "--kdf-iterations", "1"],
        b"",
    );
    ok(&["set", "A"], b"first");
    ok(&["set", "A"], b"second");
    ok(&["set", "B"], b"other");
    let get = |n: &str| String::from_utf8(ok(&["get", n], b"").stdout).unwrap();
    let before = (get("A"), get("B"));
    let filler = fill(fs.path(), 128 * 1024);

    let big = "x".repeat(512 * 1024);
    let out = feed(&mut keep(&["set", "BIG"]), big.as_bytes());
    assert_failed_cleanly(&out, "set on a full disk", "disk is full");
    let env: String = (0..32)
        .map(|k| format!("IMP_{k}={}\n", "x".repeat(16 * 1024)))
        .collect();
    std::fs::write(tv.path().join("big.env"), env).unwrap();
    let out = feed(&mut keep(&["import", "big.env"]), b"");
    assert_failed_cleanly(&out, "import on a full disk", "disk is full");

    // Nothing changed, and the vault still opens, reads and verifies on the full disk.
    assert_eq!((get("A"), get("B")), before);
    assert_eq!(code(&feed(&mut keep(&["get", "BIG"]), b"")), 3);
    assert_eq!(code(&feed(&mut keep(&["get", "IMP_0"]), b"")), 3);
    let v = String::from_utf8(ok(&["get", "A", "--version", "1"], b"").stdout).unwrap();
    assert_eq!(v, "first");
    ok(&["audit", "verify"], b"");
    integrity_ok(&vault);

    // Not one byte left: even a read fails (it cannot append its audit entry, nor SQLite make its
    // -shm file), with exit 8 and the disk named, not "not a keep vault" (exit 5, before the fix).
    std::fs::remove_file(&filler).unwrap();
    let _ = std::fs::remove_file(vault.with_file_name("vault.db-shm"));
    let filler = fill(fs.path(), 0);
    for args in [&["get", "A"][..], &["ls"], &["audit", "verify"]] {
        let out = feed(&mut keep(args), b"");
        assert_failed_cleanly(&out, &format!("{args:?} on a 100% full disk"), "full");
        assert!(
            !stderr(&out).contains("not a keep vault"),
            "{}",
            stderr(&out)
        );
        assert!(
            !stdout(&out).contains("second"),
            "{args:?} printed the value"
        );
    }

    // Room again: the same commands succeed.
    std::fs::remove_file(filler).unwrap();
    ok(&["set", "BIG"], big.as_bytes());
    ok(&["import", "big.env"], b"");
    assert_eq!(get("BIG").len(), big.len());
    ok(&["audit", "verify"], b"");
    integrity_ok(&vault);
}
