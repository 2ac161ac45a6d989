//! Chapter 5: every user's newest post, without N+1 queries.
//!
//! `latest_posts` pairs each user, in id order, with their newest post, or
//! `None` for a user who has written nothing. The starting point asks once
//! per user. Load the users and their posts in two queries, and let
//! `grouped_by` hand each user theirs.

use diesel::SqliteConnection;
use diesel::r2d2::{ConnectionManager, PooledConnection};
use step05_relationships::db::{self, Database};
use step05_relationships::models::{self, NewPost, Post, User};

use crate::{Check, Exercise};

mod exercise;
mod solution;

pub const EXERCISE: Exercise = Exercise {
    name: "step05-latest",
    chapter: "step05-relationships.md",
    task: "every user's newest post, in two queries",
    edit: "exercises/src/step05_latest/exercise.rs",
    run: |version| {
        let answer: LatestPosts = version.pick(exercise::latest_posts, solution::latest_posts);
        crate::run_checks(&CHECKS, answer)
    },
};

type Pooled = PooledConnection<ConnectionManager<SqliteConnection>>;

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
/// "userN, post 1", "userN, post 2", ...
fn blog(users: usize) -> (tempfile::TempDir, Pooled) {
    let folder = crate::scratch();
    let path = folder.path().join("step05.sqlite");
    db::init_db(&path).expect("step 5's tables");
    let mut conn = Database::new(path)
        .and_then(|database| database.connect())
        .expect("a connection");
    for number in 1..=users {
        let username = format!("user{number}");
        let user = models::create_user(&mut conn, &username, "a password").expect("a user");
        for post_number in 1..number {
            let title = format!("{username}, post {post_number}");
            let post = NewPost {
                author_id: user.id,
                title: &title,
                body: "...",
            };
            models::create_post(&mut conn, &post).expect("a post");
        }
    }
    (folder, conn)
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
