//! Provider-specific behaviour of GCP Secret Manager and Kubernetes Secrets that the shared conformance
//! suite (`sync_conformance.rs`) does not cover: GCP's id mapping, labels, CRC32C checks and version
//! retirement; write-time conflicts (GCP versions and etags, Kubernetes resourceVersion) at the
//! provider level; kubeconfig contexts and exec plugins.

use crate::common;
use crate::sync_support;

use std::io::Write;
use std::process::{Output, Stdio};

use common::{code, stderr, stdout, TestVault};
use keep::sync::{Applied, Changes, Progress, Provider, Upsert};
use sync_support::gcp::{Gcp, PROJECT};
use sync_support::kubernetes::{Kube, NAMESPACE};
use sync_support::Peer;

/// A vault with target `t` = `peer` + `extra` settings.
fn vault(peer: &dyn Peer, extra: &str) -> TestVault {
    let tv = TestVault::new();
    std::fs::write(
        tv.path().join("keep.toml"),
        format!(
            "project = \"app\"\n[sync.t]\n{}{extra}",
            peer.provider_toml()
        ),
    )
    .unwrap();
    tv
}

fn run(tv: &TestVault, peer: &dyn Peer, args: &[&str]) -> Output {
    tv.keep(args).envs(peer.env()).output().unwrap()
}

