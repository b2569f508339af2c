//! Scanning what git is about to record (`--staged`) or has recorded (`--git`): only added lines,
//! each reported at its line in the new file, with the commit and author for history.
//!
//! We shell out to `git` rather than link libgit2: the user's git already knows their repository
//! layout, worktrees, alternates and config, and its diff output is a stable interface.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::detect::{Detector, Finding, Origin};
use super::{Options, Report};
use crate::error::{Error, Result};

/// Added lines of one file in one commit (or in the index).
#[derive(Debug, Default)]
struct Chunk {
    path: String,
    commit: Option<String>,
    author: Option<String>,
    buf: Vec<u8>,
    lines: Vec<u32>,
}

/// Scan at most this many bytes of added lines at once, in parallel.
const BATCH: usize = 8 << 20;

/// Scan the added lines of the staged changes (what `git commit` would record).
pub fn scan_staged(det: &Detector, repo: &Path, opts: &Options) -> Result<Report> {
    run_diff(
        det,
        repo,
        &[
            "diff",
            "--cached",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "-U0",
        ],
        opts,
    )
}

/// Scan the added lines of every commit reachable from HEAD, or only those after `since`.
pub fn scan_history(
    det: &Detector,
    repo: &Path,
    since: Option<&str>,
    opts: &Options,
) -> Result<Report> {
    let range = match since {
        Some(r) if r.starts_with('-') => {
            return Err(Error::Usage(format!("--since {r}: not a git revision")))
        }
        Some(r) => format!("{r}..HEAD"),
        None => "HEAD".to_string(),
    };
    run_diff(
        det,
        repo,
        &[
            "log",
            "-p",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "-U0",
            "--format=%x00commit %H%x00%an <%ae>",
            &range,
            "--",
        ],
        opts,
    )
}

fn run_diff(det: &Detector, repo: &Path, args: &[&str], opts: &Options) -> Result<Report> {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(repo)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Io {
            context: "cannot run git (is it installed and on PATH?)".into(),
            source: e,
        })?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut report = Report::default();
    let mut parser = Parser::default();
    let mut batch: Vec<Chunk> = Vec::new();
    let mut batch_bytes = 0;
    let mut reader = BufReader::with_capacity(1 << 16, stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|e| Error::Io {
            context: "cannot read git's output".into(),
            source: e,
        })?;
        if n == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if let Some(chunk) = parser.feed(&line) {
            batch_bytes += chunk.buf.len();
            batch.push(chunk);
            if batch_bytes >= BATCH {
                scan_batch(det, &mut batch, opts.threads, &mut report);
                batch_bytes = 0;
            }
        }
    }
    if let Some(chunk) = parser.finish() {
        batch.push(chunk);
    }
    scan_batch(det, &mut batch, opts.threads, &mut report);
    let out = child.wait_with_output().map_err(|e| Error::Io {
        context: "git did not finish".into(),
        source: e,
    })?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Usage(format!(
            "git {} failed in {}: {}",
            args[0],
            repo.display(),
            msg.trim()
        )));
    }
    Ok(report)
}

fn scan_batch(det: &Detector, batch: &mut Vec<Chunk>, threads: usize, report: &mut Report) {
    let next = AtomicUsize::new(0);
    let chunks = &batch[..];
    let results: Vec<Vec<Finding>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.max(1).min(chunks.len().max(1)))
            .map(|_| {
                s.spawn(|| {
                    let mut scratch = det.scratch();
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(c) = chunks.get(i) else { break };
                        let origin = Origin {
                            path: &c.path,
                            commit: c.commit.as_deref(),
                            author: c.author.as_deref(),
                            line_map: Some(&c.lines),
                        };
                        det.scan(&c.buf, &origin, &mut scratch, &mut out);
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("scan worker"))
            .collect()
    });
    for mut r in results {
        report.findings.append(&mut r);
    }
    report.files += batch.len() as u64;
    report.bytes += batch.iter().map(|c| c.buf.len() as u64).sum::<u64>();
    batch.clear();
}

/// A streaming parser of `git diff -U0` / `git log -p -U0` output that collects added lines.
#[derive(Default)]
struct Parser {
    commit: Option<String>,
    author: Option<String>,
    current: Option<Chunk>,
    next_line: u32,
    /// Lines of the new side left in the current hunk.
    remaining: u32,
}

impl Parser {
    fn feed(&mut self, line: &[u8]) -> Option<Chunk> {
        if self.remaining > 0 {
            match line.first() {
                Some(b'+') => {
                    if let Some(c) = self.current.as_mut() {
                        c.buf.extend_from_slice(&line[1..]);
                        c.buf.push(b'\n');
                        c.lines.push(self.next_line);
                    }
                    self.next_line += 1;
                    self.remaining -= 1;
                    return None;
                }
                Some(b'-') | Some(b'\\') => return None,
                Some(b' ') => {
                    self.next_line += 1;
                    self.remaining -= 1;
                    return None;
                }
                _ => self.remaining = 0,
            }
        }
        if let Some(rest) = line.strip_prefix(b"\0commit ") {
            let mut parts = rest.split(|&b| b == 0);
            let done = self.flush();
            self.commit = parts
                .next()
                .map(|c| String::from_utf8_lossy(c).into_owned());
            self.author = parts
                .next()
                .map(|a| String::from_utf8_lossy(a).into_owned());
            return done;
        }
        if line.starts_with(b"diff --git ") {
            return self.flush();
        }
        if let Some(rest) = line.strip_prefix(b"+++ ") {
            let done = self.flush();
            let raw = String::from_utf8_lossy(rest);
            let raw = raw.trim_matches('"');
            if raw != "/dev/null" {
                self.current = Some(Chunk {
                    path: raw.strip_prefix("b/").unwrap_or(raw).to_string(),
                    commit: self.commit.clone(),
                    author: self.author.clone(),
                    ..Chunk::default()
                });
            }
            return done;
        }
        if line.starts_with(b"@@ ") {
            // @@ -a[,b] +c[,d] @@
            let text = String::from_utf8_lossy(line);
            if let Some(plus) = text.split(' ').find(|t| t.starts_with('+')) {
                let mut it = plus[1..].split(',');
                self.next_line = it.next().and_then(|v| v.parse().ok()).unwrap_or(1);
                self.remaining = it.next().and_then(|v| v.parse().ok()).unwrap_or(1);
            }
        }
        None
    }

    fn flush(&mut self) -> Option<Chunk> {
        self.remaining = 0;
        self.current.take().filter(|c| !c.buf.is_empty())
    }

    fn finish(&mut self) -> Option<Chunk> {
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_lines_keep_their_new_line_numbers() {
        let diff = "\0commit abc\0Ann <a@x>\n\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,0 +3,2 @@\n+one\n+++two\n@@ -9 +11 @@\n-old\n+new\n";
        let mut p = Parser::default();
        let mut out = Vec::new();
        for l in diff.split('\n') {
            out.extend(p.feed(l.as_bytes()));
        }
        out.extend(p.finish());
        assert_eq!(out.len(), 1);
        let c = &out[0];
        assert_eq!(c.path, "f");
        assert_eq!(c.commit.as_deref(), Some("abc"));
        assert_eq!(c.author.as_deref(), Some("Ann <a@x>"));
        assert_eq!(c.buf, b"one\n++two\nnew\n");
        assert_eq!(c.lines, vec![3, 4, 11]);
    }
}
