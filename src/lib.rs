//! keep: a local encrypted secrets vault.
//!
//! The library behind the `keep` command. Applications use it to read their configuration straight
//! from the vault (see `examples/`); the CLI in [`cli`] is a thin layer over the same API.
//!
//! Module map (one folder per concern):
//! - [`crypto`]: AEAD sealing, the master key and its subkeys, the blind index.
//! - [`value`]: `SecretValue` (zeroized, never shown by `Debug`) and the wiping text buffer.
//! - [`slots`]: key slots that wrap the master key (passphrase; HSM, age and recovery build on it).
//! - [`hsm`]: PKCS#11 plumbing for HSM slots and `keep hsm`.
//! - [`agefile`]: standard age files, for age slots and hand-offs.
//! - [`store`]: the SQLite file, its schema and migrations; every SQL statement lives here.
//! - [`vault`]: secrets and slots on an unlocked vault.
//! - [`session`]: unlocking: the session cache, credentials from the environment, prompts.
//! - [`config`]: the `keep.toml` project file.
//! - [`scope`]: names, scopes and `keep://` addresses.
//! - [`using`]: using secrets: `exec`, `env`, `materialize`, `inject`, `import`, environments and
//!   settings.
//! - [`watch`]: live secrets, `exec --watch` and `materialize --watch`.
//! - [`backup`]: `keep export --age` and the age half of `keep import`.
//! - [`rotate`]: generators, rotation policies, two-phase rotation with hooks.
//! - [`audit`]: the tamper-evident audit log, its witness and its compaction.
//! - [`lint`]: secret hygiene checks.
//! - [`scan`]: `keep scan`, the vault-aware secret scanner, and its git hook.
//! - [`sync`]: push, pull and diff against AWS Secrets Manager, Vault KV, GCP Secret Manager and
//!   Kubernetes Secrets.
//! - [`duration`]: durations and points in time as the user types and reads them.
//! - [`error`]: the one error type and its exit codes.
//! - [`hardening`]: process hardening applied before any secret is touched.
//! - [`cli`]: the command-line interface.

pub mod agefile;
pub mod audit;
pub mod backup;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod duration;
pub mod error;
pub mod hardening;
pub mod hsm;
pub mod lint;
pub mod rotate;
pub mod scan;
pub mod scope;
pub mod session;
pub mod slots;
pub mod store;
pub mod sync;
pub mod using;
pub mod value;
pub mod vault;
pub mod watch;

// The curated API an application needs (what `examples/` use): open or create a vault, read and
// write values, and load typed settings. The modules stay public for the CLI's integration tests,
// the fuzz targets and the benchmarks, which drive the layers one by one.
pub use error::{Error, Result};
pub use scope::{Address, Name, Scope};
pub use slots::passphrase::{KdfParams, Passphrase};
pub use using::settings;
pub use value::SecretValue;
pub use vault::{default_vault_path, Vault};
