//! Replays of what the fuzz targets (fuzz/, `cargo fuzz`) found, so each fix stays fixed without
//! running the fuzzer. Each test names its target; the crashing inputs are also in the target's seed
//! corpus (fuzz/corpus/TARGET/).

use crate::common;

use std::os::unix::process::CommandExt;

use common::TestVault;
use keep::config::Config;

/// `config` target, crash-27dca7d4: a `keep.toml` error quoted the value it rejected (serde's
/// "invalid type: string \"...\""), though errors promise to quote line numbers, never the file's text.
#[test]
fn config_errors_do_not_quote_the_rejected_value() {
    let input =
        include_str!("../../fuzz/corpus/config/crash-27dca7d49d1c8c307d5e81f28048b462145d7729");
    let err = Config::parse(input).unwrap_err();
    let message = err.to_string();
    assert_eq!(err.exit_code(), 2, "{message}");
    assert!(!message.contains("AKIAIOSFODNN7EXAMPLE1234"), "{message}");
    assert!(message.starts_with("line 2: "), "{message}");
}

/// Found while writing the `vault_header` target (which must skip costly KDF parameters; see
/// fuzz/README.md), not by a fuzzer crash: a passphrase slot whose (unauthenticated until after the KDF) parameters
/// were edited to the largest cost keep accepts, 4 GiB, on a machine that cannot provide it. The
/// KDF's memory used to be allocated infallibly, so keep aborted (SIGABRT) instead of answering;
/// now the unlock fails with an integrity error (exit 5) that says what to do.
#[test]
fn a_slot_asking_for_more_memory_than_the_machine_has_is_a_clear_error() {
    let tv = TestVault::new();
    {
        let conn = rusqlite::Connection::open(tv.vault_path()).unwrap();
        let params: String = conn
            .query_row("SELECT params FROM slots WHERE id = 1", [], |r| r.get(0))
            .unwrap();
        let mut json: serde_json::Value = serde_json::from_str(&params).unwrap();
        json["m_kib"] = serde_json::json!(4 * 1024 * 1024);
        conn.execute(
            "UPDATE slots SET params = ?1 WHERE id = 1",
            [json.to_string()],
        )
        .unwrap();
    }
    let mut cmd = tv.keep(&["ls"]);
    // 1 GiB of address space stands in for a small machine: keep itself needs far less.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 1 << 30,
                rlim_max: 1 << 30,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(5),
        "status {:?}: {stderr}",
        out.status
    );
    assert!(stderr.contains("4096 MiB"), "{stderr}");
    assert!(stderr.contains("another slot"), "{stderr}");
}
