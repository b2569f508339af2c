//! The command-line interface: argument definitions (clap) and dispatch to the library.
//!
//! Each command group lives in its own file and does three things only: turn arguments into library
//! calls, print data to stdout (or one JSON document with `--json`), and print messages to stderr.

mod args;
mod context;
mod docs;
mod input;
mod lifecycle;
pub mod output;
mod secrets;
mod slot;
mod sync;

pub use args::{Cli, Command};
pub use context::Context;

use clap::Parser;

use crate::error::Result;

/// Parse the process arguments, run the command, and return the exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    let json = cli.global.json;
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => output::report_error(&e, json),
    }
}

fn dispatch(cli: Cli) -> Result<i32> {
    let ctx = Context::new(cli.global)?;
    match cli.command {
        Command::Init(a) => lifecycle::init(&ctx, a),
        Command::Passwd => lifecycle::passwd(&ctx),
        Command::Unlock(a) => lifecycle::unlock(&ctx, a),
        Command::Lock => lifecycle::lock(&ctx),
        Command::Set(a) => secrets::set(&ctx, a),
        Command::Get(a) => secrets::get(&ctx, a),
        Command::Ls(a) => secrets::ls(&ctx, a),
        Command::Rm(a) => secrets::rm(&ctx, a),
        Command::History(a) => secrets::history(&ctx, a),
        Command::Rollback(a) => secrets::rollback(&ctx, a),
        Command::Slot(c) => slot::run(&ctx, c),
        Command::Push(a) => sync::push(&ctx, a),
        Command::Pull(a) => sync::pull(&ctx, a),
        Command::Diff(a) => sync::diff(&ctx, a),
        Command::Completions(a) => docs::completions(a),
        Command::Man => docs::man(),
    }
}
