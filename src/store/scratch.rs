//! A scratch in-memory database with the vault's schema, and a way to run raw SQL on it, for unit
//! tests that play an attacker editing the file (the SQL of those edits is the test's own).

use rusqlite::Connection;

/// An empty database with the current schema.
pub fn memory() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    super::schema::create(&mut conn).unwrap();
    conn
}

/// Run `sql` (an attacker's edit) and panic if SQLite refuses it.
pub fn exec(conn: &Connection, sql: &str) {
    conn.execute_batch(sql).unwrap();
}
