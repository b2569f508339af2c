//! A progress bar for long syncs: shown only on a terminal (stderr), only for more than
//! [`THRESHOLD`] items, and never with `--json`, so scripts and logs see no control characters.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Fewer items than this finish too fast for a bar to help.
pub const THRESHOLD: usize = 20;

/// A cloneable, thread-safe handle; a no-op when hidden.
#[derive(Clone, Default)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A hidden bar.
    pub fn hidden() -> Progress {
        Progress(None)
    }

    /// A bar for `len` items labelled `what`, if stderr is a terminal and `len` is large enough.
    pub fn new(len: usize, what: &str, enabled: bool) -> Progress {
        if !enabled || len <= THRESHOLD || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(what.to_string());
        Progress(Some(bar))
    }

    /// One more item done.
    pub fn inc(&self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }

    /// Remove the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
