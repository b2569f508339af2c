//! Asking for a new passphrase (`init`, `passwd`, `slot add passphrase`, `rekey`): from its
//! variable, else twice on the terminal, with a warning when a typed one looks weak. This is the
//! command line's dialogue; the library's `session::credentials` only reads variables, files and one
//! hidden prompt.

use secrecy::{ExposeSecret, SecretString};

use super::output;
use crate::error::{Error, Result};
use crate::session::credentials::{from_env, prompt};

/// How often a new passphrase is asked for when the two entries differ.
const NEW_PASSPHRASE_TRIES: usize = 3;

/// A new passphrase: from `new_var` (and its `_FILE` form), else `fallback_var`, else asked twice on
/// the terminal (again when the two differ). A typed passphrase that looks weak gets a warning.
pub fn new_passphrase(new_var: &str, fallback_var: Option<&str>) -> Result<SecretString> {
    if let Some(p) = from_env(new_var, "new passphrase")? {
        return Ok(p);
    }
    if let Some(var) = fallback_var {
        if let Some(p) = from_env(var, "passphrase")? {
            return Ok(p);
        }
    }
    for attempt in 1..=NEW_PASSPHRASE_TRIES {
        let first = prompt("New passphrase: ")?;
        if let Some(why) = weak_passphrase(first.expose_secret()) {
            output::warn(&format!(
                "this passphrase is weak ({why}); anyone who copies the vault file can try \
                 passphrases offline. Four or more random words are strong and easy to type"
            ));
        }
        let second = prompt("Repeat the new passphrase: ")?;
        if first.expose_secret() == second.expose_secret() {
            return Ok(first);
        }
        if attempt < NEW_PASSPHRASE_TRIES {
            output::note("The two passphrases differ; try again.");
        }
    }
    Err(Error::Usage(format!(
        "the two passphrases differed {NEW_PASSPHRASE_TRIES} times; nothing was changed"
    )))
}

/// Why a typed passphrase is weak, if it is: shorter than 12 characters, a well-known default, or
/// a low estimated entropy (the same estimate `keep lint` uses for values). A heuristic, and said to
/// be one: it warns, it never refuses.
fn weak_passphrase(p: &str) -> Option<String> {
    use crate::lint::weak::{self, Weakness};
    const MIN_CHARS: usize = 12;
    match weak::check(p.as_bytes()) {
        Some(Weakness::Default) => return Some("a well-known default".into()),
        Some(Weakness::LowEntropy(bits)) => {
            return Some(format!("an estimated {bits:.0} bits of entropy"))
        }
        Some(Weakness::TooShort(_)) | None => {}
    }
    let n = p.chars().count();
    (n < MIN_CHARS).then(|| format!("{n} characters; use at least {MIN_CHARS}"))
}
