//! The GCP Secret Manager peer: gcplocal completed by `tests/peers/gcp_secretmanager.py` (see that file
//! for which calls come from where), with a service-account key whose token endpoint is the peer, so
//! keep's real gcp_auth flow runs.

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{json, Value};

use super::{agent, Loc, Peer, Server};

pub const PROJECT: &str = "keep-test";

pub struct Gcp {
    pub server: Server,
    pub creds: PathBuf,
    _dir: tempfile::TempDir,
}

/// GCP's secret id for a prefix or path (the mapping keep documents; asserted literally in
/// `sync2_providers.rs`).
pub use keep::sync::gcp::sanitise;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl Gcp {
    pub fn start() -> Gcp {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("sa.json");
        let server = super::python_peer::start(
            "gcp_secretmanager.py",
            &[creds.as_os_str()],
            "scripts/setup.d/45-sync2.sh installs its packages",
        );
        Gcp {
            server,
            creds,
            _dir: dir,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/", self.server.port)
    }

    /// One REST call relative to the project (`secrets/...`).
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}v1/projects/{PROJECT}/{path}", self.endpoint());
        let a = agent();
        let sent = match (method, body) {
            ("GET", _) => a.get(&url).call(),
            ("DELETE", _) => a.delete(&url).call(),
            (_, b) => a
                .post(&url)
                .header("Content-Type", "application/json")
                .send(b.unwrap_or(json!({})).to_string()),
        };
        let mut resp = sent.unwrap();
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub fn access(&self, id: &str) -> Option<String> {
        let (status, body) =
            self.call("GET", &format!("secrets/{id}/versions/latest:access"), None);
        (status == 200).then(|| {
            let bytes = b64()
                .decode(body["payload"]["data"].as_str().unwrap())
                .unwrap();
            String::from_utf8(bytes).unwrap()
        })
    }

    pub fn create(&self, id: &str, labelled: bool) {
        let labels = if labelled {
            json!({ "managed-by": "keep" })
        } else {
            json!({})
        };
        let (status, body) = self.call(
            "POST",
            &format!("secrets?secretId={id}"),
            Some(json!({ "replication": { "automatic": {} }, "labels": labels })),
        );
        assert!(status == 200 || status == 409, "{body}");
    }

    pub fn add_version(&self, id: &str, value: &str) {
        let (status, body) = self.call(
            "POST",
            &format!("secrets/{id}:addVersion"),
            Some(json!({ "payload": { "data": b64().encode(value) } })),
        );
        assert_eq!(status, 200, "{body}");
    }

    /// Flip the stored checksum of the latest version (a test hook of the peer, not Google's API).
    pub fn corrupt_latest(&self, id: &str) {
        let url = format!("{}_test/corrupt/{PROJECT}/{id}", self.endpoint());
        assert_eq!(agent().post(&url).send("").unwrap().status(), 200);
    }

    pub fn secret(&self, id: &str) -> Value {
        self.call("GET", &format!("secrets/{id}"), None).1
    }

    pub fn versions(&self, id: &str) -> Vec<Value> {
        self.call("GET", &format!("secrets/{id}/versions"), None).1["versions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Peer for Gcp {
    fn provider_toml(&self) -> String {
        format!("provider = \"gcp\"\nproject = \"{PROJECT}\"\n")
    }
    fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER".into(),
                self.endpoint(),
            ),
            (
                "GOOGLE_APPLICATION_CREDENTIALS".into(),
                self.creds.display().to_string(),
            ),
        ]
    }
    fn remote_get(&self, loc: &Loc, name: &str) -> Option<String> {
        match loc {
            Loc::PerKey(p) => self.access(&format!("{}{name}", sanitise(p))),
            Loc::Bundle(path) => {
                let doc: Value = serde_json::from_str(&self.access(&sanitise(path))?).unwrap();
                doc[name].as_str().map(str::to_string)
            }
        }
    }
    fn remote_set(&self, loc: &Loc, name: &str, value: &str) {
        match loc {
            Loc::PerKey(p) => {
                let id = format!("{}{name}", sanitise(p));
                self.create(&id, true);
                self.add_version(&id, value);
            }
            Loc::Bundle(path) => {
                let id = sanitise(path);
                let mut doc: Value = serde_json::from_str(&self.access(&id).unwrap()).unwrap();
                doc[name] = value.into();
                self.add_version(&id, &doc.to_string());
            }
        }
    }
    fn create_unmarked(&self, prefix: &str, name: &str, value: &str) {
        let id = format!("{}{name}", sanitise(prefix));
        self.create(&id, false);
        self.add_version(&id, value);
    }
}
