//! Your version of `users_named`. Run its checks with
//! `cargo run -p exercises -- check step01-search`.

use rusqlite::Connection;
use step01_raw_sqlite::db::User;

/// The users whose name contains `text`, in any case, oldest first.
pub fn users_named(conn: &Connection, text: &str) -> rusqlite::Result<Vec<User>> {
    // Pasting `text` into the SQL: chapter 1's section 3 shows why not.
    let sql = format!("SELECT id, name, email FROM users WHERE name LIKE '%{text}%' ORDER BY id");
    let mut statement = conn.prepare(&sql)?;
    let users = statement.query_map((), |row| {
        Ok(User {
            id: row.get("id")?,
            name: row.get("name")?,
            email: row.get("email")?,
        })
    })?;
    users.collect()
}
