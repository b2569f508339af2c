//! keep: a local encrypted secrets vault.
//!
//! The library behind the `keep` command. Applications use it to read their configuration straight
//! from the vault (see `examples/`); the CLI in [`cli`] is a thin layer over the same API.
//!
//! Module map (one folder per concern):
//! - [`crypto`]: AEAD sealing, the master key and its subkeys, the blind index.
//! - [`slots`]: key slots that wrap the master key (passphrase; HSM, age and recovery build on it).
//! - [`store`]: the SQLite file, its schema and migrations.
//! - [`vault`]: secrets and slots on an unlocked vault.
//! - [`session`]: unlocking: the session cache, credentials from the environment, prompts.
//! - [`config`]: the `keep.toml` project file.
//! - [`scope`]: names, scopes and `keep://` addresses.
//! - [`sync`]: push, pull and diff against cloud secrets managers (AWS, Vault KV).
//! - [`cli`]: the command-line interface.

pub mod cli;
pub mod config;
pub mod crypto;
pub mod error;
pub mod hardening;
pub mod scope;
pub mod session;
pub mod slots;
pub mod store;
pub mod sync;
pub mod value;
pub mod vault;

pub use error::{Error, Result};
pub use scope::{Address, Name, Scope};
pub use value::SecretValue;
pub use vault::{default_vault_path, Vault};
