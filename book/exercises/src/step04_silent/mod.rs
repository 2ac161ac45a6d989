//! Chapter 4: the users who never posted, through diesel.
//!
//! `users_without_posts` lists the users who have written no post, in id
//! order. The starting point lists every user. diesel's
//! `left_join` and a filter on the post's id being NULL give it, as a
//! `LEFT JOIN ... WHERE post.id IS NULL` would in SQL.

use diesel::SqliteConnection;
use step04_orm::models::User;

use crate::fixtures::step04_blog;
use crate::{Check, Exercise};

mod exercise;
mod solution;

pub const EXERCISE: Exercise = Exercise {
    name: "step04-silent",
    chapter: "step04-orm.md",
    task: "the users who never posted, with a left join",
    edit: "book/exercises/src/step04_silent/exercise.rs",
    pristine: "3845e23ee0bb566f",
    run: |version| {
        let answer: UsersWithoutPosts =
            version.pick(exercise::users_without_posts, solution::users_without_posts);
        crate::run_checks(&CHECKS, answer)
    },
};

/// What `users_without_posts` must be.
type UsersWithoutPosts = fn(&mut SqliteConnection) -> diesel::QueryResult<Vec<User>>;

const CHECKS: [Check<UsersWithoutPosts>; 2] = [
    (
        "lists the users without posts, in id order",
        lists_silent_users,
    ),
    ("lists every user of a blog with no posts", empty_blog),
];

fn names(users_without_posts: UsersWithoutPosts, conn: &mut SqliteConnection) -> Vec<String> {
    let users = users_without_posts(conn).unwrap_or_else(|err| panic!("the query failed: {err}"));
    users.into_iter().map(|user| user.username).collect()
}

fn lists_silent_users(users_without_posts: UsersWithoutPosts) {
    let post = [("A post", "...")];
    let (_folder, mut conn) = step04_blog(&[
        ("ada", &post),
        ("linus", &[]),
        ("grace", &post),
        ("bob", &[]),
    ]);
    assert_eq!(names(users_without_posts, &mut conn), ["linus", "bob"]);
}

fn empty_blog(users_without_posts: UsersWithoutPosts) {
    let (_folder, mut conn) = step04_blog(&[("ada", &[]), ("grace", &[])]);
    assert_eq!(names(users_without_posts, &mut conn), ["ada", "grace"]);
}
