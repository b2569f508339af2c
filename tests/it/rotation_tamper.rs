//! Rotation metadata and pending values are sealed and bound to their secret: a row moved to another
//! secret fails authentication (exit 5) instead of lending it a policy or a pending value.

use crate::common;

use common::{code, stderr, TestVault};
use rusqlite::Connection;

#[test]
fn a_policy_row_moved_to_another_secret_fails() {
    let tv = TestVault::new();
    tv.set("A", "value-a-1234567");
    tv.set("B", "value-b-1234567");
    let out = tv.run(&[
        "policy",
        "set",
        "A",
        "--max-age",
        "1d",
        "--generator",
        "uuid",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = tv.run(&["policy", "set", "B", "--max-age", "2d"]);
    assert_eq!(code(&out), 0);
    let conn = Connection::open(tv.vault_path()).unwrap();
    let rows: Vec<(Vec<u8>, Vec<u8>)> = {
        let mut stmt = conn
            .prepare("SELECT lookup, sealed FROM secret_meta")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(rows.len(), 2);
    // Swap the two sealed rows.
    for (i, (lookup, _)) in rows.iter().enumerate() {
        conn.execute(
            "UPDATE secret_meta SET sealed = ?1 WHERE lookup = ?2",
            rusqlite::params![rows[1 - i].1, lookup],
        )
        .unwrap();
    }
    let out = tv.run(&["status"]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("rotation metadata"),
        "{}",
        stderr(&out)
    );
    // Values are unaffected.
    assert_eq!(tv.get("A"), "value-a-1234567");
}
