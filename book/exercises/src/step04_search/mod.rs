//! Chapter 4: search posts with a LIKE filter, through diesel.
//!
//! `search_posts` finds the posts whose title or body contains some text,
//! in any case, newest first. `%` and `_` in the text match only
//! themselves. (A `%text%` search reads every row whatever the indexes: an
//! index helps a search that fixes the start of the text, as the chapter's
//! exercise notes explain.)

use diesel::SqliteConnection;
use step04_orm::models::Post;

use crate::fixtures::{Pooled, step04_blog};
use crate::{Check, Exercise};

mod exercise;
mod solution;

pub const EXERCISE: Exercise = Exercise {
    name: "step04-search",
    chapter: "step04-orm.md",
    task: "search posts with a LIKE filter",
    edit: "book/exercises/src/step04_search/exercise.rs",
    pristine: "fd2b171cba80131f",
    run: |version| {
        let answer: SearchPosts = version.pick(exercise::search_posts, solution::search_posts);
        crate::run_checks(&CHECKS, answer)
    },
};

/// What `search_posts` must be: the posts that contain `text`.
type SearchPosts = fn(&mut SqliteConnection, &str) -> diesel::QueryResult<Vec<Post>>;

const CHECKS: [Check<SearchPosts>; 4] = [
    // Already true of the starting point (SQLite's LIKE ignores A-to-Z
    // case): a check that the change keeps it so.
    (
        "still finds the text in titles, in any case",
        finds_in_titles,
    ),
    ("finds the text in bodies too", finds_in_bodies),
    ("lists the newest post first", newest_first),
    ("% and _ match only themselves", wildcards_are_literal),
];

/// Step 4's tables with one author of `posts` (title, body), written in
/// that order.
fn posts(posts: &[(&str, &str)]) -> (tempfile::TempDir, Pooled) {
    step04_blog(&[("ada", posts)])
}

fn titles(search_posts: SearchPosts, conn: &mut SqliteConnection, text: &str) -> Vec<String> {
    let found = search_posts(conn, text).unwrap_or_else(|err| panic!("searching {text:?}: {err}"));
    found.into_iter().map(|post| post.title).collect()
}

fn finds_in_titles(search_posts: SearchPosts) {
    let (_folder, mut conn) = posts(&[("Hello, SQLite", "..."), ("Goodbye", "...")]);
    assert_eq!(titles(search_posts, &mut conn, "sqlite"), ["Hello, SQLite"]);
}

fn finds_in_bodies(search_posts: SearchPosts) {
    let (_folder, mut conn) = posts(&[("On pools", "A pool lends connections."), ("Other", "...")]);
    assert_eq!(titles(search_posts, &mut conn, "connections"), ["On pools"]);
}

fn newest_first(search_posts: SearchPosts) {
    let (_folder, mut conn) = posts(&[("Rust, part 1", "..."), ("Rust, part 2", "...")]);
    assert_eq!(
        titles(search_posts, &mut conn, "rust"),
        ["Rust, part 2", "Rust, part 1"]
    );
}

fn wildcards_are_literal(search_posts: SearchPosts) {
    let (_folder, mut conn) = posts(&[("100% SQLite", "..."), ("1000 rows", "...")]);
    assert_eq!(titles(search_posts, &mut conn, "100%"), ["100% SQLite"]);
    assert_eq!(
        titles(search_posts, &mut conn, "10_0"),
        Vec::<String>::new()
    );
}
