//! Chapter 5: an author's page without N+1 queries.
//!
//! `author_posts` loads one author's posts, newest first, each with the
//! author's name as the index page shows it; `None` if no user has that
//! name. The starting point asks for the author again for every post: one
//! query per post, the N+1 problem. Do it in two queries at most, however
//! many posts there are.

use diesel::SqliteConnection;
use step05_relationships::db;
use step05_relationships::models::PostWithAuthor;

use crate::fixtures::{Pooled, step05_blog};
use crate::{Check, Exercise};

mod exercise;
mod solution;

pub const EXERCISE: Exercise = Exercise {
    name: "step05-author",
    chapter: "step05-relationships.md",
    task: "an author's posts without N+1 queries",
    edit: "book/exercises/src/step05_author/exercise.rs",
    pristine: "cd559548bfaa26c1",
    run: |version| {
        let answer: AuthorPosts = version.pick(exercise::author_posts, solution::author_posts);
        crate::run_checks(&CHECKS, answer)
    },
};

/// What `author_posts` must be: the posts of `username`, if that user exists.
type AuthorPosts =
    fn(&mut SqliteConnection, &str) -> diesel::QueryResult<Option<Vec<PostWithAuthor>>>;

const CHECKS: [Check<AuthorPosts>; 3] = [
    (
        "lists the author's posts, newest first, with the author's name",
        lists_posts,
    ),
    ("answers None for a username no user has", unknown_author),
    ("sends two SELECTs at most, however many posts", two_selects),
];

/// Step 5's tables, with "ada" the author of `ada_posts` posts (titled
/// "Ada 1", "Ada 2", ..., in the order written) and "grace" of one.
fn blog(ada_posts: usize) -> (tempfile::TempDir, Pooled) {
    let titles: Vec<String> = (1..=ada_posts)
        .map(|number| format!("Ada {number}"))
        .collect();
    let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
    step05_blog(&[("ada", &titles), ("grace", &["Grace 1"])])
}

fn lists_posts(author_posts: AuthorPosts) {
    let (_folder, mut conn) = blog(3);
    let posts = author_posts(&mut conn, "ada")
        .expect("a read")
        .expect("ada exists");
    let shown: Vec<(&str, &str)> = posts
        .iter()
        .map(|post| (post.post.title.as_str(), post.author.as_str()))
        .collect();
    assert_eq!(
        shown,
        [("Ada 3", "ada"), ("Ada 2", "ada"), ("Ada 1", "ada")]
    );
}

fn unknown_author(author_posts: AuthorPosts) {
    let (_folder, mut conn) = blog(1);
    let posts = author_posts(&mut conn, "nobody").expect("a read");
    assert_eq!(posts, None);
}

fn two_selects(author_posts: AuthorPosts) {
    let (_folder, mut conn) = blog(10);
    let (posts, selects) = db::count_selects(&mut conn, |conn| author_posts(conn, "ada"));
    let posts = posts.expect("a read").expect("ada exists");
    assert_eq!(posts.len(), 10, "all of ada's posts");
    assert!(selects <= 2, "{selects} SELECTs for 10 posts");
}
