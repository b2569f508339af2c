//! Shell completions and the man page, generated from the argument definitions so they never drift.

use super::exit::Exit;
use clap::CommandFactory;

use super::args::{Cli, CompletionsArgs};
use crate::error::{Error, Result};

pub fn completions(a: CompletionsArgs) -> Result<Exit> {
    clap_complete::generate(a.shell, &mut Cli::command(), "keep", &mut std::io::stdout());
    Ok(Exit::Success)
}

pub fn man() -> Result<Exit> {
    clap_mangen::Man::new(Cli::command())
        .render(&mut std::io::stdout())
        .map_err(|e| Error::Io {
            context: "cannot write the man page".into(),
            source: e,
        })?;
    Ok(Exit::Success)
}
