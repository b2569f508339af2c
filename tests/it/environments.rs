//! Environments that extend one another, settings beside secrets (keep.toml `[vars]`), `exec
//! --env-file` alone, and scope housekeeping (`cp`, `mv`, `scopes`, `rm A B`, `purge`), all through
//! the real binary with issue 19's keep.toml.

use crate::common::{code, stderr, stdout, TestVault};

/// The keep.toml of issue 19.
const TOML: &str = r#"project = "webapp"
default_env = "dev"

[vars]                 # settings that are not secret: committed here, never stored in the vault
LOG_LEVEL = "info"

[env.dev.vars]
PORT = "3000"

[env.prod]
extends = "shared"     # a name prod lacks is read from shared

[env.prod.vars]
PORT = "8080"
"#;

const DEV_KEY: &str = "dev-private-key-canary-0123456789";
const DB_URL: &str = "postgres://shared-db-canary/app";
const API_KEY: &str = "prod-api-key-canary-abcdefghij";

/// The vault with secrets in dev, shared and prod.
fn webapp() -> TestVault {
    let tv = TestVault::new();
    std::fs::write(tv.path().join("keep.toml"), TOML).unwrap();
    tv.set("DEV_KEY", DEV_KEY);
    tv.set("keep://webapp/shared/DB_URL", DB_URL);
    tv.set("keep://webapp/prod/API_KEY", API_KEY);
    tv
}

const SHOW: &str = "printf '%s|%s|%s|%s|%s' \"$PORT\" \"$LOG_LEVEL\" \"$API_KEY\" \"$DB_URL\" \"${DEV_KEY-unset}\"";

