//! One answer: a left join keeps every user; the ones without posts are
//! those whose joined post is NULL.

use diesel::prelude::*;
use step04_orm::models::User;
use step04_orm::schema::{post, user};

pub fn users_without_posts(conn: &mut SqliteConnection) -> QueryResult<Vec<User>> {
    user::table
        .left_join(post::table)
        .filter(post::id.nullable().is_null())
        .select(User::as_select())
        .order(user::id)
        .load(conn)
}
