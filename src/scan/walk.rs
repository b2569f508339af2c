//! Reading files to scan: a parallel directory walk with the `ignore` crate (the walker behind
//! ripgrep), so `.gitignore`, `.ignore` and global git excludes are honoured and build output is not
//! scanned. Each worker thread reuses one read buffer; files are read whole with plain buffered I/O
//! (no memory maps: a file truncated under a map would kill the process with SIGBUS).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

use super::detect::{Detector, Finding, Origin};
use super::{Options, Report};
use crate::error::{Error, Result};

/// How many leading bytes are checked for a NUL to call a file binary (what git and ripgrep do).
const BINARY_PROBE: usize = 8192;

/// Whether a buffer looks binary.
pub fn is_binary(buf: &[u8]) -> bool {
    memchr::memchr(0, &buf[..buf.len().min(BINARY_PROBE)]).is_some()
}

/// Walk `paths` (files or folders) and scan every text file.
pub fn scan_paths(det: &Detector, paths: &[PathBuf], opts: &Options) -> Result<Report> {
    for p in paths {
        if !p.exists() {
            return Err(Error::NotFound(format!(
                "{} does not exist; give a file or folder to scan",
                p.display()
            )));
        }
    }
    let mut builder = WalkBuilder::new(&paths[0]);
    for p in &paths[1..] {
        builder.add(p);
    }
    builder
        .hidden(false) // .env files are exactly what we want to see
        .require_git(false)
        .threads(opts.threads)
        .filter_entry(|e| e.file_name() != ".git");
    let findings = Mutex::new(Vec::new());
    let warnings = Mutex::new(Vec::new());
    let files = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let skipped = AtomicU64::new(0);
    builder.build_parallel().run(|| {
        let mut scratch = det.scratch();
        let mut buf = Vec::with_capacity(1 << 16);
        let mut local: Vec<Finding> = Vec::new();
        let (findings, warnings, files, bytes, skipped) =
            (&findings, &warnings, &files, &bytes, &skipped);
        Box::new(move |entry| {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    warnings.lock().expect("lock").push(e.to_string());
                    return WalkState::Continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            match read_file(entry.path(), opts.max_file_size, &mut buf) {
                Ok(true) if !is_binary(&buf) => {
                    files.fetch_add(1, Ordering::Relaxed);
                    bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
                    let path = display_path(entry.path());
                    let origin = Origin {
                        path: &path,
                        ..Origin::default()
                    };
                    det.scan(&buf, &origin, &mut scratch, &mut local);
                    if !local.is_empty() {
                        findings.lock().expect("lock").append(&mut local);
                    }
                }
                Ok(_) => {
                    skipped.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => warnings
                    .lock()
                    .expect("lock")
                    .push(format!("{}: {e}", entry.path().display())),
            }
            WalkState::Continue
        })
    });
    Ok(Report {
        findings: findings.into_inner().expect("lock"),
        files: files.into_inner(),
        bytes: bytes.into_inner(),
        skipped: skipped.into_inner(),
        warnings: warnings.into_inner().expect("lock"),
        suppressed: 0,
    })
}

/// Read a whole file into `buf`; `Ok(false)` when it is over the size limit.
fn read_file(path: &Path, max: u64, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    if len > max {
        return Ok(false);
    }
    buf.clear();
    // `take` guards against a file that grows while we read it.
    f.take(max + 1).read_to_end(buf)?;
    Ok(buf.len() as u64 <= max)
}

/// Paths as the user gave them, without a leading `./`, with `/` separators.
fn display_path(p: &Path) -> String {
    let s = p.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_string()
}

/// Scan one in-memory buffer (stdin) under the name `name`.
pub fn scan_bytes(det: &Detector, name: &str, buf: &[u8]) -> Report {
    let mut findings = Vec::new();
    let mut scratch = det.scratch();
    det.scan(
        buf,
        &Origin {
            path: name,
            ..Origin::default()
        },
        &mut scratch,
        &mut findings,
    );
    Report {
        findings,
        files: 1,
        bytes: buf.len() as u64,
        ..Report::default()
    }
}
