//! Argument definitions. Help texts here are what `keep help`, the man page and completions show.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `--kdf-memory`: `slots::passphrase::parse_memory`, in KiB. Like every typed flag, a bad value is
/// clap's usage error (exit 2) with the library's message.
fn kib(text: &str) -> Result<u32, String> {
    crate::slots::passphrase::parse_memory(text).map_err(|e| e.to_string())
}

/// `keep audit --action`: one of the audit actions (`audit::Action::parse`).
fn action(text: &str) -> Result<crate::audit::Action, String> {
    crate::audit::Action::parse(text).map_err(|e| e.to_string())
}

/// The root of the command line, defined once for two types: [`Cli`], what `keep` parses, whose
/// subcommands are [`Command`]; and [`DocsCli`], the same tree built whole ([`EagerCommand`]), from
/// which the man page and completions are generated (src/cli/docs.rs).
macro_rules! cli {
    ($(#[$attr:meta])* $name:ident, $command:ty) => {
        /// A local encrypted secrets vault.
        #[derive(Debug, Parser)]
        #[command(name = "keep", version, max_term_width = 100)]
        #[command(
            after_help = "Exit codes: 0 ok, 1 findings, 2 usage, 3 not found, 4 authentication failed, \
5 integrity failure, 6 locked (no way to get the key), 7 remote failure, 8 system error, \
9 rotation hook failed (old value still current, new one pending)."
        )]
        $(#[$attr])*
        pub struct $name {
            #[command(flatten)]
            pub global: GlobalArgs,
            #[command(subcommand)]
            pub command: $command,
        }
    };
}

cli!(Cli, Command);
cli!(
    #[allow(dead_code)] // only its command tree is used
    DocsCli,
    EagerCommand
);

/// Flags every command accepts, shown after a command's own options in its help.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
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
    /// An age identity file that opens an age key slot (or an age import) [env: KEEP_AGE_IDENTITY]
    #[arg(long, global = true, value_name = "FILE")]
    pub identity: Option<PathBuf>,
}

