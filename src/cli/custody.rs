//! `keep export --age`, the age half of `keep import`, and the custody flags of `keep init`
//! (`--hsm ...`, `--recovery`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;

use super::exit::Exit;
use super::{output, Context};
use crate::agefile;
use crate::backup::{self, Selection};
use crate::error::{Error, Result};
use crate::session;
use crate::slots::recovery::{self, RecoveryCode};
use crate::vault::Vault;

/// Custody flags of `keep init`.
#[derive(Debug, Args)]
pub struct InitCustodyArgs {
    /// Make the first slot an HSM slot (needs --key; see `keep slot add hsm --help`)
    #[arg(long)]
    pub hsm: bool,
    #[command(flatten)]
    pub hsm_args: super::hsm::HsmSlotArgs,
    /// Also create a recovery key, printed once on stderr for paper (asked on a terminal otherwise)
    #[arg(long, conflicts_with = "no_recovery")]
    pub recovery: bool,
    /// Do not offer a recovery key
    #[arg(long)]
    pub no_recovery: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Encrypt to this recipient: an age key (age1...) or an SSH public key (ssh-ed25519/ssh-rsa ...)
    /// (repeatable)
    #[arg(long = "age", value_name = "RECIPIENT")]
    pub recipients: Vec<String>,
    /// Encrypt to every recipient listed in FILE, one a line, `#` comments (repeatable; as `age -R`)
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    pub recipients_files: Vec<PathBuf>,
    /// `age` (encrypted, the default) or `dotenv`: plain NAME='value' lines for a colleague without
    /// keep — NOT encrypted
    #[arg(long, value_enum, default_value = "age")]
    pub format: ExportFormat,
    /// ASCII-armor the age file (PEM-style text)
    #[arg(long)]
    pub armor: bool,
    /// Export every project and environment instead of the current scope (--env E picks another env)
    #[arg(long)]
    pub all: bool,
    /// Write here (created 0600, atomically) instead of stdout
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// What `keep export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Age,
    Dotenv,
}

/// After `init`: add a recovery slot when asked to (or when the user says yes on a terminal).
pub fn offer_recovery(vault: &mut Vault, a: &InitCustodyArgs) -> Result<Option<u32>> {
    let want = if a.recovery {
        true
    } else if a.no_recovery || !session::interactive() || !std::io::stderr().is_terminal() {
        if !a.no_recovery {
            output::note("Tip: `keep slot add recovery` creates a recovery key for a forgotten passphrase or a lost token.");
        }
        false
    } else {
        session::credentials::confirm(
            "Create a recovery key (a code to write on paper that opens the vault)?",
        )?
    };
    if !want {
        return Ok(None);
    }
    add_recovery(vault).map(Some)
}

/// Add a recovery slot and print its code once on stderr.
pub fn add_recovery(vault: &mut Vault) -> Result<u32> {
    let code = RecoveryCode::generate();
    let id = vault.add_slot(&code)?;
    let paper = recovery::paper(&code, vault.path());
    eprintln!("{}", paper.as_str());
    Ok(id)
}

pub fn export(ctx: &Context, a: ExportArgs) -> Result<Exit> {
    if a.format == ExportFormat::Dotenv {
        return export_dotenv(ctx, &a);
    }
    let mut texts = a.recipients.clone();
    for file in &a.recipients_files {
        texts.extend(agefile::recipients_file(file)?);
    }
    if texts.is_empty() {
        return Err(Error::Usage(
            "export needs a recipient: --age age1... or -R FILE (or --format dotenv for a plain, \
             unencrypted file)"
                .into(),
        ));
    }
    let recipients = texts
        .iter()
        .map(|r| agefile::HandOff::parse(r))
        .collect::<Result<Vec<_>>>()?;
    let recipients: Vec<&dyn age::Recipient> = recipients.iter().map(|r| r.as_dyn()).collect();
    if a.output.is_none() && !a.armor && std::io::stdout().is_terminal() {
        return Err(Error::Usage(
            "refusing to write a binary age file to the terminal; add --armor or -o FILE".into(),
        ));
    }
    let mut vault = ctx.open()?;
    let selection = if a.all {
        Selection::All
    } else {
        Selection::Scope(ctx.scope.clone())
    };
    // A recorded read: the vault names every exported record before the file is written.
    let (bytes, exported) = backup::export_age_to(&mut vault, &selection, &recipients, a.armor)?;
    if exported.is_empty() && !a.all {
        ctx.check_empty_scope(&vault)?;
    }
    let count = exported.len();
    match &a.output {
        Some(path) => backup::write_atomic(path, &bytes)?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|_| out.flush())
                .map_err(|e| Error::Io {
                    context: "cannot write the export to stdout".into(),
                    source: e,
                })?;
        }
    }
    output::note(&format!("Exported {count} secret(s) as an age file."));
    Ok(Exit::Success)
}

