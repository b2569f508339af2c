//! Throwaway SoftHSM2 tokens and age identities for the custody tests.
//!
//! Each token lives in its own temp dir made by `softhsm/make-token.sh` (so the script is exercised
//! too), with `SOFTHSM2_CONF` pointing there; the system token directory is never touched. The HSM
//! lock file is per token, so tests on different tokens run in parallel.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::TestVault;

pub const PIN: &str = "1234";
pub const SO_PIN: &str = "12345678";
/// `slot add passphrase` with a cheap KDF (the new passphrase comes from KEEP_NEW_PASSPHRASE_FILE).
pub const ADD_CHEAP_PASSPHRASE: &[&str] = &[
    "slot",
    "add",
    "passphrase",
    "--kdf-memory",
    "1MiB",
    "--kdf-iterations",
    "1",
];

/// A SoftHSM2 token in a temp dir.
pub struct SoftToken {
    pub dir: tempfile::TempDir,
    pub label: String,
    pub module: PathBuf,
}

impl SoftToken {
    pub fn new(label: &str) -> SoftToken {
        let dir = tempfile::Builder::new()
            .prefix("keep-token-")
            .tempdir()
            .unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("softhsm/make-token.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg(dir.path())
            .args([label, PIN, SO_PIN])
            .output()
            .expect(
                "run softhsm/make-token.sh (is softhsm2 installed? scripts/setup.d/20-custody.sh)",
            );
        assert!(
            out.status.success(),
            "make-token.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let module = stdout
            .lines()
            .find_map(|l| l.strip_prefix("export KEEP_PKCS11_MODULE="))
            .filter(|m| !m.is_empty())
            .expect("make-token.sh found the SoftHSM2 module")
            .into();
        std::fs::write(dir.path().join("pin"), PIN).unwrap();
        std::fs::write(dir.path().join("bad-pin"), "9999").unwrap();
        SoftToken {
            dir,
            label: label.to_string(),
            module,
        }
    }

    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    pub fn pin_file(&self) -> PathBuf {
        self.dir.path().join("pin")
    }

    /// Point a keep command at this token (config, lock, PIN file).
    pub fn env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("SOFTHSM2_CONF", self.conf())
            .env("KEEP_PKCS11_LOCK", self.dir.path().join("keep.lock"))
            .env("KEEP_PKCS11_PIN_FILE", self.pin_file())
    }

    /// `keep ARGS` on `tv`'s vault with this token and PIN, and without the passphrase file.
    pub fn keep(&self, tv: &TestVault, args: &[&str]) -> Command {
        let mut cmd = tv.keep(args);
        cmd.env_remove("KEEP_PASSPHRASE_FILE");
        self.env(&mut cmd);
        cmd
    }

    /// `pkcs11-tool --module M --login --pin PIN --token-label LABEL ARGS`.
    pub fn pkcs11_tool(&self, args: &[&str]) -> Output {
        let out = Command::new("pkcs11-tool")
            .env("SOFTHSM2_CONF", self.conf())
            .arg("--module")
            .arg(&self.module)
            .args(["--login", "--pin", PIN, "--token-label", &self.label])
            .args(args)
            .output()
            .expect("run pkcs11-tool (opensc)");
        assert!(
            out.status.success(),
            "pkcs11-tool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// An AES-256 key made by pkcs11-tool; `safe` adds --sensitive --private.
    pub fn tool_keygen(&self, label: &str, safe: bool) {
        let mut args = vec!["--keygen", "--key-type", "AES:32", "--label", label];
        if safe {
            args.extend(["--sensitive", "--private"]);
        }
        self.pkcs11_tool(&args);
    }

    pub fn tool_delete_key(&self, label: &str) {
        self.pkcs11_tool(&["--delete-object", "--type", "secrkey", "--label", label]);
    }

    /// An HSM vault in `tv`: `init --hsm --generate` with key `key`.
    pub fn init_vault(&self, tv: &TestVault, key: &str) {
        let out = self
            .keep(
                tv,
                &[
                    "init",
                    "--hsm",
                    "--token",
                    &self.label,
                    "--key",
                    key,
                    "--generate",
                ],
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "init --hsm: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Add a passphrase slot (the test vault's passphrase) to an HSM vault, through the HSM slot.
    pub fn add_passphrase_slot(&self, tv: &TestVault) {
        let out = self
            .keep(tv, ADD_CHEAP_PASSPHRASE)
            .env("KEEP_NEW_PASSPHRASE_FILE", tv.pass_file())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "slot add passphrase: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Run `keep ARGS` with this token; returns the output.
    pub fn run(&self, tv: &TestVault, args: &[&str]) -> Output {
        self.keep(tv, args).output().unwrap()
    }

    /// `keep set NAME` with `value` on stdin through the HSM slot.
    pub fn set(&self, tv: &TestVault, name: &str, value: &str) {
        use std::io::Write;
        let mut child = self
            .keep(tv, &["set", name])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(value.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "set {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A new age identity file in `dir`; returns (path, recipient).
pub fn age_identity(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .expect("run age-keygen");
    assert!(
        out.status.success(),
        "age-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("age-keygen")
        .arg("-y")
        .arg(&path)
        .output()
        .unwrap();
    (
        path,
        String::from_utf8(out.stdout).unwrap().trim().to_string(),
    )
}
