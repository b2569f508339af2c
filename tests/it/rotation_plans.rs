//! Policies, `keep status`, `keep rotate --due` and the `--all --dry-run` breach plan.

use crate::common;

use common::{code, stderr, stdout, TestVault};

fn status(tv: &TestVault, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["status", "--json"];
    args.extend_from_slice(extra);
    let out = tv.run(&args);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn find<'a>(list: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    list.iter().find(|s| s["name"] == name).unwrap()
}

/// A vault with: DUE (policy 1s + generator), MANUAL_DUE (policy 1s, no generator), FRESH (policy
/// 30d + generator), PLAIN (no policy), and a prod secret with a hook declared in keep.toml.
fn setup() -> TestVault {
    let tv = TestVault::new();
    for n in ["DUE", "MANUAL_DUE", "FRESH", "PLAIN"] {
        tv.set(n, &format!("{n}-initial-value"));
    }
    let ok = |args: &[&str]| {
        let out = tv.run(args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
    };
    ok(&[
        "policy",
        "set",
        "DUE",
        "--max-age",
        "1s",
        "--generator",
        "token:16",
    ]);
    ok(&["policy", "set", "MANUAL_DUE", "--max-age", "1s"]);
    ok(&[
        "policy",
        "set",
        "FRESH",
        "--max-age",
        "30d",
        "--generator",
        "uuid",
    ]);
    std::fs::write(
        tv.path().join("keep.toml"),
        "[secrets.DB_PASSWORD]\nmax_age = \"90d\"\ngenerator = \"password:32\"\n\
         on_rotate = \"./update-db.sh\"\n[env.prod]\non_rotate = \"systemctl reload app\"\n",
    )
    .unwrap();
    let out = tv.run_with_stdin(
        &["set", "keep://default/prod/DB_PASSWORD"],
        b"prod-db-password-1",
    );
    assert_eq!(code(&out), 0);
    let out = tv.run_with_stdin(
        &["set", "keep://default/prod/STRIPE_KEY"],
        b"sk_live_abcdef12345",
    );
    assert_eq!(code(&out), 0);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    tv
}

#[test]
fn status_marks_overdue_and_never_rotated() {
    let tv = setup();
    let list = status(&tv, &[]);
    assert_eq!(list.len(), 4, "only the current scope");
    assert_eq!(find(&list, "DUE")["overdue"], true);
    assert_eq!(find(&list, "DUE")["never_rotated"], true);
    assert_eq!(find(&list, "DUE")["policy"]["generator"], "token:16");
    assert_eq!(find(&list, "FRESH")["overdue"], false);
    assert!(find(&list, "PLAIN")["policy"].is_null());
    assert_eq!(find(&list, "PLAIN")["overdue"], false);
    let all = status(&tv, &["--all-envs"]);
    let db = find(&all, "DB_PASSWORD");
    assert_eq!(db["policy"]["source"], "keep.toml");
    assert_eq!(db["policy"]["max_age_secs"], 90 * 86400);
    // Human output: marks present, no colour when stdout is not a terminal.
    let out = tv.run(&["status"]);
    let text = stdout(&out);
    assert!(text.contains("overdue"), "{text}");
    assert!(!text.contains('\x1b'), "{text}");
}

#[test]
fn rotate_due_rotates_only_overdue_secrets_with_a_generator() {
    let tv = setup();
    let before: Vec<String> = ["DUE", "MANUAL_DUE", "FRESH", "PLAIN"]
        .iter()
        .map(|n| tv.get(n))
        .collect();
    let out = tv.run(&["rotate", "--due", "--dry-run", "--json"]);
    assert_eq!(code(&out), 0);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = plan["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["keep://default/dev/DUE", "keep://default/dev/MANUAL_DUE"]
    );
    assert_eq!(plan["plan"][1]["generator"], "manual");

    let out = tv.run(&["rotate", "--due"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("rotate it by hand"),
        "{}",
        stderr(&out)
    );
    let after: Vec<String> = ["DUE", "MANUAL_DUE", "FRESH", "PLAIN"]
        .iter()
        .map(|n| tv.get(n))
        .collect();
    assert_ne!(after[0], before[0], "DUE rotated");
    assert_eq!(after[0].len(), 22, "token:16");
    assert_eq!(after[1..], before[1..], "nothing else changed");
    let list = status(&tv, &[]);
    // Rotated: a new version, and younger than MANUAL_DUE by at least the second that made both
    // due. (Not `overdue == false`: with a 1 s policy, a loaded machine can make it due again.)
    assert_eq!(find(&list, "DUE")["version"], 2);
    assert_eq!(find(&list, "DUE")["never_rotated"], false);
    let age = |n: &str| find(&list, n)["age_secs"].as_u64().unwrap();
    assert!(age("DUE") < age("MANUAL_DUE"), "{list:?}");
    assert_eq!(find(&list, "MANUAL_DUE")["overdue"], true);
}

#[test]
fn breach_plan_lists_every_secret_with_generator_and_consumers_and_changes_nothing() {
    let tv = setup();
    let before = tv.run(&["get", "keep://default/prod/DB_PASSWORD"]);
    let out = tv.run(&["rotate", "--all", "--env", "prod", "--dry-run", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["dry_run"], true);
    let plan = doc["plan"].as_array().unwrap();
    assert_eq!(plan.len(), 2);
    assert_eq!(plan[0]["address"], "keep://default/prod/DB_PASSWORD");
    assert_eq!(plan[0]["generator"], "password:32");
    assert_eq!(
        plan[0]["consumers"],
        serde_json::json!(["./update-db.sh", "systemctl reload app"])
    );
    assert_eq!(plan[1]["address"], "keep://default/prod/STRIPE_KEY");
    assert_eq!(plan[1]["generator"], "manual");
    assert_eq!(
        plan[1]["consumers"],
        serde_json::json!(["systemctl reload app"])
    );
    // Human form prints the same plan.
    let text = stdout(&tv.run(&["rotate", "--all", "--env", "prod", "--dry-run"]));
    assert!(
        text.contains("manual") && text.contains("./update-db.sh"),
        "{text}"
    );
    // Nothing changed.
    let after = tv.run(&["get", "keep://default/prod/DB_PASSWORD"]);
    assert_eq!(before.stdout, after.stdout);
    let history = tv.run(&["history", "keep://default/prod/DB_PASSWORD", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(doc["versions"].as_array().unwrap().len(), 1);
}

#[test]
fn rotate_all_carries_out_the_plan_and_reports_per_secret() {
    let tv = setup();
    std::fs::write(tv.path().join("keep.toml"), "").unwrap();
    let out = tv.run(&["rotate", "--all", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    let by: std::collections::HashMap<&str, &str> = results
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(by["keep://default/dev/DUE"], "rotated");
    assert_eq!(by["keep://default/dev/FRESH"], "rotated");
    assert_eq!(by["keep://default/dev/MANUAL_DUE"], "manual");
    assert_eq!(by["keep://default/dev/PLAIN"], "manual");
    assert!(uuid::Uuid::parse_str(&tv.get("FRESH")).is_ok());
}

#[test]
fn policy_flags_are_checked() {
    let tv = TestVault::new();
    tv.set("A", "value-of-a-123456");
    assert_eq!(
        code(&tv.run(&["policy", "set", "A", "--max-age", "soon"])),
        2
    );
    assert_eq!(
        code(&tv.run(&[
            "policy",
            "set",
            "A",
            "--max-age",
            "1d",
            "--generator",
            "md5"
        ])),
        2
    );
    assert_eq!(code(&tv.run(&["policy", "rm", "A"])), 3);
    assert_eq!(code(&tv.run(&["policy", "set", "A", "--max-age", "1d"])), 0);
    assert_eq!(code(&tv.run(&["policy", "rm", "A"])), 0);
    assert_eq!(code(&tv.run(&["rotate", "A", "--dry-run"])), 2);
}

/// `keep status` on a terminal (via `script`, from bsdutils, which Debian always installs): overdue
/// is red; NO_COLOR turns colour off.
#[test]
fn status_is_coloured_on_a_terminal_unless_no_color() {
    let tv = setup();
    let on_tty = |no_color: bool| -> String {
        // The test vault's environment, handed to `keep status` run under a pseudo-terminal.
        let cmd = tv.keep(&[]);
        let cmd_line = format!("{} status", env!("CARGO_BIN_EXE_keep"));
        let out = std::process::Command::new("script")
            .args(["-qec", &cmd_line, "/dev/null"])
            .envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
            .env_remove("NO_COLOR")
            .envs(no_color.then_some(("NO_COLOR", "1")))
            .current_dir(tv.path())
            .output()
            .expect("script (bsdutils)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = on_tty(false);
    assert!(coloured.contains("\x1b[31moverdue\x1b[0m"), "{coloured:?}");
    let plain = on_tty(true);
    assert!(
        plain.contains("overdue") && !plain.contains('\x1b'),
        "{plain:?}"
    );
}
