//! `keep materialize --watch`: keep the written file (rewritten atomically) or the kubelet layout
//! (one `..data` swap per change) current until keep is stopped (SIGINT, SIGTERM or SIGHUP: exit 0)
//! or the watcher must stop (`keep lock`, a replaced vault: the watcher's error). The files stay as
//! last written.

use super::{Msg, Source, Update, Watcher};
use crate::error::Result;
use crate::using::Pair;

/// Serve until stopped; `write` puts the new values in place, `note` reports (already filtered for
/// `--verbose` by the caller where it should be).
pub fn serve(
    mut watcher: Watcher,
    source: &mut Source<'_>,
    write: &mut dyn FnMut(&[Pair]) -> Result<()>,
    note: &dyn Fn(&str),
    verbose: bool,
) -> Result<i32> {
    loop {
        match watcher.wait() {
            Msg::Signal { .. } => return Ok(0),
            Msg::Exited { .. } => {}
            Msg::Vault => {
                watcher.settle();
                match watcher.refresh(source) {
                    Update::Same => {}
                    Update::Stop(e) => return Err(e),
                    Update::Failed(e) => note(&format!(
                        "keep: warning: cannot read the changed values ({e}); the files keep the ones \
                         they have"
                    )),
                    Update::Changed(resolved) => match write(&resolved.pairs) {
                        Ok(()) if verbose => note(&format!(
                            "keep: a watched value changed; wrote {} secrets",
                            resolved.pairs.len()
                        )),
                        Ok(()) => {}
                        Err(e) => note(&format!(
                            "keep: warning: cannot write the changed values ({e}); the files keep the \
                             ones they have"
                        )),
                    },
                }
            }
        }
    }
}
