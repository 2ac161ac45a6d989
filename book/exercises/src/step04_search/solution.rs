//! One answer: one escaped pattern, two `like` filters joined with `or`,
//! and the order the index page uses.

use diesel::prelude::*;
use step04_orm::models::Post;
use step04_orm::schema::post;

pub fn search_posts(conn: &mut SqliteConnection, text: &str) -> QueryResult<Vec<Post>> {
    let mut escaped = String::new();
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    let pattern = format!("%{escaped}%");
    post::table
        .filter(
            post::title
                .like(&pattern)
                .escape('\\')
                .or(post::body.like(&pattern).escape('\\')),
        )
        .order((post::created.desc(), post::id.desc()))
        .select(Post::as_select())
        .load(conn)
}
