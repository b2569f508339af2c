//! The rotation seam, filled: once a rotated value is promoted, every sync target of the same scope is
//! pushed, so the remote managers carry the new value as soon as keep does.
//!
//! A push here is a plain `keep push` (no prune, no `--prefer`): if a teammate changed the remote since
//! the last sync, the push stops on the conflict and the rotation reports it instead of overwriting
//! their change. The new value stays current locally either way; `keep push TARGET` finishes the job.
//!
//! `rotate --all`/`--due` rotate many secrets; pushing a whole target after each one would send the
//! same target N times, so in a batch the promotions are collected and each target is pushed once at
//! the end.

use std::collections::BTreeSet;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::rotate::AfterPromotion;
use crate::scope::{Address, Scope};
use crate::vault::Vault;

use super::engine::Hints;
use super::{connect, push, SyncOptions, Target};

/// Pushes the scope's sync targets after each promotion.
pub struct PushLinkedTargets {
    targets: Vec<Target>,
    /// The `keep push T` commands for the messages, spelled for the caller's scope.
    hints: Vec<Hints>,
    /// `rotate --no-push`: name the linked targets, push none of them.
    enabled: bool,
    /// In a batch: the indices of targets with promoted secrets waiting to be pushed.
    batch: Option<BTreeSet<usize>>,
}

impl PushLinkedTargets {
    /// Every `[sync.NAME]` target of `keep.toml`, resolved against the current scope's project;
    /// `hints` spells the commands the messages suggest for each target.
    pub fn from_config(
        config: Option<&Config>,
        scope: &Scope,
        hints: &dyn Fn(&Target) -> Hints,
    ) -> Result<PushLinkedTargets> {
        let names: Vec<String> = config
            .map(|c| c.sync.keys().cloned().collect())
            .unwrap_or_default();
        let targets = names
            .iter()
            .map(|name| Target::resolve(config, name, scope))
            .collect::<Result<Vec<_>>>()?;
        Ok(PushLinkedTargets {
            hints: targets.iter().map(hints).collect(),
            targets,
            enabled: true,
            batch: None,
        })
    }

    /// Push nothing (`rotate --no-push`); the linked targets are still named.
    pub fn disable(&mut self) {
        self.enabled = false;
    }

    /// The push command of each target linked to `address`, for the message that says what is left.
    pub fn push_commands(&self, address: &Address) -> Vec<String> {
        self.linked(address)
            .into_iter()
            .map(|i| self.hints[i].push.clone())
            .collect()
    }

    /// The indices of the targets of `address`'s scope.
    fn linked(&self, address: &Address) -> Vec<usize> {
        (0..self.targets.len())
            .filter(|&i| self.targets[i].scope == address.scope)
            .collect()
    }
}

impl AfterPromotion for PushLinkedTargets {
    fn linked_targets(&self, address: &Address) -> Vec<String> {
        self.linked(address)
            .into_iter()
            .map(|i| self.targets[i].name.clone())
            .collect()
    }

    fn promoted(&mut self, vault: &mut Vault, address: &Address, _version: u32) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        let linked = self.linked(address);
        if let Some(batch) = &mut self.batch {
            batch.extend(linked);
            return Ok(());
        }
        for i in linked {
            push_target(
                vault,
                &self.targets[i],
                &self.hints[i],
                &format!("{address} was rotated"),
            )?;
        }
        Ok(())
    }

    fn begin_batch(&mut self) {
        self.batch = Some(BTreeSet::new());
    }

    fn end_batch(&mut self, vault: &mut Vault) -> Result<()> {
        let Some(batch) = self.batch.take() else {
            return Ok(());
        };
        // Push every target even if one fails, then report the first failure.
        let mut first_error = None;
        for i in batch {
            if let Err(e) = push_target(
                vault,
                &self.targets[i],
                &self.hints[i],
                "the rotated secrets were promoted",
            ) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Push one linked target; `what` says what already happened locally, for the error messages.
fn push_target(vault: &mut Vault, target: &Target, hints: &Hints, what: &str) -> Result<()> {
    // A plain push: no prune, no --prefer, no progress bar.
    let opts = SyncOptions {
        hints: Some(hints.clone()),
        ..Default::default()
    };
    let mut provider = connect(target)?;
    let outcome = push(vault, target, provider.as_mut(), &opts).map_err(|e| match e {
        Error::Remote(m) => Error::Remote(format!(
            "{what}, but pushing to {} failed: {m}; run `{}` to retry",
            target.name, hints.push
        )),
        other => other,
    })?;
    if !outcome.conflicts.is_empty() {
        return Err(Error::Findings(format!(
            "{what}, but sync target {} changed remotely since the last sync ({}); nothing was \
             pushed. Resolve with `{} --prefer local` (or `{} --prefer remote`)",
            target.name,
            outcome.conflicts.join(", "),
            hints.push,
            hints.pull
        )));
    }
    Ok(())
}
