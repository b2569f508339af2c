//! Finding and loading the PKCS#11 module, once per process.
//!
//! `C_Initialize` is process-global: a second call returns CKR_CRYPTOKI_ALREADY_INITIALIZED. So the
//! loaded module lives in one static, shared by every slot and command in the process.
//!
//! Discovery order: `--module PATH`, else `KEEP_PKCS11_MODULE`, else `pkcs11_module` in the per-user
//! settings file `$XDG_CONFIG_HOME/keep/config.toml` (each of them the only candidate when given), else
//! the well-known paths (SoftHSM2, OpenSC, the p11-kit proxy). When nothing loads, the error lists
//! every path tried.
//!
//! The module path recorded in an HSM slot is never a candidate: the vault file is not trusted before
//! it is unlocked, and loading a module runs its code (constructors) inside keep, which then sees the
//! PIN and the unwrapped key. The recorded path only appears in the error as a hint
//! (tests/it/tamper_records.rs, `a_planted_module_path_is_never_loaded`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, Pkcs11};

use crate::error::{Error, Result};

/// Well-known module locations, tried last.
pub const WELL_KNOWN: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
    "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
    "/usr/lib/aarch64-linux-gnu/p11-kit-proxy.so",
    "/usr/lib/p11-kit-proxy.so",
];

/// A loaded, initialised module.
#[derive(Clone)]
pub struct Module {
    pub path: PathBuf,
    pub ctx: Pkcs11,
}

static LOADED: Mutex<Option<Module>> = Mutex::new(None);

/// The per-user settings file: `$XDG_CONFIG_HOME/keep/config.toml` (`~/.config/keep/config.toml`).
pub fn user_config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("keep").join("config.toml"))
}

/// The per-user settings keep reads. Parsed strictly: an unknown key is an error, not ignored, so a
/// misspelt `pkcs11_module` does not silently fall back to discovery.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UserConfig {
    /// An absolute path to the PKCS#11 module to load.
    pkcs11_module: Option<PathBuf>,
}

/// `pkcs11_module` from the per-user settings file, if the file exists and sets it.
///
/// The file chooses code that keep will run, so it must be the user's own and not writable by
/// anyone else, and the path must be absolute (a relative one would depend on the working folder).
pub fn configured_module() -> Result<Option<PathBuf>> {
    let Some(path) = user_config_path() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read the settings file", &path, e)),
    };
    let bad = |why: String| Error::Usage(format!("{}: {why}", path.display()));
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&path).map_err(|e| Error::io("read", &path, e))?;
        // SAFETY: geteuid cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me || meta.mode() & 0o022 != 0 {
            return Err(bad(
                "it names the PKCS#11 module keep loads, so it must be owned by you and writable                  by no one else (`chmod go-w`); it was not used"
                    .into(),
            ));
        }
    }
    let cfg: UserConfig = toml::from_str(&text).map_err(|e| bad(e.message().to_string()))?;
    match cfg.pkcs11_module {
        Some(p) if !p.is_absolute() => Err(bad(format!(
            "pkcs11_module must be an absolute path, not {}",
            p.display()
        ))),
        other => Ok(other),
    }
}

/// The candidate paths in order: explicit choice, `KEEP_PKCS11_MODULE`, the per-user setting,
/// well-known paths. Nothing read from the vault file is ever a candidate.
pub fn candidates(explicit: Option<&Path>) -> Result<Vec<PathBuf>> {
    if let Some(p) = explicit {
        // An explicit choice is the only candidate: silently using another module would surprise.
        return Ok(vec![p.to_path_buf()]);
    }
    if let Some(p) = std::env::var_os("KEEP_PKCS11_MODULE").filter(|p| !p.is_empty()) {
        // Likewise for the environment: the user named the module they want.
        return Ok(vec![PathBuf::from(p)]);
    }
    if let Some(p) = configured_module()? {
        // And for the settings file.
        return Ok(vec![p]);
    }
    Ok(WELL_KNOWN.iter().map(PathBuf::from).collect())
}

