//! Benchmark 7: the same app code on SQLite and on PostgreSQL, in one run.
//! Step 7 runs step 4's and step 5's code on both databases, so this bench
//! measures step 7's copies of them. Step 4's `find_user` (a point read) and `posts_page` (a page of 100 posts
//! with their authors), each on a connection from step 4's pool; then 8 and
//! 32 writers, each on a connection of its own, adding posts with step 4's
//! `create_post` as fast as they can.
//!
//! Last, step 5's N+1 comparison on both: 100 users with their 1,000 posts,
//! one query per user against `users_with_posts`' two, where each query to
//! the server is a round trip.
//!
//! It needs a PostgreSQL server: `TEST_POSTGRES_URL` names one (the book's
//! chapter "Moving to PostgreSQL" shows how to start one). Without it, the
//! bench says so and records nothing.

mod common;

use std::time::{Instant, SystemTime};

use criterion::Criterion;
use diesel::prelude::*;
use measured::{Comparison, Row, figure};
use step07_postgres::backend::Location;
use step07_postgres::db::{self, Database};
use step07_postgres::models::{self, NewPost, Page};
use testkit::backends::{PgDatabase, SERVER_VAR, TestDatabase};

const USERS: i64 = 1000;
const POSTS: i64 = 1000;
const READS: [&str; 4] = [
    "sqlite_point",
    "postgres_point",
    "sqlite_page",
    "postgres_page",
];
/// Writers, and the posts each adds.
const WRITERS: [(usize, usize); 2] = [(8, 250), (32, 63)];
const LOADS: [&str; 4] = [
    "sqlite_n_plus_one",
    "postgres_n_plus_one",
    "sqlite_grouped",
    "postgres_grouped",
];
/// Step 5's users, each with this many posts, for the N+1 comparison.
const STEP05_USERS: i64 = 100;
const STEP05_POSTS_EACH: i64 = 10;

fn main() {
    let Some(postgres) = PgDatabase::create() else {
        println!("backends: skipped, {SERVER_VAR} is not set");
        return;
    };
    let sqlite = TestDatabase::sqlite();
    let sqlite = db::location(Some(&sqlite.setting())).map(|l| (sqlite, l));
    let (_sqlite_folder, sqlite) = sqlite.expect("a SQLite location");
    let postgres_at = db::location(Some(postgres.url())).expect("a PostgreSQL location");
    let backends = [("SQLite", sqlite), ("PostgreSQL", postgres_at)];
    for (_, location) in &backends {
        fill(location);
    }
    let since = SystemTime::now();
    let mut criterion = common::criterion();
    measure_reads(&mut criterion, &backends);
    criterion.final_summary();
    let writes: Vec<(String, f64)> = WRITERS
        .iter()
        .flat_map(|&(writers, each)| {
            backends.iter().map(move |(name, location)| {
                let rate = rows_per_second(location, writers, each);
                println!("backends/writes: {writers} writers on {name}: {rate:.0} rows/s");
                (format!("{writers} writers, {name}"), rate)
            })
        })
        .collect();
    let mut step05 = [
        step05_blog(TestDatabase::sqlite()),
        step05_blog(TestDatabase::Postgres(
            PgDatabase::create().expect("the server"),
        )),
    ];
    let since_loads = SystemTime::now();
    measure_loads(&mut criterion, &mut step05);
    criterion.final_summary();
    common::record("backends", &READS, since, reads_comparison);
    common::record("backends", &READS, since, |_| writes_comparison(&writes));
    common::record("backends", &LOADS, since_loads, loads_comparison);
}

