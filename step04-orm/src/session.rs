//! Sessions kept in the database, as Django keeps them by default. The
//! cookie carries a random token; the `session` table holds a hash of it,
//! the user and an expiry. A session is a row, so deleting the row ends it:
//! logging out, changing the password, deleting the user and `init-db` all
//! do. Flask's own session is the signed cookie alone, which stays valid
//! until it expires, whatever happens on the server.

use diesel::prelude::*;
use stepkit::session::{SESSION_DAYS, new_token, token_hash};

use crate::Timestamp;
use crate::models::User;
use crate::schema::{session, user};

/// How long a session lasts after logging in: the kit's 31 days, which
/// the cookie's `Max-Age` also says.
pub const SESSION_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::days(SESSION_DAYS);

/// Starts a session for `user_id` and returns its token, for the cookie.
/// The token is 32 random bytes; only its hash is stored, so a copy of the
/// database lets no one log in. Expired sessions are cleared on the way.
pub fn start(conn: &mut SqliteConnection, user_id: i64) -> QueryResult<String> {
    let token = new_token();
    let now = Timestamp(chrono::Utc::now());
    diesel::delete(session::table.filter(session::expires.le(now))).execute(conn)?;
    diesel::insert_into(session::table)
        .values((
            session::token_hash.eq(token_hash(&token)),
            session::user_id.eq(user_id),
            session::expires.eq(Timestamp(now.0 + SESSION_LIFETIME)),
        ))
        .execute(conn)?;
    Ok(token)
}

/// The user whose session `token` names, if it is stored and not expired.
pub fn user_of(conn: &mut SqliteConnection, token: &str) -> QueryResult<Option<User>> {
    session::table
        .inner_join(user::table)
        .filter(session::token_hash.eq(token_hash(token)))
        .filter(session::expires.gt(Timestamp(chrono::Utc::now())))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Ends the session `token` names: logging out.
pub fn end(conn: &mut SqliteConnection, token: &str) -> QueryResult<usize> {
    diesel::delete(session::table.filter(session::token_hash.eq(token_hash(token)))).execute(conn)
}
