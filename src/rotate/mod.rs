//! Rotation: making new values (generators), deciding when they are due (policies and status), and
//! replacing them safely (two-phase rotation with `on_rotate` hooks).
//!
//! Why two phases: a rotated credential is useless, or worse, if the services that use it were not
//! told. The new value therefore stays pending until every consumer hook accepted it; a failure leaves
//! the old value current, so nothing breaks while someone looks at the hook.

pub mod engine;
pub mod generator;
pub mod hooks;
pub mod meta;
pub mod settings;
pub mod status;

pub use engine::{AfterPromotion, NoLinkedTargets, Outcome, Rotation, Status, EXIT_HOOK_FAILED};
pub use generator::{Generated, Generator, PublicPart};
pub use meta::Policy;
pub use settings::{SecretRules, Settings};
pub use status::{plan, status, EffectivePolicy, PlanItem, SecretStatus, Selection};
