//! The canary and the file system.
//!
//! - Every file keep creates, anywhere, is seen through `strace` (each `open`/`openat`/`creat` with
//!   `O_CREAT`): it must lie in the test folder (the vault, its WAL, the outputs asked for, their
//!   same-folder temp files) and be created owner-only (0600 or 0400) in the `open` call itself, with
//!   the umask at 0 so the mode is keep's choice, not the umask's. `TMPDIR` points at a dedicated
//!   folder that must end up holding nothing with the value.
//! - The vault file: every table dumped (`SELECT *`) and the `-wal` file's bytes (kept alive by a
//!   connection this test holds open) hold neither the value (text, base64, hex) nor, in plaintext,
//!   a secret's name.

use crate::canary_support;
use crate::common;
use crate::custody_support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use canary_support::{assert_absent, contains, files_under, find_form, CANARY, CANARY_NAME};
use common::{code, stderr, TestVault};

/// One `open*` call with `O_CREAT` from a strace log: (path, mode).
fn created(trace: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in trace.lines() {
        if !line.contains("O_CREAT") || line.contains("= -1") {
            continue;
        }
        let Some(start) = line.find('"') else {
            continue;
        };
        let rest = &line[start + 1..];
        let Some(end) = rest.find('"') else { continue };
        let path = rest[..end].to_string();
        // The mode is the argument after the flags: `..., O_CREAT|..., 0600) = 3`.
        let args = &rest[end..];
        let mode = args
            .rsplit_once(')')
            .map(|(a, _)| a)
            .and_then(|a| a.rsplit(", ").next())
            .unwrap_or("")
            .trim()
            .to_string();
        out.push((path, mode));
    }
    out
}

/// `keep ARGS` under strace (umask 0, TMPDIR set); returns the output and the files it created.
fn traced(tv: &TestVault, args: &[&str], stdin: &[u8]) -> (Output, Vec<(String, String)>) {
    let log = tv.path().join("strace.log");
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-e", "trace=open,openat,openat2,creat", "-o"])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_keep"))
        .args(args);
    let keep = tv.keep(&[]);
    cmd.current_dir(tv.path())
        .env_clear()
        .envs(keep.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("TMPDIR", tv.path().join("tmp"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: umask is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .expect("strace (scripts/setup.d/60-canary.sh installs it)");
    {
        use std::io::Write;
        let _ = child.stdin.take().unwrap().write_all(stdin);
    }
    let out = child.wait_with_output().unwrap();
    let trace = std::fs::read_to_string(&log).unwrap_or_default();
    std::fs::remove_file(&log).unwrap();
    assert!(
        trace.contains("openat") || trace.contains("open("),
        "strace recorded nothing (is ptrace allowed here?): {}",
        stderr(&out)
    );
    (out, created(&trace))
}

#[test]
fn every_file_keep_creates_is_owner_only_at_creation_and_in_place() {
    let tv = TestVault::new();
    let t = tv.path().to_path_buf();
    std::fs::create_dir(t.join("tmp")).unwrap();
    let (_, recipient) = custody_support::age_identity(&t, "age.key");
    std::fs::write(
        t.join("tpl"),
        format!("x={{{{ keep://default/dev/{CANARY_NAME} }}}}\n"),
    )
    .unwrap();
    std::fs::write(t.join("in.env"), format!("IMPORTED={CANARY}\n")).unwrap();

    let runs: &[(&[&str], &str, &[&str])] = &[
        // (args, stdin, outputs the run is asked to write, relative to the test folder)
        (&["set", CANARY_NAME], CANARY, &[]),
        (&["get", CANARY_NAME], "", &[]),
        (&["env"], "", &[]),
        (&["materialize", "out.env"], "", &["out.env"]),
        (&["materialize", "--dir", "out.d"], "", &["out.d"]),
        (
            &["inject", "-i", "tpl", "-o", "out.conf"],
            "",
            &["out.conf"],
        ),
        (
            &["export", "--age", &recipient, "-o", "backup.age"],
            "",
            &["backup.age"],
        ),
        (&["import", "in.env"], "", &[]),
        (&["exec", "--redact", "--", "true"], "", &[]),
        (&["set", "ROTATED", "--generate", "token:24"], "", &[]),
        (&["rotate", "ROTATED", "--generator", "hex:16"], "", &[]),
        (&["history", CANARY_NAME], "", &[]),
        (&["audit", "verify"], "", &[]),
        (&["lint"], "", &[]),
    ];
    let mut checked = 0;
    for (args, stdin, outputs) in runs {
        let (out, files) = traced(&tv, args, stdin.as_bytes());
        assert!([0, 1].contains(&code(&out)), "{args:?}: {}", stderr(&out));
        for (path, mode) in files {
            let p = if Path::new(&path).is_absolute() {
                PathBuf::from(&path)
            } else {
                t.join(&path)
            };
            let vault = tv.vault_path();
            let in_vault_dir = p.parent() == vault.parent();
            let output = outputs.iter().any(|o| {
                let o = t.join(o);
                p.starts_with(&o) || p.parent() == o.parent()
            });
            // The audit witness ($XDG_STATE_HOME/keep, here under the test's HOME).
            let witness = p.parent() == Some(&t.join(".local/state/keep"));
            assert!(
                in_vault_dir || output || witness,
                "{args:?} created {path}, outside the vault folder, the audit witness folder and \
                 the outputs asked for"
            );
            assert!(
                mode == "0600" || mode == "0400",
                "{args:?} created {path} with mode {mode} (umask 0): not owner-only at creation"
            );
            eprintln!("canary: {args:?} created {path} {mode}");
            checked += 1;
        }
    }
    eprintln!(
        "canary: {checked} file creations traced over {} runs",
        runs.len()
    );
    assert!(
        checked >= 8,
        "only {checked} creations seen: is the trace parsed?"
    );

    // The files that hold secrets: owner-only now, too.
    let mut secret_files = vec![t.join("out.env"), t.join("out.conf"), tv.vault_path()];
    secret_files.extend(files_under(&t.join("out.d")));
    assert!(secret_files.len() >= 4, "materialize --dir wrote files");
    for f in &secret_files {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert!(
            mode == 0o600 || mode == 0o400,
            "{} is {mode:o}",
            f.display()
        );
    }
    // TMPDIR: nothing with the value (keep writes its temp files next to their targets).
    for f in files_under(&t.join("tmp")) {
        assert_absent(&f.display().to_string(), &std::fs::read(&f).unwrap());
    }
    // Nowhere else under the test folder either, besides the vault and the asked-for plaintext.
    let allowed: BTreeSet<PathBuf> = [t.join("out.env"), t.join("out.conf"), t.join("in.env")]
        .into_iter()
        .collect();
    for f in files_under(&t) {
        if allowed.contains(&f) || f.starts_with(t.join("out.d")) || f.starts_with(t.join("data")) {
            continue;
        }
        if let Some(form) = find_form(&std::fs::read(&f).unwrap(), CANARY) {
            panic!("{} holds the canary ({form})", f.display());
        }
    }
}

/// Every row of every table of the vault, as bytes, labelled by table.
fn dump(conn: &rusqlite::Connection) -> Vec<(String, Vec<u8>)> {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(tables.iter().any(|t| t == "audit"), "{tables:?}");
    let mut out = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        let mut bytes = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                use rusqlite::types::ValueRef;
                match row.get_ref(i).unwrap() {
                    ValueRef::Text(t) | ValueRef::Blob(t) => bytes.extend_from_slice(t),
                    ValueRef::Integer(v) => bytes.extend_from_slice(v.to_string().as_bytes()),
                    ValueRef::Real(v) => bytes.extend_from_slice(v.to_string().as_bytes()),
                    ValueRef::Null => {}
                }
                bytes.push(0);
            }
        }
        out.push((table, bytes));
    }
    out
}

