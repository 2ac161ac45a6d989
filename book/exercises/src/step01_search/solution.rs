//! One answer: the pattern travels as a value through `?1`, and `ESCAPE`
//! names the character that makes `%` and `_` match themselves.

use rusqlite::Connection;
use step01_raw_sqlite::db::User;

pub fn users_named(conn: &Connection, text: &str) -> rusqlite::Result<Vec<User>> {
    let mut escaped = String::new();
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    let mut statement = conn
        .prepare("SELECT id, name, email FROM users WHERE name LIKE ?1 ESCAPE '\\' ORDER BY id")?;
    let users = statement.query_map((format!("%{escaped}%"),), |row| {
        Ok(User {
            id: row.get("id")?,
            name: row.get("name")?,
            email: row.get("email")?,
        })
    })?;
    users.collect()
}
