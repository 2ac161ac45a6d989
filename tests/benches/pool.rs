//! Benchmark 1: a connection opened for each request (as step 2's
//! `RequestDb` does) against one lent by a pool (step 2's sqlx `SqlitePool`,
//! and step 4's diesel + r2d2 pool), for a point read by primary key; and,
//! as the floor, one connection kept open.

mod common;

use std::path::Path;
use std::time::SystemTime;

use criterion::Criterion;
use measured::{Comparison, figure};
use rusqlite::{Connection, OpenFlags};
use step02_connection_per_request::db::{self, Database};
use step02_connection_per_request::pool::{self, POOL_SIZE};

const USERS: i64 = 1000;
const BENCHES: [&str; 4] = ["per_request", "sqlx_pool", "r2d2_pool", "kept_open"];

fn main() {
    let folder = common::scratch();
    let path = folder.path().join("step02.sqlite");
    fill(&path);
    let step04_path = folder.path().join("step04.sqlite");
    step04_orm::db::init_db(&step04_path).expect("step 4's tables");
    common::add_users(&step04_path, USERS);
    let since = SystemTime::now();
    let mut criterion = common::criterion();
    measure(&mut criterion, &path, &step04_path);
    criterion.final_summary();
    common::record("pool", &BENCHES, since, comparison);
}

/// Step 2's table, with [`USERS`] users.
fn fill(path: &Path) {
    let conn = db::open(path).expect("step 2's database");
    conn.execute(
        "INSERT INTO users (name, email)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         SELECT 'User ' || i, 'user' || i || '@example.com' FROM n",
        [USERS],
    )
    .expect("the users");
}

fn measure(criterion: &mut Criterion, path: &Path, step04_path: &Path) {
    let mut group = criterion.benchmark_group("pool");
    let mut id = 0;
    let mut next_id = move || {
        id = id % USERS + 1;
        id
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    group.bench_function(BENCHES[0], |bencher| {
        bencher.iter(|| {
            let conn = Connection::open_with_flags(path, flags).expect("open");
            db::find_user(&conn, next_id()).expect("read")
        })
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let _context = runtime.enter(); // sqlx's pool starts a task of its own
    let pool = pool::connect(&Database::new(path.to_path_buf()), POOL_SIZE);
    group.bench_function(BENCHES[1], |bencher| {
        bencher.iter(|| {
            runtime.block_on(async {
                sqlx::query_as::<_, (i64, String, String)>(
                    "SELECT id, name, email FROM users WHERE id = ?",
                )
                .bind(next_id())
                .fetch_one(&pool)
                .await
                .expect("read")
            })
        })
    });
    let step04 = step04_orm::db::Database::new(step04_path.to_path_buf()).expect("step 4's pool");
    group.bench_function(BENCHES[2], |bencher| {
        bencher.iter(|| {
            let mut conn = step04.connect().expect("a pooled connection");
            step04_orm::models::find_user(&mut conn, next_id()).expect("read")
        })
    });
    let conn = Connection::open_with_flags(path, flags).expect("open");
    group.bench_function(BENCHES[3], |bencher| {
        bencher.iter(|| db::find_user(&conn, next_id()).expect("read"))
    });
    group.finish();
}

fn comparison(means: &[f64]) -> Comparison {
    let labels = [
        "a new connection per request (rusqlite)",
        "a pooled connection (sqlx, step 2's pool)",
        "a pooled connection (diesel + r2d2, step 4's pool)",
        "one connection kept open (rusqlite)",
    ];
    let rows = common::rows_in_micros(&labels, means, |nanos| {
        vec![figure(nanos / 1000.0), figure(1e9 / nanos)]
    });
    Comparison {
        id: "pool".into(),
        title: "A point read, by where its connection comes from".into(),
        measure: "µs per read (shorter is faster)".into(),
        machine: measured::machine(),
        command: common::command("pool"),
        columns: vec!["µs per read".into(), "reads per second".into()],
        rows,
    }
}
