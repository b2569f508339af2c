//! The unlocked-session cache: `keep unlock --ttl 15m` puts the master key in the Linux kernel's
//! session keyring, and later commands in the same login session read it instead of running the KDF or
//! talking to the HSM.
//!
//! Why the kernel keyring rather than an agent process: the key lives in kernel memory that is never
//! swapped to disk, the kernel enforces the expiry itself (no process has to stay alive to forget it),
//! it is scoped to the login session (another terminal session of the same user does not see it), and
//! there is no socket whose permissions or peer checks could go wrong. The trade-off is Linux only, and
//! a process of the same user *in the same session* can read it, which is no worse than what such a
//! process could do to a running keep. SECURITY.md discusses this.
//!
//! A cached key is only used after it proves it belongs to the vault (the header check MAC), so a stale
//! entry is ignored rather than trusted.

use std::time::Duration;

use linux_keyutils::{KeyError, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission};
use zeroize::Zeroizing;

use crate::crypto::{MasterKey, KEY_LEN};
use crate::error::{Error, Result};

/// The keyring entry's description for a vault.
pub(crate) fn description(vault_id: &[u8]) -> String {
    let mut d = String::from("keep:v1:");
    for b in vault_id {
        d.push_str(&format!("{b:02x}"));
    }
    d
}

/// The session keyring. `create` is deliberately false everywhere: with it, a process that has no
/// session keyring yet (no pam_keyinit, e.g. under a container or CI runner) would get a fresh,
/// private one that dies with it. Without it the kernel attaches the user-session keyring, which the
/// next command will find too.
fn session_ring() -> std::result::Result<KeyRing, KeyError> {
    KeyRing::from_special_id(KeyRingIdentifier::Session, false)
}

/// The cached master key of a vault, if one is there and unexpired.
pub fn load(vault_id: &[u8]) -> Option<MasterKey> {
    let ring = session_ring().ok()?;
    let key = ring.search(&description(vault_id)).ok()?;
    let mut buf = Zeroizing::new([0u8; KEY_LEN + 1]);
    let n = key.read(&mut *buf).ok()?;
    if n != KEY_LEN {
        return None;
    }
    MasterKey::from_bytes(&mut buf[..KEY_LEN])
}

/// Whether the session still holds an unexpired key for this vault (without reading it).
pub fn present(vault_id: &[u8]) -> bool {
    session_ring().is_ok_and(|ring| ring.search(&description(vault_id)).is_ok())
}

/// The longest `unlock --ttl`: 7 days. Long enough for a login session that spans a working week or
/// a long CI job; short enough that a forgotten unlock still ends. The kernel takes the timeout as
/// 32-bit seconds, where 0 means "never" and larger values wrap (`4294967296s` was a permanent key,
/// `4294967300s` four seconds), so the bound is also what keeps the value meaningful.
pub const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parse an `unlock --ttl` value (`15m`, `1h`, `7d`): a positive duration of at most [`MAX_TTL`],
/// whole seconds or more. For clap's `value_parser`, so a bad value is a usage error (exit 2).
pub fn parse_ttl(text: &str) -> std::result::Result<Duration, String> {
    let ttl = humantime::parse_duration(text).map_err(|e| format!("{e} (use e.g. 15m, 1h, 7d)"))?;
    if ttl < Duration::from_secs(1) {
        return Err("must be at least one second".into());
    }
    if ttl > MAX_TTL {
        return Err("must be at most 7 days (7d); `keep unlock` again when it runs out".into());
    }
    Ok(ttl)
}

/// Cache `key` for `ttl`, replacing an earlier entry for the same vault.
pub fn store(vault_id: &[u8], key: &MasterKey, ttl: Duration) -> Result<()> {
    if ttl > MAX_TTL {
        // Checked before the key is added. Never reached through the CLI (parse_ttl); a library caller gets an error, not a wrap.
        return Err(Error::Usage(format!(
            "the session TTL must be at most {}",
            crate::duration::exact(MAX_TTL)
        )));
    }
    let fail = |e: KeyError| Error::Io {
        context: "cannot cache the unlocked key in the kernel session keyring".into(),
        source: std::io::Error::other(format!("{e:?}")),
    };
    let ring = session_ring().map_err(fail)?;
    let entry = ring
        .add_key(&description(vault_id), key.expose())
        .map_err(fail)?;
    // Only a process that possesses this session keyring may read the key; other processes of the
    // same user may see that it exists.
    let perms = KeyPermissionsBuilder::builder()
        .posessor(Permission::ALL)
        .user(Permission::VIEW)
        .build();
    entry.set_perms(perms).map_err(fail)?;
    let secs = ttl.as_secs().max(1) as usize;
    entry.set_timeout(secs).map_err(fail)
}

/// Forget the cached key of a vault. `true` when there was one.
pub fn clear(vault_id: &[u8]) -> Result<bool> {
    let Ok(ring) = session_ring() else {
        return Ok(false);
    };
    let Ok(key) = ring.search(&description(vault_id)) else {
        return Ok(false);
    };
    // Invalidate destroys the payload at once, unlike unlink, which leaves it to garbage collection.
    key.invalidate().map_err(|e| Error::Io {
        context: "cannot remove the cached key from the kernel session keyring".into(),
        source: std::io::Error::other(format!("{e:?}")),
    })?;
    Ok(true)
}