/// `export --format dotenv`: the scope's secrets as plain dotenv (the `materialize` quoting), to
/// stdout or to `-o` (created 0600, atomically), with a warning that nothing protects it.
fn export_dotenv(ctx: &Context, a: &ExportArgs) -> Result<Exit> {
    if !a.recipients.is_empty() || !a.recipients_files.is_empty() || a.armor || a.all {
        return Err(Error::Usage(
            "--format dotenv writes one scope, unencrypted: it takes no --age, -R, --armor or --all"
                .into(),
        ));
    }
    let mut vault = ctx.open()?;
    let view = vault.read(|r| ctx.resolve(r, &[], false))?;
    let text = crate::using::formats::dotenv(&view.pairs())?;
    drop(vault);
    output::warn(&format!(
        "this dotenv export of {} is NOT encrypted: anyone who can read it has the secrets. Hand it \
         over on a channel you trust and delete it after use; `keep export --age` encrypts.",
        ctx.scope
    ));
    match &a.output {
        Some(path) => backup::write_atomic(path, text.as_bytes())?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| Error::Io {
                    context: "cannot write the export to stdout".into(),
                    source: e,
                })?;
        }
    }
    output::note(&format!(
        "Exported {} secret(s) of {} as plain dotenv.",
        view.len(),
        ctx.scope
    ));
    Ok(Exit::Success)
}

/// The list an import prints (the same with and without `--dry-run`): one line per secret on stdout,
/// `+` added, `~` changed, `=` unchanged, `-` skipped (another scope), addresses only. With `--json`
/// and `dry_run` it is one JSON document.
pub fn print_import_items(
    ctx: &Context,
    items: &[backup::ImportItem],
    dry_run: bool,
) -> Result<()> {
    if ctx.json {
        if dry_run {
            output::json(&serde_json::json!({ "dry_run": true, "items": items }))?;
        }
        return Ok(());
    }
    let mut out = String::new();
    for item in items {
        let (mark, note) = match item.action {
            "add" => ("+", ""),
            "change" => ("~", ""),
            "unchanged" => ("=", "  (same value)"),
            _ => ("-", "  (skipped: another scope; --all imports it)"),
        };
        out.push_str(&format!("{mark} {}{note}\n", item.address));
    }
    print!("{out}");
    if dry_run {
        let n = items
            .iter()
            .filter(|i| matches!(i.action, "add" | "change"))
            .count();
        output::note(&format!(
            "Dry run: would write {n} secret(s); nothing was written."
        ));
    }
    Ok(())
}

/// The age half of `keep import FILE`: `files::import` hands over a file that starts with an age
/// header. Only the current scope is written unless `all`.
pub fn import_age(ctx: &Context, bytes: &[u8], all: bool, dry_run: bool) -> Result<Exit> {
    let identity = session::age_identity_path(ctx.identity.as_deref()).ok_or_else(|| {
        Error::Locked(
            "importing an age file needs the identity: pass --identity FILE or set KEEP_AGE_IDENTITY"
                .into(),
        )
    })?;
    let identities = agefile::identities(&identity)?;
    let mut vault = ctx.open()?;
    let opts = backup::ImportOptions {
        scope: (!all).then_some(&ctx.scope),
        dry_run,
        config: ctx.config.as_ref(),
    };
    let report = backup::import_age_with(&mut vault, bytes, &identities, &opts)?;
    if ctx.json {
        output::json(&report)?;
        return Ok(Exit::Success);
    }
    print_import_items(ctx, &report.items, dry_run)?;
    if !dry_run {
        output::note(&format!(
            "Imported {} secret(s); {} already had the same value{}.",
            report.written,
            report.unchanged,
            if report.skipped > 0 {
                format!(
                    "; {} of other scopes skipped (only {} is imported without --all)",
                    report.skipped, ctx.scope
                )
            } else {
                String::new()
            }
        ));
    }
    Ok(Exit::Success)
}
