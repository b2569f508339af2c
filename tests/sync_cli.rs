//! Sync command-line behaviour that needs no real provider: unknown targets, bad `[sync.*]` tables,
//! flag rules, a missing token, and retries against a listener on 127.0.0.1 that only ever answers 503
//! (throttling and 5xx are retried with backoff, then exit 7).

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

/// A listener on 127.0.0.1 that answers every request with 503 and counts them; stops when dropped
/// (the thread ends after `max` requests or when the test process exits).
struct Unavailable {
    port: u16,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Unavailable {
    fn start(max: usize) -> Unavailable {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(max) {
                let Ok(mut s) = stream else { continue };
                let mut buf = [0u8; 65536];
                let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                let _ = s.read(&mut buf);
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = s.write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
                      Content-Length: 2\r\nConnection: close\r\n\r\n{}",
                );
            }
        });
        Unavailable { port, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn vault_5xx_is_retried_with_backoff_then_exit_7() {
    let server = Unavailable::start(50);
    let tv = with_toml("[sync.team]\nprovider = \"vault\"\npath = \"app/dev\"\n");
    let out = tv
        .keep(&["diff", "team"])
        .env("VAULT_ADDR", format!("http://127.0.0.1:{}", server.port))
        .env("VAULT_TOKEN", "t")
        .output()
        .unwrap();
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert!(stderr(&out).contains("HTTP 503"), "{}", stderr(&out));
    assert_eq!(server.hits(), 4, "one request and three retries");
}

#[test]
fn aws_5xx_is_retried_then_exit_7() {
    let server = Unavailable::start(50);
    let tv =
        with_toml("[sync.prod]\nprovider = \"aws\"\nregion = \"us-east-1\"\nprefix = \"app/\"\n");
    let out = tv
        .keep(&["diff", "prod"])
        .env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", server.port),
        )
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sync target prod"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        server.hits(),
        4,
        "the SDK's standard retry mode: one request and three retries"
    );
}
