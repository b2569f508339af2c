//! Shared helpers for integration tests: a throwaway vault in a temp dir and the real `keep` binary.
//!
//! Every test gets its own folder, vault and passphrase file; nothing touches the user's real vault or
//! `$XDG_DATA_HOME`. Vaults are made with a tiny Argon2id cost so tests stay fast; the default cost is
//! exercised separately.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The passphrase of test vaults.
pub const PASSPHRASE: &str = "correct horse battery staple";

/// A temp folder holding a vault, a passphrase file and a fake XDG home.
pub struct TestVault {
    pub dir: tempfile::TempDir,
}

impl TestVault {
    /// A folder with no vault yet.
    pub fn empty() -> TestVault {
        let dir = tempfile::Builder::new()
            .prefix("keep-test-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(dir.path().join("pass"), format!("{PASSPHRASE}\n")).unwrap();
        TestVault { dir }
    }

    /// A folder with an initialised vault (cheap KDF).
    pub fn new() -> TestVault {
        let tv = TestVault::empty();
        let out = tv
            .keep(&["init", "--kdf-memory", "1MiB", "--kdf-iterations", "1"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tv
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn vault_path(&self) -> PathBuf {
        self.dir.path().join("data").join("vault.db")
    }

    pub fn pass_file(&self) -> PathBuf {
        self.dir.path().join("pass")
    }

    /// `keep ARGS` with this vault, the passphrase file, a clean environment and the temp dir as cwd.
    pub fn keep(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keep"));
        cmd.args(args)
            .current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("XDG_DATA_HOME", self.path().join("xdg"))
            .env("KEEP_VAULT", self.vault_path())
            .env("KEEP_PASSPHRASE_FILE", self.pass_file())
            .stdin(Stdio::null());
        // A session of its own, so keep has no controlling terminal even when the tests are run
        // from one: it must never prompt on the developer's terminal and wait.
        use std::os::unix::process::CommandExt;
        // SAFETY: setsid is async-signal-safe and touches nothing of the parent's.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        cmd
    }

    /// Run `keep ARGS` with `stdin` as input.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self
            .keep(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // keep may exit before reading stdin (a usage error, say): a broken pipe is its answer, not ours.
        if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe,
                "writing stdin: {e}"
            );
        }
        child.wait_with_output().unwrap()
    }

    /// Run `keep ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.keep(args).output().unwrap()
    }

    /// `keep set NAME` with `value` on stdin; panics on failure.
    pub fn set(&self, name: &str, value: &str) {
        let out = self.run_with_stdin(&["set", name], value.as_bytes());
        assert!(
            out.status.success(),
            "set {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `keep audit verify --json [extra]`: exit code and document.
    pub fn audit_verify_json(&self, extra: &[&str]) -> (i32, serde_json::Value) {
        let mut args = vec!["audit", "verify", "--json"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        let doc = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
        (code(&out), doc)
    }

    /// `keep get NAME`; panics on failure.
    pub fn get(&self, name: &str) -> String {
        let out = self.run(&["get", name]);
        assert!(
            out.status.success(),
            "get {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// The exit code, or a panic naming the signal.
pub fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {:?}", out.status))
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}
