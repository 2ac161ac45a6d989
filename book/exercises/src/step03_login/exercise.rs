//! Your version of `check_login`. Run its checks with
//! `cargo run -p exercises -- check step03-login`.

use rusqlite::Connection;
use step03_schema_init::db;

/// `Ok` if `username` may log in with `password`; otherwise the refusal a
/// login page would show.
pub fn check_login(conn: &Connection, username: &str, password: &str) -> Result<(), String> {
    let stored = db::stored_password(conn, username).map_err(|err| err.to_string())?;
    match stored {
        None => Err(format!("No user is called {username}.")),
        Some(stored) if stored == password => Ok(()),
        Some(_) => Err("Incorrect password.".to_string()),
    }
}
