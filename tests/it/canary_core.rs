//! Canary: a known secret value goes through every core command, and must appear nowhere it should
//! not: stderr, `--json` error output, or any file on disk (the vault holds it only encrypted). The live
//! process and core dumps: `tests/it/canary_process.rs`.

use crate::canary_support;
use crate::common;

use canary_support::{assert_absent, files_under, CANARY};
use common::{code, TestVault};

#[test]
fn the_canary_never_leaks() {
    let tv = TestVault::new();
    // The live process (argv, environ, core limit while `set` reads stdin) is checked in
    // tests/it/canary_process.rs; here the command's own output.
    let out = tv.run_with_stdin(&["set", "CANARY_SECRET"], CANARY.as_bytes());
    assert_eq!(code(&out), 0);
    assert_absent("set's stderr", &out.stderr);
    assert_absent("set's stdout", &out.stdout);

    tv.set("OTHER", "plain");
    // Every command except `get` (whose purpose is to print the value) keeps it off stdout too.
    let commands: &[&[&str]] = &[
        &["ls"],
        &["ls", "--json"],
        &["ls", "--all-envs", "--json"],
        &["history", "CANARY_SECRET", "--json"],
        &["history", "CANARY_SECRET"],
        &["slot", "ls", "--json"],
        &["get", "NOPE", "--json"],
        &["rollback", "CANARY_SECRET", "--to", "9", "--json"],
        &["rm", "CANARY_SECRET", "--json"],
        &["rollback", "CANARY_SECRET", "--to", "1", "--json"],
        &["get", "--version", "2", "CANARY_SECRET", "--json"],
    ];
    for args in commands {
        let out = tv.run(args);
        assert_absent(&format!("stderr of {args:?}"), &out.stderr);
        assert_absent(&format!("stdout of {args:?}"), &out.stdout);
    }
    // `get` prints it on stdout, and only there.
    let out = tv.run(&["get", "CANARY_SECRET"]);
    assert_eq!(out.stdout, CANARY.as_bytes());
    assert_absent("get's stderr", &out.stderr);
    // A failed unlock with the value around says nothing of it.
    std::fs::write(tv.pass_file(), "wrong").unwrap();
    let out = tv.run(&["get", "CANARY_SECRET", "--json"]);
    assert_eq!(code(&out), 4);
    assert_absent("a failed get", &[out.stdout, out.stderr].concat());

    // No file anywhere holds the plaintext: not the vault, its WAL, or anything else.
    let files = files_under(tv.path());
    assert!(files.iter().any(|f| f.ends_with("vault.db")));
    for f in files {
        assert_absent(&f.display().to_string(), &std::fs::read(&f).unwrap());
    }
}
