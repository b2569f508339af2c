//! HSM faults between commands, against a real SoftHSM2 token: the PKCS#11 module becomes
//! unloadable (deleted, or replaced by a shared object that is not a PKCS#11 module), the token is
//! removed and re-inserted, and the PIN is wrong ten times in a row. Each fault has its exit code
//! and a message that names the problem and what to do (never the PIN), and once it is repaired the
//! vault opens again with the right PIN.
//!
//! What SoftHSM2 (2.6) does about wrong PINs, as this test pins down: it sets
//! CKF_USER_PIN_COUNT_LOW after a failed C_Login and clears it on the next good one, and never
//! sets CKF_USER_PIN_FINAL_TRY or CKF_USER_PIN_LOCKED nor returns CKR_PIN_LOCKED: it has no retry
//! counter, so it never locks. keep passes COUNT_LOW / FINAL_TRY on in its message, and maps
//! CKR_PIN_LOCKED (from tokens that do lock) to exit 4 with "ask the security officer"
//! (unit tests in src/hsm/mod.rs).
//!
//! A session the token drops mid-command is forced with a small shim module
//! (`tests/data/p11_lose_session.c`, built with `cc` here: the C compiler the bundled SQLite needs)
//! that forwards to SoftHSM2 but fails C_DecryptInit with CKR_SESSION_HANDLE_INVALID.

use crate::common;
use crate::custody_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{code, stderr, stdout, TestVault};
use custody_support::{SoftToken, PIN};

fn hsm_vault(token: &SoftToken) -> TestVault {
    let tv = TestVault::empty();
    token.init_vault(&tv, "k");
    token.set(&tv, "KEPT", "safe-value");
    tv
}

fn opens(token: &SoftToken, tv: &TestVault, module: Option<&Path>, when: &str) {
    let mut cmd = token.keep(tv, &["get", "KEPT"]);
    if let Some(m) = module {
        cmd.env("KEEP_PKCS11_MODULE", m);
    }
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 0, "{when}: {}", stderr(&out));
    assert_eq!(stdout(&out), "safe-value", "{when}");
}

fn no_pin(out: &Output, when: &str) {
    for pin in [PIN, "9999"] {
        assert!(
            !stderr(out).contains(pin),
            "{when}: the PIN is in the message"
        );
        assert!(!stdout(out).contains(pin), "{when}: the PIN is on stdout");
    }
}

/// A shared object that exists and loads but is not a PKCS#11 module.
fn not_a_pkcs11_module() -> PathBuf {
    let out = Command::new("ldconfig").arg("-p").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("libm.so.6"))
        .filter_map(|l| l.split("=> ").nth(1))
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("libm.so.6 in ldconfig -p")
}

