//! `rotate`, `policy`, `status`, and `set --generate`.

use std::io::{IsTerminal, Write};

use super::args::{PolicyCommand, RotateArgs, StatusArgs};
use super::exit::Exit;
use super::{output, Context};
use crate::error::{Error, Result};
use crate::rotate::{
    self, engine, meta, AfterPromotion, Generator, Outcome, PlanItem, Policy, Rotation, Selection,
    Status,
};
use crate::scope::Address;
use crate::sync::linked::PushLinkedTargets;
use crate::vault::Vault;

/// A generator as the tables show it: its spec, or `manual` for a secret rotated by hand.
fn shown(generator: Option<&Generator>) -> String {
    generator.map_or_else(|| "manual".to_string(), Generator::to_string)
}

/// `keep set NAME --generate SPEC`.
pub fn set_generated(ctx: &Context, address: &Address, generator: &Generator) -> Result<Exit> {
    let mut vault = ctx.open()?;
    let (version, public) = rotate::engine::set_generated(&mut vault, address, generator)?;
    if ctx.json {
        output::json(&serde_json::json!({
            "address": address.to_string(), "version": version,
            "generator": generator.to_string(), "public": public,
        }))?;
    } else {
        output::note(&format!(
            "Set {address} (version {version}) to a new {generator} value."
        ));
        if let Some(p) = public {
            output::note(&format!("Public part ({}): {}", p.kind, p.text));
        }
    }
    Ok(Exit::Success)
}

pub fn rotate(ctx: &Context, a: RotateArgs) -> Result<Exit> {
    let flag = a.generator.clone();
    if a.dry_run && !(a.due || a.all) {
        return Err(Error::Usage(
            "--dry-run plans --due or --all; to preview one secret, use `keep status`".into(),
        ));
    }
    let mut after = PushLinkedTargets::from_config(ctx.config.as_ref(), &ctx.scope, &|t| {
        super::sync::hints(ctx, t)
    })?;
    if a.no_push {
        after.disable();
    }
    let mut vault = ctx.open()?;
    let settings = ctx.rotation();
    let Some(name) = &a.name else {
        return rotate_many(ctx, &mut vault, &a, flag.as_ref(), &mut after);
    };
    let address = ctx.address(name)?;
    // The linked targets are pushed after the rotation's own result is printed, so a sync failure
    // never hides what happened locally.
    after.begin_batch();
    let mut rotation = Rotation {
        settings: &settings,
        after: &mut after,
    };
    if a.show_pending {
        return show_pending(ctx, &mut vault, &address);
    }
    if a.discard {
        engine::discard(&mut vault, &address).map_err(|e| no_pending(ctx, &address, e))?;
        output::note(&format!("Discarded the pending rotation of {address}."));
        return Ok(Exit::Success);
    }
    let outcome = if a.retry {
        rotation
            .retry(&mut vault, &address)
            .map_err(|e| no_pending(ctx, &address, e))
    } else {
        rotation
            .generator_for(&mut vault, &address, flag.as_ref())
            .and_then(|g| {
                g.ok_or_else(|| {
                    Error::Usage(format!(
                        "{address} has no generator: give --generator SPEC, or set one with {}",
                        ctx.command(
                            &address.scope,
                            &format!("policy set {} --max-age D --generator SPEC", address.name)
                        )
                    ))
                })
            })
            .and_then(|generator| rotation.rotate(&mut vault, &address, &generator))
    };
    let outcome = ctx.hint_missing(&vault, &address, outcome)?;
    if ctx.json {
        output::json(&outcome)?;
    } else {
        report(ctx, &address, &outcome);
    }
    if let Err(e) = rotation.after.end_batch(&mut vault) {
        output::warn(&e.to_string());
        return Ok(Exit::Status(outcome.exit_code().max(e.exit_code())));
    }
    if a.no_push && outcome.version.is_some() {
        not_pushed(&after.push_commands(&address));
    }
    Ok(Exit::Status(outcome.exit_code()))
}

/// `rotate --no-push`: say which linked targets still hold the old value and how to send the new one.
fn not_pushed(commands: &[String]) {
    if !commands.is_empty() {
        let list: Vec<String> = commands.iter().map(|c| format!("`{c}`")).collect();
        output::note(&format!(
            "Not pushed (--no-push); {} sends the new value.",
            list.join(", ")
        ));
    }
}

/// A "no pending rotation" from the engine, with the hint for the right scope.
fn no_pending(ctx: &Context, address: &Address, e: Error) -> Error {
    match e {
        Error::NotFound(m) if m.contains("no pending rotation") => Error::NotFound(format!(
            "{address} has no pending rotation; {} lists pending ones",
            ctx.command(&address.scope, "status")
        )),
        other => other,
    }
}

