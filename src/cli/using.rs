//! `exec` and `env`: secrets into a child's environment, or rendered as text on stdout.

use std::io::Write;
use std::sync::Arc;

use super::using_args::{EnvArgs, ExecArgs};
use super::{output, Context};
use crate::audit::{self, Action};
use crate::env::exec::{self, Environment, Failure};
use crate::env::formats::{self, Format};
use crate::env::redact::Patterns;
use crate::env::{self as using, loader, reference};
use crate::error::{Error, Result};

pub fn exec(ctx: &Context, a: ExecArgs) -> Result<i32> {
    let only = using::parse_names(&a.only.only)?;
    // Parse the env files before unlocking, so a typo fails fast.
    let files = a
        .env_file
        .iter()
        .map(|f| reference::read(f))
        .collect::<Result<Vec<_>>>()?;
    if !files.is_empty() && !a.with_scope && !only.is_empty() {
        return Err(Error::Usage(
            "--only picks names of the scope, which --env-file leaves out; add --with-scope to \
             inject those names beside the files' entries"
                .into(),
        ));
    }
    let mut vault = ctx.open()?;
    // With env files, only their entries (and the scope's view with --with-scope): a prod run must
    // not get whatever the current scope holds.
    let view = if files.is_empty() || a.with_scope {
        ctx.resolve(&vault, &only, !files.is_empty())?
    } else {
        Default::default()
    };
    let settings = view.settings();
    let mut read = view.read();
    let mut pairs = view.pairs();
    for entries in files {
        let (resolved, records) = reference::resolve(entries, &vault, ctx.config.as_ref())?;
        read.extend(records);
        pairs.extend(resolved);
    }
    // A loader variable (planted by a hand-off file or a pull, or from an env file) is never injected
    // unless keep.toml declares it.
    pairs.retain(|(name, _)| {
        let ok = loader::allowed(ctx.config.as_ref(), name.as_str());
        if !ok {
            output::warn(&format!(
                "{name} changes how programs load or start and is not injected; {}",
                loader::how_to_allow(name.as_str())
            ));
        }
        ok
    });
    // Recorded before the child starts: without --redact keep becomes the child and never returns.
    audit::record(&mut vault, Action::Read, &read, audit::OK)?;
    drop(vault);
    let mut env = Environment::new(!a.clean);
    if a.inherit_session {
        env.session = exec::Session::Inherit;
    }
    env.inject(&pairs)?;
    if ctx.verbose {
        for name in &env.replaced {
            output::note(&format!(
                "notice: {name} from keep replaces a variable of the same name"
            ));
        }
    }
    let failure = if a.redact {
        // Settings are not secret: never redacted (an env file may still name the same variable
        // with a secret value, and then it is).
        let refs = pairs
            .iter()
            .enumerate()
            .filter(|(i, (n, _))| !settings.contains(n) || *i >= view.len())
            .map(|(_, (n, v))| (n.as_str(), v.expose()))
            .collect::<Vec<_>>();
        if ctx.verbose {
            for name in Patterns::skipped(refs.iter().copied()) {
                output::note(&format!(
                    "notice: {name} is shorter than {} bytes and is not redacted",
                    crate::env::redact::MIN_VALUE_LEN
                ));
            }
        }
        let patterns = Arc::new(Patterns::new(refs));
        match exec::run_redacted(&env, &a.command, patterns) {
            Ok(code) => return Ok(code),
            Err(f) => f,
        }
    } else {
        exec::replace(&env, &a.command)
    };
    match failure {
        Failure::Keep(e) => Err(e),
        Failure::Launch { code, message } => Ok(report_launch(ctx, code, &message)),
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

pub fn env(ctx: &Context, a: EnvArgs) -> Result<i32> {
    let only = using::parse_names(&a.only.only)?;
    let format = if ctx.json { Format::Json } else { a.format };
    let mut vault = ctx.open()?;
    let view = ctx.resolve(&vault, &only, false)?;
    audit::record(&mut vault, Action::Read, &view.read(), audit::OK)?;
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
            return Ok(0);
        }
    }
    let text = formats::render(format, &pairs, &options)?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(stdout_err)?;
    Ok(0)
}
