//! Your version of `posts_per_user`. Run its checks with
//! `cargo run -p exercises -- check step03-counts`.

use rusqlite::Connection;

/// Every user's username and number of posts, most first, then by name.
/// Today, users who wrote nothing are missing.
pub fn posts_per_user(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut statement = conn.prepare(
        "SELECT user.username, count(*) AS posts
         FROM user JOIN post ON post.author_id = user.id
         GROUP BY user.id
         ORDER BY posts DESC, user.username",
    )?;
    let rows = statement.query_map((), |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}
