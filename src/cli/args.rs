//! Argument definitions. Help texts here are what `keep help`, the man page and completions show.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A local encrypted secrets vault.
#[derive(Debug, Parser)]
#[command(name = "keep", version, max_term_width = 100)]
#[command(
    after_help = "Exit codes: 0 ok, 1 findings, 2 usage, 3 not found, 4 authentication failed, \
5 integrity failure, 6 locked (no way to get the key), 7 remote failure, 8 system error."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The vault file [default: $XDG_DATA_HOME/keep/vault.db]
    #[arg(long, global = true, env = "KEEP_VAULT", value_name = "PATH")]
    pub vault: Option<PathBuf>,
    /// The project file [default: keep.toml, found by walking up from the working directory]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The project [default: from keep.toml, else "default"]
    #[arg(long, global = true, env = "KEEP_PROJECT", value_name = "P")]
    pub project: Option<String>,
    /// The environment [default: from keep.toml, else "dev"]
    #[arg(long, global = true, env = "KEEP_ENV", value_name = "E")]
    pub env: Option<String>,
    /// Print one JSON document on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Say more on stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new vault
    Init(InitArgs),
    /// Set a secret; the value comes from a hidden prompt, stdin, or --from-file, never argv
    Set(SetArgs),
    /// Print a secret's value
    Get(GetArgs),
    /// List secret names in the current scope
    Ls(LsArgs),
    /// Delete a secret (a tombstone version; `rollback` brings it back)
    Rm(NameArg),
    /// List a secret's versions
    History(NameArg),
    /// Make an earlier version current again, as a new version
    Rollback(RollbackArgs),
    /// Change the passphrase of the passphrase slot that opens with the current one
    Passwd,
    /// Cache the unlocked key for this login session, so later commands skip the KDF or HSM
    Unlock(UnlockArgs),
    /// Forget the cached key
    Lock,
    /// Manage key slots
    #[command(subcommand)]
    Slot(SlotCommand),
    /// Send local changes to a sync target (keep.toml [sync.NAME])
    Push(PushArgs),
    /// Take remote changes from a sync target, each as a new local version
    Pull(PullArgs),
    /// Compare local and remote names (+ local only, - remote only, ~ changed); exit 1 on drift
    Diff(DiffArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Print the man page (roff)
    Man,
}

/// Argon2id cost for new passphrase slots.
#[derive(Debug, Args)]
pub struct KdfArgs {
    /// Argon2id memory, e.g. 64MiB [default: 64MiB]
    #[arg(long, value_name = "SIZE")]
    pub kdf_memory: Option<String>,
    /// Argon2id iterations [default: 3]
    #[arg(long, value_name = "N")]
    pub kdf_iterations: Option<u32>,
    /// Argon2id parallelism [default: 1]
    #[arg(long, value_name = "N")]
    pub kdf_parallelism: Option<u32>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub kdf: KdfArgs,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// NAME, or keep://PROJECT/ENV/NAME
    pub name: String,
    /// Read the value from this file (its exact bytes)
    #[arg(long, value_name = "PATH")]
    pub from_file: Option<PathBuf>,
    /// Keep a trailing newline read from stdin
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// NAME, or keep://PROJECT/ENV/NAME
    pub name: String,
    /// Print this version instead of the current one
    #[arg(long, value_name = "N")]
    pub version: Option<u32>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// List every environment of the project
    #[arg(long)]
    pub all_envs: bool,
    /// Include deleted secrets
    #[arg(long)]
    pub deleted: bool,
}

#[derive(Debug, Args)]
pub struct NameArg {
    /// NAME, or keep://PROJECT/ENV/NAME
    pub name: String,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// NAME, or keep://PROJECT/ENV/NAME
    pub name: String,
    /// The version to restore
    #[arg(long, value_name = "N")]
    pub to: u32,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// How long the key stays cached, e.g. 15m, 1h
    #[arg(long, default_value = "15m", value_name = "DURATION")]
    pub ttl: String,
}

#[derive(Debug, Subcommand)]
pub enum SlotCommand {
    /// List key slots
    Ls,
    /// Add a key slot
    #[command(subcommand)]
    Add(SlotAddCommand),
    /// Remove a key slot (the last one is refused)
    Rm {
        /// The slot id, from `keep slot ls`
        id: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum SlotAddCommand {
    /// A passphrase slot (Argon2id); the new passphrase comes from KEEP_NEW_PASSPHRASE_FILE,
    /// KEEP_PASSPHRASE_FILE or a prompt
    Passphrase(KdfArgs),
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The target, a [sync.NAME] table in keep.toml
    pub target: String,
    /// Show what would change; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Delete remote secrets that no longer exist locally (only ones marked as managed by keep)
    #[arg(long)]
    pub prune: bool,
    /// With --prune: delete at once instead of keeping the provider's recovery window
    #[arg(long, requires = "prune")]
    pub force_delete_without_recovery: bool,
    /// Write even to a remote object keep does not manage (a Kubernetes Secret without the
    /// app.kubernetes.io/managed-by=keep label), taking it over
    #[arg(long)]
    pub force: bool,
    /// Resolve names changed on both sides in favour of this side
    #[arg(long, value_enum, value_name = "SIDE")]
    pub prefer: Option<crate::sync::plan::Prefer>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The target, a [sync.NAME] table in keep.toml
    pub target: String,
    /// Show what would change; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Resolve names changed on both sides in favour of this side
    #[arg(long, value_enum, value_name = "SIDE")]
    pub prefer: Option<crate::sync::plan::Prefer>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The target, a [sync.NAME] table in keep.toml
    pub target: String,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_argument_definitions_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