/// A step 5 blog in `database`: [`STEP05_USERS`] users with
/// [`STEP05_POSTS_EACH`] posts each, and a connection to it. The database
/// lives as long as the `TestDatabase` returned with the connection.
fn step05_blog(database: TestDatabase) -> (TestDatabase, step07_postgres::db::Pooled) {
    use step07_postgres::db as db5;
    use step07_postgres::schema::{post, user};
    let location = db5::location(Some(&database.setting())).expect("a location");
    migrated(&location);
    let mut conn = db5::Database::new(location)
        .and_then(|pool| pool.connect())
        .expect("a connection");
    conn.transaction(|conn| {
        for n in 1..=STEP05_USERS {
            diesel::insert_into(user::table)
                .values((
                    user::username.eq(format!("user{n}")),
                    user::username_key.eq(format!("user{n}")),
                    user::password.eq("not a hash"),
                ))
                .execute(conn)?;
        }
        for n in 0..STEP05_USERS * STEP05_POSTS_EACH {
            diesel::insert_into(post::table)
                .values((
                    post::author_id.eq(n % STEP05_USERS + 1),
                    post::title.eq(format!("Post {n}")),
                    post::body.eq("The body of a post."),
                ))
                .execute(conn)?;
        }
        diesel::QueryResult::Ok(())
    })
    .expect("the rows");
    (database, conn)
}

/// Step 5's users with their posts, the N+1 way and with
/// `users_with_posts`, on each database.
fn measure_loads(
    criterion: &mut Criterion,
    blogs: &mut [(TestDatabase, step07_postgres::db::Pooled); 2],
) {
    use step07_postgres::models as models5;
    let mut group = criterion.benchmark_group("backends");
    let page = models5::Page {
        number: 1,
        per_page: STEP05_USERS,
    };
    for ((_, conn), bench) in blogs.iter_mut().zip(&LOADS[..2]) {
        group.bench_function(*bench, |bencher| {
            bencher.iter(|| {
                let users = models5::all_users(conn).expect("the users");
                for user in &users {
                    models5::posts_by(conn, user.id).expect("the posts");
                }
            })
        });
    }
    for ((_, conn), bench) in blogs.iter_mut().zip(&LOADS[2..]) {
        group.bench_function(*bench, |bencher| {
            bencher.iter(|| models5::users_with_posts(conn, page).expect("the users and posts"))
        });
    }
    group.finish();
}

/// Step 7's tables, made by its migrations in the database's dialect.
fn migrated(location: &Location) {
    use step07_postgres::migrate;
    let mut conn = migrate::connect(location).expect("a connection");
    migrate::upgrade(&mut conn, migrate::embedded(location), None).expect("the migrations");
}

/// Step 7's tables, with [`USERS`] users and [`POSTS`] posts, through the
/// step's own code, so both databases hold the same rows.
fn fill(location: &Location) {
    migrated(location);
    let database = Database::new(location.clone()).expect("a pool");
    let mut conn = database.connect().expect("a connection");
    conn.transaction(|conn| {
        for n in 1..=USERS {
            diesel::insert_into(step07_postgres::schema::user::table)
                .values((
                    step07_postgres::schema::user::username.eq(format!("user{n}")),
                    step07_postgres::schema::user::username_key.eq(format!("user{n}")),
                    step07_postgres::schema::user::password.eq("not a hash"),
                ))
                .execute(conn)?;
        }
        for n in 1..=POSTS {
            let title = format!("Post {n}");
            let post = NewPost {
                author_id: n % USERS + 1,
                title: &title,
                body: "The body of a post.",
            };
            models::create_post(conn, &post)?;
        }
        diesel::QueryResult::Ok(())
    })
    .expect("the rows");
}

fn measure_reads(criterion: &mut Criterion, backends: &[(&str, Location); 2]) {
    let mut group = criterion.benchmark_group("backends");
    let mut id = 0;
    let mut next_id = move || {
        id = id % USERS + 1;
        id
    };
    let pools: Vec<Database> = backends
        .iter()
        .map(|(_, location)| Database::new(location.clone()).expect("a pool"))
        .collect();
    for (pool, bench) in pools.iter().zip(&READS[..2]) {
        let mut conn = pool.connect().expect("a connection");
        group.bench_function(*bench, |bencher| {
            bencher.iter(|| models::find_user(&mut conn, next_id()).expect("read"))
        });
    }
    let page = Page {
        number: 1,
        per_page: 100,
    };
    for (pool, bench) in pools.iter().zip(&READS[2..]) {
        let mut conn = pool.connect().expect("a connection");
        group.bench_function(*bench, |bencher| {
            bencher.iter(|| models::posts_page(&mut conn, page).expect("a page"))
        });
    }
    group.finish();
}