fn ok(tv: &TestVault, peer: &dyn Peer, args: &[&str]) -> Output {
    let out = run(tv, peer, args);
    assert_eq!(
        code(&out),
        0,
        "keep {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn set(tv: &TestVault, name: &str, value: &str) {
    let mut child: std::process::Child = tv
        .keep(&["set", name])
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
    assert!(child.wait_with_output().unwrap().status.success());
}

fn target(peer: &dyn Peer, extra: &str) -> keep::sync::Target {
    let config =
        keep::config::Config::parse(&format!("[sync.t]\n{}{extra}", peer.provider_toml())).unwrap();
    keep::sync::Target::resolve(Some(&config), "t", &keep::Scope::new("app", "dev").unwrap())
        .unwrap()
}

fn upsert(name: &keep::Name, value: &str, expected: Option<String>) -> Changes {
    Changes {
        upserts: vec![Upsert {
            name: name.clone(),
            value: value.into(),
            expected,
        }],
        ..Default::default()
    }
}

// ---- GCP Secret Manager ----

#[test]
fn gcp_ids_labels_and_checksums_on_what_keep_creates() {
    let gcp = Gcp::start();
    let tv = vault(&gcp, "prefix = \"billing/prod/\"\n");
    set(&tv, "DB_URL", "postgres://x");
    ok(&tv, &gcp, &["push", "t"]);
    // The documented mapping: the prefix is sanitised to GCP's id alphabet, the name kept as is.
    let secret = gcp.secret("billing-prod-DB_URL");
    assert_eq!(secret["labels"]["managed-by"], "keep", "{secret}");
    assert_eq!(secret["replication"]["automatic"], serde_json::json!({}));
    let versions = gcp.versions("billing-prod-DB_URL");
    assert_eq!(versions.len(), 1);
    assert_eq!(
        versions[0]["clientSpecifiedPayloadChecksum"], true,
        "keep sent no dataCrc32c"
    );
    assert_eq!(
        gcp.access("billing-prod-DB_URL").as_deref(),
        Some("postgres://x")
    );
}

#[test]
fn gcp_a_corrupted_payload_is_an_integrity_error_and_changes_nothing() {
    let gcp = Gcp::start();
    let tv = vault(&gcp, "prefix = \"app/\"\n");
    set(&tv, "A", "one");
    ok(&tv, &gcp, &["push", "t"]);
    gcp.add_version("app-A", "two");
    gcp.corrupt_latest("app-A");
    let out = run(&tv, &gcp, &["pull", "t"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("CRC32C"), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("two"),
        "the value leaked: {}",
        stderr(&out)
    );
    assert_eq!(stdout(&ok(&tv, &gcp, &["get", "A"])), "one");
}

#[test]
fn gcp_old_versions_stay_enabled_unless_the_target_asks() {
    let gcp = Gcp::start();
    let states = |id: &str| -> Vec<String> {
        let mut v: Vec<(u64, String)> = gcp
            .versions(id)
            .iter()
            .map(|v| {
                let n = v["name"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                (n, v["state"].as_str().unwrap().to_string())
            })
            .collect();
        v.sort();
        v.into_iter().map(|(_, s)| s).collect()
    };
    for (setting, prefix, expected) in [
        ("", "keep/", "ENABLED"),
        ("old_versions = \"disable\"\n", "dis/", "DISABLED"),
        ("old_versions = \"destroy\"\n", "des/", "DESTROYED"),
    ] {
        let tv = vault(&gcp, &format!("prefix = \"{prefix}\"\n{setting}"));
        set(&tv, "A", "one");
        ok(&tv, &gcp, &["push", "t"]);
        set(&tv, "A", "two");
        ok(&tv, &gcp, &["push", "t"]);
        let id = format!("{}A", prefix.trim_end_matches('/').to_string() + "-");
        assert_eq!(
            states(&id),
            vec![expected.to_string(), "ENABLED".to_string()],
            "{setting}"
        );
        assert_eq!(gcp.access(&id).as_deref(), Some("two"));
    }
}

#[test]
fn gcp_settings_for_other_providers_are_rejected() {
    let gcp = Gcp::start();
    for bad in [
        "namespace = \"x\"\n",
        "region = \"eu-west-1\"\n",
        "old_versions = \"shred\"\n",
    ] {
        let tv = vault(&gcp, bad);
        let out = run(&tv, &gcp, &["diff", "t"]);
        assert_eq!(code(&out), 2, "{bad}: {}", stderr(&out));
    }
}

#[test]
fn gcp_write_and_delete_conditions_catch_concurrent_changes() {
    use keep::sync::gcp::{GcpProvider, Settings};
    let gcp = Gcp::start();
    let settings = || Settings {
        endpoint: gcp.endpoint(),
        token: zeroize::Zeroizing::new("unused-by-the-peer".into()),
        project: PROJECT.into(),
    };
    let t = target(&gcp, "prefix = \"cas/\"\n");
    let name = keep::Name::new("A").unwrap();

    // Creation is exact: a secret created by someone else after the listing is a conflict.
    let mut p = GcpProvider::new(&t, settings());
    assert!(p.list().unwrap().is_empty());
    gcp.create("cas-A", true);
    gcp.add_version("cas-A", "theirs");
    assert_eq!(
        p.apply(&upsert(&name, "mine", None), &Progress::hidden())
            .unwrap()[&name],
        Applied::Conflict
    );
    assert_eq!(gcp.access("cas-A").as_deref(), Some("theirs"));

    // A version added after the listing is a conflict, not a lost update.
    let mut p = GcpProvider::new(&t, settings());
    let v = p.list().unwrap()[&name].version.clone();
    assert_eq!(v.as_deref(), Some("1"));
    gcp.add_version("cas-A", "theirs-2");
    assert_eq!(
        p.apply(&upsert(&name, "mine", v), &Progress::hidden())
            .unwrap()[&name],
        Applied::Conflict
    );
    assert_eq!(gcp.access("cas-A").as_deref(), Some("theirs-2"));

    // The etag: a secret replaced after the listing is not deleted by --prune.
    let mut p = GcpProvider::new(&t, settings());
    p.list().unwrap();
    gcp.call("DELETE", "secrets/cas-A", None);
    gcp.create("cas-A", true);
    gcp.add_version("cas-A", "recreated");
    let prune = Changes {
        deletes: vec![name.clone()],
        ..Default::default()
    };
    assert_eq!(
        p.apply(&prune, &Progress::hidden()).unwrap()[&name],
        Applied::Conflict
    );
    assert_eq!(gcp.access("cas-A").as_deref(), Some("recreated"));

    // And with an unchanged etag it is deleted.
    let mut p = GcpProvider::new(&t, settings());
    p.list().unwrap();
    assert_eq!(
        p.apply(&prune, &Progress::hidden()).unwrap()[&name],
        Applied::Deleted
    );
    assert_eq!(gcp.secret("cas-A")["error"]["code"], 404);
}

#[test]
fn gcp_pagination_and_foreign_ids() {
    let gcp = Gcp::start();
    // More than one 250-secret page, plus ids that are not keep names under the prefix.
    for i in 0..260 {
        let id = format!("pg-S{i:03}");
        gcp.create(&id, true);
        gcp.add_version(&id, &format!("v{i}"));
    }
    gcp.create("pg-not-a-name", false);
    gcp.add_version("pg-not-a-name", "x");
    let tv = vault(&gcp, "prefix = \"pg/\"\n");
    ok(&tv, &gcp, &["pull", "t"]);
    let ls = stdout(&ok(&tv, &gcp, &["ls"]));
    assert_eq!(ls.lines().count(), 260, "{ls}");
    assert_eq!(stdout(&ok(&tv, &gcp, &["get", "S259"])), "v259");
    assert_eq!(code(&run(&tv, &gcp, &["diff", "t"])), 0);
}

#[test]
fn gcp_without_credentials_is_exit_7_naming_the_fix() {
    let gcp = Gcp::start();
    let tv = vault(&gcp, "prefix = \"x/\"\n");
    let out = tv
        .keep(&["diff", "t"])
        .env(
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER",
            gcp.endpoint(),
        )
        .env(
            "GOOGLE_APPLICATION_CREDENTIALS",
            tv.path().join("missing.json"),
        )
        .output()
        .unwrap();
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{}",
        stderr(&out)
    );
}

// ---- Kubernetes ----

/// The provider for target `t`, configured from the peer's kubeconfig file (not the environment).
fn kube_provider(
    kube: &Kube,
    t: &keep::sync::Target,
) -> keep::sync::kubernetes::KubernetesProvider {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let kc = kube::config::Kubeconfig::read_from(&kube.kubeconfig).unwrap();
    let config = rt
        .block_on(kube::Config::from_custom_kubeconfig(
            kc,
            &Default::default(),
        ))
        .unwrap();
    keep::sync::kubernetes::KubernetesProvider::with_config(t, config, Some(rt)).unwrap()
}

#[test]
fn kubernetes_resource_version_turns_a_concurrent_change_into_a_conflict() {
    let kube = Kube::start();
    let t = target(&kube, "secret = \"cas\"\n");
    let connect = || kube_provider(&kube, &t);
    let name = keep::Name::new("A").unwrap();
    let mut p = connect();
    assert!(p.list().unwrap().is_empty());
    let Applied::Written(Some(v1)) = p
        .apply(&upsert(&name, "one", None), &Progress::hidden())
        .unwrap()[&name]
        .clone()
    else {
        panic!("not written")
    };
    let mut p = connect();
    assert_eq!(
        p.list().unwrap()[&name].version.as_deref(),
        Some(v1.as_str())
    );
    assert_eq!(kube.patch("cas", "B", "theirs"), 200);
    let r = p
        .apply(
            &upsert(&name, "mine", Some(v1.clone())),
            &Progress::hidden(),
        )
        .unwrap();
    assert_eq!(r[&name], Applied::Conflict);
    assert_eq!(
        kube.value("cas", "A").as_deref(),
        Some("one"),
        "a stale write landed"
    );
    assert_eq!(kube.value("cas", "B").as_deref(), Some("theirs"));
}

#[test]
fn kubernetes_create_race_is_a_conflict() {
    let kube = Kube::start();
    let t = target(&kube, "secret = \"race\"\n");
    let mut p = kube_provider(&kube, &t);
    let name = keep::Name::new("A").unwrap();
    assert!(p.list().unwrap().is_empty());
    kube.create("race", true, &[("A", "theirs")]);
    let r = p
        .apply(&upsert(&name, "mine", None), &Progress::hidden())
        .unwrap();
    assert_eq!(r[&name], Applied::Conflict);
    assert_eq!(kube.value("race", "A").as_deref(), Some("theirs"));
}

#[test]
fn kubernetes_context_namespace_and_exec_plugin_from_kubeconfig() {
    let kube = Kube::start();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("plugin-ran");
    let plugin = dir.path().join("plugin.sh");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\ntouch '{}'\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"from-plugin\"}}}}'\n",
            marker.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // Two contexts; the current one points nowhere, the target names the other, whose namespace and
    // exec-plugin user are used.
    let config = [
        "apiVersion: v1",
        "kind: Config",
        "current-context: broken",
        "clusters:",
        "- name: good",
        "  cluster:",
        &format!("    server: http://127.0.0.1:{}", kube.server.port),
        "- name: bad",
        "  cluster:",
        "    server: http://127.0.0.1:1",
        "contexts:",
        "- name: broken",
        "  context:",
        "    cluster: bad",
        "    user: plug",
        "- name: work",
        "  context:",
        "    cluster: good",
        "    user: plug",
        &format!("    namespace: {NAMESPACE}"),
        "users:",
        "- name: plug",
        "  user:",
        "    exec:",
        "      apiVersion: client.authentication.k8s.io/v1",
        &format!("      command: {}", plugin.display()),
        "      interactiveMode: Never",
    ]
    .join("\n");
    let path = dir.path().join("config");
    std::fs::write(&path, config).unwrap();
    let tv = TestVault::new();
    std::fs::write(
        tv.path().join("keep.toml"),
        "project = \"app\"\n[sync.t]\nprovider = \"kubernetes\"\ncontext = \"work\"\nsecret = \"from-context\"\n",
    )
    .unwrap();
    set(&tv, "A", "1");
    let out = tv
        .keep(&["push", "t"])
        .env("KUBECONFIG", &path)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        kube.value("from-context", "A").as_deref(),
        Some("1"),
        "not in the context's namespace"
    );
    assert!(marker.exists(), "the exec plugin was not run");
}

#[test]
fn kubernetes_target_validation() {
    let kube = Kube::start();
    for (bad, why) in [
        ("secret = \"Not_A_Name\"\n", "secret"),
        ("layout = \"per-key\"\nsecret = \"ok\"\n", "per-key"),
        ("prefix = \"p/\"\nsecret = \"ok\"\n", "prefix"),
        ("secret = \"ok\"\nproject = \"p\"\n", "GCP"),
        ("\n", "secret"),
    ] {
        let tv = vault(&kube, bad);
        let out = run(&tv, &kube, &["diff", "t"]);
        assert_eq!(code(&out), 2, "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{bad}: {}", stderr(&out));
    }
}
