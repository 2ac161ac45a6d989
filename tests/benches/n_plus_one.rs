//! Benchmark 5: 100 users with their posts, loaded the N+1 way (the users,
//! then one query per user with step 5's `posts_by`) against step 5's
//! `users_with_posts` (`belonging_to` + `grouped_by`: two queries).

mod common;

use std::path::Path;
use std::time::SystemTime;

use diesel::SqliteConnection;
use measured::{Comparison, Row, figure};
use step05_relationships::db::{self, Database};
use step05_relationships::models::{self, Page, Post, User};

const USERS: i64 = 100;
const POSTS_EACH: i64 = 10;
const BENCHES: [&str; 2] = ["n_plus_one", "grouped_by"];

type Loader = fn(&mut SqliteConnection) -> Vec<(User, Vec<Post>)>;

fn main() {
    let folder = common::scratch();
    let path = folder.path().join("step05.sqlite");
    fill(&path);
    let mut conn = Database::new(path)
        .and_then(|database| database.connect())
        .expect("a pooled connection");
    let loaders: [Loader; 2] = [n_plus_one, grouped_by];
    let mut selects = Vec::new();
    for load in loaders {
        let (loaded, count) = db::count_selects(&mut conn, load);
        assert_eq!(loaded.len(), USERS as usize, "every user is loaded");
        selects.push(count);
    }
    let since = SystemTime::now();
    let mut criterion = common::criterion();
    let mut group = criterion.benchmark_group("n_plus_one");
    for (name, load) in BENCHES.iter().zip(loaders) {
        group.bench_function(*name, |bencher| bencher.iter(|| load(&mut conn)));
    }
    group.finish();
    criterion.final_summary();
    common::record("n_plus_one", &BENCHES, since, |means| {
        comparison(&selects, means)
    });
}

/// Step 5's tables with [`USERS`] users of [`POSTS_EACH`] posts each.
fn fill(path: &Path) {
    db::init_db(path).expect("step 5's tables");
    common::add_users(path, USERS);
    common::add_posts(path, USERS * POSTS_EACH, USERS);
}

/// The users, then each one's posts: 1 + [`USERS`] queries.
fn n_plus_one(conn: &mut SqliteConnection) -> Vec<(User, Vec<Post>)> {
    let users = models::all_users(conn).expect("the users");
    users
        .into_iter()
        .map(|user| {
            let posts = models::posts_by(conn, user.id).expect("the posts");
            (user, posts)
        })
        .collect()
}

/// The users and all their posts in two queries.
fn grouped_by(conn: &mut SqliteConnection) -> Vec<(User, Vec<Post>)> {
    let page = Page {
        number: 1,
        per_page: USERS,
    };
    models::users_with_posts(conn, page).expect("the users and posts")
}

fn comparison(selects: &[usize], means: &[f64]) -> Comparison {
    let labels = [
        "N+1: all_users, then posts_by for each",
        "users_with_posts: belonging_to + grouped_by",
    ];
    let rows = labels
        .iter()
        .zip(selects)
        .zip(means)
        .map(|((label, selects), nanos)| {
            let millis = nanos / 1e6;
            Row {
                label: label.to_string(),
                value: millis,
                cells: vec![selects.to_string(), figure(millis)],
            }
        })
        .collect();
    Comparison {
        id: "n_plus_one".into(),
        title: "100 users with their 1,000 posts, by how they are loaded".into(),
        measure: "ms per load (shorter is faster)".into(),
        machine: measured::machine(),
        command: common::command("n_plus_one"),
        columns: vec!["SELECT statements".into(), "ms per load".into()],
        rows,
    }
}
