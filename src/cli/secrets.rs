//! `set`, `get`, `ls`, `rm`, `history`, `rollback`.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use super::args::{GetArgs, LsArgs, NameArg, NamesArg, RollbackArgs, SetArgs};
use super::exit::Exit;
use super::{input, output, Context};
use crate::error::{Error, Result};
use crate::scope::Name;
use crate::using::layers::{self, Listed, Origin};
use crate::vault::Entry;

pub fn set(ctx: &Context, a: SetArgs) -> Result<Exit> {
    if !a.stray.is_empty() {
        return Err(Error::Usage(format!(
            "keep set takes no value on the command line, where every process on the machine can \
             read it; nothing was stored. Pipe it: `printf %s \"$VALUE\" | keep set {0}`, or run \
             `keep set {0}` and type it at the hidden prompt, or use --from-file PATH. What you \
             typed may be in your shell history: if it was a real secret, rotate it",
            a.name
        )));
    }
    let address = ctx.address(&a.name)?;
    crate::using::loader::refuse(ctx.config.as_ref(), [address.name.as_str()], "set")?;
    if let Some(generator) = &a.generate {
        return super::rotation::set_generated(ctx, &address, generator);
    }
    // Unlock before reading the value, so a wrong passphrase does not waste a typed value.
    let mut vault = ctx.open()?;
    let value = input::read_value(&address.name, a.from_file.as_deref(), a.raw)?;
    if value.expose().is_empty() && !a.allow_empty {
        return Err(Error::Usage(format!(
            "the value for {address} is empty ({}); nothing was changed. An empty pipe is usually a \
             command that failed; `--allow-empty` stores an empty value on purpose",
            match &a.from_file {
                Some(p) => format!("{} is empty", p.display()),
                None => "nothing came in on stdin".into(),
            }
        )));
    }
    let version = vault.set(&address, &value)?;
    if ctx.json {
        output::json(&serde_json::json!({ "address": address.to_string(), "version": version }))?;
    } else {
        output::note(&format!("Set {address} (version {version})."));
    }
    Ok(Exit::Success)
}

pub fn get(ctx: &Context, a: GetArgs) -> Result<Exit> {
    let address = ctx.address(&a.name)?;
    let mut vault = ctx.open()?;
    let result = match a.version {
        Some(v) => vault.get_version(&address, v).map(|value| (v, value)),
        None => vault.current(&address),
    };
    let (version, value) = ctx.hint_missing(&vault, &address, result)?;
    if ctx.json {
        let mut doc = serde_json::json!({
            "address": address.to_string(),
            "name": address.name.as_str(),
            "version": version,
        });
        match std::str::from_utf8(value.expose()) {
            Ok(text) => doc["value"] = text.into(),
            Err(_) => {
                use base64::Engine;
                doc["value_base64"] = base64::engine::general_purpose::STANDARD
                    .encode(value.expose())
                    .into()
            }
        }
        output::json(&doc)?;
        return Ok(Exit::Success);
    }
    let mut out = std::io::stdout().lock();
    let write = |out: &mut std::io::StdoutLock<'_>| -> std::io::Result<()> {
        out.write_all(value.expose())?;
        // Exact bytes into pipes and files; a newline only for a human at a terminal.
        if std::io::stdout().is_terminal() {
            out.write_all(b"\n")?;
        }
        out.flush()
    };
    write(&mut out).map_err(|e| Error::Io {
        context: "cannot write to stdout".into(),
        source: e,
    })?;
    Ok(Exit::Success)
}

#[derive(Serialize)]
struct LsItem {
    name: String,
    /// The record's project and environment (an inherited secret's are its ancestor's).
    project: String,
    env: String,
    /// `own`, `inherited` or `setting` (`crate::using::layers::Origin`).
    origin: &'static str,
    /// The ancestor environment of an inherited secret, the keep.toml table of a setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    /// `None` for a setting, which is not in the vault.
    address: Option<String>,
    version: Option<u32>,
    updated: Option<String>,
    deleted: bool,
}

impl LsItem {
    fn new(ctx: &Context, name: &Name, origin: &Origin, entry: Option<&Entry>) -> LsItem {
        let scope = entry.map_or(&ctx.scope, |e| &e.address.scope);
        LsItem {
            name: name.to_string(),
            project: scope.project().to_string(),
            env: scope.env().to_string(),
            origin: origin.kind(),
            from: match origin {
                Origin::Own => None,
                Origin::Inherited(env) => Some(env.clone()),
                Origin::Setting(table) => Some(table.clone()),
            },
            address: entry.map(|e| e.address.to_string()),
            version: entry.map(|e| e.version),
            updated: entry.map(|e| output::time(e.updated)),
            deleted: entry.is_some_and(|e| e.deleted),
        }
    }
}

