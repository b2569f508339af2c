//! Shared pieces of the leak-canary tests (`tests/canary_*.rs`): the canary values, the search for
//! them (as text, base64 and hex), walks over the files a run left behind, and a look at a live
//! keep process through `/proc`.
//!
//! One module so every canary test looks for the same forms the same way; a check that drifts between
//! copies is a check that silently weakens.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;

/// The secret value the canary tests plant. Distinctive, so a hit is never a coincidence; it never
/// appears in a secret's name.
pub const CANARY: &str = "CANARY-7f3a9c-do-not-leak-5be1";

/// A secret NAME that must not appear in plaintext in the audit log (addresses are sealed there).
pub const CANARY_NAME: &str = "ZQXNAME_CANARY_SECRET";

/// The forms a leaked value could take: itself, base64 (standard and URL-safe, with or without
/// padding, from each of the three alignments so a value embedded in a larger base64 blob is found
/// too), and lower/upper hex.
pub fn forms(value: &str) -> Vec<(String, Vec<u8>)> {
    let bytes = value.as_bytes();
    let mut out = vec![("plain".to_string(), bytes.to_vec())];
    for (label, engine) in [
        ("base64", &base64::engine::general_purpose::STANDARD_NO_PAD),
        (
            "base64url",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ),
    ] {
        for skip in 0..3 {
            // The value embedded in a larger buffer whose 3-byte groups start at `skip` bytes into
            // the value: the whole groups inside the value encode to this, verbatim.
            let rest = &bytes[skip..];
            let whole = &rest[..rest.len() / 3 * 3];
            out.push((format!("{label}@{skip}"), engine.encode(whole).into_bytes()));
        }
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    out.push(("HEX".into(), hex.to_uppercase().into_bytes()));
    out.push(("hex".into(), hex.into_bytes()));
    out
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The name of the first form of `value` found in `haystack`, if any.
pub fn find_form(haystack: &[u8], value: &str) -> Option<String> {
    forms(value)
        .into_iter()
        .find(|(_, f)| contains(haystack, f))
        .map(|(label, _)| label)
}

/// Panic if the canary, in any of its forms, is in `haystack`.
pub fn assert_absent(what: &str, haystack: &[u8]) {
    if let Some(form) = find_form(haystack, CANARY) {
        panic!(
            "the canary leaked ({form}) into {what}:\n{}",
            String::from_utf8_lossy(haystack)
        );
    }
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&p, out);
        } else if ft.is_file() {
            out.push(p);
        }
    }
}

/// `/proc/<pid>/<what>`, empty when the process is gone.
pub fn proc_file(pid: u32, what: &str) -> Vec<u8> {
    std::fs::read(format!("/proc/{pid}/{what}")).unwrap_or_default()
}

/// The direct children of `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The process state letter from `/proc/<pid>/stat` (R, S, D, Z...), if it still exists.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Wait until `pid` is asleep (blocked on a read, a child, a socket), up to 20 s.
pub fn wait_blocked(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // Two looks in a row, so a process between two syscalls is not taken for a blocked one.
        if proc_state(pid) == Some('S') {
            std::thread::sleep(Duration::from_millis(50));
            if proc_state(pid) == Some('S') {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} never blocked (state {:?})",
            proc_state(pid)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait until `pred()` holds, up to 20 s.
pub fn wait_until(what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Check a live keep process: neither its command line nor its environment holds the canary.
pub fn assert_proc_clean(what: &str, pid: u32) {
    let cmdline = proc_file(pid, "cmdline");
    assert!(!cmdline.is_empty(), "{what}: pid {pid} already gone");
    assert_absent(&format!("/proc/<pid>/cmdline of {what}"), &cmdline);
    let environ = proc_file(pid, "environ");
    assert!(
        !environ.is_empty(),
        "{what}: /proc/{pid}/environ unreadable (the test runs as root and should see it)"
    );
    assert_absent(&format!("/proc/<pid>/environ of {what}"), &environ);
}
