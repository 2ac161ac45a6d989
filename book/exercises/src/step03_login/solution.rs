//! One answer: `password::verify` hashes the password with the salt and
//! settings stored in the hash, and compares the results.

use rusqlite::Connection;
use step03_schema_init::db;
use stepkit::password;

pub fn check_login(conn: &Connection, username: &str, password: &str) -> Result<(), String> {
    let refused = || Err("Incorrect username or password.".to_string());
    match db::stored_password(conn, username).map_err(|err| err.to_string())? {
        Some(stored) if password::verify(password, &stored) => Ok(()),
        _ => refused(),
    }
}
