//! HSM key slots against a real SoftHSM2 token: creation, unlocking, the key-attribute policy, and
//! every fault the issue lists, each with its exit code and with the data still reachable through
//! another slot.

use crate::common;
use crate::custody_support;

use common::{code, stderr, stdout, TestVault};
use custody_support::SoftToken;

#[test]
fn init_with_hsm_generates_a_safe_key_and_opens_with_the_pin() {
    let token = SoftToken::new("init");
    let tv = TestVault::empty();
    token.init_vault(&tv, "vault-key");
    token.set(&tv, "DB_URL", "postgres://x");
    let out = token.run(&tv, &["get", "DB_URL"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "postgres://x");

    // The key the token holds has the safe template.
    let out = token.run(&tv, &["hsm", "keys", "--token", "init", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let keys: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "vault-key")
        .unwrap();
    assert_eq!(key["sensitive"], true);
    assert_eq!(key["extractable"], false);
    assert_eq!(key["private"], true);
    assert_eq!(key["local"], true);

    // The slot list names the token and key, and `hsm info` sees GCM.
    let out = token.run(&tv, &["slot", "ls", "--json"]);
    let slots: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(slots[0]["kind"], "hsm");
    assert!(slots[0]["description"]
        .as_str()
        .unwrap()
        .contains("vault-key"));
    let out = token.run(&tv, &["hsm", "info", "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tok = info["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["token"]["label"] == "init")
        .expect("the token is listed");
    assert_eq!(tok["token"]["aes_gcm"], true);
}

#[test]
fn without_a_pin_or_terminal_an_hsm_vault_is_locked_at_once() {
    let token = SoftToken::new("locked");
    let tv = TestVault::empty();
    token.init_vault(&tv, "k");
    let start = std::time::Instant::now();
    let out = token
        .keep(&tv, &["ls"])
        .env_remove("KEEP_PKCS11_PIN_FILE")
        .output()
        .unwrap();
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(stderr(&out).contains("KEEP_PKCS11_PIN_FILE"));
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "it must not wait for input"
    );
}

#[test]
fn passphrase_slot_on_an_hsm_vault_and_hsm_slot_on_a_passphrase_vault() {
    let token = SoftToken::new("both");
    // HSM first, then a passphrase slot that opens without the token.
    let tv = TestVault::empty();
    token.init_vault(&tv, "k1");
    token.set(&tv, "A", "one");
    token.add_passphrase_slot(&tv);
    assert_eq!(
        tv.get("A"),
        "one",
        "the passphrase slot opens the HSM vault"
    );

    // Passphrase first, then an HSM slot that opens without the passphrase.
    let tv2 = TestVault::new();
    tv2.set("B", "two");
    let mut cmd = tv2.keep(&[
        "slot",
        "add",
        "hsm",
        "--token",
        "both",
        "--key",
        "k2",
        "--generate",
    ]);
    token.env(&mut cmd);
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = token.run(&tv2, &["get", "B"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "two");
}

#[test]
fn a_key_made_by_pkcs11_tool_is_accepted() {
    let token = SoftToken::new("tool");
    token.tool_keygen("made-outside", true);
    let tv = TestVault::empty();
    let out = token.run(
        &tv,
        &["init", "--hsm", "--token", "tool", "--key", "made-outside"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    token.set(&tv, "X", "y");
    assert_eq!(stdout(&token.run(&tv, &["get", "X"])), "y");
}

#[test]
fn a_weak_key_is_refused_unless_allowed_and_then_warned_about_every_time() {
    let token = SoftToken::new("weak");
    token.tool_keygen("weak-key", false); // no --sensitive, no --private
    let tv = TestVault::empty();
    let out = token.run(
        &tv,
        &["init", "--hsm", "--token", "weak", "--key", "weak-key"],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("not sensitive"), "{}", stderr(&out));
    assert!(
        !tv.vault_path().exists(),
        "a refused init leaves no vault behind"
    );

    let out = token.run(
        &tv,
        &[
            "init",
            "--hsm",
            "--token",
            "weak",
            "--key",
            "weak-key",
            "--allow-weak-key",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for _ in 0..2 {
        let out = token.run(&tv, &["ls"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("warning: HSM key \"weak-key\" is not sensitive"),
            "{}",
            stderr(&out)
        );
    }
}

/// An HSM vault with a passphrase slot too, so faults on the HSM side can be shown to lose nothing.
fn hsm_vault_with_passphrase(token: &SoftToken, key: &str) -> TestVault {
    let tv = TestVault::empty();
    token.init_vault(&tv, key);
    token.set(&tv, "KEPT", "safe");
    token.add_passphrase_slot(&tv);
    tv
}

#[test]
fn a_wrong_pin_is_exit_4() {
    let token = SoftToken::new("pin");
    let tv = hsm_vault_with_passphrase(&token, "k");
    let out = token
        .keep(&tv, &["get", "KEPT"])
        .env("KEEP_PKCS11_PIN_FILE", token.dir.path().join("bad-pin"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("wrong PIN"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("9999"), "the PIN is never echoed");
    assert_eq!(tv.get("KEPT"), "safe");
}

#[test]
fn a_missing_token_or_module_is_exit_3_naming_what_was_tried() {
    let token = SoftToken::new("gone");
    let tv = hsm_vault_with_passphrase(&token, "k");
    // A module path that does not load: a missing file, and a file that is not a library.
    for bad in [token.dir.path().join("nope.so"), token.pin_file()] {
        let out = token
            .keep(&tv, &["get", "KEPT"])
            .env("KEEP_PKCS11_MODULE", &bad)
            .output()
            .unwrap();
        assert_eq!(code(&out), 3, "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&bad.display().to_string()),
            "{}",
            stderr(&out)
        );
    }
    let tv2 = TestVault::empty();
    let out = token.run(
        &tv2,
        &[
            "init",
            "--hsm",
            "--module",
            "/nonexistent/p11.so",
            "--key",
            "k",
        ],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("/nonexistent/p11.so"));
    // A token that is not present.
    let out = token.run(
        &tv2,
        &["init", "--hsm", "--token", "no-such-token", "--key", "k"],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-token"), "{}", stderr(&out));
    let del = std::process::Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", token.conf())
        .args(["--delete-token", "--token", "gone"])
        .output()
        .unwrap();
    assert!(
        del.status.success(),
        "{}",
        String::from_utf8_lossy(&del.stderr)
    );
    let out = token.run(&tv, &["get", "KEPT"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("\"gone\""), "{}", stderr(&out));
    assert_eq!(tv.get("KEPT"), "safe", "the passphrase slot still opens");
}

#[test]
fn a_deleted_key_is_exit_3_and_a_replaced_key_is_exit_5() {
    let token = SoftToken::new("swap");
    token.tool_keygen("wrap", true);
    let tv = TestVault::empty();
    let out = token.run(&tv, &["init", "--hsm", "--token", "swap", "--key", "wrap"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    token.set(&tv, "KEPT", "safe");
    token.add_passphrase_slot(&tv);

    token.tool_delete_key("wrap");
    let out = token.run(&tv, &["get", "KEPT"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no secret key labelled \"wrap\""),
        "{}",
        stderr(&out)
    );

    token.tool_keygen("wrap", true); // same label, different key
    let out = token.run(&tv, &["get", "KEPT"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("replaced"), "{}", stderr(&out));
    assert_eq!(tv.get("KEPT"), "safe", "the passphrase slot still opens");

    // Swapped for a weak key under the same label: the attribute check refuses it on open.
    token.tool_delete_key("wrap");
    token.tool_keygen("wrap", false);
    let out = token.run(&tv, &["get", "KEPT"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--allow-weak-key"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn hsm_keygen_uses_the_safe_template_and_refuses_a_taken_label() {
    let token = SoftToken::new("gen");
    let tv = TestVault::empty();
    let out = token.run(
        &tv,
        &[
            "hsm", "keygen", "--token", "gen", "--key", "fresh", "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let key: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(key["label"], "fresh");
    assert_eq!(key["key_type"], "AES");
    assert_eq!(
        (&key["sensitive"], &key["extractable"], &key["private"]),
        (
            &serde_json::json!(true),
            &serde_json::json!(false),
            &serde_json::json!(true)
        )
    );
    let out = token.run(&tv, &["hsm", "keygen", "--token", "gen", "--key", "fresh"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    // The key made by keygen then serves a vault, with the token chosen by serial number.
    let out = token.run(&tv, &["hsm", "info", "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let serial = info["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["token"]["label"] == "gen")
        .map(|s| s["token"]["serial"].as_str().unwrap().to_string())
        .unwrap();
    let out = token.run(
        &tv,
        &["init", "--hsm", "--serial", &serial, "--key", "fresh"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    token.set(&tv, "S", "by serial");
    assert_eq!(stdout(&token.run(&tv, &["get", "S"])), "by serial");
}

#[test]
fn the_aes_key_wrap_fallback_round_trips() {
    let token = SoftToken::new("kw");
    let tv = TestVault::new();
    tv.set("A", "fallback");
    let mut cmd = tv.keep(&[
        "slot",
        "add",
        "hsm",
        "--token",
        "kw",
        "--key",
        "kw",
        "--generate",
        "--mechanism",
        "aes-key-wrap",
    ]);
    token.env(&mut cmd);
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = token.run(&tv, &["get", "A"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "fallback");
}

#[test]
fn eight_parallel_gets_on_one_hsm_vault_all_succeed() {
    let token = SoftToken::new("par");
    let tv = TestVault::empty();
    token.init_vault(&tv, "k");
    token.set(&tv, "A", "parallel");
    for round in 0..3 {
        let children: Vec<_> = (0..8)
            .map(|_| {
                token
                    .keep(&tv, &["get", "A"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert_eq!(code(&out), 0, "round {round}: {}", stderr(&out));
            assert_eq!(stdout(&out), "parallel");
        }
    }
}

#[test]
fn on_a_terminal_an_hsm_only_vault_asks_for_the_pin() {
    let token = SoftToken::new("tty");
    let tv = TestVault::empty();
    token.init_vault(&tv, "k");
    token.set(&tv, "A", "prompted");
    // `script` (util-linux) gives keep a pseudo-terminal; the PIN is typed into it.
    let keep = env!("CARGO_BIN_EXE_keep");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "(sleep 1; printf '{}\\n') | script -qec '{keep} get A' /dev/null",
            custody_support::PIN
        ))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", tv.path())
        .env("KEEP_VAULT", tv.vault_path())
        .env("SOFTHSM2_CONF", token.conf())
        .env("KEEP_PKCS11_LOCK", token.dir.path().join("keep.lock"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = child.wait().unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut text).unwrap();
    assert!(status.success(), "{text}");
    assert!(text.contains("HSM user PIN:"), "{text}");
    assert!(text.contains("prompted"), "{text}");
}
