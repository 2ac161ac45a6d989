//! One answer: a `LEFT JOIN` keeps every user, with NULLs for the post of
//! a user who has none; `count(post.id)` counts only real posts.

use rusqlite::Connection;

pub fn posts_per_user(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut statement = conn.prepare(
        "SELECT user.username, count(post.id) AS posts
         FROM user LEFT JOIN post ON post.author_id = user.id
         GROUP BY user.id
         ORDER BY posts DESC, user.username",
    )?;
    let rows = statement.query_map((), |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}
