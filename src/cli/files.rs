//! `materialize`, `example`, `inject`, `import`, `check`: secrets into files and back, and the
//! completeness check.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::exit::Exit;
use super::using_args::{ExampleArgs, ImportArgs, InjectArgs, MaterializeArgs};
use super::{output, Context};
use crate::error::{Error, Result};
use crate::using::{
    self as using, atomic, check, example, git, import, layers, loader, materialize, template,
};

fn cwd() -> Result<PathBuf> {
    std::env::current_dir().map_err(|e| Error::Io {
        context: "cannot read the working directory".into(),
        source: e,
    })
}

fn git_word(s: git::Status) -> &'static str {
    match s {
        git::Status::Outside => "outside a git work tree",
        git::Status::Ignored => "ignored by git",
        git::Status::NotIgnored => "NOT ignored by git (--force)",
        git::Status::Tracked => "TRACKED by git (--force)",
    }
}

pub fn materialize(ctx: &Context, a: MaterializeArgs) -> Result<Exit> {
    let only = using::parse_names(&a.only.only)?;
    let mut vault = ctx.open()?;
    let view = vault.read(|r| ctx.resolve(r, &only, false))?;
    let read = view.read();
    let pairs = view.pairs();
    let write = |pairs: &[using::Pair]| -> Result<(PathBuf, git::Status, u32)> {
        Ok(match &a.dir {
            Some(dir) => (
                dir.clone(),
                materialize::write_dir(dir, pairs, a.force)?,
                materialize::DIR_FILE_MODE,
            ),
            None => (
                a.path.clone(),
                materialize::write_file(&a.path, pairs, &ctx.scope.to_string(), a.force)?,
                materialize::FILE_MODE,
            ),
        })
    };
    let (path, status, mode) = write(&pairs)?;
    if ctx.json {
        output::json(&serde_json::json!({
            "path": path, "count": pairs.len(), "mode": format!("{mode:o}"),
            "layout": if a.dir.is_some() { "dir" } else { "dotenv" },
            "git": format!("{status:?}").to_lowercase(),
        }))?;
    } else {
        output::note(&format!(
            "Wrote {} secrets of {} to {} (mode {mode:o}, {}).",
            pairs.len(),
            ctx.scope,
            path.display(),
            git_word(status)
        ));
    }
    if !a.watch {
        return Ok(Exit::Success);
    }
    let whole_scope = only.is_empty().then(|| ctx.scope.clone());
    let first = crate::watch::Resolved {
        pairs,
        read,
        whole_scope: whole_scope.clone(),
    };
    let watcher = crate::watch::Watcher::start(vault, &first)?;
    drop(first);
    if ctx.verbose {
        output::note(&format!(
            "keep: watching {} for changes; Ctrl-C stops",
            ctx.vault_path.display()
        ));
    }
    let mut source = |r: &crate::vault::Reader<'_>| {
        let view = ctx.resolve(r, &only, false)?;
        Ok(crate::watch::Resolved {
            read: view.read(),
            pairs: view.pairs(),
            whole_scope: whole_scope.clone(),
        })
    };
    let mut rewrite = |pairs: &[using::Pair]| write(pairs).map(|_| ());
    crate::watch::files::serve(
        watcher,
        &mut source,
        &mut rewrite,
        &output::note,
        ctx.verbose,
    )
    .map(Exit::Status)
}

