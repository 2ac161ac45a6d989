//! Chapter 5: every user's newest post, without N+1 queries.
//!
//! `latest_posts` pairs each user, in id order, with their newest post, or
//! `None` for a user who has written nothing. The starting point asks once
//! per user. Load the users and their posts in two queries, and let
//! `grouped_by` hand each user theirs.

use diesel::SqliteConnection;
use step05_relationships::db;
use step05_relationships::models::{Post, User};

use crate::fixtures::{Pooled, step05_blog};
use crate::{Check, Exercise};

mod exercise;
mod solution;

pub const EXERCISE: Exercise = Exercise {
    name: "step05-latest",
    chapter: "step05-relationships.md",
    task: "every user's newest post, in two queries",
    edit: "book/exercises/src/step05_latest/exercise.rs",
    pristine: "3b394d9894d86b7d",
    run: |version| {
        let answer: LatestPosts = version.pick(exercise::latest_posts, solution::latest_posts);
        crate::run_checks(&CHECKS, answer)
    },
};

/// What `latest_posts` must be.
type LatestPosts = fn(&mut SqliteConnection) -> diesel::QueryResult<Vec<(User, Option<Post>)>>;

const CHECKS: [Check<LatestPosts>; 2] = [
    (
        "pairs each user with their newest post, or None",
        pairs_users,
    ),
    ("sends two SELECTs at most, however many users", two_selects),
];

/// Step 5's tables with `users` users; user N writes N - 1 posts, titled
/// "userN, post 1", "userN, post 2", ..., in that order.
fn blog(users: usize) -> (tempfile::TempDir, Pooled) {
    let names: Vec<String> = (1..=users).map(|number| format!("user{number}")).collect();
    let titles: Vec<Vec<String>> = (1..=users)
        .map(|number| {
            (1..number)
                .map(|post| format!("user{number}, post {post}"))
                .collect()
        })
        .collect();
    let titles: Vec<Vec<&str>> = titles
        .iter()
        .map(|list| list.iter().map(String::as_str).collect())
        .collect();
    let blog: Vec<(&str, &[&str])> = names
        .iter()
        .zip(&titles)
        .map(|(name, list)| (name.as_str(), list.as_slice()))
        .collect();
    step05_blog(&blog)
}

fn pairs_users(latest_posts: LatestPosts) {
    let (_folder, mut conn) = blog(3);
    let latest = latest_posts(&mut conn).unwrap_or_else(|err| panic!("the query failed: {err}"));
    let shown: Vec<(String, Option<String>)> = latest
        .into_iter()
        .map(|(user, post)| (user.username, post.map(|post| post.title)))
        .collect();
    let expected = [
        ("user1".to_string(), None),
        ("user2".to_string(), Some("user2, post 1".to_string())),
        ("user3".to_string(), Some("user3, post 2".to_string())),
    ];
    assert_eq!(shown, expected);
}

fn two_selects(latest_posts: LatestPosts) {
    let (_folder, mut conn) = blog(8);
    let (latest, selects) = db::count_selects(&mut conn, latest_posts);
    let latest = latest.unwrap_or_else(|err| panic!("the query failed: {err}"));
    assert_eq!(latest.len(), 8, "every user");
    assert!(selects <= 2, "{selects} SELECTs for 8 users");
}
