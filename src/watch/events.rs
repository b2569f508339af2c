//! What wakes a watcher: inotify on the vault's folder, and the signals keep passes on. Each source
//! is a thread blocked in the kernel (`read` on the inotify descriptor, the signal pipe) that sends a
//! [`Msg`] down one channel, so an idle watcher makes no system call at all: there is no polling loop
//! and no timer until something happens.
//!
//! The folder is watched, not the file: SQLite commits go to `vault.db-wal` first, and a replaced
//! vault is a new file (`mv`, a restore) that a watch on the old inode would never see.

use std::ffi::OsString;
use std::path::Path;
use std::sync::mpsc::Sender;

use inotify::{Inotify, WatchMask};

use crate::error::{Error, Result};

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// The vault file, its WAL or the folder changed: check (after the debounce).
    Vault,
    /// keep received a signal; `from_terminal` when the kernel sent it (Ctrl-C), which the child,
    /// in the same foreground process group, got as well.
    Signal { signal: i32, from_terminal: bool },
    /// The child `pid` exited with `code` (128+N after signal N).
    Exited { pid: i32, code: i32 },
}

/// Start watching the folder of `vault_path`, sending [`Msg::Vault`] for every change to the vault
/// file or its WAL and for anything that happens to the folder itself.
pub fn watch_folder(vault_path: &Path, tx: Sender<Msg>) -> Result<()> {
    let folder = match vault_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file = vault_path
        .file_name()
        .map(OsString::from)
        .unwrap_or_default();
    let fail = |e| Error::Io {
        context: format!("cannot watch {} for changes (inotify)", folder.display()),
        source: e,
    };
    let mut inotify = Inotify::init().map_err(fail)?;
    inotify
        .watches()
        .add(
            &folder,
            WatchMask::MODIFY
                | WatchMask::CLOSE_WRITE
                | WatchMask::CREATE
                | WatchMask::DELETE
                | WatchMask::MOVED_FROM
                | WatchMask::MOVED_TO
                | WatchMask::DELETE_SELF
                | WatchMask::MOVE_SELF
                | WatchMask::ONLYDIR,
        )
        .map_err(fail)?;
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        loop {
            let events = match inotify.read_events_blocking(&mut buffer) {
                Ok(events) => events,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // The descriptor failed: say so once, then the watcher checks and carries on
                // without this source (it still stops on signals and on the child's exit).
                Err(_) => {
                    let _ = tx.send(Msg::Vault);
                    return;
                }
            };
            let ours = events.into_iter().any(|event| match event.name {
                // An event on the folder itself (deleted, moved, unmounted).
                None => true,
                Some(name) => concerns(name.as_encoded_bytes(), file.as_encoded_bytes()),
            });
            if ours && tx.send(Msg::Vault).is_err() {
                return;
            }
        }
    });
    Ok(())
}

/// Whether a file named `name` is the vault file `file` or one of SQLite's files beside it.
fn concerns(name: &[u8], file: &[u8]) -> bool {
    name == file
        || [&b"-wal"[..], b"-journal"]
            .iter()
            .any(|suffix| name.strip_prefix(file) == Some(suffix))
}

/// Pass the signals keep forwards ([`crate::using::exec::FORWARDED`]) to the channel, with where they
/// came from.
pub fn watch_signals(tx: Sender<Msg>) -> Result<()> {
    use signal_hook::iterator::exfiltrator::WithOrigin;
    use signal_hook::iterator::SignalsInfo;
    use signal_hook::low_level::siginfo::Cause;

    let mut signals =
        SignalsInfo::<WithOrigin>::new(crate::using::exec::FORWARDED).map_err(|e| Error::Io {
            context: "cannot install signal handlers".into(),
            source: e,
        })?;
    std::thread::spawn(move || {
        for origin in signals.forever() {
            let msg = Msg::Signal {
                signal: origin.signal,
                from_terminal: matches!(origin.cause, Cause::Kernel),
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_vault_and_its_sqlite_files_concern_the_watcher_and_nothing_else_does() {
        let c = |n: &str| super::concerns(n.as_bytes(), b"vault.db");
        assert!(c("vault.db") && c("vault.db-wal") && c("vault.db-journal"));
        assert!(!c("vault.db-shm") && !c("other.db") && !c("vault.db.bak") && !c("pass"));
    }
}
