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

use super::{connect, push, SyncOptions, Target};

/// Pushes the scope's sync targets after each promotion.
pub struct PushLinkedTargets {
    targets: Vec<Target>,
    /// In a batch: the indices of targets with promoted secrets waiting to be pushed.
    batch: Option<BTreeSet<usize>>,
}

impl PushLinkedTargets {
    /// Every `[sync.NAME]` target of `keep.toml`, resolved against the current scope's project.
    pub fn from_config(config: Option<&Config>, scope: &Scope) -> Result<PushLinkedTargets> {
        let names: Vec<String> = config
            .map(|c| c.sync.keys().cloned().collect())
            .unwrap_or_default();
        let targets = names
            .iter()
            .map(|name| Target::resolve(config, name, scope))
            .collect::<Result<Vec<_>>>()?;
        Ok(PushLinkedTargets {
            targets,
            batch: None,
        })
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
        let linked = self.linked(address);
        if let Some(batch) = &mut self.batch {
            batch.extend(linked);
            return Ok(());
        }
        for i in linked {
            push_target(vault, &self.targets[i], &format!("{address} was rotated"))?;
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
            if let Err(e) =
                push_target(vault, &self.targets[i], "the rotated secrets were promoted")
            {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Push one linked target; `what` says what already happened locally, for the error messages.
fn push_target(vault: &mut Vault, target: &Target, what: &str) -> Result<()> {
    // A plain push: no prune, no --prefer, no progress bar.
    let opts = SyncOptions::default();
    let mut provider = connect(target)?;
    let outcome = push(vault, target, provider.as_mut(), &opts).map_err(|e| match e {
        Error::Remote(m) => Error::Remote(format!(
            "{what}, but pushing to {} failed: {m}; run `keep push {}` to retry",
            target.name, target.name
        )),
        other => other,
    })?;
    if !outcome.conflicts.is_empty() {
        return Err(Error::Findings(format!(
            "{what}, but sync target {} changed remotely since the last sync ({}); nothing was \
             pushed. Resolve with `keep push {} --prefer local|remote`",
            target.name,
            outcome.conflicts.join(", "),
            target.name
        )));
    }
    Ok(())
}
