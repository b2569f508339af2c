//! The sync conformance suite: every provider, in every layout, against its real server (moto for
//! AWS Secrets Manager, OpenBao for Vault KV), through the real `keep` binary.
//!
//! Each scenario is written once against the `Peer` trait and instantiated per provider and layout by
//! the macro at the bottom; provider-specific cases (AWS pagination, Vault KV v1, CAS, tokens,
//! namespaces) follow it.

use crate::common;
use crate::sync_support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{code, stderr, stdout, TestVault};
use sync_support::gcp::Gcp;
use sync_support::kubernetes::Kube;
use sync_support::{Bao, Loc, Moto, Peer};

/// A test vault with one target `t` pointing at `peer`.
struct Case<'a> {
    tv: TestVault,
    peer: &'a dyn Peer,
    loc: Loc,
}

impl<'a> Case<'a> {
    fn new(peer: &'a dyn Peer, loc: Loc) -> Case<'a> {
        let tv = TestVault::new();
        let toml = format!(
            "project = \"app\"\n[sync.t]\n{}{}",
            peer.provider_toml(),
            loc.toml()
        );
        std::fs::write(tv.path().join("keep.toml"), toml).unwrap();
        Case { tv, peer, loc }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.tv.keep(args);
        c.envs(self.peer.env());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_eq!(
            code(&out),
            0,
            "keep {args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        out
    }

    fn set(&self, name: &str, value: &str) {
        let mut child = self
            .cmd(&["set", name])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(value.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "set {name}: {}", stderr(&out));
    }

    fn get(&self, name: &str) -> String {
        stdout(&self.ok(&["get", name]))
    }

    fn remote(&self, name: &str) -> Option<String> {
        self.peer.remote_get(&self.loc, name)
    }
}

fn push_and_pull_round_trip(peer: &dyn Peer, loc: Loc) {
    let c = Case::new(peer, loc);
    c.set("DB_URL", "postgres://one");
    c.set("API_KEY", "k1");
    let drift = c.run(&["diff", "t"]);
    assert_eq!(code(&drift), 1, "{}", stderr(&drift));
    assert!(stdout(&drift).contains("+ DB_URL"), "{}", stdout(&drift));
    c.ok(&["push", "t", "--dry-run"]);
    assert_eq!(c.remote("DB_URL"), None, "--dry-run wrote to the remote");
    c.ok(&["push", "t"]);
    assert_eq!(c.remote("DB_URL").as_deref(), Some("postgres://one"));
    assert_eq!(c.remote("API_KEY").as_deref(), Some("k1"));
    assert_eq!(code(&c.run(&["diff", "t"])), 0);

    // A teammate changes one value and adds another remotely.
    c.peer.remote_set(&c.loc, "DB_URL", "postgres://two");
    c.peer.remote_set(&c.loc, "NEW_ONE", "fresh");
    let drift = c.run(&["diff", "t", "--json"]);
    assert_eq!(code(&drift), 1);
    let doc: serde_json::Value = serde_json::from_slice(&drift.stdout).unwrap();
    let marks: Vec<(String, String)> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["mark"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        marks,
        vec![
            ("DB_URL".into(), "~".into()),
            ("NEW_ONE".into(), "-".into())
        ]
    );
    assert!(
        !String::from_utf8_lossy(&drift.stdout).contains("postgres://"),
        "diff printed a value"
    );

    c.ok(&["pull", "t", "--dry-run"]);
    assert_eq!(c.get("DB_URL"), "postgres://one");
    c.ok(&["pull", "t"]);
    assert_eq!(c.get("DB_URL"), "postgres://two");
    assert_eq!(c.get("NEW_ONE"), "fresh");
    // The pull made a new local version, so rollback still works.
    let history = stdout(&c.ok(&["history", "DB_URL"]));
    assert!(history.contains("\n2 "), "{history}");
    assert_eq!(code(&c.run(&["diff", "t"])), 0);
}

fn conflicts_stop_both_directions(peer: &dyn Peer, loc: Loc) {
    let c = Case::new(peer, loc);
    c.set("TOKEN", "base");
    c.set("OTHER", "same");
    c.ok(&["push", "t"]);
    c.set("TOKEN", "mine");
    c.peer.remote_set(&c.loc, "TOKEN", "theirs");

    let push = c.run(&["push", "t"]);
    assert_eq!(code(&push), 1, "{}", stderr(&push));
    assert!(stderr(&push).contains("TOKEN"), "{}", stderr(&push));
    assert_eq!(
        c.remote("TOKEN").as_deref(),
        Some("theirs"),
        "a conflicting push changed the remote"
    );
    let pull = c.run(&["pull", "t"]);
    assert_eq!(code(&pull), 1);
    assert_eq!(
        c.get("TOKEN"),
        "mine",
        "a conflicting pull changed the local value"
    );

    c.ok(&["pull", "t", "--prefer", "remote"]);
    assert_eq!(c.get("TOKEN"), "theirs");
    assert_eq!(code(&c.run(&["diff", "t"])), 0);

    // And the other way round.
    c.set("TOKEN", "mine2");
    c.peer.remote_set(&c.loc, "TOKEN", "theirs2");
    c.ok(&["push", "t", "--prefer", "local"]);
    assert_eq!(c.remote("TOKEN").as_deref(), Some("mine2"));
}

fn prune_deletes_only_marked(peer: &dyn Peer, prefix: &str) {
    let c = Case::new(peer, Loc::PerKey(prefix.into()));
    c.set("KEEP_ME", "1");
    c.set("DROP_ME", "2");
    c.ok(&["push", "t"]);
    c.peer.create_unmarked(prefix, "FOREIGN", "not ours");
    c.ok(&["rm", "DROP_ME"]);
    c.ok(&["rm", "KEEP_ME"]);
    c.set("KEEP_ME", "1");

    let push = c.ok(&["push", "t"]);
    assert!(stdout(&push).contains("--prune"), "{}", stdout(&push));
    assert_eq!(
        c.remote("DROP_ME").as_deref(),
        Some("2"),
        "deleted without --prune"
    );

    c.ok(&["push", "t", "--prune"]);
    assert_eq!(c.remote("DROP_ME"), None, "--prune left a marked secret");
    assert_eq!(
        c.remote("FOREIGN").as_deref(),
        Some("not ours"),
        "--prune deleted an unmarked secret"
    );
    assert_eq!(c.remote("KEEP_ME").as_deref(), Some("1"));

    // A pruned name pushed again comes back (AWS: out of its recovery window; Vault: over a soft delete).
    c.set("DROP_ME", "3");
    c.ok(&["push", "t"]);
    assert_eq!(c.remote("DROP_ME").as_deref(), Some("3"));
}

fn prune_removes_fields_from_a_bundle(peer: &dyn Peer) {
    let c = Case::new(peer, Loc::Bundle("app/bundle".into()));
    c.set("STAY", "1");
    c.set("GO", "2");
    c.ok(&["push", "t"]);
    c.ok(&["rm", "GO"]);
    c.ok(&["push", "t"]);
    assert_eq!(
        c.remote("GO").as_deref(),
        Some("2"),
        "removed without --prune"
    );
    c.ok(&["push", "t", "--prune", "--dry-run"]);
    assert_eq!(
        c.remote("GO").as_deref(),
        Some("2"),
        "--dry-run removed a field"
    );
    c.ok(&["push", "t", "--prune"]);
    assert_eq!(c.remote("GO"), None);
    assert_eq!(c.remote("STAY").as_deref(), Some("1"));
    assert_eq!(code(&c.run(&["diff", "t"])), 0);
}

fn down_server_is_exit_7_and_changes_nothing(
    peer: &dyn Peer,
    loc: Loc,
    down_env: Vec<(String, String)>,
) {
    let c = Case::new(peer, loc);
    c.set("A", "local");
    for args in [&["push", "t"][..], &["pull", "t"], &["diff", "t"]] {
        let out = c.cmd(args).envs(down_env.clone()).output().unwrap();
        assert_eq!(code(&out), 7, "keep {args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("sync target t"), "{err}");
        assert!(err.contains(&format!("{} failed", args[0])), "{err}");
        assert!(!err.contains("local"), "the value leaked: {err}");
    }
    assert_eq!(c.get("A"), "local");
    assert_eq!(
        stdout(&c.ok(&["history", "A"])).lines().count(),
        2,
        "a failed pull wrote a version"
    );
}

fn closed_port() -> String {
    format!("http://127.0.0.1:{}", sync_support::free_port())
}

macro_rules! conformance {
    ($modname:ident, $start:expr) => {
        mod $modname {
            use super::*;

            #[test]
            fn round_trip_per_key() {
                push_and_pull_round_trip(&$start, Loc::PerKey("app/dev/".into()));
            }
            #[test]
            fn round_trip_bundle() {
                push_and_pull_round_trip(&$start, Loc::Bundle("app/dev".into()));
            }
            #[test]
            fn conflicts_per_key() {
                conflicts_stop_both_directions(&$start, Loc::PerKey("app/dev/".into()));
            }
            #[test]
            fn conflicts_bundle() {
                conflicts_stop_both_directions(&$start, Loc::Bundle("app/dev".into()));
            }
            #[test]
            fn prune_bundle() {
                prune_removes_fields_from_a_bundle(&$start);
            }
            #[test]
            fn prune_marked_only() {
                prune_deletes_only_marked(&$start, "app/prune/");
            }
        }
    };
}

conformance!(aws, Moto::start());
conformance!(vault_kv2, Bao::start());
conformance!(vault_kv1, {
    let mut bao = Bao::start();
    bao.enable_kv("kv1", 1);
    bao.mount = "kv1".into();
    bao
});

conformance!(gcp, Gcp::start());

/// Providers with one object per target (Kubernetes: one Secret) run the bundle scenarios; their
/// prune case is provider-specific below.
macro_rules! conformance_bundle_only {
    ($modname:ident, $start:expr, $bundle:expr) => {
        mod $modname {
            use super::*;

            #[test]
            fn round_trip_bundle() {
                push_and_pull_round_trip(&$start, Loc::Bundle($bundle.into()));
            }
            #[test]
            fn conflicts_bundle() {
                conflicts_stop_both_directions(&$start, Loc::Bundle($bundle.into()));
            }
        }
    };
}

conformance_bundle_only!(kubernetes, Kube::start(), "app-dev");

#[test]
fn gcp_down_server() {
    let gcp = Gcp::start();
    down_server_is_exit_7_and_changes_nothing(
        &gcp,
        Loc::PerKey("app/".into()),
        vec![(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER".into(),
            closed_port(),
        )],
    );
}

#[test]
fn kubernetes_down_server() {
    let kube = Kube::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        sync_support::kubernetes::kubeconfig(&closed_port(), "keep-test"),
    )
    .unwrap();
    down_server_is_exit_7_and_changes_nothing(
        &kube,
        Loc::Bundle("app-dev".into()),
        vec![("KUBECONFIG".into(), config.display().to_string())],
    );
}

#[test]
fn kubernetes_prune_removes_keys_only_from_a_managed_secret() {
    let kube = Kube::start();
    let c = Case::new(&kube, Loc::Bundle("app-dev".into()));
    c.set("KEEP_ME", "1");
    c.set("DROP_ME", "2");
    c.ok(&["push", "t"]);
    let obj = kube.get("app-dev").unwrap();
    assert_eq!(obj["type"], "Opaque");
    assert_eq!(
        obj["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "keep"
    );
    c.ok(&["rm", "DROP_ME"]);
    let push = c.ok(&["push", "t"]);
    assert!(stdout(&push).contains("--prune"), "{}", stdout(&push));
    assert_eq!(
        c.remote("DROP_ME").as_deref(),
        Some("2"),
        "deleted without --prune"
    );
    c.ok(&["push", "t", "--prune"]);
    assert_eq!(c.remote("DROP_ME"), None, "--prune left a key");
    assert_eq!(c.remote("KEEP_ME").as_deref(), Some("1"));
    assert!(
        kube.get("app-dev").is_some(),
        "--prune deleted the Secret object"
    );

    // A Secret keep does not manage: pushing to it is refused, and --prune removes nothing from it.
    kube.create("foreign", false, &[("FOREIGN", "not ours"), ("OLD", "x")]);
    let f = Case::new(&kube, Loc::Bundle("foreign".into()));
    f.set("NEW", "mine");
    for args in [&["push", "t"][..], &["push", "t", "--prune"]] {
        let out = f.run(args);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("not managed by keep"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(
        kube.value("foreign", "FOREIGN").as_deref(),
        Some("not ours")
    );
    assert_eq!(kube.value("foreign", "OLD").as_deref(), Some("x"));
    assert_eq!(kube.value("foreign", "NEW"), None);
    // --force takes it over (and labels it).
    f.ok(&["push", "t", "--force"]);
    assert_eq!(kube.value("foreign", "NEW").as_deref(), Some("mine"));
    assert_eq!(
        kube.value("foreign", "FOREIGN").as_deref(),
        Some("not ours")
    );
    assert_eq!(
        kube.get("foreign").unwrap()["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "keep"
    );
}

#[test]
fn aws_down_server() {
    let moto = Moto::start();
    down_server_is_exit_7_and_changes_nothing(
        &moto,
        Loc::PerKey("app/".into()),
        vec![("AWS_ENDPOINT_URL".into(), closed_port())],
    );
}

#[test]
fn vault_down_server() {
    let bao = Bao::start();
    down_server_is_exit_7_and_changes_nothing(
        &bao,
        Loc::Bundle("app/dev".into()),
        vec![("VAULT_ADDR".into(), closed_port())],
    );
}

#[test]
fn aws_pagination_past_100_secrets() {
    let moto = Moto::start();
    let c = Case::new(&moto, Loc::PerKey("many/".into()));
    for i in 0..130 {
        moto.call(
            "CreateSecret",
            serde_json::json!({ "Name": format!("many/S{i:03}"), "SecretString": format!("v{i}"),
                                 "Tags": [{ "Key": "managed-by", "Value": "keep" }] }),
        );
    }
    c.ok(&["pull", "t"]);
    let ls = stdout(&c.ok(&["ls"]));
    assert_eq!(ls.lines().count(), 130, "{ls}");
    assert_eq!(c.get("S129"), "v129");
    assert_eq!(code(&c.run(&["diff", "t"])), 0);
    // Tags on what keep creates.
    c.set("NEW", "x");
    c.ok(&["push", "t"]);
    assert!(
        moto.tags("many/NEW").to_string().contains("\"keep\""),
        "{}",
        moto.tags("many/NEW")
    );
}

#[test]
fn vault_wrong_token_is_permission_denied() {
    let bao = Bao::start();
    let c = Case::new(&bao, Loc::Bundle("app/dev".into()));
    c.set("A", "1");
    let out = c
        .cmd(&["push", "t"])
        .env("VAULT_TOKEN", "not-the-token")
        .output()
        .unwrap();
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("permission denied"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("sync target t"), "{}", stderr(&out));
}

#[test]
fn vault_token_from_the_token_file() {
    let bao = Bao::start();
    let c = Case::new(&bao, Loc::Bundle("app/dev".into()));
    c.set("A", "1");
    std::fs::write(
        c.tv.path().join(".vault-token"),
        format!("{}\n", sync_support::ROOT_TOKEN),
    )
    .unwrap();
    let out =
        c.tv.keep(&["push", "t"])
            .env("VAULT_ADDR", bao.addr())
            .output()
            .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(c.remote("A").as_deref(), Some("1"));
}

#[test]
fn vault_kv2_cas_turns_a_concurrent_change_into_a_conflict() {
    use keep::sync::{hashicorp, Changes, Progress, Provider, Upsert};
    let bao = Bao::start();
    let scope = keep::Scope::new("app", "dev").unwrap();
    for loc in [
        Loc::Bundle("cas/bundle".into()),
        Loc::PerKey("cas/keys/".into()),
    ] {
        let config = keep::config::Config::parse(&format!(
            "[sync.t]\n{}{}",
            bao.provider_toml(),
            loc.toml()
        ))
        .unwrap();
        let target = keep::sync::Target::resolve(Some(&config), "t", &scope).unwrap();
        let settings = || hashicorp::Settings {
            addr: bao.addr(),
            token: Some(zeroize::Zeroizing::new(
                sync_support::ROOT_TOKEN.to_string(),
            )),
            namespace: None,
            cacert: None,
        };
        let mut kv = hashicorp::HashicorpKv::new(&target, settings()).unwrap();
        assert!(kv.is_v2());
        let name = keep::Name::new("A").unwrap();
        let write = |kv: &mut hashicorp::HashicorpKv, value: &str, expected: Option<String>| {
            kv.list().unwrap();
            let changes = Changes {
                upserts: vec![Upsert {
                    name: name.clone(),
                    value: value.into(),
                    expected,
                }],
                ..Default::default()
            };
            kv.apply(&changes, &Progress::hidden()).unwrap()[&name].clone()
        };
        let first = write(&mut kv, "one", None);
        let keep::sync::Applied::Written(Some(v1)) = first else {
            panic!("{first:?}")
        };
        // Someone else writes after our plan saw version v1...
        bao.remote_set(&loc, "A", "theirs");
        // ...so a write expecting v1 is refused by check-and-set.
        let mut kv = hashicorp::HashicorpKv::new(&target, settings()).unwrap();
        let listing = kv.list().unwrap();
        assert_ne!(listing[&name].version.as_deref(), Some(v1.as_str()));
        let stale = Changes {
            upserts: vec![Upsert {
                name: name.clone(),
                value: "mine".into(),
                expected: Some(v1.clone()),
            }],
            ..Default::default()
        };
        if let Loc::Bundle(_) = loc {
            // The bundle's version comes from the listing; force the stale one through a fresh provider.
            bao.remote_set(&loc, "A", "theirs-again");
        }
        let r = kv.apply(&stale, &Progress::hidden()).unwrap();
        assert_eq!(r[&name], keep::sync::Applied::Conflict, "{loc:?}");
        assert_ne!(bao.remote_get(&loc, "A").as_deref(), Some("mine"));
    }
}

#[test]
fn vault_namespaces() {
    let mut bao = Bao::start();
    let (status, body) = bao.api("POST", "sys/namespaces/team", Some(serde_json::json!({})));
    assert!((200..300).contains(&status), "OpenBao namespaces: {body}");
    bao.namespace = Some("team".into());
    bao.enable_kv("secret", 2);
    let c = Case::new(&bao, Loc::Bundle("app/dev".into()));
    c.set("A", "in-namespace");
    c.ok(&["push", "t"]);
    assert_eq!(c.remote("A").as_deref(), Some("in-namespace"));
    bao.namespace = None;
    assert_eq!(
        bao.remote_get(&Loc::Bundle("app/dev".into()), "A"),
        None,
        "written outside the namespace"
    );
}
