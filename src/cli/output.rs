//! Output conventions: data on stdout, messages on stderr, one JSON document with `--json`, colour only
//! on a terminal and never when `NO_COLOR` is set.

use std::io::{IsTerminal, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::error::Error;

/// Whether stderr may be coloured.
pub fn color_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Whether stdout may be coloured.
pub fn color_stdout() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Wrap `text` in an ANSI colour (`31` red, `32` green, `33` yellow, `2` dim) when `on`.
pub fn paint(text: &str, code: &str, on: bool) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A message for the user on stderr.
pub fn note(message: &str) {
    eprintln!("{message}");
}

/// A warning on stderr.
pub fn warn(message: &str) {
    eprintln!("{} {message}", paint("warning:", "33", color_stderr()));
}

/// Print one JSON document on stdout.
pub fn json<T: Serialize>(value: &T) -> crate::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).map_err(|e| Error::Io {
        context: "cannot write JSON to stdout".into(),
        source: e.into(),
    })?;
    writeln!(out).map_err(|e| Error::Io {
        context: "cannot write to stdout".into(),
        source: e,
    })
}

/// What a checking command found, when it is one message rather than a list (`keep audit verify`
/// on a damaged log): on stderr as an error reads, while the command still ends with
/// [`super::exit::Exit::Findings`].
pub fn problem(message: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "{} {message}",
        paint("keep:", "31", color_stderr())
    );
}

/// Report an error: a one-line message on stderr and, with `--json`, an error document on stdout.
/// Returns the exit code.
pub fn report_error(e: &Error, json_mode: bool) -> i32 {
    if json_mode {
        let doc = serde_json::json!({
            "error": { "kind": e.kind(), "code": e.exit_code(), "message": e.to_string() }
        });
        // Best effort: the error is being reported because something already failed.
        let _ = writeln!(std::io::stdout(), "{doc}");
    }
    problem(&e.to_string());
    e.exit_code()
}

/// RFC 3339 (UTC, seconds) for a point in time.
pub fn time(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// RFC 3339 for Unix seconds.
pub fn unix_time(secs: i64) -> String {
    time(UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64))
}
