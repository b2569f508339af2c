//! Round trips through the real binary: set/get/ls/rm/history/rollback, addresses and scopes, JSON
//! output, and the usage and not-found exit codes.

use crate::common;

use common::{code, stderr, stdout, TestVault};

#[test]
fn set_get_round_trips_text_multiline_and_unicode() {
    let tv = TestVault::new();
    for (name, value) in [
        ("PLAIN", "s3cr3t"),
        ("MULTI", "line one\nline two\n\"quoted\" $dollar #hash =eq"),
        ("UNICODE", "pässwörd-🔑"),
    ] {
        tv.set(name, value);
        assert_eq!(tv.get(name), value, "{name}");
    }
    // An empty value only on purpose.
    let out = tv.run_with_stdin(&["set", "EMPTY", "--allow-empty"], b"");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(tv.get("EMPTY"), "");
}

#[test]
fn stdin_loses_one_trailing_newline_unless_raw_and_files_are_exact() {
    let tv = TestVault::new();
    tv.run_with_stdin(&["set", "A"], b"value\n");
    assert_eq!(tv.get("A"), "value");
    tv.run_with_stdin(&["set", "B", "--raw"], b"value\n");
    assert_eq!(tv.get("B"), "value\n");
    let file = tv.path().join("cert.pem");
    std::fs::write(&file, b"-----BEGIN-----\n\x00\xffbinary\n").unwrap();
    let out = tv.run(&["set", "C", "--from-file", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let got = tv.run(&["get", "C"]);
    assert_eq!(got.stdout, b"-----BEGIN-----\n\x00\xffbinary\n");
    // Binary values come back base64-encoded in JSON.
    let json: serde_json::Value =
        serde_json::from_slice(&tv.run(&["get", "C", "--json"]).stdout).unwrap();
    assert!(
        json["value_base64"].is_string() && json.get("value").is_none(),
        "{json}"
    );
}

#[test]
fn every_change_is_a_version_and_rm_rollback_bring_values_back() {
    let tv = TestVault::new();
    tv.set("API_KEY", "one");
    tv.set("API_KEY", "two");
    let out = tv.run(&["rm", "API_KEY"]);
    assert_eq!(code(&out), 0);
    let out = tv.run(&["get", "API_KEY"]);
    assert_eq!(code(&out), 3, "a deleted secret is not found");
    assert!(stderr(&out).contains("deleted"), "{}", stderr(&out));
    let hist: serde_json::Value =
        serde_json::from_slice(&tv.run(&["history", "API_KEY", "--json"]).stdout).unwrap();
    let versions = hist["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 3);
    assert_eq!(versions[2]["deleted"], true);
    assert_eq!(code(&tv.run(&["rollback", "API_KEY", "--to", "1"])), 0);
    assert_eq!(tv.get("API_KEY"), "one");
    assert_eq!(
        String::from_utf8(tv.run(&["get", "API_KEY", "--version", "2"]).stdout).unwrap(),
        "two"
    );
    // Rolling back to a deletion, or to a version that does not exist, is refused.
    assert_eq!(code(&tv.run(&["rollback", "API_KEY", "--to", "3"])), 2);
    assert_eq!(code(&tv.run(&["rollback", "API_KEY", "--to", "99"])), 3);
    assert_eq!(code(&tv.run(&["get", "API_KEY", "--version", "99"])), 3);
}

#[test]
fn ls_lists_the_scope_and_all_envs_and_json() {
    let tv = TestVault::new();
    tv.set("B_NAME", "x");
    tv.set("A_NAME", "x");
    tv.set("keep://default/prod/PROD_ONLY", "x");
    tv.set("keep://other/dev/OTHER", "x");
    tv.set("GONE", "x");
    tv.run(&["rm", "GONE"]);
    assert_eq!(stdout(&tv.run(&["ls"])), "A_NAME\nB_NAME\n");
    assert_eq!(
        stdout(&tv.run(&["ls", "--all-envs"])),
        "dev/A_NAME\ndev/B_NAME\nprod/PROD_ONLY\n"
    );
    assert_eq!(stdout(&tv.run(&["ls", "--env", "prod"])), "PROD_ONLY\n");
    assert!(stdout(&tv.run(&["ls", "--deleted"])).contains("GONE (deleted)"));
    let json: serde_json::Value =
        serde_json::from_slice(&tv.run(&["ls", "--json"]).stdout).unwrap();
    let items = json.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["address"], "keep://default/dev/A_NAME");
    assert_eq!(items[0]["version"], 1);
}

#[test]
fn scope_comes_from_flags_env_vars_and_keep_toml() {
    let tv = TestVault::new();
    std::fs::write(
        tv.path().join("keep.toml"),
        "project = \"billing\"\ndefault_env = \"staging\"\n",
    )
    .unwrap();
    let sub = tv.path().join("src").join("deep");
    std::fs::create_dir_all(&sub).unwrap();
    let out = tv
        .keep(&["set", "DB"])
        .current_dir(&sub)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"v").unwrap();
            c.wait_with_output().unwrap()
        });
    assert_eq!(code(&out.unwrap()), 0);
    assert_eq!(tv.get("keep://billing/staging/DB"), "v");
    let out = tv
        .keep(&["get", "DB"])
        .env("KEEP_ENV", "prod")
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "KEEP_ENV overrides default_env");
    let out = tv.run(&["get", "DB", "--project", "billing", "--env", "staging"]);
    assert_eq!(stdout(&out), "v");
}

#[test]
fn bad_config_and_bad_names_are_usage_errors() {
    let tv = TestVault::new();
    std::fs::write(
        tv.path().join("keep.toml"),
        "project = \"p\"\ntypo_key = 1\n",
    )
    .unwrap();
    let out = tv.run(&["ls"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("typo_key") && stderr(&out).contains("line 2"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(tv.path().join("keep.toml")).unwrap();
    for bad in ["1ABC", "A-B", "keep://only/two", "A B"] {
        let out = tv.run(&["get", bad]);
        assert_eq!(code(&out), 2, "{bad}: {}", stderr(&out));
    }
    let out = tv.run_with_stdin(&["set", "BAD-NAME"], b"v");
    assert_eq!(code(&out), 2);
    let out = tv.run(&["get", "MISSING", "--json"]);
    assert_eq!(code(&out), 3);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["code"], 3);
    assert_eq!(json["error"]["kind"], "not_found");
}

#[test]
fn a_missing_vault_is_not_found_and_init_never_overwrites() {
    let tv = TestVault::empty();
    let out = tv.run(&["ls"]);
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("keep init"), "{}", stderr(&out));
    let tv = TestVault::new();
    let before = std::fs::read(tv.vault_path()).unwrap();
    let out = tv.run(&["init", "--kdf-memory", "1MiB", "--kdf-iterations", "1"]);
    assert_eq!(code(&out), 2);
    assert_eq!(std::fs::read(tv.vault_path()).unwrap(), before);
}

#[test]
fn completions_and_man_page_are_generated() {
    let tv = TestVault::empty();
    for shell in ["bash", "zsh", "fish"] {
        let out = tv.run(&["completions", shell]);
        assert_eq!(code(&out), 0);
        assert!(stdout(&out).contains("rollback"), "{shell}");
    }
    let man = stdout(&tv.run(&["man"]));
    assert!(man.contains(".TH keep"), "{}", &man[..man.len().min(200)]);
}