fn report(ctx: &Context, address: &Address, o: &Outcome) {
    match o.status {
        Status::Rotated => {
            output::note(&format!(
                "Rotated {} to version {} ({}){}.",
                o.address,
                o.version.unwrap_or_default(),
                o.generator,
                if o.hooks.is_empty() {
                    String::new()
                } else {
                    format!("; {} hook(s) succeeded", o.hooks.len())
                }
            ));
            if let Some(p) = &o.public {
                output::note(&format!("Public part ({}): {}", p.kind, p.text));
            }
        }
        Status::Conflict => output::warn(&format!(
            "{}: {}: nothing was overwritten (`keep rotate {} --show-pending` shows the new value, \
             `--retry` runs the hooks again against the current value, `--discard` drops it)",
            o.address,
            o.reason.as_deref().unwrap_or("conflict"),
            o.address.rsplit('/').next().unwrap_or_default(),
        )),
        Status::HookFailed => output::warn(&format!(
            "{}: hook `{}` {}; the old value stays current and the new one is pending \
             ({}, `--retry` once fixed, or `--discard`)",
            o.address,
            o.failed_hook.as_deref().unwrap_or("?"),
            o.reason.as_deref().unwrap_or("failed"),
            ctx.command(
                &address.scope,
                &format!("rotate {} --show-pending", address.name)
            ),
        )),
    }
}

fn show_pending(ctx: &Context, vault: &mut Vault, address: &Address) -> Result<Exit> {
    let pending = meta::read_pending(vault, address, || {
        Error::NotFound(format!(
            "{address} has no pending rotation; {} lists pending ones",
            ctx.command(&address.scope, "status")
        ))
    })?;
    if ctx.json {
        output::json(&serde_json::json!({
            "address": address.to_string(),
            "generator": pending.generator,
            "failed_hook": pending.failed_hook,
            "public": pending.public,
            "value": String::from_utf8_lossy(pending.value.expose()),
        }))?;
        return Ok(Exit::Success);
    }
    let mut out = std::io::stdout().lock();
    let mut write = || -> std::io::Result<()> {
        out.write_all(pending.value.expose())?;
        if std::io::stdout().is_terminal() {
            out.write_all(b"\n")?;
        }
        out.flush()
    };
    write().map_err(|e| Error::Io {
        context: "cannot write to stdout".into(),
        source: e,
    })?;
    Ok(Exit::Success)
}

fn rotate_many(
    ctx: &Context,
    vault: &mut Vault,
    a: &RotateArgs,
    flag: Option<&Generator>,
    after: &mut PushLinkedTargets,
) -> Result<Exit> {
    let settings = ctx.rotation();
    let selection = if a.all_envs {
        Selection::Project(ctx.scope.project())
    } else {
        Selection::Scope(&ctx.scope)
    };
    let statuses = rotate::status(vault, &settings, &selection)?;
    if statuses.is_empty() && !a.all_envs {
        ctx.check_empty_scope(vault)?;
    }
    let mut items = rotate::plan(&statuses, &settings, &*after, a.due);
    if let Some(g) = flag {
        for item in &mut items {
            item.generator = Some(g.clone());
        }
    }
    if a.dry_run {
        print_plan(ctx, &items)?;
        return Ok(Exit::Success);
    }
    let mut results = Vec::new();
    let mut code = 0;
    let mut first_error: Option<Error> = None;
    let mut rotated = Vec::new();
    after.begin_batch();
    let mut rotation = Rotation {
        settings: &settings,
        after,
    };
    for item in &items {
        let Some(generator) = &item.generator else {
            output::warn(&format!(
                "{}: no generator; rotate it by hand ({}) and update: {}",
                item.address,
                ctx.command(&item.address.scope, &format!("set {}", item.address.name)),
                consumers(item)
            ));
            results.push(serde_json::json!({
                "address": item.address.to_string(), "status": "manual",
                "consumers": item.consumers,
            }));
            continue;
        };
        match rotation.rotate(vault, &item.address, generator) {
            Ok(o) => {
                if o.version.is_some() {
                    rotated.push(item.address.clone());
                }
                // A failed hook (9) outranks a conflict (1).
                code = code.max(o.exit_code());
                if !ctx.json {
                    report(ctx, &item.address, &o);
                }
                results.push(serde_json::to_value(&o).expect("outcome serialises"));
            }
            Err(e) => {
                output::warn(&format!("{}: {e}", item.address));
                results.push(serde_json::json!({
                    "address": item.address.to_string(), "status": "error",
                    "error": { "kind": e.kind(), "message": e.to_string() },
                }));
                first_error.get_or_insert(e);
            }
        }
    }
    // Linked sync targets are pushed once for the whole batch.
    if let Err(e) = rotation.after.end_batch(vault) {
        output::warn(&e.to_string());
        first_error.get_or_insert(e);
    }
    if a.no_push {
        let mut commands: Vec<String> = rotated
            .iter()
            .flat_map(|address| after.push_commands(address))
            .collect();
        commands.sort();
        commands.dedup();
        not_pushed(&commands);
    }
    if ctx.json {
        output::json(&serde_json::json!({ "dry_run": false, "results": results }))?;
    } else if items.is_empty() {
        output::note(if a.due {
            "Nothing is overdue."
        } else {
            "No secrets in scope."
        });
    }
    match first_error {
        Some(e) if code == 0 => Ok(Exit::Status(e.exit_code())),
        _ => Ok(Exit::Status(code)),
    }
}

