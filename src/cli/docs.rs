//! Shell completions and the man page, generated from the argument definitions so they never drift.

use clap::CommandFactory;

use super::args::{Cli, CompletionsArgs};
use crate::error::{Error, Result};

pub fn completions(a: CompletionsArgs) -> Result<i32> {
    clap_complete::generate(a.shell, &mut Cli::command(), "keep", &mut std::io::stdout());
    Ok(0)
}

pub fn man() -> Result<i32> {
    clap_mangen::Man::new(Cli::command())
        .render(&mut std::io::stdout())
        .map_err(|e| Error::Io {
            context: "cannot write the man page".into(),
            source: e,
        })?;
    Ok(0)
}
