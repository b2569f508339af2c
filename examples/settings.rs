//! An application loading its configuration as a typed struct, from the vault or from the process
//! environment, with one error that lists every missing or malformed field.
//!
//! Run it against the vault (needs a vault and an unlocked session or KEEP_PASSPHRASE_FILE):
//!
//! ```sh
//! KEEP_SETTINGS_FROM=vault KEEP_PROJECT=billing KEEP_ENV=prod cargo run --example settings
//! ```
//!
//! or against the process environment, e.g. under `keep exec` or on a platform that injects variables:
//!
//! ```sh
//! DATABASE_URL=postgres://db/app APP_ENV=production cargo run --example settings
//! keep exec -- cargo run --example settings
//! ```

use keep::settings::{Loader, Source};
use keep::{Scope, Vault};

/// The application's settings.
#[derive(Debug)]
struct Settings {
    /// Required: where the database is.
    database_url: String,
    /// Required: the key for the payment provider.
    stripe_key: String,
    /// Optional, default 8080.
    port: u16,
    /// Optional, default 4.
    workers: u32,
    /// Optional, default "info".
    log_level: String,
    /// Optional, default "development".
    app_env: String,
}

impl Settings {
    /// Derived, not read: production is whatever `APP_ENV` says.
    fn is_production(&self) -> bool {
        matches!(self.app_env.as_str(), "production" | "prod")
    }

    /// Read every field, then report every problem at once.
    fn load(source: &Source) -> Result<Settings, keep::settings::SettingsError> {
        let mut l = Loader::new(source);
        let settings = Settings {
            database_url: l.required("DATABASE_URL"),
            stripe_key: l.required("STRIPE_KEY"),
            port: l.optional("PORT", 8080),
            workers: l.optional("WORKERS", 4),
            log_level: l.optional("LOG_LEVEL", "info".to_string()),
            app_env: l.optional("APP_ENV", "development".to_string()),
        };
        l.finish()?;
        Ok(settings)
    }
}

fn source() -> keep::Result<Source> {
    if std::env::var("KEEP_SETTINGS_FROM").as_deref() == Ok("vault") {
        let path = match std::env::var_os("KEEP_VAULT") {
            Some(p) => p.into(),
            None => keep::default_vault_path()?,
        };
        let project =
            std::env::var("KEEP_PROJECT").unwrap_or_else(|_| Scope::DEFAULT_PROJECT.into());
        let env = std::env::var("KEEP_ENV").unwrap_or_else(|_| Scope::DEFAULT_ENV.into());
        Ok(Source::vault(
            Vault::open(&path)?,
            Scope::new(&project, &env)?,
        ))
    } else {
        Ok(Source::process_env())
    }
}

fn main() {
    let settings = source()
        .map_err(|e| e.to_string())
        .and_then(|s| Settings::load(&s).map_err(|e| e.to_string()));
    match settings {
        Ok(s) => {
            // Never print secret fields; show what was configured.
            println!(
                "port={} workers={} log_level={} production={} database_url=({} bytes) stripe_key=({} bytes)",
                s.port,
                s.workers,
                s.log_level,
                s.is_production(),
                s.database_url.len(),
                s.stripe_key.len()
            );
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}
