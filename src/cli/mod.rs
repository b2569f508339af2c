//! The command-line interface: argument definitions (clap) and dispatch to the library.
//!
//! Each command group lives in its own file and does three things only: turn arguments into library
//! calls, print data to stdout (or one JSON document with `--json`), and print messages to stderr.

mod args;
mod audit;
mod audit_compact;
mod context;
mod custody;
mod docs;
mod exit;
mod files;
mod housekeeping;
mod hsm;
mod input;
mod lifecycle;
mod lint;
pub mod output;
mod passphrase;
mod rekey;
mod rotation;
mod scan;
mod secrets;
mod slot;
mod suggest;
mod sync;
mod using;
mod using_args;
mod verify;

pub use args::{Cli, Command};
pub use context::Context;

use crate::error::{self, Result};
use exit::Exit;

/// Parse the process arguments, run the command, and return the exit code.
pub fn run() -> i32 {
    if std::env::args_os().len() == 1 {
        if let Some(code) = first_steps() {
            return code;
        }
    }
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let matches = cmd
        .try_get_matches_from_mut(std::env::args_os())
        .unwrap_or_else(|e| e.exit());
    // The process ends soon after: freeing the whole command tree would only cost time.
    std::mem::forget(cmd);
    // The audit log records the subcommand path only, never arguments (they hold secret names).
    let command = command_path(&matches);
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let json = cli.global.json;
    match dispatch(cli, command) {
        Ok(exit) => exit.code(),
        Err(e) => output::report_error(&e, json),
    }
}

fn dispatch(cli: Cli, command: String) -> Result<Exit> {
    let ctx = Context::new(cli.global, command)?;
    match cli.command {
        Command::Init(a) => lifecycle::init(&ctx, a),
        Command::Passwd(a) => lifecycle::passwd(&ctx, a),
        Command::Unlock(a) => lifecycle::unlock(&ctx, a),
        Command::Lock => lifecycle::lock(&ctx),
        Command::Set(a) => secrets::set(&ctx, a),
        Command::Get(a) => secrets::get(&ctx, a),
        Command::Ls(a) => secrets::ls(&ctx, a),
        Command::Rm(a) => secrets::rm(&ctx, a),
        Command::Cp(a) => housekeeping::copy(&ctx, a, false),
        Command::Mv(a) => housekeeping::copy(&ctx, a, true),
        Command::Scopes => housekeeping::scopes(&ctx),
        Command::Purge(a) => housekeeping::purge(&ctx, a),
        Command::History(a) => secrets::history(&ctx, a),
        Command::Rollback(a) => secrets::rollback(&ctx, a),
        Command::Slot(c) => slot::run(&ctx, c),
        Command::Rotate(a) => rotation::rotate(&ctx, a),
        Command::Policy(c) => rotation::policy(&ctx, c),
        Command::Status(a) => rotation::status(&ctx, a),
        Command::Audit(a) => audit::run(&ctx, a),
        Command::Lint => lint::run(&ctx),
        Command::Verify => verify::run(&ctx),
        Command::Rekey(a) => rekey::run(&ctx, a),
        Command::Hsm(c) => hsm::run(&ctx, c),
        Command::Export(a) => custody::export(&ctx, a),
        Command::Exec(a) => using::exec(&ctx, a),
        Command::Env(a) => using::env(&ctx, a),
        Command::Materialize(a) => files::materialize(&ctx, a),
        Command::Example(a) => files::example(&ctx, a),
        Command::Inject(a) => files::inject(&ctx, a),
        Command::Import(a) => files::import(&ctx, a),
        Command::Check => files::check(&ctx),
        Command::Scan(a) => scan::scan(&ctx, a),
        Command::Hook(c) => scan::hook(&ctx, c),
        Command::Push(a) => sync::push(&ctx, a),
        Command::Pull(a) => sync::pull(&ctx, a),
        Command::Diff(a) => sync::diff(&ctx, a),
        Command::Completions(a) => docs::completions(a),
        Command::Man => docs::man(),
    }
}

/// A bare `keep` with no vault yet: how to start, instead of the full help. `None` when there is a
/// vault (clap then prints the help as usual).
fn first_steps() -> Option<i32> {
    let path = match std::env::var_os("KEEP_VAULT").filter(|p| !p.is_empty()) {
        Some(p) => std::path::PathBuf::from(p),
        None => crate::vault::default_vault_path().ok()?,
    };
    if path.exists() {
        return None;
    }
    eprintln!(
        "keep: no vault yet at {}.\n\nStart with:\n  keep init                        # \
         choose a passphrase\n  printf %s \"$VALUE\" | keep set NAME\n  keep exec -- CMD                 \
         # run CMD with the secrets in its environment\n\n`keep help` lists every command; \
         README.md has the quickstart.",
        path.display()
    );
    Some(error::exit::USAGE)
}

/// `rotate`, `slot add passphrase`, `audit verify`: the subcommand names of a parsed command line.
fn command_path(matches: &clap::ArgMatches) -> String {
    let mut names = Vec::new();
    let mut m = matches;
    while let Some((name, sub)) = m.subcommand() {
        names.push(name);
        m = sub;
    }
    names.join(" ")
}
