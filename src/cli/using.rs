//! `exec` and `env`: secrets into a child's environment, or rendered as text on stdout.

use std::io::Write;
use std::sync::Arc;

use super::exit::Exit;
use super::using_args::{EnvArgs, ExecArgs};
use super::{output, Context};
use crate::error::{Error, Result};
use crate::using::exec::{self, Environment, Failure};
use crate::using::formats::{self, Format};
use crate::using::redact::Patterns;
use crate::using::{self, loader, reference};
use crate::vault::Reader;
use crate::watch;

pub fn exec(ctx: &Context, a: ExecArgs) -> Result<Exit> {
    let only = using::parse_names(&a.only.only)?;
    // Parse the env files before unlocking, so a typo fails fast.
    let files = read_env_files(&a)?;
    if !files.is_empty() && !a.with_scope && !only.is_empty() {
        return Err(Error::Usage(
            "--only picks names of the scope, which --env-file leaves out; add --with-scope to \
             inject those names beside the files' entries"
                .into(),
        ));
    }
    let mut vault = ctx.open()?;
    // The vault records the read before it returns, so before the child starts: without --redact
    // keep becomes the child and never returns.
    let Gathered {
        pairs,
        read,
        settings,
        view_len,
    } = vault.read(|r| gather(ctx, r, &a, &only, files, true))?;
    if a.watch {
        return watch_exec(ctx, &a, vault, pairs, read, &only);
    }
    drop(vault);
    let env = environment(ctx, &a, &pairs)?;
    let failure = if a.redact {
        // Settings are not secret: never redacted (an env file may still name the same variable
        // with a secret value, and then it is).
        let refs = pairs
            .iter()
            .enumerate()
            .filter(|(i, (n, _))| !settings.contains(n) || *i >= view_len)
            .map(|(_, (n, v))| (n.as_str(), v.expose()))
            .collect::<Vec<_>>();
        warn_unredacted(ctx, &pairs);
        let patterns = Arc::new(Patterns::new(refs));
        match exec::run_redacted(&env, &a.command, patterns) {
            Ok(code) => return Ok(Exit::Status(code)),
            Err(f) => f,
        }
    } else {
        exec::replace(&env, &a.command)
    };
    launch_failed(ctx, failure)
}

fn read_env_files(a: &ExecArgs) -> Result<Vec<Vec<reference::Entry>>> {
    a.env_file.iter().map(|f| reference::read(f)).collect()
}

/// What `exec` injects, and what it read for it.
struct Gathered {
    pairs: Vec<using::Pair>,
    read: Vec<crate::scope::Address>,
    /// The names among the first `view_len` pairs that are keep.toml settings (never redacted).
    settings: std::collections::BTreeSet<crate::scope::Name>,
    /// How many pairs come from the scope's view; the env files' entries follow.
    view_len: usize,
}

/// The values `exec` injects and the addresses read for them. With env files, only their entries
/// (and the scope's view too with `--with-scope`): a prod run must not get whatever the current
/// scope holds. A loader variable (planted by a hand-off file or a pull, or from an env file) is
/// never injected unless keep.toml declares it; `warn` says so on stderr.
fn gather(
    ctx: &Context,
    reader: &Reader<'_>,
    a: &ExecArgs,
    only: &[crate::scope::Name],
    files: Vec<Vec<reference::Entry>>,
    warn: bool,
) -> Result<Gathered> {
    let view = if files.is_empty() || a.with_scope {
        ctx.resolve(reader, only, !files.is_empty())?
    } else {
        Default::default()
    };
    let settings = view.settings();
    let view_len = view.len();
    let mut read = view.read();
    let mut pairs = view.pairs();
    for entries in files {
        let (resolved, records) = reference::resolve(entries, reader, ctx.config.as_ref())?;
        read.extend(records);
        pairs.extend(resolved);
    }
    pairs.retain(|(name, _)| {
        let ok = loader::allowed(ctx.config.as_ref(), name.as_str());
        if !ok && warn {
            output::warn(&format!(
                "{name} changes how programs load or start and is not injected; {}",
                loader::how_to_allow(name.as_str())
            ));
        }
        ok
    });
    Ok(Gathered {
        pairs,
        read,
        settings,
        view_len,
    })
}

/// The command's environment: keep's own (unless `--clean`) with the values injected over it.
fn environment(ctx: &Context, a: &ExecArgs, pairs: &[using::Pair]) -> Result<Environment> {
    let mut env = Environment::new(!a.clean);
    if a.inherit_session {
        env.session = exec::Session::Inherit;
    }
    env.inject(pairs)?;
    if ctx.verbose {
        for name in &env.replaced {
            output::note(&format!(
                "notice: {name} from keep replaces a variable of the same name"
            ));
        }
    }
    Ok(env)
}

