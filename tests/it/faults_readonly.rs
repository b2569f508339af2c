//! A read-only vault file or folder: every command that opens the vault, reads included (they append
//! to the audit log), fails up front with exit 8 and a message naming the path and what to do, and
//! nothing is lost: with write access back, every value and the audit chain are as before.
//!
//! Root ignores file modes, so the commands run as `nobody` (setgid/setuid 65534 in the child, on a
//! test folder chown'ed to it), and the read-only mount case remounts a tmpfs read-only (root is
//! refused there too).

use crate::common;
use crate::faults_support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{code, stderr, TestVault};
use faults_support::{audit_ok, feed, integrity_ok, versions};

const NOBODY: u32 = 65534;

/// The keep binary, somewhere `nobody` may execute it (a copy when the build folder is private).
fn binary_for_nobody(tv: &TestVault) -> PathBuf {
    let built = PathBuf::from(env!("CARGO_BIN_EXE_keep"));
    let ok = as_nobody(Command::new(&built).arg("--version"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return built;
    }
    // A hard link avoids copying the binary when the temp dir is on the same file system.
    let copy = tv.path().join("keep-bin");
    if std::fs::hard_link(&built, &copy).is_err() {
        std::fs::copy(&built, &copy).unwrap();
    }
    copy
}

fn as_nobody(cmd: &mut Command) -> &mut Command {
    // SAFETY: setgroups/setgid/setuid are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(NOBODY) != 0
                || libc::setuid(NOBODY) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

fn chown_r(p: &Path) {
    let st = Command::new("chown")
        .args(["-R", &format!("{NOBODY}:{NOBODY}")])
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `keep ARGS` as nobody with `stdin`.
fn run(bin: &Path, tv: &TestVault, args: &[&str], stdin: &[u8]) -> Output {
    // tv.keep's environment, with the binary nobody can run.
    let cmd = tv.keep(args);
    let mut cmd2 = Command::new(bin);
    cmd2.args(args).current_dir(tv.path()).env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            cmd2.env(k, v);
        }
    }
    feed(as_nobody(&mut cmd2), stdin)
}

fn refused(out: &Output, what: &str, path: &Path) {
    assert_eq!(code(out), 8, "{what}: {}", stderr(out));
    let err = stderr(out);
    assert!(err.contains(&path.display().to_string()), "{what}: {err}");
    assert!(err.contains("write access"), "{what}: {err}");
    assert!(err.contains("Nothing was changed"), "{what}: {err}");
    assert!(!err.contains("value-one"), "{what}: value in message");
}

/// The commands tried against a read-only vault: reads and writes.
const READS: &[&[&str]] = &[
    &["get", "A"],
    &["ls"],
    &["history", "A"],
    &["audit", "verify"],
];
const WRITES: &[&[&str]] = &[&["set", "B"], &["rm", "A"], &["rotate", "T"]];

fn setup() -> (TestVault, PathBuf) {
    let tv = TestVault::new();
    tv.set("A", "value-one");
    tv.set("A", "value-two");
    std::fs::write(
        tv.path().join("keep.toml"),
        "[secrets.T]\ngenerator = \"token:16\"\nmax_age = \"30d\"\n",
    )
    .unwrap();
    tv.set("T", "token-zero");
    chown_r(tv.path());
    // keep.toml stays root's: root's own checks below (`tv.run`) refuse a discovered keep.toml another
    // user owns, and nobody accepts one owned by root.
    std::os::unix::fs::chown(tv.path().join("keep.toml"), Some(0), Some(0)).unwrap();
    let bin = binary_for_nobody(&tv);
    // As nobody, with write access, everything works (the baseline the faults are measured against).
    let out = run(&bin, &tv, &["get", "A"], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Fold the WAL into the file (the last connection to close removes -wal and -shm), so the
    // folder holds the vault alone.
    {
        let c = rusqlite::Connection::open(tv.vault_path()).unwrap();
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    (tv, bin)
}

fn intact(tv: &TestVault, bin: &Path) {
    let out = run(bin, tv, &["get", "A"], b"");
    assert_eq!(common::stdout(&out), "value-two", "{}", stderr(&out));
    assert_eq!(versions(tv, "A"), vec![1, 2]);
    assert_eq!(versions(tv, "T"), vec![1]);
    assert_eq!(code(&tv.run(&["get", "B"])), 3);
    assert_eq!(tv.get("A"), "value-two");
    integrity_ok(&tv.vault_path());
    audit_ok(tv, "after the read-only fault");
}

#[test]
fn read_only_vault_file_refuses_reads_and_writes_by_name() {
    let (tv, bin) = setup();
    let vault = tv.vault_path();
    chmod(&vault, 0o400);
    for args in READS.iter().chain(WRITES) {
        let out = run(&bin, &tv, args, b"new-value");
        refused(&out, &format!("{args:?} on a 0400 vault"), &vault);
    }
    let out = run(&bin, &tv, &["--json", "get", "A"], b"");
    assert_eq!(code(&out), 8);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| serde_json::from_slice(&out.stderr).expect("a JSON error document"));
    assert_eq!(doc["error"]["kind"], "io", "{doc}");
    chmod(&vault, 0o600);
    intact(&tv, &bin);
}

#[test]
fn read_only_folder_refuses_when_sqlite_cannot_make_its_files() {
    let (tv, bin) = setup();
    let vault = tv.vault_path();
    let dir = vault.parent().unwrap().to_path_buf();
    for f in ["vault.db-wal", "vault.db-shm"] {
        assert!(!dir.join(f).exists(), "{f} left behind");
    }
    chmod(&dir, 0o500);
    for args in READS.iter().chain(WRITES) {
        let out = run(&bin, &tv, args, b"new-value");
        refused(&out, &format!("{args:?} in a 0500 folder"), &dir);
    }
    chmod(&dir, 0o700);
    intact(&tv, &bin);
}

#[test]
fn read_only_folder_with_writable_wal_files_still_works() {
    // SQLite needs the folder only to create its -wal/-shm files: when they exist and are
    // writable, a read-only folder is no fault, and keep does not refuse it.
    let (tv, bin) = setup();
    let dir = tv.vault_path().parent().unwrap().to_path_buf();
    for f in ["vault.db-wal", "vault.db-shm"] {
        std::fs::write(dir.join(f), b"").unwrap();
    }
    chown_r(&dir);
    chmod(&dir, 0o500);
    let out = run(&bin, &tv, &["get", "A"], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = run(&bin, &tv, &["set", "B"], b"bee");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    chmod(&dir, 0o700);
    assert_eq!(tv.get("B"), "bee");
    integrity_ok(&tv.vault_path());
    audit_ok(&tv, "read-only folder, writable WAL");
}

#[test]
fn read_only_mount_refuses_even_root() {
    let dir = tempfile::Builder::new()
        .prefix("keep-romount-")
        .tempdir()
        .unwrap();
    let mnt = dir.path();
    let sh = |args: &[&str]| {
        let out = Command::new("mount").args(args).arg(mnt).output().unwrap();
        assert!(
            out.status.success(),
            "mount {args:?} (needs root with CAP_SYS_ADMIN): {}",
            stderr(&out)
        );
    };
    sh(&["-t", "tmpfs", "-o", "size=4m", "tmpfs"]);
    struct Umount<'a>(&'a Path);
    impl Drop for Umount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Umount(mnt);
    let tv = TestVault::new();
    let vault = mnt.join("vault.db");
    let keep = |args: &[&str]| {
        let mut c = tv.keep(args);
        c.env("KEEP_VAULT", &vault);
        c
    };
    let out = keep(&["init", "--kdf-memory", "1MiB", "--kdf-iterations", "1"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut set = keep(&["set", "A"]).stdin(Stdio::piped()).spawn().unwrap();
    {
        use std::io::Write;
        set.stdin.take().unwrap().write_all(b"x").unwrap();
    }
    assert!(set.wait().unwrap().success());
    sh(&["-o", "remount,ro"]);
    for args in [&["get", "A"][..], &["ls"], &["set", "B"]] {
        let out = keep(args).output().unwrap();
        refused(&out, &format!("{args:?} on a read-only mount"), &vault);
        assert!(
            stderr(&out).contains("Read-only file system"),
            "{}",
            stderr(&out)
        );
    }
    sh(&["-o", "remount,rw"]);
    let out = keep(&["get", "A"]).output().unwrap();
    assert_eq!(common::stdout(&out), "x", "{}", stderr(&out));
    let out = keep(&["audit", "verify"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}