pub fn ls(ctx: &Context, a: LsArgs) -> Result<Exit> {
    let vault = ctx.open()?;
    // Every environment: the records themselves (each is its environment's own).
    let listed: Vec<Listed> = if a.all_envs {
        let project = ctx.scope.project();
        vault
            .list(None, a.deleted)?
            .into_iter()
            .filter(|e| e.address.scope.project() == project)
            .map(|e| Listed {
                name: e.address.name.clone(),
                origin: Origin::Own,
                entry: Some(e),
            })
            .collect()
    } else {
        // One environment: its view, with where each name comes from.
        let listed = layers::names(&vault, ctx.config.as_ref(), &ctx.scope, a.deleted)?;
        if listed.is_empty() {
            ctx.check_empty_scope(&vault)?;
        }
        listed
    };
    if ctx.json {
        let items: Vec<LsItem> = listed
            .iter()
            .map(|l| LsItem::new(ctx, &l.name, &l.origin, l.entry.as_ref()))
            .collect();
        return output::json(&items).map(|_| Exit::Success);
    }
    let mut out = String::new();
    for l in &listed {
        let mut line = match (&l.entry, a.all_envs) {
            (Some(e), true) => format!("{}/{}", e.address.scope.env(), e.address.name),
            _ => l.name.to_string(),
        };
        if l.entry.as_ref().is_some_and(|e| e.deleted) {
            line.push_str(" (deleted)");
        }
        if l.origin != Origin::Own {
            line.push_str(&format!("  ({})", l.origin.label()));
        }
        out.push_str(&line);
        out.push('\n');
    }
    print!("{out}");
    Ok(Exit::Success)
}

pub fn rm(ctx: &Context, a: NamesArg) -> Result<Exit> {
    let addresses = a
        .names
        .iter()
        .map(|n| ctx.address(n))
        .collect::<Result<Vec<_>>>()?;
    let mut vault = ctx.open()?;
    // All in one transaction: one name that cannot be deleted leaves every other as it was.
    let result = vault.write(|w| {
        addresses
            .iter()
            .map(|a| w.remove(a))
            .collect::<Result<Vec<u32>>>()
    });
    let versions = match result {
        Err(e @ Error::NotFound(_)) => {
            let missing = addresses
                .iter()
                .find(|a| !matches!(vault.contains(a), Ok(true)))
                .unwrap_or(&addresses[0]);
            return ctx.hint_missing(&vault, missing, Err(e));
        }
        other => other?,
    };
    if ctx.json {
        let items: Vec<_> = addresses
            .iter()
            .zip(&versions)
            .map(|(a, v)| serde_json::json!({ "address": a.to_string(), "version": v, "deleted": true }))
            .collect();
        // One name: the object itself (as before several were accepted); several: a list.
        return match items.as_slice() {
            [one] => output::json(one),
            _ => output::json(&items),
        }
        .map(|_| Exit::Success);
    }
    for (address, version) in addresses.iter().zip(&versions) {
        output::note(&format!(
            "Deleted {address} (version {version}); {} restores it.",
            ctx.command(
                &address.scope,
                &format!("rollback {} --to {}", address.name, version - 1)
            )
        ));
    }
    Ok(Exit::Success)
}

pub fn history(ctx: &Context, a: NameArg) -> Result<Exit> {
    let address = ctx.address(&a.name)?;
    let vault = ctx.open()?;
    let versions = ctx.hint_missing(&vault, &address, vault.history(&address))?;
    if ctx.json {
        let items: Vec<_> = versions
            .iter()
            .map(|v| serde_json::json!({ "version": v.version, "created": output::time(v.created), "deleted": v.deleted }))
            .collect();
        return output::json(
            &serde_json::json!({ "address": address.to_string(), "versions": items }),
        )
        .map(|_| Exit::Success);
    }
    let mut out = String::from("VERSION  CREATED               STATE\n");
    let current = versions.last().map(|v| v.version);
    for v in &versions {
        let state = match (v.deleted, Some(v.version) == current) {
            (true, _) => "deleted",
            (false, true) => "current",
            (false, false) => "",
        };
        out.push_str(&format!(
            "{:<8} {:<21} {state}\n",
            v.version,
            output::time(v.created)
        ));
    }
    print!("{out}");
    Ok(Exit::Success)
}

pub fn rollback(ctx: &Context, a: RollbackArgs) -> Result<Exit> {
    let address = ctx.address(&a.name)?;
    let mut vault = ctx.open()?;
    let result = vault.rollback(&address, a.to);
    let version = ctx.hint_missing(&vault, &address, result)?;
    if ctx.json {
        output::json(
            &serde_json::json!({ "address": address.to_string(), "version": version, "from": a.to }),
        )?;
    } else {
        output::note(&format!(
            "Restored {address} from version {} as version {version}.",
            a.to
        ));
    }
    Ok(Exit::Success)
}
