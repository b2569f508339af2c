//! Two-phase rotation of one secret.
//!
//! 1. Generate the new value and store it as *pending* (sealed), next to the current one.
//! 2. Run every `on_rotate` hook with the old and new values.
//! 3. Only if all succeed, promote: in one transaction, write the new value as a new version, record
//!    the generator and public part, and drop the pending row. Then tell [`AfterPromotion`] (the seam
//!    where sync pushes linked targets).
//!
//! Promotion checks, inside its transaction, that the current version is still the one the rotation
//! started from (whose value the hooks got as `KEEP_OLD`); if a `set` changed it meanwhile, nothing is
//! overwritten: the new value stays pending and the outcome is `conflict` ([`EXIT_CONFLICT`]).
//!
//! If a hook fails, the old value stays current, the pending value stays for inspection
//! (`keep rotate NAME --show-pending`) or a retry (`--retry`), and the CLI exits with
//! [`EXIT_HOOK_FAILED`]. Each rotation is audited with its outcome.

use serde::Serialize;

use super::generator::{Generator, PublicPart};
use super::hooks::{self, HookFailure};
use super::meta::{self, Pending};
use super::settings::Settings;
use crate::audit::{self, Action};
use crate::error::{Error, Result};
use crate::scope::Address;
use crate::vault::Vault;

/// Exit code of `keep rotate` when a hook failed: the old value is still current, the new one pending.
pub const EXIT_HOOK_FAILED: i32 = 9;

/// Exit code of `keep rotate` when the value changed while the rotation ran (a concurrent `set`):
/// the concurrent value stays current, the new one pending. 1, as for `push`/`pull` conflicts.
pub const EXIT_CONFLICT: i32 = 1;

/// What happens after a new value became current. Sync fills this in to push linked targets; until
/// then [`NoLinkedTargets`] does nothing.
pub trait AfterPromotion {
    /// The linked targets that will be updated, for the breach plan.
    fn linked_targets(&self, _address: &Address) -> Vec<String> {
        Vec::new()
    }
    /// Called once `address` has its new value as `version`.
    fn promoted(&mut self, vault: &mut Vault, address: &Address, version: u32) -> Result<()>;
    /// Many rotations follow (`rotate --all`/`--due`): promotions may be collected and acted on once,
    /// at [`AfterPromotion::end_batch`].
    fn begin_batch(&mut self) {}
    /// The batch is over: act on what was collected.
    fn end_batch(&mut self, _vault: &mut Vault) -> Result<()> {
        Ok(())
    }
}

/// The seam's default: no sync targets.
pub struct NoLinkedTargets;

impl AfterPromotion for NoLinkedTargets {
    fn promoted(&mut self, _: &mut Vault, _: &Address, _: u32) -> Result<()> {
        Ok(())
    }
}

/// Where rotation reads its settings.
pub struct Rotation<'a> {
    /// Rotation's section of `keep.toml` (`Config::rotation`; the default without one).
    pub settings: &'a Settings,
    pub after: &'a mut dyn AfterPromotion,
}

/// How one rotation ended; serialised as `rotated`, `hook-failed` or `conflict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The new value is current; every hook succeeded.
    Rotated,
    /// A hook failed: the old value stays current, the new one pending.
    HookFailed,
    /// The value changed while the hooks ran: that value stays current, the new one pending.
    Conflict,
}

impl Status {
    /// The outcome word of the `rotate` audit entry.
    fn audit_outcome(self) -> &'static str {
        match self {
            Status::Rotated => audit::OK,
            Status::HookFailed => "hook_failed",
            Status::Conflict => "conflict",
        }
    }
}

