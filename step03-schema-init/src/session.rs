//! Sessions kept in the database, as Django keeps them by default. The
//! cookie carries a random token; the `session` table holds a hash of it,
//! the user and an expiry. A session is a row, so deleting the row ends it:
//! logging out and `init-db` both do. Flask's own session is the signed
//! cookie alone, which stays valid until it expires, whatever happens on
//! the server.

use rusqlite::{Connection, OptionalExtension};
use stepkit::session::{SESSION_DAYS, new_token, token_hash};

use crate::Timestamp;
use crate::db::User;

/// How long a session lasts after logging in: the kit's 31 days, which
/// the cookie's `Max-Age` also says.
pub const SESSION_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::days(SESSION_DAYS);

// ANCHOR: session
/// Starts a session for `user_id` and returns its token, for the cookie.
/// The token is 32 random bytes; only its hash is stored, so a copy of the
/// database lets no one log in. Expired sessions are cleared on the way.
pub fn start(conn: &Connection, user_id: i64) -> rusqlite::Result<String> {
    let token = new_token();
    let now = Timestamp(chrono::Utc::now());
    conn.execute("DELETE FROM session WHERE expires <= ?", (now,))?;
    conn.execute(
        "INSERT INTO session (token_hash, user_id, expires) VALUES (?, ?, ?)",
        (
            token_hash(&token),
            user_id,
            Timestamp(now.0 + SESSION_LIFETIME),
        ),
    )?;
    Ok(token)
}

/// The user whose session `token` names, if it is stored and not expired.
pub fn user_of(conn: &Connection, token: &str) -> rusqlite::Result<Option<User>> {
    conn.query_row(
        "SELECT user.id, user.username FROM session JOIN user ON user.id = session.user_id
         WHERE session.token_hash = ? AND session.expires > ?",
        (token_hash(token), Timestamp(chrono::Utc::now())),
        User::from_row,
    )
    .optional()
}

/// Ends the session `token` names: logging out.
pub fn end(conn: &Connection, token: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM session WHERE token_hash = ?",
        (token_hash(token),),
    )
}
// ANCHOR_END: session
