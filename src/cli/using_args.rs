//! Arguments of the commands that use secrets: `exec`, `env`, `materialize`, `example`, `inject`,
//! `import`, `check`. Kept apart from `args.rs` so each command group owns its definitions.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::using::formats::Format;

#[derive(Debug, Args)]
pub struct OnlyArgs {
    /// Only these secrets (comma-separated names) instead of the whole scope
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub only: Vec<String>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Without --redact keep replaces itself with CMD (Unix exec): CMD gets keep's \
pid, terminal, signals and exit status. With --redact keep stays as the parent, redacts CMD's stdout \
and stderr, forwards SIGINT/SIGTERM/SIGHUP and exits with CMD's code (128+N after signal N). \
Exit codes of keep itself: 3 a secret or reference is missing, 126 CMD is not executable, 127 CMD \
was not found; CMD is never started in these cases.

With --watch keep stays the parent and watches the vault: when a value it injected changes (set, \
rotate, pull, rollback, cp, from any process) it restarts CMD with the new values (--restart-signal, \
--grace, then SIGKILL), or sends --signal instead. It exits with CMD's code when CMD exits on its own; \
a SIGTERM to keep stops CMD the same way. The watcher stops CMD and exits 6 when `keep lock` runs, \
5 when the vault file is replaced or removed."
)]
pub struct ExecArgs {
    #[command(flatten)]
    pub only: OnlyArgs,
    /// Start CMD with only the secrets in its environment, not keep's own environment
    #[arg(long)]
    pub clean: bool,
    /// Inject this dotenv file's entries instead of the scope: values of the form
    /// keep://PROJECT/ENV/NAME are resolved from the vault, others pass through literally
    /// (repeatable; later files win). The scope's secrets and settings are added only with
    /// --with-scope
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// With --env-file: also inject the scope's secrets and settings (the files' entries win)
    #[arg(long, requires = "env_file")]
    pub with_scope: bool,
    /// Replace every injected value (and its base64, URL and JSON forms) in CMD's output with
    /// [REDACTED:NAME]
    #[arg(long)]
    pub redact: bool,
    /// Let CMD share keep's session keyring, so `keep` run by CMD uses the unlocked session. This
    /// hands CMD the whole vault (every scope, and the master key itself) until the session ends;
    /// without it CMD starts in a fresh session keyring and gets only the injected values
    #[arg(long)]
    pub inherit_session: bool,
    /// Stay CMD's parent and restart it when a value it was given changes in the vault
    #[arg(long)]
    pub watch: bool,
    /// With --watch: on a change send CMD this signal (e.g. HUP) instead of restarting it
    #[arg(long, value_name = "SIG", requires = "watch", value_parser = crate::watch::supervisor::parse_signal)]
    pub signal: Option<i32>,
    /// With --watch: the signal that asks CMD to exit before a restart
    #[arg(long, value_name = "SIG", requires = "watch", default_value = "TERM",
          value_parser = crate::watch::supervisor::parse_signal, conflicts_with = "signal")]
    pub restart_signal: i32,
    /// With --watch: how long CMD has to exit after the restart signal (or keep's SIGTERM) before
    /// SIGKILL
    #[arg(long, value_name = "DURATION", requires = "watch", default_value = "10s", value_parser = parse_grace)]
    pub grace: Duration,
    /// The command and its arguments (after `--`)
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Output format
    #[arg(long, value_enum, default_value = "dotenv")]
    pub format: Format,
    #[command(flatten)]
    pub only: OnlyArgs,
    /// metadata.name of the Kubernetes Secret [default: PROJECT-ENV]
    #[arg(long, value_name = "NAME")]
    pub k8s_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct MaterializeArgs {
    /// The file to write
    #[arg(default_value = ".env", conflicts_with = "dir")]
    pub path: PathBuf,
    /// Write one file per secret into DIR instead (the Kubernetes mounted-secret layout)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Write even where git could commit the file, and replace a file keep did not write
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub only: OnlyArgs,
    /// Keep running and write again (atomically) whenever a value written changes in the vault;
    /// stop with Ctrl-C or SIGTERM. Exits 6 when `keep lock` runs, 5 when the vault file is replaced
    #[arg(long)]
    pub watch: bool,
}

/// `--grace`: a duration such as `10s`, `500ms`, `0s`, at most an hour.
fn parse_grace(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| format!("{e} (use e.g. 10s, 500ms)"))?;
    if d > Duration::from_secs(3600) {
        return Err("must be at most 1h".into());
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub struct ExampleArgs {
    /// Where to write [default: .env.example beside keep.toml, else here]; `-` for stdout
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Rewrite the file from scratch instead of adding the missing names to it
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct InjectArgs {
    /// The template, with {{ keep://PROJECT/ENV/NAME }} placeholders
    #[arg(short, long, value_name = "TEMPLATE")]
    pub input: PathBuf,
    /// Where to write the result (mode 0600, atomic) [default: stdout]
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Write OUT even where git could commit it
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "An age hand-off file (from `keep export --age` or the age CLI) names the scope of \
each secret. Only the current scope's secrets are written; the others are listed as skipped unless \
--all is given. age does not authenticate the sender: anyone with your recipient can make such a file, \
so check the list (--dry-run shows it without writing)."
)]
pub struct ImportArgs {
    /// A dotenv, JSON or YAML file (`-` for stdin), or an age hand-off file; the format comes from
    /// the content or the extension
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Expand `$NAME`/`${NAME}` in dotenv values from keys defined earlier in the same file (never
    /// from keep's environment); without it every `$` is kept as written
    #[arg(long)]
    pub expand: bool,
    /// Age hand-off files: also write the secrets of other scopes the file names
    #[arg(long)]
    pub all: bool,
    /// List what would be written (addresses and actions, never values) and write nothing
    #[arg(long)]
    pub dry_run: bool,
}