/// How one rotation ended.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub address: String,
    pub generator: Generator,
    pub status: Status,
    /// The new current version, when promoted.
    pub version: Option<u32>,
    pub hooks: Vec<String>,
    /// The failing hook and why.
    pub failed_hook: Option<String>,
    pub reason: Option<String>,
    pub public: Option<PublicPart>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.status == Status::Rotated
    }

    /// The exit code of `keep rotate` for this outcome.
    pub fn exit_code(&self) -> i32 {
        match self.status {
            Status::Rotated => 0,
            Status::Conflict => EXIT_CONFLICT,
            Status::HookFailed => EXIT_HOOK_FAILED,
        }
    }
}

impl Rotation<'_> {
    /// The generator of a secret: the flag, else the vault policy's, else `keep.toml`'s (which
    /// applies with or without a `max_age` beside it).
    pub fn generator_for(
        &self,
        vault: &mut Vault,
        address: &Address,
        flag: Option<&Generator>,
    ) -> Result<Option<Generator>> {
        if let Some(g) = flag {
            return Ok(Some(g.clone()));
        }
        let from_policy = super::status::effective_policy(vault, self.settings, address)?
            .and_then(|p| p.generator);
        Ok(from_policy.or_else(|| {
            self.settings
                .secret(address)
                .and_then(|s| s.generator.clone())
        }))
    }

    /// Rotate `address` with `generator` (see the module doc).
    pub fn rotate(
        &mut self,
        vault: &mut Vault,
        address: &Address,
        generator: &Generator,
    ) -> Result<Outcome> {
        let result = self.rotate_inner(vault, address, generator);
        audited(vault, address, result)
    }

    fn rotate_inner(
        &mut self,
        vault: &mut Vault,
        address: &Address,
        generator: &Generator,
    ) -> Result<Outcome> {
        let old = vault.peek_current(address)?;
        let generated = generator.generate()?;
        let pending = Pending {
            created_ms: audit::entry::now_ms(),
            generator: generator.clone(),
            public: generated.public.clone(),
            failed_hook: None,
            value: generated.value,
        };
        let row = meta::seal_pending(vault, address, &pending);
        vault.store().write(|tx| meta::put_pending(tx, &row))?;
        self.finish(vault, address, &old, pending)
    }

    /// Run the hooks for a pending value and promote it if they all succeed.
    fn finish(
        &mut self,
        vault: &mut Vault,
        address: &Address,
        (old_version, old): &(u32, crate::SecretValue),
        mut pending: Pending,
    ) -> Result<Outcome> {
        let hooks = self.settings.hooks(address);
        let mut outcome = Outcome {
            address: address.to_string(),
            generator: pending.generator.clone(),
            status: Status::Rotated,
            version: None,
            hooks: hooks.clone(),
            failed_hook: None,
            reason: None,
            public: pending.public.clone(),
        };
        if let Err(HookFailure { hook, reason }) = hooks::run(
            &hooks,
            self.settings.dir.as_deref(),
            address,
            (old, &pending.value),
            self.settings.hook_timeout,
        )? {
            pending.failed_hook = Some(hook.clone());
            let row = meta::seal_pending(vault, address, &pending);
            vault.store().write(|tx| meta::put_pending(tx, &row))?;
            outcome.status = Status::HookFailed;
            outcome.failed_hook = Some(hook);
            outcome.reason = Some(reason);
            return Ok(outcome);
        }
        let mut m = meta::load(vault, address)?;
        m.public = pending.public.clone();
        m.generator = Some(pending.generator.clone());
        let meta_row = meta::seal_meta(vault, address, &m);
        // Compare and promote in one transaction: a `set` that landed while the hooks ran wins, and
        // the new value waits as pending instead of overwriting it.
        let promoted = vault.write(|w| {
            // The `rotate` entry (`audited`) names this change, with the hooks' outcome.
            w.leave_log_to_caller();
            let unchanged = match w.current(address) {
                Ok((version, _)) => version == *old_version,
                Err(Error::NotFound(_)) => false,
                Err(e) => return Err(e),
            };
            if !unchanged {
                return Ok(None);
            }
            let v = w.set(address, &pending.value)?;
            meta::put_meta(w.conn(), &meta_row)?;
            meta::delete_pending(w.conn(), &meta_row.lookup)?;
            Ok(Some(v))
        })?;
        let Some(version) = promoted else {
            outcome.status = Status::Conflict;
            outcome.reason = Some(
                "the value changed while the rotation ran (a concurrent `keep set`?); that value \
                 stays current and the new one pending"
                    .into(),
            );
            return Ok(outcome);
        };
        outcome.version = Some(version);
        self.after.promoted(vault, address, version)?;
        Ok(outcome)
    }

    /// Run the hooks again for the pending value of `address` (after fixing a consumer).
    pub fn retry(&mut self, vault: &mut Vault, address: &Address) -> Result<Outcome> {
        let result = (|| {
            let pending = meta::pending(vault, address)?.ok_or_else(|| no_pending(address))?;
            let old = vault.peek_current(address)?;
            self.finish(vault, address, &old, pending)
        })();
        audited(vault, address, result)
    }
}

