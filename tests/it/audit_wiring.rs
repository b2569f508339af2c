//! Commands that hand values out (exec, env, inject, export) or take them in (import) leave audit
//! entries naming the secrets, and the chain stays intact.

use crate::common;

use common::{code, stderr, TestVault};

fn entries(tv: &TestVault) -> Vec<serde_json::Value> {
    let out = tv.run(&["audit", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn reads_by(tv: &TestVault, command: &str) -> Vec<String> {
    entries(tv)
        .into_iter()
        .filter(|e| e["command"] == command && e["action"] == "read")
        .map(|e| e["secret"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn value_handling_commands_are_audited() {
    let tv = TestVault::new();
    tv.set("A", "alpha");
    tv.set("B", "bravo");
    assert_eq!(code(&tv.run(&["exec", "--", "true"])), 0);
    assert_eq!(
        reads_by(&tv, "exec"),
        ["keep://default/dev/A", "keep://default/dev/B"]
    );
    assert_eq!(code(&tv.run(&["env", "--format", "dotenv"])), 0);
    assert_eq!(reads_by(&tv, "env").len(), 2);
    std::fs::write(tv.path().join("t.tpl"), "a={{ keep://default/dev/A }}\n").unwrap();
    let out = tv.run(&["inject", "-i", "t.tpl", "-o", "out.txt", "--force"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(reads_by(&tv, "inject"), ["keep://default/dev/A"]);
    std::fs::write(tv.path().join("in.env"), "C=charlie\n").unwrap();
    assert_eq!(code(&tv.run(&["import", "in.env"])), 0);
    let writes: Vec<_> = entries(&tv)
        .into_iter()
        .filter(|e| e["command"] == "import" && e["action"] == "write")
        .map(|e| e["secret"].clone())
        .collect();
    assert_eq!(writes, [serde_json::json!("keep://default/dev/C")]);
    let out = tv.run(&["audit", "verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// The attack on accountability: a slot added without a trace. Every kind of slot (not only a
/// passphrase) leaves a `slot-add` entry, because the vault records it, not the command.
#[test]
fn every_slot_kind_records_a_slot_add_entry() {
    let tv = TestVault::new();
    let (_id, recipient) = crate::custody_support::age_identity(tv.path(), "id.txt");
    let out = tv.run(&["slot", "add", "age", "--recipient", &recipient]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = tv.run(&["slot", "add", "recovery"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let adds: Vec<_> = entries(&tv)
        .into_iter()
        .filter(|e| e["action"] == "slot-add")
        .map(|e| (e["command"].clone(), e["outcome"].clone()))
        .collect();
    assert_eq!(
        adds,
        [
            (serde_json::json!("slot add age"), serde_json::json!("ok")),
            (
                serde_json::json!("slot add recovery"),
                serde_json::json!("ok")
            ),
        ]
    );
    let out = tv.run(&["audit", "verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// A vault-aware scan reads every value to look for it: like `env`, it leaves a read entry naming
/// what it read. `--no-vault` reads nothing and records nothing.
#[test]
fn a_vault_aware_scan_is_audited_as_a_read_of_what_it_looked_for() {
    let tv = TestVault::new();
    tv.set("DB_PASS", "plain words no rule would flag");
    std::fs::write(tv.path().join("notes.txt"), "nothing to find\n").unwrap();
    assert!(tv.run(&["unlock", "--ttl", "2m"]).status.success());
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan"];
        args.extend_from_slice(extra);
        args.push("notes.txt");
        let out = tv
            .keep(&args)
            .env_remove("KEEP_PASSPHRASE_FILE")
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    };
    scan(&["--no-vault"]);
    assert!(reads_by(&tv, "scan").is_empty());
    scan(&[]);
    let _ = tv.run(&["lock"]);
    assert_eq!(reads_by(&tv, "scan"), ["keep://default/dev/DB_PASS"]);
    let out = tv.run(&["audit", "verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// `keep init` starts the log: its first entry is the vault's `init`, written in the transaction
/// that created the file (before, a new vault's log was empty until its first access).
#[test]
fn init_is_the_first_entry_of_the_log() {
    let tv = TestVault::new();
    let log = entries(&tv);
    assert_eq!(log[0]["action"], "init", "{log:?}");
    assert_eq!(log[0]["command"], "init", "{log:?}");
    let out = tv.run(&["audit", "verify"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}