/// The subcommands, defined once for two types by this macro.
///
/// [`Command`] is what `keep` parses. It is `defer`red: clap builds a subcommand's arguments only
/// when that subcommand is used, so `keep exec` does not build the other forty (about 0.5 ms and
/// 50 page faults of every run, BENCHMARKS.md "keep exec overhead"). [`EagerCommand`] builds every
/// subcommand up front, as `Command` did before: the man page and completions are generated from
/// it, because building a deferred tree afterwards (`Command::build`) lists each subcommand's
/// global options before its own and leaves `help audit verify` out of the completions.
macro_rules! commands {
    ($(#[$attr:meta])* $name:ident) => {
        #[derive(Debug, Subcommand)]
        $(#[$attr])*
        pub enum $name {
            /// Create a new vault
            Init(InitArgs),
            /// Set a secret; the value comes from a hidden prompt, stdin, or --from-file, never argv
            Set(SetArgs),
            /// Print a secret's value
            Get(GetArgs),
            /// List secret names in the current scope
            Ls(LsArgs),
            /// Delete secrets (a tombstone version each, in one transaction; `rollback` brings one back)
            Rm(NamesArg),
            /// Copy a secret or a whole scope (keep://PROJECT/ENV) to another, as new versions
            Cp(super::housekeeping::CopyArgs),
            /// Move a secret or a whole scope: copy it, then delete the source
            Mv(super::housekeeping::CopyArgs),
            /// List projects and environments with their secret counts, and the empty ones keep.toml declares
            Scopes,
            /// Drop a deleted secret's history for good (needs --yes; refuses a live secret)
            Purge(super::housekeeping::PurgeArgs),
            /// List a secret's versions
            History(NameArg),
            /// Make an earlier version current again, as a new version
            Rollback(RollbackArgs),
            /// Change the passphrase of the passphrase slot that opens with the current one
            Passwd(PasswdArgs),
            /// Cache the unlocked key for this login session, so later commands skip the KDF or HSM
            Unlock(UnlockArgs),
            /// Forget the cached key
            Lock,
            /// Manage key slots
            #[command(subcommand)]
            Slot(SlotCommand),
            /// Rotate a secret with a generator, every overdue secret (--due), or every secret (--all)
            Rotate(RotateArgs),
            /// Set or remove a secret's rotation policy
            #[command(subcommand)]
            Policy(PolicyCommand),
            /// Every secret's age and rotation policy, with overdue / never-rotated / pending marks
            Status(StatusArgs),
            /// List the audit log, verify its chain (`audit verify`), or flag unusual access (--unusual)
            Audit(AuditArgs),
            /// Check secret hygiene (reuse across environments, weak values, overdue rotation, .env files,
            /// plaintext copies); exit 1 on an error-level finding
            Lint,
            /// Check the whole vault: every slot, record, version, head, the manifest and the audit chain;
            /// exit 5 naming what failed
            Verify,
            /// Replace the master key: every record re-sealed and every slot re-wrapped in one step, so a
            /// removed slot or an old passphrase opens nothing written from now on
            Rekey(RekeyArgs),
            /// Inspect PKCS#11 tokens and make wrapping keys
            #[command(subcommand)]
            Hsm(super::hsm::HsmCommand),
            /// Write current values as a standard age file (for backup or team hand-off)
            Export(super::custody::ExportArgs),
            /// Run a command with the scope's secrets in its environment
            Exec(super::using_args::ExecArgs),
            /// Print the scope's secrets in a format other tools read
            Env(super::using_args::EnvArgs),
            /// Write the secrets to a .env file (0600, atomic), or one file per secret with --dir
            Materialize(super::using_args::MaterializeArgs),
            /// Write .env.example: the names the project needs, without values
            Example(super::using_args::ExampleArgs),
            /// Render a template with {{ keep://PROJECT/ENV/NAME }} references
            Inject(super::using_args::InjectArgs),
            /// Import a dotenv, JSON or YAML file into the current scope, or an age file made by `keep export`
            /// (one transaction)
            Import(super::using_args::ImportArgs),
            /// List required names that are missing in the vault (exit 1 when some are)
            Check,
            /// Scan files, stdin (`-`), staged changes or git history for leaked secrets (exit 1 if any)
            Scan(ScanArgs),
            /// Git hooks
            #[command(subcommand)]
            Hook(HookCommand),
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
    };
}

commands!(
    #[command(defer = true)]
    Command
);
commands!(
    #[allow(dead_code)] // only its command tree is used
    EagerCommand
);

/// Argon2id cost for new passphrase slots.
#[derive(Debug, Args)]
pub struct KdfArgs {
    /// Argon2id memory, e.g. 64MiB [default: 64MiB]
    #[arg(long, value_name = "SIZE", value_parser = kib)]
    pub kdf_memory: Option<u32>,
    /// Argon2id iterations [default: 3]
    #[arg(long, value_name = "N")]
    pub kdf_iterations: Option<u32>,
    /// Argon2id parallelism [default: 1]
    #[arg(long, value_name = "N")]
    pub kdf_parallelism: Option<u32>,
}

/// Create a new vault
// The same about as the `Init` variant's: a struct's doc comment is applied when its arguments are
// built, which for a deferred subcommand is after the variant's, so without it the last flattened
// struct's (`InitCustodyArgs`) would become `keep init`'s about.
#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub kdf: KdfArgs,
    #[command(flatten)]
    pub custody: super::custody::InitCustodyArgs,
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
    /// Accept an empty value (refused otherwise: an empty pipe is usually a command that failed)
    #[arg(long)]
    pub allow_empty: bool,
    /// Generate the value: token:N, hex:N, password:LEN[:luds], uuid, age, ed25519
    #[arg(
        long,
        value_name = "SPEC",
        conflicts_with_all = ["from_file", "raw", "allow_empty"],
        value_parser = crate::rotate::Generator::parse_arg
    )]
    pub generate: Option<crate::rotate::Generator>,
    /// Anything after NAME: refused, because values never come from argv. Caught here (not by
    /// clap) so the error can show the pipe form, and never repeats what was typed.
    #[arg(hide = true, allow_hyphen_values = true, num_args = 0..)]
    pub stray: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// NAME, or keep://PROJECT/ENV/NAME
    #[arg(required_unless_present_any = ["due", "all"], conflicts_with_all = ["due", "all"])]
    pub name: Option<String>,
    /// The generator (token:N, hex:N, password:LEN[:luds], uuid, age, ed25519) [default: the policy's]
    #[arg(long, value_name = "SPEC", value_parser = crate::rotate::Generator::parse_arg)]
    pub generator: Option<crate::rotate::Generator>,
    /// Rotate every overdue secret that has a generator
    #[arg(long, conflicts_with = "all")]
    pub due: bool,
    /// Rotate every secret in scope (the breach plan); secrets without a generator are listed as manual
    #[arg(long)]
    pub all: bool,
    /// With --due/--all: every environment of the project, not only the current one
    #[arg(long)]
    pub all_envs: bool,
    /// With --due/--all: print the plan (secrets, generators, consumers) and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print the pending value of a rotation whose hooks failed
    #[arg(long, requires = "name", conflicts_with_all = ["retry", "discard", "generator"])]
    pub show_pending: bool,
    /// Run the hooks again for the pending value and promote it if they succeed
    #[arg(long, requires = "name", conflicts_with_all = ["discard", "generator"])]
    pub retry: bool,
    /// Drop the pending value
    #[arg(long, requires = "name", conflicts_with = "generator")]
    pub discard: bool,
    /// Rotate locally only: do not push the new value to the scope's sync targets
    #[arg(long)]
    pub no_push: bool,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Set a secret's rotation policy (in this scope)
    Set {
        /// NAME, or keep://PROJECT/ENV/NAME
        name: String,
        /// The longest a value may live, e.g. 30d, 12h
        #[arg(long, value_name = "D", value_parser = crate::duration::parse_span)]
        max_age: std::time::Duration,
        /// How `keep rotate` makes a new value [default: none, rotated by hand]
        #[arg(long, value_name = "SPEC", value_parser = crate::rotate::Generator::parse_arg)]
        generator: Option<crate::rotate::Generator>,
    },
    /// Remove a secret's rotation policy
    Rm {
        /// NAME, or keep://PROJECT/ENV/NAME
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Every environment of the project
    #[arg(long)]
    pub all_envs: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Only entries newer than this: a duration (1h, 7d), a date (2026-01-31) or an RFC 3339 time
    #[arg(long, value_name = "D", value_parser = crate::duration::parse_point)]
    pub since: Option<std::time::SystemTime>,
    /// Only entries about this secret (NAME in any scope, or keep://PROJECT/ENV/NAME)
    #[arg(long, value_name = "N")]
    pub name: Option<String>,
    /// Only this action (read, write, delete, rollback, rotate, policy, unlock, unlock-failed,
    /// slot-add, slot-remove, passwd, rekey, audit-compact)
    #[arg(long, value_name = "A", value_parser = action)]
    pub action: Option<crate::audit::Action>,
    /// Flag unusual access instead of listing (rules and thresholds: README); exit 1 when any
    #[arg(long)]
    pub unusual: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the chain and compare it with its witness outside the vault file: exit 0 when intact,
    /// 1 naming the first bad or missing entry (a missing witness is a finding)
    Verify {
        /// Check the chain alone, without the witness (for a vault moved from another home)
        #[arg(long)]
        no_witness: bool,
    },
    /// Remove the entries older than D behind a signed checkpoint, so the rest still verifies; the
    /// witness keeps the full history. Refused (exit 5, nothing changed) when the log does not verify
    Compact {
        /// Remove entries older than this: a date (2026-01-31), an RFC 3339 time, or a duration
        /// (90d: older than 90 days). Never the newest entry; a time in the future is refused
        #[arg(long, value_name = "D", value_parser = crate::duration::parse_point)]
        before: std::time::SystemTime,
        /// Say what would be removed, and remove nothing
        #[arg(long)]
        dry_run: bool,
        /// Compact without comparing the log with its witness first (a vault moved from another
        /// home)
        #[arg(long)]
        no_witness: bool,
    },
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
pub struct NamesArg {
    /// NAME, or keep://PROJECT/ENV/NAME (several: all are deleted, or none)
    #[arg(required = true)]
    pub names: Vec<String>,
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
    /// How long the key stays cached, e.g. 15m, 1h; at most 7d
    #[arg(long, default_value = "15m", value_name = "DURATION", value_parser = crate::session::cache::parse_ttl)]
    pub ttl: std::time::Duration,
    /// Only say whether the vault is unlocked in this session and for how long (exit 6 if not)
    #[arg(long)]
    pub status: bool,
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
        /// Also replace the master key (`keep rekey`), so that a copy of the removed slot opens
        /// nothing written from now on
        #[arg(long)]
        rekey: bool,
        /// With --rekey: remove the other slots whose credential is not at hand
        #[arg(long, requires = "rekey")]
        drop_other_slots: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SlotAddCommand {
    /// A passphrase slot (Argon2id); the new passphrase comes from KEEP_NEW_PASSPHRASE_FILE,
    /// KEEP_PASSPHRASE_FILE or a prompt
    Passphrase(KdfArgs),
    /// An HSM slot: the master key wrapped by an AES-256 key in a PKCS#11 token; the PIN comes
    /// from KEEP_PKCS11_PIN_FILE, KEEP_PKCS11_PIN or a prompt
    Hsm(super::hsm::HsmSlotArgs),
    /// An age slot: the master key wrapped to an age X25519 recipient
    Age {
        /// The recipient, age1...
        #[arg(long, value_name = "RECIPIENT")]
        recipient: String,
    },
    /// A recovery slot: prints a new recovery code once, on stderr, to write on paper
    Recovery,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or folders to scan, or `-` for stdin [default: .]
    pub paths: Vec<PathBuf>,
    /// Scan the added lines of the staged changes (what a pre-commit hook needs)
    #[arg(long, conflicts_with = "git")]
    pub staged: bool,
    /// Scan the added lines of every commit reachable from HEAD (commit, author and path reported)
    #[arg(long)]
    pub git: bool,
    /// With --git: only the commits after this revision
    #[arg(long, requires = "git", value_name = "REF")]
    pub since: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub format: ScanFormat,
    /// Drop findings whose fingerprints are in this file [default: .keep-baseline.json if present]
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Accept the current findings: write their fingerprints (not the secrets) to this file
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// List the detection rules and exit
    #[arg(long)]
    pub rules: bool,
    /// Skip files larger than this many MiB
    #[arg(long, default_value_t = 10, value_name = "MIB")]
    pub max_file_mib: u64,
    /// Worker threads [default: the number of CPUs]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Do not look for vault values, even when the vault is unlocked
    #[arg(long)]
    pub no_vault: bool,
}

/// `keep scan --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Install a git pre-commit hook running `keep scan --staged` (an existing hook is chained)
    Install,
    /// Remove keep's pre-commit hook and put back the hook it chained, if any
    Uninstall,
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
    /// Resolve names changed on both sides: local|remote for all, NAME=local|remote for one
    /// (repeatable)
    #[arg(long, value_name = "[NAME=]SIDE")]
    pub prefer: Vec<crate::sync::plan::Preference>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The target, a [sync.NAME] table in keep.toml
    pub target: String,
    /// Show what would change; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Resolve names changed on both sides: local|remote for all, NAME=local|remote for one
    /// (repeatable)
    #[arg(long, value_name = "[NAME=]SIDE")]
    pub prefer: Vec<crate::sync::plan::Preference>,
    /// Also delete local secrets that were deleted remotely since the last sync (never without it)
    #[arg(long)]
    pub prune: bool,
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
        super::DocsCli::command().debug_assert();
    }

    /// Each command's path, about and argument ids (sorted: the order may differ, see `commands!`).
    fn summary(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        let mut args: Vec<String> = cmd
            .get_arguments()
            .map(|a| a.get_id().to_string())
            .collect();
        args.sort();
        out.push(format!(
            "{path}: {:?} / {:?} / {args:?}",
            cmd.get_about().map(|a| a.to_string()),
            cmd.get_long_about().map(|a| a.to_string())
        ));
        for sub in cmd.get_subcommands() {
            summary(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn the_deferred_tree_once_built_is_the_documented_one() {
        // What `keep init --help` shows comes from the deferred tree, the man page from the eager
        // one: the same abouts and arguments everywhere (argument order may differ, see `commands!`).
        let (mut parsed, mut docs) = (super::Cli::command(), super::DocsCli::command());
        parsed.build();
        docs.build();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        summary(&parsed, "keep", &mut a);
        summary(&docs, "keep", &mut b);
        // The built-in `help` subtrees: the deferred one misses nested groups (why `commands!`).
        let not_help = |l: &String| {
            !l.split(": ")
                .next()
                .unwrap()
                .split(' ')
                .any(|w| w == "help")
        };
        a.retain(not_help);
        b.retain(not_help);
        assert_eq!(a, b);
        assert!(a
            .iter()
            .any(|l| l.starts_with("keep init: Some(\"Create a new vault\")")));
    }
}

#[derive(Debug, Args)]
pub struct PasswdArgs {
    /// Also replace the master key (`keep rekey`), so that the old passphrase opens nothing written
    /// from now on, even through a slot row copied back from a backup
    #[arg(long)]
    pub rekey: bool,
    /// With --rekey: remove the other slots whose credential is not at hand
    #[arg(long, requires = "rekey")]
    pub drop_other_slots: bool,
}

#[derive(Debug, Args)]
pub struct RekeyArgs {
    /// Remove the slots whose credential is not at hand (another passphrase, an HSM slot without
    /// its PIN) instead of refusing
    #[arg(long)]
    pub drop_other_slots: bool,
}
