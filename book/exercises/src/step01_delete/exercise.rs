//! Your version of `delete_user`. Run its checks with
//! `cargo run -p exercises -- check step01-delete`.

use rusqlite::Connection;

/// Deletes the user with `email`. An email no user has should be refused,
/// with a message that names it; today it is quietly accepted.
pub fn delete_user(conn: &Connection, email: &str) -> Result<(), String> {
    conn.execute("DELETE FROM users WHERE email = ?", (email,))
        .map_err(|err| err.to_string())?;
    Ok(())
}
