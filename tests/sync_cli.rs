//! Sync command-line behaviour that needs no server: unknown targets, bad `[sync.*]` tables, and the
//! refusal to prune without a reason.

mod common;

use common::{code, stderr, TestVault};

fn with_toml(toml: &str) -> TestVault {
    let tv = TestVault::new();
    std::fs::write(tv.path().join("keep.toml"), toml).unwrap();
    tv
}

#[test]
fn an_unknown_target_is_not_found() {
    let tv = with_toml("[sync.prod]\nprovider = \"aws\"\nregion = \"us-east-1\"\n");
    let out = tv.run(&["diff", "staging"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("prod"),
        "the message lists the known targets: {}",
        stderr(&out)
    );
}

#[test]
fn a_misspelt_key_in_a_sync_table_is_a_usage_error() {
    let tv = with_toml("[sync.prod]\nprovider = \"aws\"\nprefx = \"a/\"\n");
    let out = tv.run(&["push", "prod"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("prefx"), "{}", stderr(&out));
}

#[test]
fn force_delete_requires_prune() {
    let tv = with_toml("[sync.prod]\nprovider = \"aws\"\n");
    let out = tv.run(&["push", "prod", "--force-delete-without-recovery"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

#[test]
fn a_vault_target_without_a_token_is_a_remote_failure_naming_the_target() {
    let tv = with_toml("[sync.team]\nprovider = \"vault\"\npath = \"app/dev\"\n");
    let out = tv
        .keep(&["pull", "team"])
        .env("VAULT_ADDR", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sync target team"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("VAULT_TOKEN"), "{}", stderr(&out));
}
