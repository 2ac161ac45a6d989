//! Benchmark 9: deep pages. A page of 20 posts with their authors, newest
//! first, from 1,000,000 posts: at page 1, page 100 and the last page, by
//! `OFFSET` with no index on `created`, by `OFFSET` with step 4's index on
//! `(created, id)` (`?page=`), and by keyset on that index, as step 4's
//! `?before=ID` asks: `WHERE (created, id) <=` the cursor post's, and
//! not the cursor itself.

mod common;

use std::path::Path;
use std::time::SystemTime;

use measured::{Comparison, Row, figure};
use rusqlite::Connection;

const POSTS: i64 = 1_000_000;
const USERS: i64 = 1000;
const PER_PAGE: i64 = 20;
const PAGES: [i64; 3] = [1, 100, POSTS / PER_PAGE];
const KINDS: [&str; 3] = ["offset", "offset_indexed", "keyset"];

const COLUMNS: &str = "SELECT post.id, post.title, post.created, user.username
    FROM post JOIN user ON user.id = post.author_id";
const INDEX: &str = "CREATE INDEX post_created ON post (created, id)";
const ORDER: &str = "ORDER BY post.created DESC, post.id DESC LIMIT 20";

fn main() {
    let folder = common::scratch();
    let path = folder.path().join("deep.sqlite");
    fill(&path);
    let conn = Connection::open(&path).expect("open");
    let since = SystemTime::now();
    let mut criterion = common::criterion();
    let mut names = Vec::new();
    // Step 4's schema has the index; the first kind measures without it.
    conn.execute_batch("DROP INDEX post_created")
        .expect("no index");
    for kind in KINDS {
        if kind == "offset_indexed" {
            conn.execute_batch(INDEX).expect("the index");
        }
        let mut group = criterion.benchmark_group("deep_pages");
        for page in PAGES {
            let name = format!("{kind}_page_{page}");
            let read = page_reader(&conn, kind, page);
            group.bench_function(&name, |bencher| bencher.iter(|| read(&conn)));
            names.push(name);
        }
        group.finish();
    }
    criterion.final_summary();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    common::record("deep_pages", &names, since, comparison);
}

/// Step 4's tables with [`USERS`] users and [`POSTS`] posts a minute apart.
fn fill(path: &Path) {
    step04_orm::db::init_db(path).expect("step 4's tables");
    common::add_users(path, USERS);
    let conn = Connection::open(path).expect("open");
    conn.execute(
        "INSERT INTO post (author_id, created, title, body)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         SELECT i % ?2 + 1, datetime('2020-01-01', '+' || i || ' minutes'),
                'Post ' || i, 'The body of post ' || i || '.' FROM n",
        [POSTS, USERS],
    )
    .expect("the posts");
}

/// A function that reads page `page` the `kind` way and returns its rows
/// (checked: a full page, the same rows whichever way).
fn page_reader(
    conn: &Connection,
    kind: &str,
    page: i64,
) -> impl Fn(&Connection) -> Vec<i64> + use<> {
    let offset = (page - 1) * PER_PAGE;
    // The keyset's cursor: the id of the last post of the page before, as
    // a client has it from that page's `next_before`.
    let cursor: Option<i64> = (page > 1).then(|| {
        let sql = format!("{COLUMNS} ORDER BY post.created DESC, post.id DESC LIMIT 1 OFFSET ?1");
        conn.query_row(&sql, [offset - 1], |row| row.get(0))
            .expect("the cursor")
    });
    let keyset = kind == "keyset";
    move |conn: &Connection| {
        let ids: Vec<i64> = match (keyset, &cursor) {
            (true, Some(before)) => {
                let sql = format!(
                    "{COLUMNS} WHERE (post.created, post.id) <= (SELECT created, id \
                     FROM post AS cursor WHERE cursor.id <= ?1 ORDER BY cursor.id DESC LIMIT 1) \
                     AND post.id <> ?1 {ORDER}"
                );
                let mut statement = conn.prepare_cached(&sql).expect("the keyset query");
                let rows = statement
                    .query_map([before], |row| row.get(0))
                    .expect("rows");
                rows.collect::<Result<_, _>>().expect("ids")
            }
            (true, None) | (false, _) => {
                let sql = format!("{COLUMNS} {ORDER} OFFSET ?1");
                let mut statement = conn.prepare_cached(&sql).expect("the offset query");
                let rows = statement
                    .query_map([offset], |row| row.get(0))
                    .expect("rows");
                rows.collect::<Result<_, _>>().expect("ids")
            }
        };
        let newest = POSTS - offset;
        assert_eq!(
            ids.first(),
            Some(&newest),
            "page {page} starts at post {newest}"
        );
        assert_eq!(ids.len() as i64, PER_PAGE);
        ids
    }
}

fn comparison(means: &[f64]) -> Comparison {
    let labels = [
        "OFFSET, no index",
        "OFFSET, index on (created, id) (?page=)",
        "keyset, index on (created, id) (?before=)",
    ];
    let mut rows = Vec::new();
    for (k, label) in labels.iter().enumerate() {
        let first = means[k * PAGES.len()];
        for (p, page) in PAGES.iter().enumerate() {
            let nanos = means[k * PAGES.len() + p];
            let micros = nanos / 1000.0;
            rows.push(Row {
                label: format!("{label}: page {page}"),
                value: micros,
                cells: vec![figure(micros), format!("{:.1}x", nanos / first)],
            });
        }
    }
    Comparison {
        id: "deep_pages".into(),
        title: "A page of 20 of 1,000,000 posts, by how it is found".into(),
        measure: "µs per page (shorter is faster)".into(),
        machine: measured::machine(),
        command: common::command("deep_pages"),
        columns: vec!["µs per page".into(), "× page 1".into()],
        rows,
    }
}
