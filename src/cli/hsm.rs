//! `keep hsm info|keys|keygen`, and the flags that name a token and key (shared with `init --hsm`
//! and `slot add hsm`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use secrecy::SecretString;

use super::exit::Exit;
use super::{output, Context};
use crate::error::{Error, Result};
use crate::hsm::{self, keys, Token, TokenSelector};
use crate::session::{self, credentials};
use crate::slots::hsm::{HsmTarget, HsmWrapper, Mech};

/// Which module, token and key.
#[derive(Debug, Args, Clone)]
pub struct TokenArgs {
    /// The PKCS#11 module [default: KEEP_PKCS11_MODULE, else well-known SoftHSM2/OpenSC/p11-kit paths]
    #[arg(long, value_name = "PATH")]
    pub module: Option<PathBuf>,
    /// The token's label
    #[arg(long, value_name = "LABEL", conflicts_with = "serial")]
    pub token: Option<String>,
    /// The token's serial number
    #[arg(long, value_name = "S")]
    pub serial: Option<String>,
}

impl TokenArgs {
    fn selector(&self) -> TokenSelector {
        TokenSelector {
            label: self.token.clone(),
            serial: self.serial.clone(),
        }
    }
}

/// `slot add hsm` (and the HSM half of `init --hsm`).
#[derive(Debug, Args, Clone)]
pub struct HsmSlotArgs {
    #[command(flatten)]
    pub token: TokenArgs,
    /// The wrapping key's label (CKA_LABEL)
    #[arg(long, value_name = "LABEL")]
    pub key: Option<String>,
    /// Create the key in the token first (AES-256, sensitive, private, not extractable)
    #[arg(long)]
    pub generate: bool,
    /// Accept a key that is extractable, not sensitive or not private (warns on every open)
    #[arg(long)]
    pub allow_weak_key: bool,
    /// Force the wrapping mechanism [default: aes-gcm when the token has it, else aes-key-wrap]
    #[arg(long, value_enum, value_name = "MECH")]
    pub mechanism: Option<MechArg>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum MechArg {
    AesGcm,
    AesKeyWrap,
}

#[derive(Debug, Subcommand)]
pub enum HsmCommand {
    /// List the module's slots and tokens and the mechanisms keep needs
    Info {
        #[arg(long, value_name = "PATH")]
        module: Option<PathBuf>,
    },
    /// List the secret keys on a token (label, id, type, flags); logs in with the user PIN
    Keys(TokenArgs),
    /// Create an AES-256 wrapping key with the safe template
    Keygen {
        #[command(flatten)]
        token: TokenArgs,
        /// The new key's label
        #[arg(long, value_name = "LABEL")]
        key: String,
    },
}

/// The user PIN: KEEP_PKCS11_PIN_FILE, KEEP_PKCS11_PIN, or a prompt (exit 6 without a terminal).
pub fn pin() -> Result<SecretString> {
    match session::pin_from_env()? {
        Some(p) => Ok(p),
        None => credentials::prompt("HSM user PIN: "),
    }
}

/// An HSM slot maker from flags.
pub fn wrapper(a: &HsmSlotArgs) -> Result<HsmWrapper> {
    let key = a.key.clone().ok_or_else(|| {
        Error::Usage("an HSM slot needs --key LABEL (add --generate to create the key)".into())
    })?;
    Ok(HsmWrapper {
        target: HsmTarget {
            module: a.token.module.clone(),
            token: a.token.selector(),
            key,
        },
        pin: pin()?,
        generate: a.generate,
        allow_weak_key: a.allow_weak_key,
        mech: a.mechanism.map(|m| match m {
            MechArg::AesGcm => Mech::AesGcm,
            MechArg::AesKeyWrap => Mech::AesKeyWrap,
        }),
    })
}

pub fn run(ctx: &Context, c: HsmCommand) -> Result<Exit> {
    match c {
        HsmCommand::Info { module } => {
            let r = hsm::info::report(module.as_deref())?;
            if ctx.json {
                return output::json(&r).map(|_| Exit::Success);
            }
            let mut out = format!("module  {}\nlibrary {}\n", r.module, r.library);
            for s in &r.slots {
                match &s.token {
                    Some(t) => out.push_str(&format!(
                        "slot {}: token {:?} serial {} ({} {}) aes-gcm={} aes-key-wrap={} aes-keygen={}\n",
                        s.slot, t.label, t.serial, t.manufacturer, t.model, t.aes_gcm, t.aes_key_wrap,
                        t.aes_key_gen
                    )),
                    None => out.push_str(&format!("slot {}: no token ({})\n", s.slot, s.description)),
                }
            }
            print!("{out}");
            Ok(Exit::Success)
        }
        HsmCommand::Keys(t) => {
            let pin = pin()?;
            let token = Token::open(t.module.as_deref(), None, &t.selector(), Some(&pin), false)?;
            let list = keys::list(&token)?;
            if ctx.json {
                return output::json(&list).map(|_| Exit::Success);
            }
            let mut out =
                String::from("LABEL                ID                 TYPE  SENSITIVE EXTRACTABLE PRIVATE LOCAL\n");
            for k in &list {
                out.push_str(&format!(
                    "{:<20} {:<18} {:<5} {:<9} {:<11} {:<7} {}\n",
                    k.label,
                    k.id,
                    k.key_type,
                    k.flags.sensitive,
                    k.flags.extractable,
                    k.flags.private,
                    k.flags.local
                ));
            }
            print!("{out}");
            Ok(Exit::Success)
        }
        HsmCommand::Keygen { token: t, key } => {
            let pin = pin()?;
            let token = Token::open(t.module.as_deref(), None, &t.selector(), Some(&pin), true)?;
            let id: [u8; 8] = crate::crypto::random::bytes();
            let k = keys::generate(&token, &key, &id)?;
            if ctx.json {
                return output::json(&k).map(|_| Exit::Success);
            }
            output::note(&format!(
                "Created AES-256 key {:?} (id {}) on token {:?}: sensitive, private, not extractable.",
                k.label, k.id, token.label
            ));
            Ok(Exit::Success)
        }
    }
}