fn consumers(item: &PlanItem) -> String {
    if item.consumers.is_empty() {
        "no consumers declared".into()
    } else {
        item.consumers.join("; ")
    }
}

fn print_plan(ctx: &Context, items: &[PlanItem]) -> Result<()> {
    if ctx.json {
        return output::json(&serde_json::json!({ "dry_run": true, "plan": items }));
    }
    let width = items
        .iter()
        .map(|i| i.address.to_string().len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut out = format!("{:<width$}  {:<18}  CONSUMERS\n", "SECRET", "GENERATOR");
    for i in items {
        out.push_str(&format!(
            "{:<width$}  {:<18}  {}\n",
            i.address.to_string(),
            shown(i.generator.as_ref()),
            if i.consumers.is_empty() {
                "-".to_string()
            } else {
                i.consumers.join("; ")
            }
        ));
    }
    print!("{out}");
    let manual = items.iter().filter(|i| i.manual()).count();
    output::note(&format!(
        "Plan: {} secret(s), {} by generator, {manual} manual. Nothing was changed (--dry-run).",
        items.len(),
        items.len() - manual
    ));
    Ok(())
}

pub fn policy(ctx: &Context, c: PolicyCommand) -> Result<Exit> {
    match c {
        PolicyCommand::Set {
            name,
            max_age,
            generator,
        } => {
            let address = ctx.address(&name)?;
            let mut vault = ctx.open()?;
            let policy = Policy {
                max_age_secs: max_age.as_secs(),
                generator,
            };
            rotate::status::set_policy(&mut vault, &address, policy.clone())?;
            if ctx.json {
                output::json(
                    &serde_json::json!({ "address": address.to_string(), "policy": policy }),
                )?;
            } else {
                output::note(&format!(
                    "Policy for {address}: rotate every {}{}.",
                    crate::duration::exact(max_age),
                    policy
                        .generator
                        .map(|g| format!(" with {g}"))
                        .unwrap_or_else(|| " by hand".into())
                ));
            }
            Ok(Exit::Success)
        }
        PolicyCommand::Rm { name } => {
            let address = ctx.address(&name)?;
            let mut vault = ctx.open()?;
            if !rotate::status::remove_policy(&mut vault, &address)? {
                return Err(Error::NotFound(format!(
                    "{address} has no policy in the vault (a keep.toml max_age is edited in the file)"
                )));
            }
            output::note(&format!("Removed the policy of {address}."));
            Ok(Exit::Success)
        }
    }
}

pub fn status(ctx: &Context, a: StatusArgs) -> Result<Exit> {
    let mut vault = ctx.open()?;
    let selection = if a.all_envs {
        Selection::Project(ctx.scope.project())
    } else {
        Selection::Scope(&ctx.scope)
    };
    let statuses = rotate::status(&mut vault, &ctx.rotation(), &selection)?;
    if statuses.is_empty() && !a.all_envs {
        ctx.check_empty_scope(&vault)?;
    }
    if ctx.json {
        return output::json(&statuses).map(|_| Exit::Success);
    }
    let color = output::color_stdout();
    let width = statuses
        .iter()
        .map(|s| s.name.len() + if a.all_envs { s.env.len() + 1 } else { 0 })
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:<width$}  {:>5}  {:<24}  MARKS\n",
        "NAME", "AGE", "POLICY"
    );
    for s in &statuses {
        let name = if a.all_envs {
            format!("{}/{}", s.env, s.name)
        } else {
            s.name.clone()
        };
        let policy = match &s.policy {
            Some(p) => format!(
                "{} {}",
                crate::duration::exact_secs(p.max_age_secs),
                shown(p.generator.as_ref())
            ),
            None => "-".into(),
        };
        let mut marks = Vec::new();
        if s.overdue {
            marks.push(output::paint("overdue", "31", color));
        }
        if s.never_rotated && s.policy.is_some() {
            marks.push(output::paint("never rotated", "33", color));
        }
        if let Some(p) = &s.pending {
            let text = match &p.failed_hook {
                Some(h) => format!("pending (hook failed: {h})"),
                None => "pending".into(),
            };
            marks.push(output::paint(&text, "33", color));
        }
        out.push_str(&format!(
            "{name:<width$}  {:>5}  {policy:<24}  {}\n",
            crate::duration::approx_secs(s.age_secs),
            marks.join(", ")
        ));
    }
    print!("{out}");
    Ok(Exit::Success)
}