/// Find the module without loading it: the first candidate that exists, for recording in a slot.
pub fn discover_module(explicit: Option<&Path>) -> Result<PathBuf> {
    let tried = candidates(explicit)?;
    tried
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| not_loaded(&tried, &[], None))
}

/// Load and initialise a module (or return the one this process already has).
///
/// `hint` is the module path recorded in a slot: it is named in the error when nothing loads, and
/// never loaded itself.
pub fn load(explicit: Option<&Path>, hint: Option<&Path>) -> Result<Module> {
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(m) = loaded.as_ref() {
        return Ok(m.clone());
    }
    let tried = candidates(explicit)?;
    let mut failures = Vec::new();
    for path in &tried {
        if !path.is_file() {
            failures.push(format!("{} (no such file)", path.display()));
            continue;
        }
        if let Err(why) = exports_pkcs11(path) {
            failures.push(format!("{} ({why})", path.display()));
            continue;
        }
        let ctx = match Pkcs11::new(path) {
            Ok(ctx) => ctx,
            Err(e) => {
                failures.push(format!("{} ({e})", path.display()));
                continue;
            }
        };
        match ctx.initialize(CInitializeArgs::OsThreads) {
            Ok(()) | Err(cryptoki::error::Error::AlreadyInitialized) => {}
            Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::CryptokiAlreadyInitialized,
                _,
            )) => {}
            Err(e) => {
                failures.push(format!("{} (C_Initialize: {e})", path.display()));
                continue;
            }
        }
        let module = Module {
            path: path.clone(),
            ctx,
        };
        *loaded = Some(module.clone());
        return Ok(module);
    }
    Err(not_loaded(&tried, &failures, hint))
}

/// Whether `path` loads and exports `C_GetFunctionList`, checked before cryptoki loads it: for a
/// shared object that loads but is not a PKCS#11 module (a wrong `--module`, a library replaced by
/// an upgrade), cryptoki-sys panics instead of returning an error.
fn exports_pkcs11(path: &Path) -> std::result::Result<(), String> {
    use std::ffi::{CStr, CString};
    use std::os::unix::ffi::OsStrExt;
    let c =
        CString::new(path.as_os_str().as_bytes()).map_err(|_| "a NUL in the path".to_string())?;
    let dl_error = || {
        // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl* call.
        let e = unsafe { libc::dlerror() };
        if e.is_null() {
            "cannot be loaded".to_string()
        } else {
            // SAFETY: as above, non-NULL.
            unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
        }
    };
    // SAFETY: `c` is a valid C string; the handle is closed below on failure, else kept.
    let handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(dl_error());
    }
    // SAFETY: valid handle and symbol name.
    let sym = unsafe { libc::dlsym(handle, c"C_GetFunctionList".as_ptr()) };
    if sym.is_null() {
        // SAFETY: the handle came from dlopen above and is not used again.
        unsafe { libc::dlclose(handle) };
        return Err("not a PKCS#11 module: it exports no C_GetFunctionList".into());
    }
    // A module is kept loaded: cryptoki's own dlopen gets this instance instead of a second
    // load after an unload (some modules do not survive running their destructors mid-process).
    Ok(())
}

fn not_loaded(tried: &[PathBuf], failures: &[String], hint: Option<&Path>) -> Error {
    let list = if failures.is_empty() {
        tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        failures.join("; ")
    };
    let hint = hint
        .filter(|h| !tried.iter().any(|t| t == h))
        .map(|h| {
            format!(
                " The slot was made with {}; keep does not load a module named by the vault file, \
                 so if that is the right one, name it yourself",
                h.display()
            )
        })
        .unwrap_or_default();
    Error::NotFound(format!(
        "no PKCS#11 module could be loaded; tried: {list}.{hint} Install one (e.g. softhsm2 or \
         opensc) or name it with --module PATH, KEEP_PKCS11_MODULE or pkcs11_module in {}",
        user_config_path()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "~/.config/keep/config.toml".into())
    ))
}
