//! One answer: the user once, then the user's posts through the relation
//! (`belonging_to`), newest first; the author's name is already known.

use diesel::prelude::*;
use step05_relationships::models::{self, Post, PostWithAuthor};
use step05_relationships::schema::post;

pub fn author_posts(
    conn: &mut SqliteConnection,
    username: &str,
) -> QueryResult<Option<Vec<PostWithAuthor>>> {
    let Some(user) = models::user_by_username(conn, username)? else {
        return Ok(None);
    };
    let posts: Vec<Post> = Post::belonging_to(&user)
        .select(Post::as_select())
        .order((post::created.desc(), post::id.desc()))
        .load(conn)?;
    let shown = posts
        .into_iter()
        .map(|post| PostWithAuthor {
            post,
            author: user.username.clone(),
        })
        .collect();
    Ok(Some(shown))
}
