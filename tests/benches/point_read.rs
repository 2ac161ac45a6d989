//! Benchmark 3: one point read by primary key, `SELECT id, username FROM
//! user WHERE id = ?`, on the same file through raw rusqlite (a cached
//! prepared statement), sqlx (one connection) and diesel (step 4's
//! `find_user`, on a connection from step 4's pool): what a query builder
//! or an ORM adds to the read itself.

mod common;

use std::path::Path;
use std::time::SystemTime;

use criterion::Criterion;
use measured::{Comparison, figure};
use rusqlite::Connection;
use sqlx::Connection as _;
use step04_orm::db::{self, Database};
use step04_orm::models;

const USERS: i64 = 1000;
const BENCHES: [&str; 3] = ["rusqlite", "sqlx", "diesel"];
const READ: &str = "SELECT id, username FROM user WHERE id = ?1";

fn main() {
    let folder = common::scratch();
    let path = folder.path().join("step04.sqlite");
    fill(&path);
    let since = SystemTime::now();
    let mut criterion = common::criterion();
    measure(&mut criterion, &path);
    criterion.final_summary();
    common::record("point_read", &BENCHES, since, comparison);
}

/// Step 4's tables, with [`USERS`] users.
fn fill(path: &Path) {
    db::init_db(path).expect("step 4's tables");
    common::add_users(path, USERS);
}

fn measure(criterion: &mut Criterion, path: &Path) {
    let mut group = criterion.benchmark_group("point_read");
    let mut id = 0;
    let mut next_id = move || {
        id = id % USERS + 1;
        id
    };
    let raw = Connection::open(path).expect("open");
    group.bench_function(BENCHES[0], |bencher| {
        bencher.iter(|| {
            let mut read = raw.prepare_cached(READ).expect("prepare");
            read.query_row([next_id()], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .expect("read")
        })
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let url = format!("sqlite:{}", path.display());
    let mut sqlx_conn = runtime
        .block_on(sqlx::SqliteConnection::connect(&url))
        .expect("connect");
    group.bench_function(BENCHES[1], |bencher| {
        bencher.iter(|| {
            runtime
                .block_on(
                    sqlx::query_as::<_, (i64, String)>(READ)
                        .bind(next_id())
                        .fetch_one(&mut sqlx_conn),
                )
                .expect("read")
        })
    });
    let mut diesel_conn = Database::new(path.to_path_buf())
        .and_then(|database| database.connect())
        .expect("a pooled connection");
    group.bench_function(BENCHES[2], |bencher| {
        bencher.iter(|| models::find_user(&mut diesel_conn, next_id()).expect("read"))
    });
    group.finish();
}

fn comparison(means: &[f64]) -> Comparison {
    let labels = [
        "rusqlite, cached prepared statement",
        "sqlx, one connection",
        "diesel, step 4's find_user",
    ];
    let floor = means[0];
    let rows = common::rows_in_micros(&labels, means, |nanos| {
        vec![figure(nanos / 1000.0), format!("{:.1}×", nanos / floor)]
    });
    Comparison {
        id: "point_read".into(),
        title: "One point read by primary key, by library".into(),
        measure: "µs per read (shorter is faster)".into(),
        machine: measured::machine(),
        command: common::command("point_read"),
        columns: vec!["µs per read".into(), "against rusqlite".into()],
        rows,
    }
}
