//! age and recovery slots, and age export/import checked both ways with the real `age` CLI.

use crate::common;
use crate::custody_support;

use std::process::Command;

use common::{code, stderr, stdout, TestVault};
use custody_support::age_identity;

#[test]
fn an_age_slot_opens_with_its_identity_and_a_wrong_identity_is_exit_4() {
    let tv = TestVault::new();
    tv.set("API_KEY", "s3cret");
    let (id, recipient) = age_identity(tv.path(), "me.txt");
    let (other, _) = age_identity(tv.path(), "other.txt");
    let out = tv.run(&["slot", "add", "age", "--recipient", &recipient]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // --identity per command, and KEEP_AGE_IDENTITY, both without the passphrase.
    let out = tv
        .keep(&["--identity", id.to_str().unwrap(), "get", "API_KEY"])
        .env_remove("KEEP_PASSPHRASE_FILE")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "s3cret");
    let out = tv
        .keep(&["get", "API_KEY"])
        .env_remove("KEEP_PASSPHRASE_FILE")
        .env("KEEP_AGE_IDENTITY", &id)
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "s3cret", "{}", stderr(&out));

    let out = tv
        .keep(&["--identity", other.to_str().unwrap(), "get", "API_KEY"])
        .env_remove("KEEP_PASSPHRASE_FILE")
        .output()
        .unwrap();
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

/// The recovery code printed by `init --recovery`, from its stderr.
fn recovery_code(err: &str) -> String {
    err.split_whitespace()
        .find(|w| w.len() == 39 && w.matches('-').count() == 7)
        .unwrap_or_else(|| panic!("no recovery code in: {err}"))
        .to_string()
}

