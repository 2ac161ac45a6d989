//! Benchmark 4: step 5's per-user query (`posts_by`: `WHERE author_id = ?
//! ORDER BY title`) with and without the index on `post.author_id`, at
//! 10,000 and at 100,000 posts shared by 1,000 users.

mod common;

use std::path::Path;
use std::time::SystemTime;

use criterion::Criterion;
use measured::{Comparison, Row, figure};
use rusqlite::Connection;
use step05_relationships::db::{self, Database};
use step05_relationships::models;

const USERS: i64 = 1000;
const SIZES: [i64; 2] = [10_000, 100_000];

/// One database: its size, and whether it keeps step 5's index.
struct Setup {
    posts: i64,
    indexed: bool,
}

impl Setup {
    fn name(&self) -> String {
        let index = if self.indexed { "index" } else { "no_index" };
        format!("{}_posts_{index}", self.posts)
    }
}

fn main() {
    let setups: Vec<Setup> = SIZES
        .iter()
        .flat_map(|&posts| [false, true].map(|indexed| Setup { posts, indexed }))
        .collect();
    let folder = common::scratch();
    let since = SystemTime::now();
    let mut criterion = common::criterion();
    let mut plans = Vec::new();
    for setup in &setups {
        let path = folder.path().join(format!("{}.sqlite", setup.name()));
        plans.push(fill(&path, setup));
        measure(&mut criterion, &path, setup);
    }
    criterion.final_summary();
    let names: Vec<String> = setups.iter().map(Setup::name).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    common::record("index", &names, since, |means| {
        comparison(&setups, &plans, means)
    });
}

/// Step 5's tables with [`USERS`] users and `setup.posts` posts, dealt out
/// in turn; drops the index if the setup has none. Returns SQLite's plan
/// for the query.
fn fill(path: &Path, setup: &Setup) -> String {
    db::init_db(path).expect("step 5's tables");
    common::add_users(path, USERS);
    common::add_posts(path, setup.posts, USERS);
    let conn = Connection::open(path).expect("open");
    if !setup.indexed {
        conn.execute("DROP INDEX post_author_id", [])
            .expect("no index");
    }
    let mut explain = conn
        .prepare("EXPLAIN QUERY PLAN SELECT * FROM post WHERE author_id = 1 ORDER BY title")
        .expect("the plan");
    let steps: Vec<String> = explain
        .query_map([], |row| row.get("detail"))
        .and_then(Iterator::collect)
        .expect("the plan's steps");
    steps.join("; ")
}

fn measure(criterion: &mut Criterion, path: &Path, setup: &Setup) {
    let mut conn = Database::new(path.to_path_buf())
        .and_then(|database| database.connect())
        .expect("a pooled connection");
    let mut author = 0;
    let mut group = criterion.benchmark_group("index");
    group.bench_function(setup.name(), |bencher| {
        bencher.iter(|| {
            author = author % USERS + 1;
            models::posts_by(&mut conn, author).expect("the posts")
        })
    });
    group.finish();
}

fn comparison(setups: &[Setup], plans: &[String], means: &[f64]) -> Comparison {
    let rows = setups
        .iter()
        .zip(plans)
        .zip(means)
        .map(|((setup, plan), nanos)| {
            let micros = nanos / 1000.0;
            let index = if setup.indexed { "with" } else { "without" };
            Row {
                label: format!("{} posts, {index} the index", thousands(setup.posts)),
                value: micros,
                cells: vec![
                    (setup.posts / USERS).to_string(),
                    format!("`{plan}`"),
                    figure(micros),
                ],
            }
        })
        .collect();
    Comparison {
        id: "index".into(),
        title: "One user's posts, with and without the index on author_id".into(),
        measure: "µs per query (shorter is faster)".into(),
        machine: measured::machine(),
        command: common::command("index"),
        columns: vec![
            "posts per user".into(),
            "SQLite's plan".into(),
            "µs per query".into(),
        ],
        rows,
    }
}

/// 100000 as "100,000".
fn thousands(number: i64) -> String {
    let digits = number.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}
