//! The Kubernetes peer: kmock's emulator serving `v1/secrets` (`tests/peers/k8s_secrets.py` adds
//! resourceVersion conflicts), reached through a kubeconfig with a bearer token, as kubectl would.

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{json, Value};

use super::{agent, Loc, Peer, Server};

pub const NAMESPACE: &str = "keep-test";
pub const TOKEN: &str = "keep-test-bearer";

pub struct Kube {
    pub server: Server,
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// A kubeconfig for `server` with a bearer token and a default namespace.
pub fn kubeconfig(server: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: test\n  cluster:\n    server: {server}\n\
         contexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n    namespace: {namespace}\n\
         users:\n- name: test\n  user:\n    token: {TOKEN}\n"
    )
}

impl Kube {
    pub fn start() -> Kube {
        let server = super::python_peer::start(
            "k8s_secrets.py",
            &[],
            "scripts/setup.d/45-sync2.sh installs its packages",
        );
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("config");
        std::fs::write(&kubeconfig, kubeconfig_text(server.port)).unwrap();
        Kube {
            server,
            kubeconfig,
            _dir: dir,
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!(
            "http://127.0.0.1:{}/api/v1/namespaces/{NAMESPACE}/secrets/{name}",
            self.server.port
        )
    }

    pub fn get(&self, name: &str) -> Option<Value> {
        let mut resp = agent().get(&self.url(name)).call().unwrap();
        (resp.status() == 200)
            .then(|| serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap())
    }

    /// Create a Secret, with keep's label or without.
    pub fn create(&self, name: &str, labelled: bool, data: &[(&str, &str)]) {
        let labels = if labelled {
            json!({ "app.kubernetes.io/managed-by": "keep" })
        } else {
            json!({})
        };
        let data: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| (k.to_string(), b64().encode(v).into()))
            .collect();
        let body = json!({ "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                           "metadata": { "name": name, "namespace": NAMESPACE, "labels": labels }, "data": data });
        let url = format!(
            "http://127.0.0.1:{}/api/v1/namespaces/{NAMESPACE}/secrets",
            self.server.port
        );
        let resp = agent()
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    /// A teammate's unconditional merge patch of one key.
    pub fn patch(&self, name: &str, key: &str, value: &str) -> u16 {
        let body = json!({ "data": { key: b64().encode(value) } });
        let resp = agent()
            .patch(&self.url(name))
            .header("Content-Type", "application/merge-patch+json")
            .send(body.to_string())
            .unwrap();
        resp.status().as_u16()
    }

    pub fn value(&self, secret: &str, key: &str) -> Option<String> {
        let s = self.get(secret)?;
        let v = s["data"][key].as_str()?;
        Some(String::from_utf8(b64().decode(v).unwrap()).unwrap())
    }
}

fn kubeconfig_text(port: u16) -> String {
    kubeconfig(&format!("http://127.0.0.1:{port}"), NAMESPACE)
}

impl Peer for Kube {
    fn provider_toml(&self) -> String {
        format!("provider = \"kubernetes\"\nnamespace = \"{NAMESPACE}\"\n")
    }
    fn env(&self) -> Vec<(String, String)> {
        vec![("KUBECONFIG".into(), self.kubeconfig.display().to_string())]
    }
    fn remote_get(&self, loc: &Loc, name: &str) -> Option<String> {
        match loc {
            Loc::Bundle(secret) => self.value(secret, name),
            Loc::PerKey(_) => panic!("a Kubernetes target is one Secret"),
        }
    }
    fn remote_set(&self, loc: &Loc, name: &str, value: &str) {
        match loc {
            Loc::Bundle(secret) => {
                if self.get(secret).is_none() {
                    self.create(secret, true, &[(name, value)]);
                } else {
                    assert_eq!(self.patch(secret, name, value), 200);
                }
            }
            Loc::PerKey(_) => panic!("a Kubernetes target is one Secret"),
        }
    }
    fn create_unmarked(&self, secret: &str, name: &str, value: &str) {
        self.create(secret, false, &[(name, value)]);
    }
}