/// `writers` threads, each on a connection of its own (with the pool's
/// settings: WAL and a 5 s busy timeout on SQLite), each adding `each`
/// posts, one transaction per post; the rows committed per second, the
/// best of three runs.
fn rows_per_second(location: &Location, writers: usize, each: usize) -> f64 {
    let run = || {
        // A pool per writer: the app's one pool of 8 would cap 32 writers at 8.
        let pools: Vec<Database> = (0..writers)
            .map(|_| Database::new(location.clone()).expect("a pool"))
            .collect();
        let start = Instant::now();
        std::thread::scope(|scope| {
            for (writer, database) in pools.iter().enumerate() {
                scope.spawn(move || {
                    let mut conn = database.connect().expect("a connection");
                    for n in 0..each {
                        let title = format!("w{writer} n{n}");
                        let post = NewPost {
                            author_id: 1,
                            title: &title,
                            body: "load",
                        };
                        models::create_post(&mut conn, &post).expect("a write");
                    }
                });
            }
        });
        (writers * each) as f64 / start.elapsed().as_secs_f64()
    };
    (0..3).map(|_| run()).fold(0.0, f64::max)
}

fn reads_comparison(means: &[f64]) -> Comparison {
    let labels = [
        "point read, SQLite",
        "point read, PostgreSQL",
        "page of 100, SQLite",
        "page of 100, PostgreSQL",
    ];
    let rows = common::rows_in_micros(&labels, means, |nanos| vec![figure(nanos / 1000.0)]);
    Comparison {
        id: "backends_reads".into(),
        title: "Step 4's reads on SQLite and on PostgreSQL".into(),
        measure: "µs per call (shorter is faster)".into(),
        machine: measured::machine(),
        command: format!(
            "{SERVER_VAR}=postgres://... {}",
            common::command("backends")
        ),
        columns: vec!["µs per call".into()],
        rows,
    }
}

fn writes_comparison(writes: &[(String, f64)]) -> Comparison {
    let rows = writes
        .iter()
        .map(|(label, rate)| Row {
            label: label.clone(),
            value: *rate,
            cells: vec![figure(*rate)],
        })
        .collect();
    Comparison {
        id: "backends_writes".into(),
        title: "Concurrent writers on SQLite and on PostgreSQL".into(),
        measure: "rows committed per second (longer is faster)".into(),
        machine: measured::machine(),
        command: format!(
            "{SERVER_VAR}=postgres://... {}",
            common::command("backends")
        ),
        columns: vec!["rows/s".into()],
        rows,
    }
}

fn loads_comparison(means: &[f64]) -> Comparison {
    let labels = [
        "N+1 (101 SELECTs), SQLite",
        "N+1 (101 SELECTs), PostgreSQL",
        "users_with_posts (2 SELECTs), SQLite",
        "users_with_posts (2 SELECTs), PostgreSQL",
    ];
    let rows = labels
        .iter()
        .zip(means)
        .map(|(label, nanos)| Row {
            label: label.to_string(),
            value: nanos / 1e6,
            cells: vec![figure(nanos / 1e6)],
        })
        .collect();
    Comparison {
        id: "backends_n_plus_one".into(),
        title: "100 users with their posts, N+1 or grouped, on each database".into(),
        measure: "ms per load (shorter is faster)".into(),
        machine: measured::machine(),
        command: format!(
            "{SERVER_VAR}=postgres://... {}",
            common::command("backends")
        ),
        columns: vec!["ms per load".into()],
        rows,
    }
}
