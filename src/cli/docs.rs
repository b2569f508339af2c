//! Shell completions and the man page, generated from the argument definitions so they never drift.
//!
//! Both come from [`DocsCli`], the same definitions as the parsed [`super::Cli`] with every
//! subcommand built up front (src/cli/args.rs, `commands!`).

use clap::CommandFactory;

use super::args::{CompletionsArgs, DocsCli};
use super::exit::Exit;
use crate::error::{Error, Result};

pub fn completions(a: CompletionsArgs) -> Result<Exit> {
    clap_complete::generate(
        a.shell,
        &mut DocsCli::command(),
        "keep",
        &mut std::io::stdout(),
    );
    Ok(Exit::Success)
}

pub fn man() -> Result<Exit> {
    clap_mangen::Man::new(DocsCli::command())
        .render(&mut std::io::stdout())
        .map_err(|e| Error::Io {
            context: "cannot write the man page".into(),
            source: e,
        })?;
    Ok(Exit::Success)
}
