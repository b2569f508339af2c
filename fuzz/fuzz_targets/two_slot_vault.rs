//! A fresh vault in a scratch folder (in `/dev/shm` where there is one), with a passphrase slot at a
//! cheap KDF cost and a recovery-code slot: the fixture of the targets that fuzz a real vault file
//! (`vault_header`, `vault_rows`), each including this file as a module.

use std::path::PathBuf;

use keep::slots::passphrase::{KdfParams, Passphrase};
use keep::slots::recovery::RecoveryCode;
use keep::Vault;
use secrecy::SecretString;

pub struct TwoSlotVault {
    pub dir: tempfile::TempDir,
    /// The vault file, `template.db` in `dir`.
    pub path: PathBuf,
    /// Open, unlocked by the passphrase slot (slot 1); the recovery slot is slot 2.
    pub vault: Vault,
    /// The recovery code, as a user would type it.
    pub recovery: String,
}

/// Create the vault; `prefix` names the scratch folder.
pub fn create(prefix: &str, passphrase: &str) -> TwoSlotVault {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm".into()
    } else {
        std::env::temp_dir()
    };
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(base)
        .unwrap();
    let path = dir.path().join("template.db");
    // The audit witness and the write generation are kept outside the vault file, under
    // XDG_STATE_HOME: in the scratch folder, never the user's home. (The fuzz process is single-
    // threaded when the fixture is made.)
    std::env::set_var("XDG_STATE_HOME", dir.path().join("state"));
    let kdf = KdfParams {
        m_kib: 8,
        t: 1,
        p: 1,
    };
    let code = RecoveryCode::generate();
    let recovery = code.display().to_string();
    let pass = Passphrase::new(SecretString::from(passphrase), kdf);
    let mut vault = Vault::create(&path, &pass, kdf).unwrap();
    vault.add_slot(&code).unwrap();
    TwoSlotVault {
        dir,
        path,
        vault,
        recovery,
    }
}
