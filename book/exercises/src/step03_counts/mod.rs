//! Chapter 3: how many posts each user wrote, in one SQL query.
//!
//! `posts_per_user` lists every user's username with their number of posts,
//! most first, then by name, and users who wrote nothing with 0. The
//! starting point's plain `JOIN` loses the users without posts: that is
//! what a `LEFT JOIN` is for.

use rusqlite::Connection;
use step03_schema_init::db;

use crate::{Check, Exercise};

mod exercise;
mod solution;

pub const EXERCISE: Exercise = Exercise {
    name: "step03-counts",
    chapter: "step03-schema-init.md",
    task: "posts per user in one query, users without posts too",
    edit: "book/exercises/src/step03_counts/exercise.rs",
    pristine: "fbf1295ed1c4c50d",
    run: |version| {
        let answer: PostsPerUser = version.pick(exercise::posts_per_user, solution::posts_per_user);
        crate::run_checks(&CHECKS, answer)
    },
};

/// What `posts_per_user` must be: (username, posts) pairs.
type PostsPerUser = fn(&Connection) -> rusqlite::Result<Vec<(String, i64)>>;

const CHECKS: [Check<PostsPerUser>; 3] = [
    ("counts each author's posts, most first", counts_posts),
    ("lists users without posts, with 0", keeps_silent_users),
    ("orders users with as many posts by name", ties_by_name),
];

/// Step 3's tables, with users and how many posts each wrote.
fn blog(users: &[(&str, usize)]) -> (tempfile::TempDir, Connection) {
    let folder = crate::scratch();
    let path = folder.path().join("step03.sqlite");
    db::init_db(&path).expect("step 3's tables");
    let conn = Connection::open(&path).expect("open");
    for (username, posts) in users {
        conn.execute(
            "INSERT INTO user (username, username_key, password) VALUES (?1, lower(?1), 'not a hash')",
            (username,),
        )
        .expect("a user");
        let author = conn.last_insert_rowid();
        for number in 0..*posts {
            conn.execute(
                "INSERT INTO post (author_id, title, body) VALUES (?, ?, '...')",
                (author, format!("Post {number}")),
            )
            .expect("a post");
        }
    }
    (folder, conn)
}

fn counts(posts_per_user: PostsPerUser, conn: &Connection) -> Vec<(String, i64)> {
    posts_per_user(conn).unwrap_or_else(|err| panic!("the query failed: {err}"))
}

fn pairs(expected: &[(&str, i64)]) -> Vec<(String, i64)> {
    expected
        .iter()
        .map(|(name, posts)| (name.to_string(), *posts))
        .collect()
}

fn counts_posts(posts_per_user: PostsPerUser) {
    let (_folder, conn) = blog(&[("ada", 1), ("grace", 3)]);
    assert_eq!(
        counts(posts_per_user, &conn),
        pairs(&[("grace", 3), ("ada", 1)])
    );
}

fn keeps_silent_users(posts_per_user: PostsPerUser) {
    let (_folder, conn) = blog(&[("ada", 2), ("linus", 0)]);
    assert_eq!(
        counts(posts_per_user, &conn),
        pairs(&[("ada", 2), ("linus", 0)])
    );
}

fn ties_by_name(posts_per_user: PostsPerUser) {
    let (_folder, conn) = blog(&[("grace", 1), ("ada", 1), ("bob", 0), ("al", 0)]);
    assert_eq!(
        counts(posts_per_user, &conn),
        pairs(&[("ada", 1), ("grace", 1), ("al", 0), ("bob", 0)])
    );
}
