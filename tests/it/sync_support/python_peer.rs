//! Peers written in Python (`tests/peers/*.py`): each binds 127.0.0.1 on a free port and prints the
//! port as its first line of output.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use super::Server;

/// Run `tests/peers/SCRIPT ARGS...` and wait for its port; `needs` says what to install if it fails.
pub fn start(script: &str, args: &[&std::ffi::OsStr], needs: &str) -> Server {
    let path = format!("{}/tests/peers/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .arg(&path)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 {script}: {e} ({needs})"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{script} did not start: {line:?} ({needs})"));
    Server { child, port }
}