#[test]
fn an_unloadable_module_is_exit_3_and_a_repaired_one_opens() {
    let token = SoftToken::new("mod");
    let tv = hsm_vault(&token);
    // The module the user named (KEEP_PKCS11_MODULE), as a copy we can break.
    let named = token.dir.path().join("module-copy.so");
    std::fs::copy(&token.module, &named).unwrap();
    opens(&token, &tv, Some(&named), "before the fault");

    let libm = not_a_pkcs11_module();
    for (fault, break_it) in [
        ("deleted", None),
        ("not a PKCS#11 module", Some(libm.as_path())),
    ] {
        std::fs::remove_file(&named).unwrap();
        if let Some(other) = break_it {
            std::fs::copy(other, &named).unwrap();
        }
        let out = token
            .keep(&tv, &["get", "KEPT"])
            .env("KEEP_PKCS11_MODULE", &named)
            .output()
            .unwrap();
        assert_eq!(code(&out), 3, "{fault}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&named.display().to_string()), "{fault}: {err}");
        assert!(
            err.contains("KEEP_PKCS11_MODULE"),
            "{fault}: says what to do: {err}"
        );
        assert!(!stdout(&out).contains("safe-value"));
        no_pin(&out, fault);
        // Repaired: the same command works again.
        std::fs::remove_file(&named).ok();
        std::fs::copy(&token.module, &named).unwrap();
        opens(
            &token,
            &tv,
            Some(&named),
            &format!("after repairing: {fault}"),
        );
    }

    // The module recorded in the slot is only a hint: when it goes, keep finds the installed one.
    let tv2 = TestVault::empty();
    let out = token
        .keep(
            &tv2,
            &[
                "init",
                "--hsm",
                "--token",
                "mod",
                "--key",
                "k2",
                "--generate",
                "--module",
            ],
        )
        .arg(&named)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    token.set(&tv2, "KEPT", "safe-value");
    std::fs::remove_file(&named).unwrap();
    opens(
        &token,
        &tv2,
        None,
        "recorded module deleted, installed one found",
    );
}

#[test]
fn a_removed_token_is_exit_3_and_a_reinserted_one_opens() {
    let token = SoftToken::new("gone");
    let tv = hsm_vault(&token);
    let tokens = token.dir.path().join("tokens");
    let away = token.dir.path().join("pulled-out");
    // Pull the token out: its folder leaves the token directory.
    std::fs::rename(&tokens, &away).unwrap();
    std::fs::create_dir(&tokens).unwrap();
    for args in [&["get", "KEPT"][..], &["ls"]] {
        let out = token.run(&tv, args);
        assert_eq!(code(&out), 3, "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("\"gone\"") && err.contains("not present"),
            "{err}"
        );
        assert!(err.contains("insert it"), "says what to do: {err}");
        no_pin(&out, "token removed");
    }
    // Put it back.
    std::fs::remove_dir(&tokens).unwrap();
    std::fs::rename(&away, &tokens).unwrap();
    opens(&token, &tv, None, "token re-inserted");
    let out = token.run(&tv, &["audit", "verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

fn token_flags(token: &SoftToken) -> String {
    let out = Command::new("pkcs11-tool")
        .env("SOFTHSM2_CONF", token.conf())
        .arg("--module")
        .arg(&token.module)
        .arg("-L")
        .output()
        .unwrap();
    assert!(out.status.success());
    stdout(&out)
        .lines()
        .find(|l| l.contains("token flags"))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn ten_wrong_pins_in_a_row_are_exit_4_each_and_softhsm_never_locks() {
    let token = SoftToken::new("pin");
    let tv = hsm_vault(&token);
    assert!(!token_flags(&token).contains("count low"));
    for attempt in 1..=10 {
        let out = token
            .keep(&tv, &["get", "KEPT"])
            .env("KEEP_PKCS11_PIN_FILE", token.dir.path().join("bad-pin"))
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(code(&out), 4, "attempt {attempt}: {err}");
        assert!(err.contains("wrong PIN"), "attempt {attempt}: {err}");
        assert!(
            err.contains("KEEP_PKCS11_PIN_FILE"),
            "says what to do: {err}"
        );
        // SoftHSM2 raises COUNT_LOW after a failed login; keep passes it on.
        assert!(
            err.contains("CKF_USER_PIN_COUNT_LOW"),
            "attempt {attempt}: {err}"
        );
        assert!(!err.contains("locked"), "SoftHSM2 does not lock: {err}");
        assert!(!stdout(&out).contains("safe-value"));
        no_pin(&out, "wrong PIN");
    }
    let flags = token_flags(&token);
    assert!(flags.contains("user PIN count low"), "{flags}");
    assert!(
        !flags.contains("locked") && !flags.contains("final try"),
        "{flags}"
    );
    // The right PIN still opens (no lockout), and clears the flag.
    opens(&token, &tv, None, "right PIN after ten wrong ones");
    assert!(!token_flags(&token).contains("count low"));
    // The chain is intact and the ten failures show up as unusual.
    let out = token.run(&tv, &["audit", "verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = token.run(&tv, &["audit", "--unusual"]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("failed-unlocks"), "{}", stdout(&out));
}

/// The session-losing shim, compiled into `dir`.
fn lose_session_shim(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/p11_lose_session.c");
    let out = dir.join("p11_lose_session.so");
    let cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-ldl")
        .output()
        .expect("run cc (a C compiler is needed to build the bundled SQLite too)");
    assert!(cc.status.success(), "cc: {}", stderr(&cc));
    out
}

#[test]
fn a_session_lost_mid_unwrap_is_retried_once_then_reported() {
    let token = SoftToken::new("lost");
    let tv = hsm_vault(&token);
    let shim = lose_session_shim(token.dir.path());
    let get = |lose: &str| {
        token
            .keep(&tv, &["get", "KEPT"])
            .env("KEEP_PKCS11_MODULE", &shim)
            .env("SHIM_REAL_MODULE", &token.module)
            .env("SHIM_LOSE_SESSIONS", lose)
            .output()
            .unwrap()
    };
    // Through the shim with no fault, it opens (the shim itself works).
    let out = get("0");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "safe-value");
    // The session is lost once: keep opens a fresh session, logs in again and succeeds.
    let out = get("1");
    assert_eq!(
        code(&out),
        0,
        "one lost session is retried: {}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "safe-value");
    // Lost again on the retry: reported, exit 8, says to retry; no second retry, no PIN.
    for lose in ["2", "-1"] {
        let out = get(lose);
        assert_eq!(code(&out), 8, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("session was lost"),
            "{}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("retry"), "{}", stderr(&out));
        assert!(!stdout(&out).contains("safe-value"));
        no_pin(&out, "session lost");
    }
    opens(&token, &tv, None, "after the lost sessions");
}
