//! `keep env --format ...`: every format fed back through its reader must give back every value
//! exactly — multiline, quotes, `$`, `#`, `=`, backslashes, unicode and YAML's special characters.
//! Readers: dotenvy (the dotenv parser keep also imports with), `sh`, serde_json, two YAML readers
//! (serde_yaml_ng and PyYAML), kubectl, and Docker's and the GitHub runner's documented rules.

use crate::common;

use std::collections::BTreeMap;
use std::process::Command;

use base64::Engine;
use common::{code, stderr, stdout, TestVault};

/// Values every text format must carry exactly.
fn tricky() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("PLAIN", "simple-value"),
        ("QUOTES", r#"it's "quoted" and 'single'"#),
        ("DOLLAR", "pa$$word $HOME ${HOME} `id` $(id)"),
        ("HASH_EQ", "a#b = c #not-a-comment ="),
        ("BACKSLASH", r"C:\path\n\t\\ end\"),
        ("UNICODE", "héllo wörld ✓ 日本 🎉"),
        ("SPACES", "  leading and trailing  "),
        ("EMPTY", ""),
        ("TRUE", "true"),
        ("NUMBER", "0123"),
        ("YAMLISH", "- item: [x] {y} &a *b !tag | > % @ `"),
    ])
}

/// Multiline values; Docker env files cannot carry them.
fn multiline() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("MULTI", "line 1\nline 2 \"q\" $x\n\nline 4"),
        ("TRAILING_NL", "ends with newline\n"),
        (
            "PEM",
            "-----BEGIN KEY-----\nMIIB+abc/def==\n-----END KEY-----\n",
        ),
        (
            "YAML_BREAKS",
            "nel\u{85}ls\u{2028}ps\u{2029}del\u{7f}tab\tend",
        ),
    ])
}

fn vault_with(values: &BTreeMap<&str, &str>) -> TestVault {
    let tv = TestVault::new();
    let mut file = String::from("{");
    for (i, (k, v)) in values.iter().enumerate() {
        if i > 0 {
            file.push(',');
        }
        file.push_str(&format!(
            "{}:{}",
            serde_json::to_string(k).unwrap(),
            serde_json::to_string(v).unwrap()
        ));
    }
    file.push('}');
    std::fs::write(tv.path().join("seed.json"), file).unwrap();
    let out = tv.run(&["import", "seed.json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    tv
}

fn all() -> BTreeMap<&'static str, &'static str> {
    let mut m = tricky();
    m.extend(multiline());
    m
}

fn render(tv: &TestVault, format: &str) -> String {
    let out = tv.run(&["env", "--format", format]);
    assert_eq!(code(&out), 0, "{format}: {}", stderr(&out));
    stdout(&out)
}

fn owned(m: &BTreeMap<&str, &str>) -> BTreeMap<String, String> {
    m.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn dotenv_round_trips_through_dotenvy() {
    let values = all();
    let tv = vault_with(&values);
    let text = render(&tv, "dotenv");
    let parsed: BTreeMap<String, String> = dotenvy::from_read_iter(text.as_bytes())
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(parsed, owned(&values), "{text}");
}

#[test]
fn shell_round_trips_through_sh() {
    let values = all();
    let tv = vault_with(&values);
    let text = render(&tv, "shell");
    std::fs::write(tv.path().join("env.sh"), &text).unwrap();
    for (name, value) in &values {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(". ./env.sh && printf '%s' \"${name}\""))
            .current_dir(tv.path())
            .env_clear()
            .env("HOME", "/nonexistent-home")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), *value, "{name}");
    }
}

#[test]
fn json_round_trips() {
    let values = all();
    let tv = vault_with(&values);
    let parsed: BTreeMap<String, String> = serde_json::from_str(&render(&tv, "json")).unwrap();
    assert_eq!(parsed, owned(&values));
    let via_flag = tv.run(&["env", "--json"]);
    let again: BTreeMap<String, String> = serde_json::from_slice(&via_flag.stdout).unwrap();
    assert_eq!(again, owned(&values));
}

#[test]
fn yaml_round_trips_through_two_readers() {
    let values = all();
    let tv = vault_with(&values);
    let text = render(&tv, "yaml");
    let parsed: BTreeMap<String, String> = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(parsed, owned(&values), "{text}");
    // PyYAML is a YAML 1.1 reader: NEL, LS and PS are line breaks there, so they must be escaped.
    std::fs::write(tv.path().join("env.yaml"), &text).unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open('env.yaml', encoding='utf-8'))))",
        ])
        .current_dir(tv.path())
        .output()
        .expect("python3 with PyYAML (scripts/setup.d/40-using.sh)");
    assert!(out.status.success(), "{}", stderr(&out));
    let py: BTreeMap<String, String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(py, owned(&values));
}

