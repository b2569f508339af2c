//! Feeds `keep import`'s parser (`keep::using::import::parse`) arbitrary bytes under each file name it
//! dispatches on (`.env`, `.json`, `.yaml`/`.yml`, upper-case extensions, no extension), and `detect`.
//!
//! Beyond "no panic" it asserts:
//! - `detect` follows the documented rule (extension first, then a leading `{` means JSON);
//! - a successful parse holds no repeated name (a repeated name keeps its last value);
//! - the `literal_dollar_lines` it reports are real lines of the input, in increasing order;
//! - every failure is a usage error (exit 2), never an I/O, integrity or internal one;
//! - the entries survive a round trip through JSON: serialising them as one JSON object and parsing
//!   that with the JSON importer gives back the same names and values.
#![no_main]

use keep::using::import::{detect, parse, Kind};
use libfuzzer_sys::fuzz_target;

const ORIGINS: [&str; 7] = [
    ".env",
    "secrets.json",
    "secrets.yaml",
    "config.yml",
    "SECRETS.JSON",
    "noext",
    "prod.env.YAML",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let origin = ORIGINS[usize::from(selector) % ORIGINS.len()];
    if let Ok(text) = std::str::from_utf8(bytes) {
        let kind = detect(origin, text);
        let lower = origin.to_ascii_lowercase();
        let expected = if lower.ends_with(".json") {
            Kind::Json
        } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Kind::Yaml
        } else if text.trim_start().starts_with('{') {
            Kind::Json
        } else {
            Kind::Dotenv
        };
        assert_eq!(kind, expected, "detect({origin:?})");
    }
    match parse(bytes, origin) {
        Ok(parsed) => {
            let mut names: Vec<&str> = parsed.entries.iter().map(|(n, _)| n.as_str()).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "a repeated name survived the parse");
            let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
            assert!(parsed.literal_dollar_lines.windows(2).all(|w| w[0] < w[1]));
            assert!(parsed
                .literal_dollar_lines
                .iter()
                .all(|&l| (1..=lines).contains(&l)));
            // Round trip through the JSON importer (values that are not UTF-8 cannot be JSON).
            let mut map = serde_json::Map::new();
            for (name, value) in &parsed.entries {
                let Ok(v) = std::str::from_utf8(value.expose()) else {
                    return;
                };
                map.insert(
                    name.as_str().to_string(),
                    serde_json::Value::String(v.into()),
                );
            }
            let json = serde_json::to_vec(&serde_json::Value::Object(map)).unwrap();
            let again = parse(&json, "roundtrip.json").expect("keep's own JSON must import");
            let norm = |p: &keep::using::import::Parsed| {
                let mut v: Vec<(String, Vec<u8>)> = p
                    .entries
                    .iter()
                    .map(|(n, v)| (n.as_str().to_string(), v.expose().to_vec()))
                    .collect();
                v.sort();
                v
            };
            assert_eq!(
                norm(&parsed),
                norm(&again),
                "JSON round trip changed the entries"
            );
        }
        Err(e) => {
            assert!(
                matches!(e, keep::Error::Usage(_)),
                "import failed with a non-usage error: {e:?}"
            );
        }
    }
});