#[test]
fn the_vault_tables_and_wal_hold_no_canary_and_no_plaintext_names() {
    let tv = TestVault::new();
    // Hold a connection open so the WAL outlives each keep process (the last connection to close
    // checkpoints and deletes it).
    let conn = rusqlite::Connection::open(tv.vault_path()).unwrap();
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap();
    tv.set(CANARY_NAME, CANARY);
    tv.set("ROTATED", "first-value-of-rotated");
    std::fs::write(
        tv.path().join("keep.toml"),
        format!("[secrets.{CANARY_NAME}]\nmax_age = \"1d\"\n"),
    )
    .unwrap();
    for args in [
        &["get", CANARY_NAME][..],
        &["history", CANARY_NAME],
        &["rotate", "ROTATED", "--generator", "token:24"],
        &["policy", "set", CANARY_NAME, "--max-age", "30d"],
        &["rm", CANARY_NAME],
        &["rollback", CANARY_NAME, "--to", "1"],
        &["exec", "--", "true"],
        &["env"],
        &["audit", "verify"],
    ] {
        let out = tv.run(args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
    }
    // A failed unlock is logged without the key (audit_unauthenticated): it must not name the secret.
    std::fs::write(tv.pass_file(), "wrong passphrase\n").unwrap();
    assert_eq!(code(&tv.run(&["get", CANARY_NAME])), 4);
    std::fs::write(tv.pass_file(), format!("{}\n", common::PASSPHRASE)).unwrap();

    let wal = std::fs::read(tv.vault_path().with_extension("db-wal")).unwrap_or_default();
    assert!(
        !wal.is_empty(),
        "the WAL was kept alive by the open connection"
    );
    let tables = dump(&conn);
    let audit_rows: i64 = conn
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap();
    assert!(audit_rows >= 10, "the runs were audited: {audit_rows} rows");
    let failed: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM audit_unauthenticated) + \
             (SELECT count(*) FROM audit WHERE CAST(body AS TEXT) LIKE '%unlock-failed%')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(failed >= 1, "the failed unlock was logged");
    let mut searched = 0;
    for (table, bytes) in &tables {
        assert_absent(&format!("table {table}"), bytes);
        assert!(
            find_form(bytes, CANARY_NAME).is_none(),
            "table {table} holds the secret's name in plaintext: {}",
            String::from_utf8_lossy(bytes)
        );
        searched += bytes.len();
    }
    assert!(
        contains(
            &tables.iter().find(|(t, _)| t == "audit").unwrap().1,
            b"\"action\""
        ),
        "the audit bodies are readable JSON: the name check looked at real text"
    );
    assert_absent("the -wal file", &wal);
    assert!(
        !contains(&wal, CANARY_NAME.as_bytes()),
        "the -wal file holds the name in plaintext"
    );
    assert_absent("the vault file", &std::fs::read(tv.vault_path()).unwrap());
    eprintln!(
        "canary: {} tables, {searched} bytes of rows and {} bytes of WAL searched",
        tables.len(),
        wal.len()
    );
    drop(conn);
}
