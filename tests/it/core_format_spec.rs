//! SECURITY.md claims its on-disk format section is precise enough for someone else to write a
//! compatible reader. `tests/spec_reader/read_vault.py` is that reader, written from the spec alone with
//! libsodium and the Python standard library; this test checks it reads what keep wrote.

use crate::common;

use common::{code, stderr, TestVault};

#[test]
fn an_independent_reader_written_from_the_spec_reads_keeps_vault() {
    let tv = TestVault::new();
    tv.set("DATABASE_URL", "postgres://u:p@h/db");
    tv.set("keep://billing/prod/API_KEY", "sk-live-1");
    tv.set("ROTATED", "old");
    tv.set("ROTATED", "new ünïcode\nline");
    tv.set("GONE", "x");
    assert_eq!(code(&tv.run(&["rm", "GONE"])), 0);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/spec_reader/read_vault.py"
    );
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(tv.vault_path())
        .arg(tv.pass_file())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the spec reader failed: {}",
        stderr(&out)
    );
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        read,
        serde_json::json!({
            "default/dev/DATABASE_URL": "postgres://u:p@h/db",
            "billing/prod/API_KEY": "sk-live-1",
            "default/dev/ROTATED": "new ünïcode\nline",
        })
    );
}