pub fn example(ctx: &Context, a: ExampleArgs) -> Result<Exit> {
    let vault = ctx.open()?;
    let seen = layers::names(&vault, ctx.config.as_ref(), &ctx.scope, false)?;
    drop(vault);
    let in_vault = seen
        .iter()
        .filter(|l| !l.origin.is_setting())
        .map(|l| l.name.clone())
        .collect();
    // Settings are written with their values (they are in keep.toml already); secrets stay blank.
    let settings = layers::settings(ctx.config.as_ref(), &ctx.scope)?
        .into_iter()
        .map(|(n, s)| (n, s.value))
        .collect();
    let names = example::names(in_vault, ctx.config.as_ref(), ctx.scope.env());
    let names = example::Names { names, settings };
    let fresh = || example::render(&names, ctx.config.as_ref(), &ctx.scope.to_string());
    let path = match a.output {
        Some(p) if p.as_os_str() == "-" => {
            print!("{}", fresh());
            return Ok(Exit::Success);
        }
        Some(p) => p,
        None => check::project_dir(ctx.config.as_ref(), &cwd()?).join(check::EXAMPLE_FILE),
    };
    // An existing example (hand-written or not) keeps its lines; only missing names are added.
    let existing = if a.force {
        None
    } else {
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io("read", &path, e)),
        }
    };
    let (text, added) = match &existing {
        None => (Some(fresh()), names.all().len()),
        Some(old) => {
            let have = example::listed(old);
            let added = names
                .all()
                .iter()
                .filter(|n| !have.iter().any(|h| h == n.as_str()))
                .count();
            (example::merge(old, &names, ctx.config.as_ref()), added)
        }
    };
    if let Some(text) = &text {
        atomic::write(&path, text.as_bytes(), 0o644)?;
    }
    if ctx.json {
        output::json(&serde_json::json!({
            "path": path, "added": added,
            "names": names.all().iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        }))?;
    } else if existing.is_none() {
        output::note(&format!(
            "Wrote {} names to {} (no secret values).",
            names.all().len(),
            path.display()
        ));
    } else if text.is_some() {
        output::note(&format!(
            "Added {added} missing name(s) to {}; its other lines are kept (--force rewrites it).",
            path.display()
        ));
    } else {
        output::note(&format!(
            "{} already lists all {} names; nothing changed.",
            path.display(),
            names.all().len()
        ));
    }
    Ok(Exit::Success)
}

pub fn inject(ctx: &Context, a: InjectArgs) -> Result<Exit> {
    let text = std::fs::read_to_string(&a.input).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::NotFound(format!("template {} does not exist", a.input.display()))
        }
        std::io::ErrorKind::InvalidData => {
            Error::Usage(format!("template {} is not UTF-8 text", a.input.display()))
        }
        _ => Error::io("read", &a.input, e),
    })?;
    let origin = a.input.display().to_string();
    let with_origin = |e: Error| match e {
        Error::Usage(m) => Error::Usage(format!("{origin}: {m}")),
        Error::NotFound(m) => Error::NotFound(format!("{origin}: {m}")),
        other => other,
    };
    // Check the syntax before unlocking, and the git guard before decrypting anything.
    template::placeholders(&text).map_err(with_origin)?;
    if let Some(out) = &a.output {
        git::guard(out, false, a.force)?;
    }
    let mut vault = ctx.open()?;
    let config = ctx.config.as_ref();
    // One recorded read, naming every record a placeholder took.
    let rendered = vault
        .read(|r| {
            template::render(&text, |address| {
                layers::lookup(r, config, address).map(|(value, _)| value)
            })
        })
        .map_err(with_origin)?;
    drop(vault);
    match &a.output {
        Some(out) => {
            atomic::write(out, rendered.as_bytes(), materialize::FILE_MODE)?;
            if ctx.json {
                output::json(&serde_json::json!({ "path": out, "mode": "600" }))?;
            } else {
                output::note(&format!("Wrote {} (mode 600).", out.display()));
            }
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(rendered.as_bytes())
                .and_then(|_| stdout.flush())
                .map_err(|e| Error::Io {
                    context: "cannot write to stdout".into(),
                    source: e,
                })?;
        }
    }
    Ok(Exit::Success)
}

/// Read an import file or stdin, at most [`import::MAX_IMPORT_LEN`] bytes (an age hand-off file, which
/// `keep export` may make larger, up to [`import::MAX_AGE_IMPORT_LEN`]), before anything parses it:
/// one byte past the limit is read, then keep refuses (exit 2).
fn read_input(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let origin = path.display().to_string();
    let mut reader: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::NotFound(format!("{} does not exist", path.display()))
            }
            _ => Error::io("read", path, e),
        })?)
    };
    let read_error = |e: std::io::Error| Error::Io {
        context: format!("cannot read {origin}"),
        source: e,
    };
    let limit = import::MAX_IMPORT_LEN;
    let mut bytes =
        crate::value::read_wiping((&mut reader).take(limit as u64 + 1)).map_err(read_error)?;
    let mut max = limit;
    if bytes.len() > limit && crate::agefile::is_age(&bytes) {
        max = import::MAX_AGE_IMPORT_LEN;
        let rest = crate::value::read_wiping((&mut reader).take((max - bytes.len()) as u64 + 1))
            .map_err(read_error)?;
        let mut all = zeroize::Zeroizing::new(Vec::with_capacity(bytes.len() + rest.len()));
        all.extend_from_slice(&bytes);
        all.extend_from_slice(&rest);
        bytes = all;
    }
    if bytes.len() > max {
        return Err(Error::Usage(format!(
            "{origin}: larger than {} MiB, the limit for `keep import`; nothing was imported",
            max >> 20
        )));
    }
    Ok(bytes)
}