/// Record a rotation's outcome (`ok`, `hook_failed`, or the error kind) and pass the result on.
fn audited(vault: &mut Vault, address: &Address, result: Result<Outcome>) -> Result<Outcome> {
    let outcome = match &result {
        Ok(o) => o.status.audit_outcome().to_string(),
        Err(e) => e.kind().to_string(),
    };
    audit::record(
        vault,
        Action::Rotate,
        std::slice::from_ref(address),
        &outcome,
    )?;
    result
}

/// Drop the pending value of `address`.
pub fn discard(vault: &mut Vault, address: &Address) -> Result<()> {
    if meta::pending(vault, address)?.is_none() {
        return Err(no_pending(address));
    }
    let tag = meta::lookup(vault, address);
    vault.store().write(|tx| meta::delete_pending(tx, &tag))
}

fn no_pending(address: &Address) -> Error {
    Error::NotFound(format!(
        "{address} has no pending rotation; `keep status` lists pending ones"
    ))
}

/// Set `address` to a freshly generated value (`keep set NAME --generate SPEC`), recording the
/// generator and public part. No hooks run: this is a set, not a rotation.
pub fn set_generated(
    vault: &mut Vault,
    address: &Address,
    generator: &Generator,
) -> Result<(u32, Option<PublicPart>)> {
    let generated = generator.generate()?;
    let mut m = meta::load(vault, address)?;
    m.public = generated.public.clone();
    m.generator = Some(generator.clone());
    let meta_row = meta::seal_meta(vault, address, &m);
    let version = vault.write(|w| {
        let v = w.set(address, &generated.value)?;
        meta::put_meta(w.conn(), &meta_row)?;
        Ok(v)
    })?;
    Ok((version, generated.public))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::Name;
    use crate::sync::memory::{vault_and_target, Memory};
    use crate::sync::{SyncOptions, Target};
    use crate::value::SecretValue;

    /// The sync seam, filled with the in-memory provider: each promotion pushes the target.
    struct PushToMemory {
        target: Target,
        remote: Memory,
    }

    impl AfterPromotion for PushToMemory {
        fn promoted(&mut self, vault: &mut Vault, _: &Address, _: u32) -> Result<()> {
            let o = crate::sync::push(
                vault,
                &self.target,
                &mut self.remote,
                &SyncOptions::default(),
            )?;
            assert!(o.conflicts.is_empty(), "{:?}", o.conflicts);
            Ok(())
        }
    }

    fn current(vault: &mut Vault, a: &Address) -> (u32, String) {
        let (v, value) = vault.current(a).unwrap();
        (v, value.expose_str("test").unwrap().to_string())
    }

    /// A vault whose `A` holds "old", already pushed to the in-memory remote.
    fn setup() -> (tempfile::TempDir, Vault, Address, PushToMemory) {
        let (dir, mut vault, target) = vault_and_target();
        let a = target.scope.address(Name::new("A").unwrap());
        vault.set(&a, &SecretValue::from("old")).unwrap();
        let mut remote = Memory::default();
        crate::sync::push(&mut vault, &target, &mut remote, &SyncOptions::default()).unwrap();
        (dir, vault, a, PushToMemory { target, remote })
    }

    fn generator() -> Generator {
        Generator::parse("token:16").unwrap()
    }

    #[test]
    fn a_rotation_promotes_the_new_value_and_pushes_it() {
        let (_d, mut vault, a, mut after) = setup();
        let mut r = Rotation {
            settings: &Settings::default(),
            after: &mut after,
        };
        let o = r.rotate(&mut vault, &a, &generator()).unwrap();
        assert!(o.ok() && o.exit_code() == 0, "{o:?}");
        assert_eq!(o.version, Some(2));
        let (version, value) = current(&mut vault, &a);
        assert_eq!(version, 2);
        assert_ne!(value, "old");
        assert_eq!(after.remote.get("A"), Some(value));
        assert!(meta::pending(&mut vault, &a).unwrap().is_none());
    }

    #[test]
    fn a_failing_hook_keeps_the_old_value_current_pushes_nothing_and_keeps_the_pending_one() {
        let (_d, mut vault, a, mut after) = setup();
        let settings = crate::config::Config::parse(
            "project = \"app\"\n[secrets.A]\non_rotate = \"exit 3\"\n",
        )
        .unwrap()
        .rotation();
        let applies = after.remote.applies;
        let mut r = Rotation {
            settings: &settings,
            after: &mut after,
        };
        let o = r.rotate(&mut vault, &a, &generator()).unwrap();
        assert!(!o.ok());
        assert_eq!(o.exit_code(), EXIT_HOOK_FAILED);
        assert_eq!(o.failed_hook.as_deref(), Some("exit 3"));
        assert_eq!(current(&mut vault, &a), (1, "old".to_string()));
        let pending = meta::pending(&mut vault, &a)
            .unwrap()
            .expect("the pending value");
        assert_eq!(pending.failed_hook.as_deref(), Some("exit 3"));
        assert_eq!(after.remote.applies, applies, "nothing was pushed");
        assert_eq!(after.remote.get("A").as_deref(), Some("old"));

        // The consumer fixed (no failing hook): a retry promotes the same pending value and pushes it.
        let mut r = Rotation {
            settings: &Settings::default(),
            after: &mut after,
        };
        let o = r.retry(&mut vault, &a).unwrap();
        assert!(o.ok(), "{o:?}");
        let (_, value) = current(&mut vault, &a);
        assert_eq!(value.as_bytes(), pending.value.expose());
        assert_eq!(after.remote.get("A"), Some(value));
    }

    #[test]
    fn a_push_failure_after_promotion_is_an_error_and_the_next_push_sends_the_new_value() {
        let (_d, mut vault, a, mut after) = setup();
        after.remote.fail_list = true;
        let mut r = Rotation {
            settings: &Settings::default(),
            after: &mut after,
        };
        let e = r.rotate(&mut vault, &a, &generator()).unwrap_err();
        assert!(matches!(e, Error::Remote(_)), "{e}");
        // Promotion had already happened: the new value is current locally, nothing is pending,
        // and the remote still holds the old one until a push succeeds.
        let (version, value) = current(&mut vault, &a);
        assert_eq!(version, 2);
        assert!(meta::pending(&mut vault, &a).unwrap().is_none());
        assert_eq!(after.remote.get("A").as_deref(), Some("old"));
        after.remote.fail_list = false;
        let o = crate::sync::push(
            &mut vault,
            &after.target,
            &mut after.remote,
            &crate::sync::SyncOptions::default(),
        )
        .unwrap();
        assert_eq!(o.written, 1);
        assert_eq!(after.remote.get("A"), Some(value));
    }
}