/// Under `--redact --verbose`: the values too short to be redacted.
fn warn_unredacted(ctx: &Context, pairs: &[using::Pair]) {
    if ctx.verbose {
        let refs = pairs.iter().map(|(n, v)| (n.as_str(), v.expose()));
        for name in Patterns::skipped(refs) {
            output::note(&format!(
                "notice: {name} is shorter than {} bytes and is not redacted",
                crate::using::redact::MIN_VALUE_LEN
            ));
        }
    }
}

fn launch_failed(ctx: &Context, failure: Failure) -> Result<Exit> {
    match failure {
        Failure::Keep(e) => Err(e),
        Failure::Launch { code, message } => Ok(Exit::Status(report_launch(ctx, code, &message))),
    }
}

/// `exec --watch`: keep stays the parent and restarts (or signals) the command on a change.
fn watch_exec(
    ctx: &Context,
    a: &ExecArgs,
    vault: crate::vault::Vault,
    pairs: Vec<using::Pair>,
    read: Vec<crate::scope::Address>,
    only: &[crate::scope::Name],
) -> Result<Exit> {
    let whole_scope = only.is_empty().then(|| ctx.scope.clone());
    let first = watch::Resolved {
        pairs,
        read,
        whole_scope: whole_scope.clone(),
    };
    if a.redact {
        warn_unredacted(ctx, &first.pairs);
    }
    let watcher = watch::Watcher::start(vault, &first)?;
    let mut source = |r: &Reader<'_>| {
        let g = gather(ctx, r, a, only, read_env_files(a)?, false)?;
        Ok(watch::Resolved {
            pairs: g.pairs,
            read: g.read,
            whole_scope: whole_scope.clone(),
        })
    };
    let options = watch::supervisor::Options {
        signal: a.signal,
        restart_signal: a.restart_signal,
        grace: a.grace,
        redact: a.redact,
        verbose: ctx.verbose,
    };
    let make_env = |pairs: &[using::Pair]| environment(ctx, a, pairs);
    match watch::supervisor::run(
        watcher,
        first,
        &mut source,
        &a.command,
        &options,
        &make_env,
        &output::note,
    ) {
        Ok(code) => Ok(Exit::Status(code)),
        Err(f) => launch_failed(ctx, f),
    }
}

/// A command that could not be started: the message on stderr (and a JSON error with `--json`).
fn report_launch(ctx: &Context, code: i32, message: &str) -> i32 {
    if ctx.json {
        let kind = if code == crate::error::exit::COMMAND_NOT_FOUND {
            "command_not_found"
        } else {
            "cannot_execute"
        };
        println!(
            "{}",
            serde_json::json!({ "error": { "kind": kind, "code": code, "message": message } })
        );
    }
    eprintln!(
        "{} {message}",
        output::paint("keep:", "31", output::color_stderr())
    );
    code
}

pub fn env(ctx: &Context, a: EnvArgs) -> Result<Exit> {
    let only = using::parse_names(&a.only.only)?;
    let format = if ctx.json { Format::Json } else { a.format };
    let mut vault = ctx.open()?;
    let view = vault.read(|r| ctx.resolve(r, &only, false))?;
    drop(vault);
    let pairs = view.pairs();
    // Settings are not secret: the github format never masks them.
    let unmasked = view.settings();
    let options = formats::Options {
        unmasked: unmasked.clone(),
        k8s_name: a
            .k8s_name
            .unwrap_or_else(|| formats::k8s_name(ctx.scope.project(), ctx.scope.env())),
    };
    let stdout_err = |e| Error::Io {
        context: "cannot write to stdout".into(),
        source: e,
    };
    if format == Format::Github {
        if let Some(path) = std::env::var_os("GITHUB_ENV").filter(|p| !p.is_empty()) {
            // Inside Actions: the values go to the runner's env file, never to the log; only the
            // masks reach stdout, where the runner reads them.
            let g = formats::github(&pairs, &unmasked)?;
            let path = std::path::PathBuf::from(path);
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| Error::io("open $GITHUB_ENV", &path, e))?;
            f.write_all(g.env_file.as_bytes())
                .map_err(|e| Error::io("append to $GITHUB_ENV", &path, e))?;
            std::io::stdout()
                .write_all(g.masks.as_bytes())
                .map_err(stdout_err)?;
            return Ok(Exit::Success);
        }
    }
    let text = formats::render(format, &pairs, &options)?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(stdout_err)?;
    Ok(Exit::Success)
}