#[test]
fn the_recovery_key_opens_the_vault_when_the_passphrase_is_forgotten() {
    let tv = TestVault::empty();
    let out = tv.run(&[
        "init",
        "--kdf-memory",
        "1MiB",
        "--kdf-iterations",
        "1",
        "--recovery",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let code_text = recovery_code(&stderr(&out));
    assert!(
        !stdout(&out).contains(&code_text),
        "the code goes to stderr only"
    );
    tv.set("DB", "kept");

    // Forgotten: the passphrase file now holds a wrong one.
    std::fs::write(tv.pass_file(), "forgotten").unwrap();
    let out = tv.run(&["get", "DB"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));

    // Typed from paper: lower case, spaces instead of dashes.
    let typed = code_text.to_lowercase().replace('-', " ");
    std::fs::write(tv.path().join("recovery"), format!("{typed}\n")).unwrap();
    let out = tv
        .keep(&["get", "DB"])
        .env("KEEP_RECOVERY_KEY_FILE", tv.path().join("recovery"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "kept");

    // And from it a new passphrase slot can be made.
    std::fs::write(tv.path().join("new"), "new passphrase").unwrap();
    let out = tv
        .keep(custody_support::ADD_CHEAP_PASSPHRASE)
        .env("KEEP_RECOVERY_KEY_FILE", tv.path().join("recovery"))
        .env("KEEP_NEW_PASSPHRASE_FILE", tv.path().join("new"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    std::fs::write(tv.pass_file(), "new passphrase").unwrap();
    assert_eq!(tv.get("DB"), "kept");

    // A wrong recovery code opens nothing.
    let wrong = "0000-0000-0000-0000-0000-0000-0000-0000";
    let out = tv
        .keep(&["get", "DB"])
        .env_remove("KEEP_PASSPHRASE_FILE")
        .env("KEEP_RECOVERY_KEY", wrong)
        .output()
        .unwrap();
    assert_eq!(code(&out), 4, "{}", stderr(&out));
}

#[test]
fn a_non_interactive_init_does_not_block_on_the_recovery_offer() {
    let tv = TestVault::new(); // stdin is null: no prompt, a tip instead
    let out = tv.run(&["slot", "ls", "--json"]);
    let slots: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        slots.as_array().unwrap().len(),
        1,
        "no recovery slot unless asked"
    );
}

#[test]
fn the_age_cli_decrypts_what_keep_exports() {
    let tv = TestVault::new();
    tv.set("A", "one");
    tv.set("B", "two\nlines");
    let (id, recipient) = age_identity(tv.path(), "team.txt");
    for armor in [false, true] {
        let file = tv
            .path()
            .join(if armor { "out.age.asc" } else { "out.age" });
        let mut args = vec!["export", "--age", &recipient, "-o", file.to_str().unwrap()];
        if armor {
            args.push("--armor");
        }
        let out = tv.run(&args);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("two"),
            "the file is encrypted"
        );
        assert_eq!(
            bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"),
            armor,
            "armor as asked"
        );
        let dec = Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(&id)
            .arg(&file)
            .output()
            .unwrap();
        assert!(dec.status.success(), "age -d: {}", stderr(&dec));
        let doc: serde_json::Value = serde_json::from_slice(&dec.stdout).unwrap();
        assert_eq!(doc["format"], "keep-export");
        assert_eq!(doc["version"], 1);
        let secrets = doc["secrets"].as_array().unwrap();
        assert_eq!(secrets.len(), 2);
        assert_eq!(secrets[1]["address"], "keep://default/dev/B");
        assert_eq!(secrets[1]["value"], "two\nlines");
    }
}

#[test]
fn keep_imports_what_the_age_cli_encrypts_and_refuses_a_wrong_identity() {
    let tv = TestVault::new();
    tv.set("OLD", "unchanged");
    let (id, recipient) = age_identity(tv.path(), "team.txt");
    let (other, _) = age_identity(tv.path(), "other.txt");
    let plain = tv.path().join("doc.json");
    std::fs::write(
        &plain,
        r#"{"format":"keep-export","version":1,"secrets":[
            {"address":"keep://default/dev/OLD","value":"unchanged"},
            {"address":"keep://billing/prod/TOKEN","value":"from age"},
            {"address":"keep://default/dev/BIN","value_base64":"AP8="}]}"#,
    )
    .unwrap();
    let enc = tv.path().join("doc.age");
    let out = Command::new("age")
        .args(["-r", &recipient, "-o"])
        .arg(&enc)
        .arg(&plain)
        .output()
        .unwrap();
    assert!(out.status.success(), "age -r: {}", stderr(&out));

    let out = tv.run(&[
        "--identity",
        other.to_str().unwrap(),
        "import",
        enc.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert_eq!(
        code(&tv.run(&["get", "keep://billing/prod/TOKEN"])),
        3,
        "nothing was imported"
    );

    let out = tv.run(&[
        "--identity",
        id.to_str().unwrap(),
        "--json",
        "import",
        "--all",
        enc.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["written"].as_u64(), report["unchanged"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(tv.get("keep://billing/prod/TOKEN"), "from age");
    let out = tv.run(&["get", "BIN"]);
    assert_eq!(out.stdout, vec![0u8, 0xff]);
    let out = tv.run(&["history", "OLD", "--json"]);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        h["versions"].as_array().map(|a| a.len()),
        Some(1),
        "an equal value adds no version"
    );
}

#[test]
fn export_then_import_round_trips_between_vaults() {
    let a = TestVault::new();
    a.set("X", "1");
    a.set("keep://default/prod/Y", "2");
    let (id, recipient) = age_identity(a.path(), "id.txt");
    let file = a.path().join("all.age");
    let out = a.run(&[
        "export",
        "--all",
        "--age",
        &recipient,
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let b = TestVault::new();
    let out = b.run(&[
        "--identity",
        id.to_str().unwrap(),
        "import",
        "--all",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(b.get("X"), "1");
    assert_eq!(b.get("keep://default/prod/Y"), "2");
    // The export file is owner-only, and the import left one audit write entry per secret it named.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "export mode {mode:o}");
    let out = b.run(&["audit", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut written: Vec<_> = entries
        .iter()
        .filter(|e| e["command"] == "import" && e["action"] == "write")
        .map(|e| e["secret"].as_str().unwrap_or_default().to_string())
        .collect();
    written.sort();
    assert_eq!(written, ["keep://default/dev/X", "keep://default/prod/Y"]);
    assert_eq!(code(&b.run(&["audit", "verify"])), 0);
}

#[test]
fn a_recipients_file_encrypts_to_every_line_and_a_bad_line_is_named() {
    let tv = TestVault::new();
    tv.set("A", "one");
    let (ana, ana_r) = age_identity(tv.path(), "ana.txt");
    let (bo, bo_r) = age_identity(tv.path(), "bo.txt");
    let list = tv.path().join("team.recipients");
    std::fs::write(&list, format!("# the team\n{ana_r}\n\n  {bo_r}  \n")).unwrap();
    let file = tv.path().join("out.age");
    let out = tv.run(&[
        "export",
        "-R",
        list.to_str().unwrap(),
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for id in [&ana, &bo] {
        assert!(age_decrypt(id, &file).contains("\"one\""));
    }

    std::fs::write(&list, format!("{ana_r}\nnot-a-recipient\n")).unwrap();
    std::fs::remove_file(&file).unwrap();
    let out = tv.run(&[
        "export",
        "-R",
        list.to_str().unwrap(),
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("team.recipients line 2"),
        "{}",
        stderr(&out)
    );
    assert!(!file.exists(), "nothing written");

    let out = tv.run(&["export", "-R", "missing.txt", "-o", file.to_str().unwrap()]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let out = tv.run(&["export", "-o", file.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "no recipient: {}", stderr(&out));
    assert!(stderr(&out).contains("-R FILE"), "{}", stderr(&out));
}

#[test]
fn export_format_dotenv_is_plain_0600_with_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let tv = TestVault::new();
    tv.set("A", "v4lue-one");
    tv.set("B", "it's $HOME");
    let out = tv.run(&["export", "--format", "dotenv"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("NOT encrypted"), "{}", stderr(&out));
    let parsed: std::collections::BTreeMap<String, String> =
        dotenvy::from_read_iter(stdout(&out).as_bytes())
            .map(|r| r.unwrap())
            .collect();
    assert_eq!(parsed["A"], "v4lue-one");
    assert_eq!(parsed["B"], "it's $HOME", "read back literally");
    assert!(!stderr(&out).contains("v4lue"), "no value on stderr");

    let file = tv.path().join("for-ana.env");
    let out = tv.run(&["export", "--format", "dotenv", "-o", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("A='v4lue-one'"));

    let (_, r) = age_identity(tv.path(), "x.txt");
    let out = tv.run(&["export", "--format", "dotenv", "--age", &r]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "nothing written");
}

/// What `age -d -i KEY FILE` prints (the age CLI, as a colleague without keep runs it).
fn age_decrypt(key: &std::path::Path, file: &std::path::Path) -> String {
    let dec = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(key)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        dec.status.success(),
        "age -d -i {}: {}",
        key.display(),
        stderr(&dec)
    );
    String::from_utf8_lossy(&dec.stdout).into_owned()
}

/// An SSH key pair made by `ssh-keygen` in `dir`: (private key path, public key line).
fn ssh_key(
    dir: &std::path::Path,
    kind: &str,
    bits: &str,
    name: &str,
) -> (std::path::PathBuf, String) {
    let key = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            kind,
            "-b",
            bits,
            "-N",
            "",
            "-C",
            "ana@laptop",
            "-f",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh-keygen: {}", stderr(&out));
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public.trim().to_string())
}

#[test]
fn ssh_recipients_decrypt_with_the_age_cli_and_a_weak_rsa_key_is_refused() {
    let tv = TestVault::new();
    tv.set("A", "ssh-handed-value");
    let (ed, ed_pub) = ssh_key(tv.path(), "ed25519", "256", "id_ed25519");
    let (rsa, _) = ssh_key(tv.path(), "rsa", "2048", "id_rsa");
    let file = tv.path().join("out.age");
    // One on the command line, one through a recipients file (the .pub file as it is).
    let out = tv.run(&[
        "export",
        "--age",
        &ed_pub,
        "-R",
        rsa.with_extension("pub").to_str().unwrap(),
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for key in [&ed, &rsa] {
        assert!(age_decrypt(key, &file).contains("ssh-handed-value"));
    }

    let (_, weak) = ssh_key(tv.path(), "rsa", "1024", "id_weak");
    std::fs::remove_file(&file).unwrap();
    let out = tv.run(&["export", "--age", &weak, "-o", file.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("too weak"), "{}", stderr(&out));
    assert!(!file.exists(), "nothing written");
}
