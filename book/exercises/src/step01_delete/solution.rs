//! One answer: `execute` returns how many rows the statement changed, and
//! zero means no user had that email.

use rusqlite::Connection;
use step01_raw_sqlite::error::quote;

pub fn delete_user(conn: &Connection, email: &str) -> Result<(), String> {
    let deleted = conn
        .execute("DELETE FROM users WHERE email = ?", (email,))
        .map_err(|err| err.to_string())?;
    match deleted {
        0 => Err(format!(
            "no user has the email {}; nothing was deleted",
            quote(email)
        )),
        _ => Ok(()),
    }
}
