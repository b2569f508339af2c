//! Feeds `keep.toml` parsing and validation (`keep::config::Config::parse`) arbitrary text.
//!
//! Beyond "no panic" it asserts the promise in `src/config/mod.rs`: errors quote the file's line
//! number but never its text, in case a value was pasted into the file by mistake. Concretely: no
//! string value of the input (as a generic TOML parser reads it) that is 12 bytes or longer and holds
//! both a letter and a digit (the shape of a pasted token) appears in the error message, unless it
//! is also a key of the file (an environment named by `extends` is a table key too, and the error
//! of an `extends` cycle names the environments: a name, not a value). Failures
//! are usage errors (exit 2), and a parse that succeeds is stable: the names it lists as required
//! are valid secret names.
#![no_main]

use keep::config::Config;
use libfuzzer_sys::fuzz_target;

fn strings(v: &toml::Value, out: &mut Vec<String>) {
    match v {
        toml::Value::String(s) => out.push(s.clone()),
        toml::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        toml::Value::Table(t) => t.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

fn keys(v: &toml::Value, out: &mut Vec<String>) {
    if let toml::Value::Table(t) = v {
        for (k, v) in t {
            out.push(k.clone());
            keys(v, out);
        }
    }
}

fn token_like(s: &str) -> bool {
    s.len() >= 12
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(text) {
        Ok(config) => {
            for env in config.env.keys() {
                for name in config.required(env) {
                    assert!(keep::Name::new(name.as_str()).is_ok());
                }
            }
        }
        Err(e) => {
            assert!(matches!(e, keep::Error::Usage(_)), "non-usage error: {e:?}");
            let message = e.to_string();
            let mut values = Vec::new();
            let mut names = Vec::new();
            if let Ok(table) = text.parse::<toml::Table>() {
                table.values().for_each(|v| strings(v, &mut values));
                keys(&toml::Value::Table(table), &mut names);
            }
            for v in values.iter().filter(|v| token_like(v) && !names.contains(v)) {
                assert!(
                    !message.contains(v.as_str()),
                    "the error quotes a value of the file: {message}"
                );
            }
        }
    }
});
