//! One answer: the users, then all their posts newest first in one query;
//! `grouped_by` keeps that order inside each user's group, so the first of
//! each group is the newest.

use diesel::prelude::*;
use step05_relationships::models::{self, Post, User};
use step05_relationships::schema::post;

pub fn latest_posts(conn: &mut SqliteConnection) -> QueryResult<Vec<(User, Option<Post>)>> {
    let users = models::all_users(conn)?;
    let posts: Vec<Post> = Post::belonging_to(&users)
        .select(Post::as_select())
        .order((post::created.desc(), post::id.desc()))
        .load(conn)?;
    let grouped = posts.grouped_by(&users);
    let newest = grouped.into_iter().map(|posts| posts.into_iter().next());
    Ok(users.into_iter().zip(newest).collect())
}