#[test]
fn prod_gets_its_own_and_shareds_secrets_and_its_port_and_never_devs() {
    let tv = webapp();
    let out = tv.run(&["--env", "prod", "exec", "--clean", "--", "sh", "-c", SHOW]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("8080|info|{API_KEY}|{DB_URL}|unset"),
        "dev's secret must not reach prod"
    );
    let out = tv.run(&["exec", "--clean", "--", "sh", "-c", SHOW]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("3000|info|||{DEV_KEY}"));

    // env, materialize, check and inject see the same view.
    let out = tv.run(&["--env", "prod", "env", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"API_KEY": API_KEY, "DB_URL": DB_URL, "LOG_LEVEL": "info", "PORT": "8080"})
    );
    let out = tv.run(&["--env", "prod", "materialize", "prod.env"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let written = std::fs::read_to_string(tv.path().join("prod.env")).unwrap();
    assert!(written.contains(&format!("DB_URL='{DB_URL}'")), "{written}");
    assert!(written.contains("PORT='8080'"), "{written}");
    std::fs::write(
        tv.path().join("t.tpl"),
        "port={{ keep://webapp/prod/PORT }} db={{ keep://webapp/prod/DB_URL }}\n",
    )
    .unwrap();
    let out = tv.run(&["inject", "-i", "t.tpl"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("port=8080 db={DB_URL}\n"));
    std::fs::write(
        tv.path().join("keep.toml"),
        TOML.replace(
            "[env.prod]\n",
            "[env.prod]\nrequired = [\"DB_URL\", \"PORT\", \"API_KEY\"]\n",
        ),
    )
    .unwrap();
    let out = tv.run(&["--env", "prod", "check"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));

    // The audit log names the record read: shared's, for an inherited secret.
    let out = tv.run(&["--json", "audit", "--action", "read"]);
    let log = stdout(&out);
    assert!(log.contains("keep://webapp/shared/DB_URL"), "{log}");
}

#[test]
fn ls_says_where_each_name_comes_from() {
    let tv = webapp();
    let out = tv.run(&["--env", "prod", "ls"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "API_KEY\nDB_URL  (inherited from shared)\nLOG_LEVEL  (setting, [vars])\nPORT  (setting, [env.prod.vars])\n"
    );
    let out = tv.run(&["--env", "prod", "--json", "ls"]);
    let items: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let origins: Vec<(String, String, String)> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                i["origin"].as_str().unwrap().to_string(),
                i["from"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("API_KEY", "own", ""),
        ("DB_URL", "inherited", "shared"),
        ("LOG_LEVEL", "setting", "[vars]"),
        ("PORT", "setting", "[env.prod.vars]"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(origins, want);
    assert_eq!(items[1]["address"], "keep://webapp/shared/DB_URL");
    assert!(items[2]["address"].is_null());
    // A secret of prod's own shadows shared's.
    tv.set("keep://webapp/prod/DB_URL", "postgres://prod-only-db/app");
    let out = tv.run(&[
        "--env",
        "prod",
        "exec",
        "--",
        "sh",
        "-c",
        "printf %s \"$DB_URL\"",
    ]);
    assert_eq!(stdout(&out), "postgres://prod-only-db/app");
}

#[test]
fn settings_are_never_redacted_masked_or_linted_and_example_writes_them() {
    let tv = webapp();
    // --redact: the setting is printed, the secret is not.
    let out = tv.run(&[
        "--env",
        "prod",
        "exec",
        "--redact",
        "--",
        "sh",
        "-c",
        "echo port=$PORT key=$API_KEY",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "port=8080 key=[REDACTED:API_KEY]\n");

    // github: no mask for a setting, one for each secret.
    let out = tv.run(&["--env", "prod", "env", "--format", "github"]);
    let text = stdout(&out);
    assert!(text.contains(&format!("::add-mask::{API_KEY}\n")), "{text}");
    assert!(text.contains(&format!("::add-mask::{DB_URL}\n")), "{text}");
    assert!(!text.contains("::add-mask::8080"), "{text}");
    assert!(!text.contains("::add-mask::info"), "{text}");
    assert!(text.contains("PORT<<"), "{text}");

    // lint: PORT=3000 is no "too-short" finding; the vault's secrets are long and distinct.
    let out = tv.run(&["--json", "lint"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.is_empty(), "{rules:?}");
    assert_eq!(code(&out), 0);

    // example: settings with their values, secrets blank.
    let out = tv.run(&["--env", "prod", "example", "-o", "-"]);
    let text = stdout(&out);
    assert!(text.contains("\nPORT=8080\n"), "{text}");
    assert!(text.contains("\nLOG_LEVEL=info\n"), "{text}");
    assert!(
        text.contains("\nAPI_KEY=\n") && text.contains("\nDB_URL=\n"),
        "{text}"
    );
    assert!(!text.contains(API_KEY) && !text.contains(DB_URL), "{text}");
}

#[test]
fn a_name_that_is_both_a_setting_and_a_secret_is_refused_naming_both() {
    let tv = webapp();
    tv.set("keep://webapp/shared/PORT", "9999-shared-secret-port");
    let out = tv.run(&["--env", "prod", "exec", "--", "true"]);
    // prod's own setting PORT and shared's secret PORT: refused, not one silently winning.
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("PORT is both a setting"), "{err}");
    assert!(
        err.contains("[env.prod.vars]") && err.contains("keep://webapp/shared/PORT"),
        "{err}"
    );
    assert!(!err.contains("9999-shared-secret-port"), "{err}");
    let out = tv.run(&["--json", "lint"]);
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains("setting-and-secret"),
        "{}",
        stdout(&out)
    );
    // dev does not extend shared: unaffected.
    let out = tv.run(&["exec", "--", "true"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn lint_flags_inheritance_into_a_sensitive_env_and_not_shared_values() {
    let tv = webapp();
    std::fs::write(
        tv.path().join("keep.toml"),
        TOML.replace(
            "extends = \"shared\"",
            "extends = \"shared\"\nsensitive = true",
        ),
    )
    .unwrap();
    let out = tv.run(&["--json", "lint"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["rule"], "inherited-into-sensitive");
    assert_eq!(
        findings[0]["secrets"],
        serde_json::json!(["keep://webapp/shared/DB_URL"])
    );
    // Marking shared sensitive too settles it.
    std::fs::write(
        tv.path().join("keep.toml"),
        TOML.replace(
            "extends = \"shared\"",
            "extends = \"shared\"\nsensitive = true",
        ) + "\n[env.shared]\nsensitive = true\n",
    )
    .unwrap();
    let out = tv.run(&["--json", "lint"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    // A real copy of a value in two environments is still reused-across-envs.
    tv.set("keep://webapp/prod/DB_URL", DB_URL);
    let out = tv.run(&["--json", "lint"]);
    assert!(
        stdout(&out).contains("reused-across-envs"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn env_file_alone_injects_only_its_entries() {
    let tv = webapp();
    std::fs::write(
        tv.path().join("app.env"),
        "API_KEY=keep://webapp/prod/API_KEY\nDB_URL=keep://webapp/prod/DB_URL\nMODE=literal\n",
    )
    .unwrap();
    // The current scope is dev: neither DEV_KEY nor dev's settings come along.
    let show = "printf '%s|%s|%s|%s|%s' \"$API_KEY\" \"$DB_URL\" \"$MODE\" \"${DEV_KEY-unset}\" \"${PORT-unset}\"";
    let out = tv.run(&["exec", "--env-file", "app.env", "--", "sh", "-c", show]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // The reference to prod's DB_URL resolves through prod's inheritance.
    assert_eq!(
        stdout(&out),
        format!("{API_KEY}|{DB_URL}|literal|unset|unset")
    );
    // The inherited environment stays (no --clean).
    let out = tv
        .keep(&[
            "exec",
            "--env-file",
            "app.env",
            "--",
            "sh",
            "-c",
            "printf %s \"$FROM_SHELL\"",
        ])
        .env("FROM_SHELL", "kept")
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "kept");
    // --with-scope adds the scope's view, the file's entries on top.
    let out = tv.run(&[
        "exec",
        "--env-file",
        "app.env",
        "--with-scope",
        "--",
        "sh",
        "-c",
        show,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{API_KEY}|{DB_URL}|literal|{DEV_KEY}|3000")
    );
    // --only names scope entries: meaningless without --with-scope, so refused.
    let out = tv.run(&[
        "exec",
        "--env-file",
        "app.env",
        "--only",
        "DEV_KEY",
        "--",
        "true",
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

#[test]
fn an_extends_cycle_is_exit_2_naming_it_and_unknown_keys_are_rejected() {
    let tv = webapp();
    std::fs::write(
        tv.path().join("keep.toml"),
        "project = \"webapp\"\n[env.prod]\nextends = \"shared\"\n[env.shared]\nextends = \"base\"\n\
         [env.base]\nextends = \"prod\"\n",
    )
    .unwrap();
    let out = tv.run(&["ls"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cycle") && err.contains("base -> prod -> shared -> base"),
        "{err}"
    );
    for bad in [
        "[env.prod]\nextend = \"shared\"\n",
        "[env.prod.vars]\nPORT = 8080\n",
        "[vars]\n1BAD = \"x\"\n",
        "[var]\nA = \"x\"\n",
    ] {
        std::fs::write(tv.path().join("keep.toml"), bad).unwrap();
        let out = tv.run(&["ls"]);
        assert_eq!(code(&out), 2, "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains("keep.toml"), "{}", stderr(&out));
    }
}

#[test]
fn cp_and_mv_copy_secrets_and_scopes_as_new_versions_with_audit_entries() {
    let tv = webapp();
    // A whole scope: prod's own secrets (not shared's, not settings) into staging.
    let out = tv.run(&["cp", "keep://webapp/prod", "keep://webapp/staging"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(tv.get("keep://webapp/staging/API_KEY"), API_KEY);
    let out = tv.run(&["--env", "staging", "--json", "ls"]);
    let items: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let own: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["origin"] == "own")
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(own, ["API_KEY"], "{items}");
    // One secret into a scope, then onto a name that holds another value: refused without --force.
    let out = tv.run(&["cp", "DEV_KEY", "keep://webapp/staging"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = tv.run(&["cp", "DEV_KEY", "keep://webapp/staging/API_KEY"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(!stderr(&out).contains(DEV_KEY), "{}", stderr(&out));
    assert_eq!(tv.get("keep://webapp/staging/API_KEY"), API_KEY);
    let out = tv.run(&[
        "--json",
        "cp",
        "--force",
        "DEV_KEY",
        "keep://webapp/staging/API_KEY",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc[0]["version"], 2, "{doc}");
    assert_eq!(tv.get("keep://webapp/staging/API_KEY"), DEV_KEY);
    // mv: the destination gets the value, the source is deleted (rollback can bring it back).
    let out = tv.run(&["mv", "keep://webapp/staging", "keep://webapp/qa"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(tv.get("keep://webapp/qa/DEV_KEY"), DEV_KEY);
    let out = tv.run(&["get", "keep://webapp/staging/DEV_KEY"]);
    assert_eq!(code(&out), 3);
    // The audit log has a write for each copy and a delete for each moved source.
    let out = tv.run(&["--json", "audit", "--name", "keep://webapp/qa/DEV_KEY"]);
    assert!(stdout(&out).contains("\"write\""), "{}", stdout(&out));
    let out = tv.run(&[
        "--json",
        "audit",
        "--name",
        "keep://webapp/staging/DEV_KEY",
        "--action",
        "delete",
    ]);
    assert!(stdout(&out).contains("\"delete\""), "{}", stdout(&out));
    // Bad operands: a scope into one secret, a copy onto itself.
    for args in [
        ["cp", "keep://webapp/prod", "keep://webapp/qa/X"],
        ["cp", "DEV_KEY", "keep://webapp/dev/DEV_KEY"],
    ] {
        let out = tv.run(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
    }
    let out = tv.run(&["cp", "keep://webapp/nothing", "keep://webapp/qa"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
}

#[test]
fn scopes_lists_counts_and_declared_empty_envs() {
    let tv = webapp();
    std::fs::write(
        tv.path().join("keep.toml"),
        format!("{TOML}\n[env.staging]\nrequired = [\"API_KEY\"]\n"),
    )
    .unwrap();
    tv.set("keep://other/dev/X", "another-projects-value-1234");
    tv.set("keep://webapp/prod/GONE", "to-be-deleted-value-1234");
    assert_eq!(code(&tv.run(&["rm", "keep://webapp/prod/GONE"])), 0);
    let out = tv.run(&["--json", "scopes"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let items: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<String> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{}/{} {} {} {}",
                i["project"].as_str().unwrap(),
                i["env"].as_str().unwrap(),
                i["secrets"],
                i["deleted"],
                i["declared"]
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "other/dev 1 0 false",
            "webapp/dev 1 0 true",
            "webapp/prod 1 1 true",
            "webapp/shared 1 0 true",
            "webapp/staging 0 0 true",
        ]
    );
    let out = tv.run(&["scopes"]);
    assert!(
        stdout(&out).contains("webapp/staging  0 secret(s) (declared in keep.toml)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn rm_takes_several_names_all_or_none() {
    let tv = webapp();
    tv.set("A", "value-of-a-123456789");
    tv.set("B", "value-of-b-123456789");
    // One name that does not exist: nothing is deleted.
    let out = tv.run(&["rm", "A", "NOPE", "B"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("NOPE"), "{}", stderr(&out));
    assert_eq!(tv.get("A"), "value-of-a-123456789");
    let out = tv.run(&["--json", "rm", "A", "B"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), 2, "{doc}");
    assert_eq!(code(&tv.run(&["get", "A"])), 3);
    assert_eq!(code(&tv.run(&["get", "B"])), 3);
}

#[test]
fn purge_drops_a_deleted_secrets_history_and_verify_stays_intact() {
    let tv = webapp();
    tv.set("OLD", "old-value-one-123456789");
    tv.set("OLD", "old-value-two-123456789");
    // A live secret is refused, and so is a purge without --yes.
    let out = tv.run(&["purge", "OLD", "--yes"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(!stderr(&out).contains("old-value"), "{}", stderr(&out));
    assert_eq!(code(&tv.run(&["rm", "OLD"])), 0);
    let out = tv.run(&["purge", "OLD"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(code(&tv.run(&["history", "OLD"])), 0);
    let out = tv.run(&["--json", "purge", "OLD", "--yes"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["versions"], 3, "{doc}");
    // Gone for good: no history, no rollback, not listed as deleted.
    assert_eq!(code(&tv.run(&["history", "OLD"])), 3);
    assert_eq!(code(&tv.run(&["rollback", "OLD", "--to", "1"])), 3);
    assert!(!stdout(&tv.run(&["ls", "--deleted"])).contains("OLD"));
    assert_eq!(code(&tv.run(&["purge", "OLD", "--yes"])), 3);
    // The manifest, heads and audit chain are consistent; other secrets read as before.
    let out = tv.run(&["verify"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let out = tv.run(&["audit", "verify"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(tv.get("DEV_KEY"), DEV_KEY);
    // The vault's file no longer holds the old values' records: a new secret of the same name
    // starts at version 1.
    tv.set("OLD", "a-new-value-123456789");
    let out = tv.run(&["--json", "history", "OLD"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["versions"].as_array().unwrap().len(), 1, "{doc}");
}

/// A keep.toml is committed, so anyone with a pull request can change it: a setting can neither
/// replace a vault secret (the conflict rule) nor plant a loader variable (the loader rule holds for
/// settings as for secrets).
#[test]
fn a_committed_setting_cannot_replace_a_secret_or_plant_a_loader_variable() {
    let tv = webapp();
    std::fs::write(
        tv.path().join("keep.toml"),
        TOML.replace(
            "[vars]",
            "[vars]\nLD_PRELOAD = \"/tmp/evil.so\"\nDEV_KEY = \"attacker-chosen-value\"",
        ),
    )
    .unwrap();
    let out = tv.run(&["exec", "--", "sh", "-c", "printf %s \"$DEV_KEY\""]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    std::fs::write(
        tv.path().join("keep.toml"),
        TOML.replace("[vars]", "[vars]\nLD_PRELOAD = \"/tmp/evil.so\""),
    )
    .unwrap();
    let out = tv.run(&[
        "exec",
        "--",
        "sh",
        "-c",
        "printf %s \"${LD_PRELOAD-unset}\"",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "unset");
    assert!(stderr(&out).contains("LD_PRELOAD"), "{}", stderr(&out));
}