/// Docker's env-file rules: lines are trimmed on the left, `#` lines are comments, the value is
/// everything after the first `=`, literally.
fn docker_parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(|l| l.trim_start())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn docker_round_trips_and_refuses_multiline_by_name() {
    let values = tricky();
    // Docker trims the start of each line, so a leading space cannot be carried either.
    let values: BTreeMap<_, _> = values.into_iter().filter(|(k, _)| *k != "SPACES").collect();
    let tv = vault_with(&values);
    assert_eq!(docker_parse(&render(&tv, "docker")), owned(&values));
    tv.set("MULTI", "a\nb-canary");
    let out = tv.run(&["env", "--format", "docker"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("MULTI") && !stderr(&out).contains("canary"),
        "{}",
        stderr(&out)
    );
}

/// The GitHub runner's rules for `$GITHUB_ENV`: `NAME=value` lines, or `NAME<<DELIM` then lines up to
/// a line equal to DELIM, joined with `\n`.
fn github_env_parse(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let (name, delim) = line.split_once("<<").expect("heredoc form");
        let mut value: Vec<&str> = Vec::new();
        for l in lines.by_ref() {
            if l == delim {
                break;
            }
            value.push(l);
        }
        out.insert(name.to_string(), value.join("\n"));
    }
    out
}

#[test]
fn github_masks_and_env_file_blocks() {
    let mut values = all();
    values.remove("YAML_BREAKS");
    let tv = vault_with(&values);
    // Outside Actions both halves are printed: masks first.
    let text = render(&tv, "github");
    let (masks, blocks): (Vec<&str>, Vec<&str>) = text
        .split_inclusive('\n')
        .partition(|l| l.starts_with("::add-mask::"));
    assert!(masks.contains(&"::add-mask::simple-value\n"), "{text}");
    assert!(
        masks.contains(&"::add-mask::line 2 \"q\" $x\n"),
        "each line of a multiline value: {text}"
    );
    assert_eq!(github_env_parse(&blocks.concat()), owned(&values));
    // Inside Actions the blocks go to $GITHUB_ENV and only masks reach stdout (and the log).
    let env_file = tv.path().join("github_env");
    std::fs::write(&env_file, "EXISTING=1\n").unwrap();
    let out = tv
        .keep(&["env", "--format", "github"])
        .env("GITHUB_ENV", &env_file)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).lines().all(|l| l.starts_with("::add-mask::")),
        "{}",
        stdout(&out)
    );
    let written = std::fs::read_to_string(&env_file).unwrap();
    let blocks = written.strip_prefix("EXISTING=1\n").unwrap();
    assert_eq!(github_env_parse(blocks), owned(&values));
}

#[test]
fn k8s_manifest_reads_back_through_kubectl_and_yaml() {
    let mut values = all();
    values.insert("BINARYISH", "\u{0}\u{1}\u{ff}");
    let tv = vault_with(&values);
    // A non-UTF-8 value too: k8s carries bytes.
    let out = tv.run_with_stdin(&["set", "--raw", "RAW_BYTES"], &[0xff, 0x00, 0xfe, b'\n']);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = render(&tv, "k8s");
    let decode = |data: &serde_json::Map<String, serde_json::Value>| -> BTreeMap<String, Vec<u8>> {
        data.iter()
            .map(|(k, v)| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v.as_str().unwrap())
                    .unwrap();
                (k.clone(), bytes)
            })
            .collect()
    };
    let mut expected: BTreeMap<String, Vec<u8>> = values
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    expected.insert("RAW_BYTES".into(), vec![0xff, 0x00, 0xfe, b'\n']);

    let doc: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(doc["kind"], "Secret");
    assert_eq!(doc["metadata"]["name"], "default-dev");
    // The same ownership label `keep push` sets on the Kubernetes provider's Secrets.
    assert_eq!(
        doc["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "keep"
    );
    assert_eq!(decode(doc["data"].as_object().unwrap()), expected);

    // kubectl parses the manifest with its own decoder. `create --dry-run=client` needs an API server
    // for discovery; `annotate --local` runs the same decoding offline.
    std::fs::write(tv.path().join("secret.yaml"), &text).unwrap();
    let out = Command::new("kubectl")
        .args([
            "annotate",
            "--local",
            "-f",
            "secret.yaml",
            "checked=yes",
            "-o",
            "json",
        ])
        .current_dir(tv.path())
        .env("HOME", tv.path())
        .env("KUBECONFIG", tv.path().join("no-kubeconfig"))
        .output()
        .expect("kubectl (scripts/setup.d/40-using.sh installs kubernetes-client)");
    assert!(out.status.success(), "kubectl: {}", stderr(&out));
    let obj: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(obj["kind"], "Secret");
    assert_eq!(
        obj["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "keep"
    );
    assert_eq!(decode(obj["data"].as_object().unwrap()), expected);
}

#[test]
fn text_formats_refuse_binary_values_by_name() {
    let tv = TestVault::new();
    let out = tv.run_with_stdin(&["set", "--raw", "BIN"], &[0xff, 0xfe, b'x']);
    assert_eq!(code(&out), 0);
    for format in ["dotenv", "shell", "json", "yaml", "docker", "github"] {
        let out = tv.run(&["env", "--format", format]);
        assert_eq!(code(&out), 2, "{format}");
        assert!(stderr(&out).contains("BIN"), "{format}: {}", stderr(&out));
    }
}
