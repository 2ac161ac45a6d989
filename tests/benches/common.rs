//! What every bench shares: criterion's settings, a folder for its
//! databases and rows to fill them with, and recording what it measured in
//! the book.

// Each bench uses some of these, not all.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, SystemTime};

use criterion::Criterion;
use measured::{Comparison, Row};
use rusqlite::Connection;

/// Short runs: ten samples after half a second of warm-up. Each bench makes
/// its comparison in one run, and `cargo bench` runs them all in minutes.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

/// A fresh folder for the bench's databases, on the disk the target folder
/// is on (not a RAM-backed /tmp, where fsync costs nothing).
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a folder in the target folder")
}

/// Records the comparison `build` makes of criterion's mean time of each of
/// `benches` (in nanoseconds, in that order), if this run measured them all.
/// A run with a filter or `--test` leaves the book's files as they were.
pub fn record(
    group: &str,
    benches: &[&str],
    since: SystemTime,
    build: impl FnOnce(&[f64]) -> Comparison,
) {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("..");
    let means: Option<Vec<f64>> = benches
        .iter()
        .map(|bench| measured::criterion_mean(&target, group, bench, since))
        .collect();
    let Some(means) = means else {
        println!(
            "{group}: not every row was measured in this run; the book's figures stay as they were"
        );
        return;
    };
    if let Err(err) = measured::record(&measured::measured_dir(), build(&means)) {
        eprintln!("{group}: cannot record the results: {err}");
        std::process::exit(1);
    }
    println!("{group}: recorded in book/src/measured/results.json, with its table and chart");
}

/// How this comparison is reproduced.
pub fn command(bench: &str) -> String {
    format!("cargo bench -p workspace-tests --bench {bench}")
}

/// Adds `count` users, user1, user2, ..., to step 4's or step 5's `user`
/// table. Their password column holds no real hash: nothing here logs in.
pub fn add_users(path: &Path, count: i64) {
    let conn = Connection::open(path).expect("open");
    conn.execute(
        "INSERT INTO user (username, username_key, password)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         SELECT 'user' || i, 'user' || i, 'not a hash' FROM n",
        [count],
    )
    .expect("the users");
}

/// Adds `count` posts to step 5's `post` table, dealt to users 1 to
/// `users` in turn.
pub fn add_posts(path: &Path, count: i64, users: i64) {
    let conn = Connection::open(path).expect("open");
    conn.execute(
        "INSERT INTO post (author_id, title, body)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         SELECT i % ?2 + 1, 'Post ' || i, 'The body of post ' || i || '.' FROM n",
        [count, users],
    )
    .expect("the posts");
}

/// One row per label, its bar the matching mean in microseconds, its cells
/// what `cells` makes of that mean (in nanoseconds).
pub fn rows_in_micros(
    labels: &[&str],
    means: &[f64],
    cells: impl Fn(f64) -> Vec<String>,
) -> Vec<Row> {
    labels
        .iter()
        .zip(means)
        .map(|(label, nanos)| Row {
            label: label.to_string(),
            value: nanos / 1000.0,
            cells: cells(*nanos),
        })
        .collect()
}
