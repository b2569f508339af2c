//! Rotation meets sync: a promoted value is pushed to every sync target of its scope (against a real
//! moto server), the breach plan names those targets, and a remote conflict is reported, not overwritten.

use crate::common;
use crate::sync_support;

use common::{code, stderr, stdout, TestVault};
use serde_json::json;
use sync_support::{Moto, Peer};

fn setup(moto: &Moto) -> TestVault {
    let tv = TestVault::new();
    let toml = format!(
        "project = \"app\"\n[sync.cloud]\n{}layout = \"per-key\"\nprefix = \"app/\"\n",
        moto.provider_toml()
    );
    std::fs::write(tv.path().join("keep.toml"), toml).unwrap();
    tv
}

fn keep(tv: &TestVault, moto: &Moto, args: &[&str]) -> std::process::Output {
    tv.keep(args).envs(moto.env()).output().unwrap()
}

fn remote(moto: &Moto, id: &str) -> String {
    let (status, body) = moto.call("GetSecretValue", json!({ "SecretId": id }));
    assert_eq!(status, 200, "{body}");
    body["SecretString"].as_str().unwrap().to_string()
}

#[test]
fn a_rotated_value_is_pushed_to_the_linked_target() {
    let moto = Moto::start();
    let tv = setup(&moto);
    tv.set("API_TOKEN", "before-rotation");
    let out = keep(&tv, &moto, &["push", "cloud"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(remote(&moto, "app/API_TOKEN"), "before-rotation");

    // The breach plan names the consumer that will be updated.
    let out = keep(&tv, &moto, &["rotate", "--all", "--dry-run", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("cloud"), "{}", stdout(&out));

    let out = keep(
        &tv,
        &moto,
        &["rotate", "API_TOKEN", "--generator", "hex:16"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let local = tv.get("API_TOKEN");
    assert_eq!(local.len(), 32);
    assert_eq!(
        remote(&moto, "app/API_TOKEN"),
        local,
        "the new value reached the target"
    );
}

#[test]
fn a_remote_change_stops_the_push_but_not_the_rotation() {
    let moto = Moto::start();
    let tv = setup(&moto);
    tv.set("API_TOKEN", "v1");
    assert_eq!(code(&keep(&tv, &moto, &["push", "cloud"])), 0);
    // A teammate changes the remote copy behind keep's back.
    let (status, _) = moto.call(
        "PutSecretValue",
        json!({ "SecretId": "app/API_TOKEN", "SecretString": "theirs" }),
    );
    assert_eq!(status, 200);
    let out = keep(
        &tv,
        &moto,
        &["rotate", "API_TOKEN", "--generator", "hex:16"],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("cloud"), "{}", stderr(&out));
    assert_eq!(
        tv.get("API_TOKEN").len(),
        32,
        "the rotation itself is promoted"
    );
    assert_eq!(
        remote(&moto, "app/API_TOKEN"),
        "theirs",
        "the teammate's change is not overwritten"
    );
}

#[test]
fn rotate_all_pushes_each_linked_target_once() {
    let moto = Moto::start();
    let tv = TestVault::new();
    let toml = format!(
        "project = \"app\"\n[sync.cloud]\n{}layout = \"bundle\"\npath = \"app/bundle\"\n",
        moto.provider_toml()
    );
    std::fs::write(tv.path().join("keep.toml"), toml).unwrap();
    for name in ["A_TOKEN", "B_TOKEN", "C_TOKEN"] {
        tv.set(&format!("keep://app/dev/{name}"), "before-rotation");
    }
    assert_eq!(code(&keep(&tv, &moto, &["push", "cloud"])), 0);
    let versions = |moto: &Moto| {
        let (status, body) = moto.call(
            "ListSecretVersionIds",
            json!({ "SecretId": "app/bundle", "IncludeDeprecated": true }),
        );
        assert_eq!(status, 200, "{body}");
        body["Versions"].as_array().unwrap().len()
    };
    let before = versions(&moto);
    let out = keep(&tv, &moto, &["rotate", "--all", "--generator", "hex:16"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Three promotions, one push: the bundle got exactly one new version holding all three values.
    assert_eq!(versions(&moto), before + 1);
    let (status, body) = moto.call("GetSecretValue", json!({ "SecretId": "app/bundle" }));
    assert_eq!(status, 200, "{body}");
    let doc: serde_json::Value =
        serde_json::from_str(body["SecretString"].as_str().unwrap()).unwrap();
    for name in ["A_TOKEN", "B_TOKEN", "C_TOKEN"] {
        let local = tv.get(&format!("keep://app/dev/{name}"));
        assert_eq!(local.len(), 32);
        assert_eq!(doc[name], local.as_str(), "{name} reached the target");
    }
}