pub fn import(ctx: &Context, a: ImportArgs) -> Result<Exit> {
    let bytes = read_input(&a.file)?;
    if crate::agefile::is_age(&bytes) {
        return super::custody::import_age(ctx, &bytes, a.all, a.dry_run);
    }
    if a.all {
        return Err(Error::Usage(
            "--all applies to age hand-off files, which name a scope per secret; a dotenv, JSON or \
             YAML file is imported into the current scope (choose it with --project/--env)"
                .into(),
        ));
    }
    let origin = a.file.display().to_string();
    let expand = if a.expand {
        crate::using::dotenv::Expand::File
    } else {
        crate::using::dotenv::Expand::Literal
    };
    let parsed = import::parse_with(&bytes, &origin, expand)?;
    loader::refuse(
        ctx.config.as_ref(),
        parsed.entries.iter().map(|(n, _)| n.as_str()),
        &format!("import {origin}"),
    )?;
    if !parsed.literal_dollar_lines.is_empty() {
        let lines: Vec<String> = parsed
            .literal_dollar_lines
            .iter()
            .map(|l| l.to_string())
            .collect();
        output::note(&format!(
            "{origin}: line(s) {}: `$` kept as written; `--expand` expands references to keys \
             defined earlier in the file",
            lines.join(", ")
        ));
    }
    let mut vault = ctx.open()?;
    if a.dry_run {
        let mut items = Vec::with_capacity(parsed.entries.len());
        for (name, value) in &parsed.entries {
            let address = ctx.scope.address(name.clone());
            let action = match vault.get(&address) {
                Ok(current) if current.expose() == value.expose() => "unchanged",
                Ok(_) => "change",
                Err(Error::NotFound(_)) => "add",
                Err(e) => return Err(e),
            };
            items.push(crate::backup::ImportItem {
                address: address.to_string(),
                action,
            });
        }
        super::custody::print_import_items(ctx, &items, true)?;
        return Ok(Exit::Success);
    }
    let counts = import::apply(&mut vault, &ctx.scope, &parsed.entries)?;
    if ctx.json {
        output::json(&serde_json::json!({
            "scope": ctx.scope.to_string(),
            "added": counts.added.len(), "changed": counts.changed.len(),
            "unchanged": counts.unchanged.len(), "names": counts,
        }))?;
    } else {
        output::note(&format!(
            "Imported into {}: {} added, {} changed, {} unchanged.",
            ctx.scope,
            counts.added.len(),
            counts.changed.len(),
            counts.unchanged.len()
        ));
    }
    Ok(Exit::Success)
}

pub fn check(ctx: &Context) -> Result<Exit> {
    let required = check::required(ctx.config.as_ref(), ctx.scope.env(), &cwd()?)?;
    let vault = ctx.open()?;
    let present: Vec<_> = layers::names(&vault, ctx.config.as_ref(), &ctx.scope, false)?
        .into_iter()
        .map(|l| l.name)
        .collect();
    let missing = check::missing(&present, &required.names);
    let code = Exit::findings_if(!missing.is_empty());
    if ctx.json {
        output::json(&serde_json::json!({
            "scope": ctx.scope.to_string(),
            "source": required.source,
            "required": required.names.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
            "missing": missing.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
            "ok": missing.is_empty(),
        }))?;
        return Ok(code);
    }
    if missing.is_empty() {
        output::note(&format!(
            "All {} names required by {} are set in {}.",
            required.names.len(),
            required.source.display(),
            ctx.scope
        ));
    } else {
        let mut out = String::new();
        for n in &missing {
            out.push_str(n.as_str());
            out.push('\n');
        }
        print!("{out}");
        output::note(&format!(
            "{} of {} names required by {} are missing in {}; set them with {}.",
            missing.len(),
            required.names.len(),
            required.source.display(),
            ctx.scope,
            ctx.command(&ctx.scope, "set NAME")
        ));
    }
    Ok(code)
}
