//! An attacker who can write the vault file but holds no passphrase, PIN or identity (sqlite3 on the
//! file): every attack of issue 13 on the vault's records and slots, through the real binary. Each
//! test asserts the exit code, that the message names what failed, and that nothing else was lost.

mod common;
mod custody_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{code, stderr, stdout, TestVault};
use custody_support::SoftToken;
use rusqlite::Connection;

fn db(tv: &TestVault) -> Connection {
    Connection::open(tv.vault_path()).unwrap()
}

/// `tests/data/planted_module.c` built into `dir`, writing `marker` when loaded.
fn planted_module(dir: &Path, marker: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/planted_module.c");
    let out = dir.join("planted.so");
    let cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(format!("-DMARKER=\"{}\"", marker.display()))
        .arg(&src)
        .output()
        .expect("run cc (a C compiler is needed to build the bundled SQLite too)");
    assert!(cc.status.success(), "cc: {}", stderr(&cc));
    out
}

#[test]
fn a_planted_module_path_is_never_loaded() {
    let token = SoftToken::new("planted");
    let tv = TestVault::empty();
    token.init_vault(&tv, "k");
    token.set(&tv, "KEPT", "safe-value");
    token.set(&tv, "OTHER", "other-value");
    let marker = token.dir.path().join("planted-ran");
    let so = planted_module(token.dir.path(), &marker);
    // The planted module works when loaded on purpose (so its absence below means something).
    let probe = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import ctypes; ctypes.CDLL({:?})",
            so.display().to_string()
        ))
        .output()
        .expect("run python3");
    assert!(probe.status.success(), "{}", stderr(&probe));
    assert!(
        marker.exists(),
        "loading the planted module writes the marker"
    );
    std::fs::remove_file(&marker).unwrap();
    let n = db(&tv)
        .execute(
            "UPDATE slots SET params = json_set(params, '$.module', ?1) WHERE kind = 'hsm'",
            [so.display().to_string()],
        )
        .unwrap();
    assert_eq!(n, 1);
    // No --module, no KEEP_PKCS11_MODULE, no settings file: the well-known SoftHSM path is used.
    let out = token.run(&tv, &["get", "KEPT"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "safe-value");
    assert!(
        !marker.exists(),
        "the module named by the vault file was loaded"
    );
    assert_eq!(token.run(&tv, &["get", "OTHER"]).stdout, b"other-value");

    // When no module loads, the recorded path is named as a hint, still without loading it.
    let out = token
        .keep(&tv, &["get", "KEPT"])
        .env("KEEP_PKCS11_MODULE", "/nonexistent/p11.so")
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/nonexistent/p11.so"),
        "{}",
        stderr(&out)
    );
    assert!(!marker.exists());
}

#[test]
fn the_per_user_setting_chooses_the_module_and_is_parsed_strictly() {
    let token = SoftToken::new("setting");
    let tv = TestVault::empty();
    token.init_vault(&tv, "k");
    token.set(&tv, "KEPT", "safe-value");
    let conf_dir = tv.path().join("config").join("keep");
    std::fs::create_dir_all(&conf_dir).unwrap();
    let conf = conf_dir.join("config.toml");
    let run = || {
        token
            .keep(&tv, &["get", "KEPT"])
            .env("XDG_CONFIG_HOME", tv.path().join("config"))
            .output()
            .unwrap()
    };
    // The setting names the module: it is the only candidate.
    std::fs::write(
        &conf,
        format!("pkcs11_module = {:?}\n", token.module.display().to_string()),
    )
    .unwrap();
    let out = run();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    std::fs::write(&conf, "pkcs11_module = \"/nonexistent/from-settings.so\"\n").unwrap();
    let out = run();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/nonexistent/from-settings.so"),
        "{}",
        stderr(&out)
    );
    // A misspelt key, a relative path or a file others may write: usage errors naming the file.
    for (text, mode, says) in [
        ("pkcs11_modul = \"/x.so\"\n", 0o600, "pkcs11_modul"),
        ("pkcs11_module = \"lib/x.so\"\n", 0o600, "absolute"),
        (
            &*format!("pkcs11_module = {:?}\n", token.module.display().to_string()),
            0o666,
            "writable",
        ),
    ] {
        std::fs::write(&conf, text).unwrap();
        std::fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap();
        let out = run();
        assert_eq!(code(&out), 2, "{text}: {}", stderr(&out));
        assert!(stderr(&out).contains("config.toml"), "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{says}: {}", stderr(&out));
    }
}
