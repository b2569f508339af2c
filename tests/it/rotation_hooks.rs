//! Two-phase rotation with `on_rotate` hooks: hooks see the old and new values in their environment
//! only; a failing hook keeps the old value current, keeps the new one pending and exits 9; a retry
//! after the consumer is fixed promotes it; discard drops it.

use crate::common;

use common::{code, stderr, stdout, TestVault};

fn write_config(tv: &TestVault, hook: &str) {
    std::fs::write(
        tv.path().join("keep.toml"),
        format!("[secrets.API_TOKEN]\ngenerator = \"token:24\"\nmax_age = \"90d\"\non_rotate = [{hook:?}]\n"),
    )
    .unwrap();
}

fn status_of(tv: &TestVault, name: &str) -> serde_json::Value {
    let out = tv.run(&["status", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    list.into_iter().find(|s| s["name"] == name).unwrap()
}

#[test]
fn hooks_get_old_and_new_values_and_promotion_follows() {
    let tv = TestVault::new();
    tv.set("API_TOKEN", "the-old-token-value");
    write_config(
        &tv,
        "printf %s \"$KEEP_OLD\" > old.txt; printf %s \"$KEEP_NEW\" > new.txt; env > env.txt",
    );
    let out = tv.run(&["rotate", "API_TOKEN", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "rotated");
    assert_eq!(doc["version"], 2);
    let old = std::fs::read_to_string(tv.path().join("old.txt")).unwrap();
    let new = std::fs::read_to_string(tv.path().join("new.txt")).unwrap();
    assert_eq!(old, "the-old-token-value");
    assert_eq!(tv.get("API_TOKEN"), new);
    assert_eq!(new.len(), 32, "token:24 is 32 base64 characters");
    // keep's own credentials are not handed to hooks.
    let env = std::fs::read_to_string(tv.path().join("env.txt")).unwrap();
    assert!(!env.contains("KEEP_PASSPHRASE"), "{env}");
    // The previous version stays in history.
    let out = tv.run(&["get", "API_TOKEN", "--version", "1"]);
    assert_eq!(stdout(&out), "the-old-token-value");
}

#[test]
fn a_failing_hook_keeps_the_old_value_current() {
    let tv = TestVault::new();
    tv.set("API_TOKEN", "the-old-token-value");
    write_config(&tv, "echo consumer down >&2; exit 3");
    let out = tv.run(&["rotate", "API_TOKEN"]);
    assert_eq!(code(&out), 9, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("old value stays current"),
        "{}",
        stderr(&out)
    );
    // No value in the message.
    assert!(!stderr(&out).contains("the-old-token-value"));
    assert_eq!(tv.get("API_TOKEN"), "the-old-token-value");
    let history = tv.run(&["history", "API_TOKEN", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(doc["versions"].as_array().unwrap().len(), 1);

    // The pending value is kept for inspection.
    let s = status_of(&tv, "API_TOKEN");
    assert_eq!(
        s["pending"]["failed_hook"],
        "echo consumer down >&2; exit 3"
    );
    let pending = tv.run(&["rotate", "API_TOKEN", "--show-pending"]);
    assert_eq!(code(&pending), 0);
    let pending_value = stdout(&pending);
    assert_eq!(pending_value.len(), 32);
    assert_ne!(pending_value, "the-old-token-value");

    // Fix the consumer, retry: the same pending value is promoted.
    write_config(&tv, "true");
    let out = tv.run(&["rotate", "API_TOKEN", "--retry"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(tv.get("API_TOKEN"), pending_value);
    assert!(status_of(&tv, "API_TOKEN")["pending"].is_null());
    assert_eq!(code(&tv.run(&["rotate", "API_TOKEN", "--show-pending"])), 3);

    // The audit log has both rotations with their outcomes.
    let out = tv.run(&["audit", "--json", "--action", "rotate"]);
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let outcomes: Vec<&str> = entries
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["hook_failed", "ok"]);
}

#[test]
fn env_hooks_run_after_secret_hooks_and_discard_drops_pending() {
    let tv = TestVault::new();
    tv.set("API_TOKEN", "the-old-token-value");
    std::fs::write(
        tv.path().join("keep.toml"),
        "[secrets.API_TOKEN]\non_rotate = \"echo secret >> order.txt\"\n\
         [env.dev]\non_rotate = [\"echo env >> order.txt\", \"false\"]\n",
    )
    .unwrap();
    let out = tv.run(&["rotate", "API_TOKEN", "--generator", "hex:16"]);
    assert_eq!(code(&out), 9);
    let order = std::fs::read_to_string(tv.path().join("order.txt")).unwrap();
    assert_eq!(order, "secret\nenv\n");
    assert_eq!(code(&tv.run(&["rotate", "API_TOKEN", "--discard"])), 0);
    assert!(status_of(&tv, "API_TOKEN")["pending"].is_null());
    assert_eq!(tv.get("API_TOKEN"), "the-old-token-value");
}

#[test]
fn rotating_without_a_generator_is_a_usage_error() {
    let tv = TestVault::new();
    tv.set("MANUAL", "some-old-value-123");
    let out = tv.run(&["rotate", "MANUAL"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--generator"), "{}", stderr(&out));
    assert_eq!(code(&tv.run(&["rotate", "NOPE", "--generator", "uuid"])), 3);
}

#[test]
fn rotate_all_goes_on_past_a_failing_hook_and_exits_9() {
    let tv = TestVault::new();
    tv.set("GOOD", "good-old-value-123");
    tv.set("BAD", "bad-old-value-1234");
    std::fs::write(
        tv.path().join("keep.toml"),
        "[secrets.GOOD]\ngenerator = \"hex:16\"\nmax_age = \"1d\"\n\
         [secrets.BAD]\ngenerator = \"hex:16\"\nmax_age = \"1d\"\non_rotate = \"exit 1\"\n",
    )
    .unwrap();
    let out = tv.run(&["rotate", "--all", "--json"]);
    assert_eq!(code(&out), 9, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let status: Vec<(&str, &str)> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        status,
        [
            ("keep://default/dev/BAD", "hook-failed"),
            ("keep://default/dev/GOOD", "rotated")
        ]
    );
    assert_eq!(tv.get("BAD"), "bad-old-value-1234");
    assert_eq!(tv.get("GOOD").len(), 32);
}

#[test]
fn a_hook_that_hangs_is_stopped_at_the_timeout_with_its_children() {
    let tv = TestVault::new();
    tv.set("API_TOKEN", "the-old-token-value");
    // The hook leaves a child of its own behind (`sleep` in the background) and then hangs: both must
    // be stopped, or the background sleep would keep writing its pid file's marker.
    std::fs::write(
        tv.path().join("keep.toml"),
        "[rotate]\nhook_timeout = \"1s\"\n\n[secrets.API_TOKEN]\ngenerator = \"token:24\"\n\
         on_rotate = [\"(sleep 3; touch survived) & echo $! > child.pid; sleep 60\"]\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = tv.run(&["rotate", "API_TOKEN"]);
    let took = started.elapsed();
    assert_eq!(code(&out), 9, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("did not finish within 1s"),
        "{}",
        stderr(&out)
    );
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
    // The old value stays current and the new one pending, as for any failed hook.
    assert_eq!(tv.get("API_TOKEN"), "the-old-token-value");
    assert_eq!(code(&tv.run(&["rotate", "API_TOKEN", "--show-pending"])), 0);
    // The hook's own child was in its process group and was stopped with it.
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert!(
        !tv.path().join("survived").exists(),
        "the hook's background child outlived the timeout"
    );
}

#[test]
fn an_invalid_hook_timeout_is_a_usage_error() {
    let tv = TestVault::new();
    std::fs::write(
        tv.path().join("keep.toml"),
        "[rotate]\nhook_timeout = \"soon\"\n",
    )
    .unwrap();
    let out = tv.run(&["status"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[rotate] hook_timeout"),
        "{}",
        stderr(&out)
    );
}
