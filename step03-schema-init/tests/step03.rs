//! step03-schema-init: the schema SQLite ends up with, `init-db`, typed
//! timestamps, hashed passwords, the walkthrough, and the index page served
//! by an app built from a testing config. The login is `tests/auth.rs`'s.

use axum::http::StatusCode;
use rusqlite::Connection;
use step03_schema_init::{Config, Error, Timestamp, create_app, db};
use stepkit::password;
use testkit::{Sandbox, get as get_request, send};

fn sandbox() -> Sandbox {
    Sandbox::new(env!("CARGO_BIN_EXE_step03-schema-init"))
}

fn open_db(sandbox: &Sandbox, relative: &str) -> Connection {
    let path = sandbox.path().join(relative);
    assert!(path.exists(), "{relative} was not created");
    Connection::open(path).unwrap()
}
const DEFAULT_DB: &str = "instance/step03.sqlite";

// ---------------------------------------------------------------- helpers

/// `(name, type, notnull, default, pk)` of each column, as SQLite reports it.
type ColumnInfo = (String, String, bool, Option<String>, i64);

fn table_info(conn: &Connection, table: &str) -> Vec<ColumnInfo> {
    let mut statement = conn
        .prepare("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?)")
        .unwrap();
    statement
        .query_map((table,), |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn column(name: &str, kind: &str, not_null: bool, default: Option<&str>, pk: i64) -> ColumnInfo {
    (
        name.into(),
        kind.into(),
        not_null,
        default.map(str::to_owned),
        pk,
    )
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, (), |row| row.get(0)).unwrap()
}

fn strings(conn: &Connection, sql: &str) -> Vec<String> {
    let mut statement = conn.prepare(sql).unwrap();
    statement
        .query_map((), |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A fresh database with the schema, in a temporary folder.
fn fresh_database() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("test.sqlite");
    step03_schema_init::db::init_db(&path).unwrap();
    let conn = Connection::open(&path).unwrap();
    (dir, conn)
}

fn insert_post(conn: &Connection, author: i64, created: &str, title: &str, body: &str) -> i64 {
    conn.execute(
        "INSERT INTO post (author_id, created, title, body) VALUES (?, ?, ?, ?)",
        (author, created, title, body),
    )
    .unwrap();
    conn.last_insert_rowid()
}

fn insert_user(conn: &Connection, username: &str) -> i64 {
    conn.execute(
        "INSERT INTO user (username, username_key, password) VALUES (?1, lower(?1), 'not-a-hash')",
        (username,),
    )
    .unwrap();
    conn.last_insert_rowid()
}

// ------------------------------------------------------------ the schema

#[test]
fn the_schema_sqlite_reports_is_flaskrs() {
    let sandbox = sandbox();
    assert!(sandbox.run(&["init-db"]).success);
    let db = open_db(&sandbox, DEFAULT_DB);

    let tables = strings(
        &db,
        "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
    );
    // sqlite_sequence exists because of AUTOINCREMENT.
    assert_eq!(tables, ["post", "session", "sqlite_sequence", "user"]);
    assert_eq!(
        table_info(&db, "session"),
        [
            column("token_hash", "TEXT", false, None, 1),
            column("user_id", "INTEGER", true, None, 0),
            column("expires", "TIMESTAMP", true, None, 0),
        ]
    );

    assert_eq!(
        table_info(&db, "user"),
        [
            column("id", "INTEGER", false, None, 1),
            column("username", "TEXT", true, None, 0),
            column("username_key", "TEXT", true, None, 0),
            column("password", "TEXT", true, None, 0),
        ]
    );
    assert_eq!(
        table_info(&db, "post"),
        [
            column("id", "INTEGER", false, None, 1),
            column("author_id", "INTEGER", true, None, 0),
            column("created", "TIMESTAMP", true, Some("CURRENT_TIMESTAMP"), 0),
            column("title", "TEXT", true, None, 0),
            column("body", "TEXT", true, None, 0),
        ]
    );

    for table in ["user", "post"] {
        let sql = count(
            &db,
            &format!(
                "SELECT count(*) FROM sqlite_schema WHERE name = '{table}' AND sql LIKE '%AUTOINCREMENT%'"
            ),
        );
        assert_eq!(sql, 1, "{table}.id is not AUTOINCREMENT");
    }

    // username and username_key are UNIQUE: a constraint index each.
    let unique = strings(
        &db,
        "SELECT info.name FROM pragma_index_list('user') AS list
         JOIN pragma_index_info(list.name) AS info
         WHERE list.\"unique\" = 1 AND list.origin = 'u'",
    );
    assert_eq!(unique, ["username_key", "username"]);
    assert!(strings(&db, "SELECT name FROM pragma_index_list('post')").is_empty());

    let foreign_keys: Vec<(String, String, String)> = db
        .prepare("SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list('post')")
        .unwrap()
        .query_map((), |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        foreign_keys,
        [("user".into(), "author_id".into(), "id".into())]
    );
    assert!(strings(&db, "SELECT \"table\" FROM pragma_foreign_key_list('user')").is_empty());
}

#[test]
fn the_schema_rejects_what_flaskrs_rejects() {
    let (_dir, db) = fresh_database();
    insert_user(&db, "ann");
    let duplicate = db.execute(
        "INSERT INTO user (username, username_key, password) VALUES ('ann', 'ann', 'x')",
        (),
    );
    assert!(duplicate.is_err(), "a second `ann` was accepted");
    let no_password = db.execute(
        "INSERT INTO user (username, username_key) VALUES ('bo', 'bo')",
        (),
    );
    assert!(no_password.is_err(), "a user without password was accepted");
    let no_title = db.execute("INSERT INTO post (author_id, body) VALUES (1, 'text')", ());
    assert!(no_title.is_err(), "a post without title was accepted");
}

// --------------------------------------------------------------- init-db

#[test]
fn init_db_prints_its_line_and_creates_the_file_in_the_instance_folder() {
    let sandbox = sandbox();
    let run = sandbox.run(&["init-db"]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.stdout, "Initialized the database.\n");
    assert_eq!(run.stderr, "");
    assert!(sandbox.path().join(DEFAULT_DB).is_file());
}

#[test]
fn init_db_on_a_database_holding_data_leaves_empty_tables() {
    let sandbox = sandbox();
    assert!(sandbox.run(&["init-db"]).success);
    {
        let db = open_db(&sandbox, DEFAULT_DB);
        let author = insert_user(&db, "ann");
        insert_post(&db, author, "2024-01-02 03:04:05", "One", "1");
        insert_post(&db, author, "2024-01-03 03:04:05", "Two", "2");
    }

    let run = sandbox.run(&["init-db"]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.stdout, "Initialized the database.\n");
    let db = open_db(&sandbox, DEFAULT_DB);
    assert_eq!(count(&db, "SELECT count(*) FROM user"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM post"), 0);
    // The ids start again from 1: AUTOINCREMENT's counters went with the tables.
    assert_eq!(count(&db, "SELECT count(*) FROM sqlite_sequence"), 0);
}

#[test]
fn the_database_comes_from_the_flag_then_the_environment() {
    let sandbox = sandbox();
    let env = [("DATABASE_URL", "sqlite://from-env.sqlite")];

    assert!(sandbox.run_with_env(&["init-db"], &env).success);
    assert!(sandbox.path().join("from-env.sqlite").is_file());
    assert!(!sandbox.path().join(DEFAULT_DB).exists());

    let args = ["--database", "sqlite:data/from-flag.sqlite", "init-db"];
    assert!(sandbox.run_with_env(&args, &env).success);
    assert!(sandbox.path().join("data/from-flag.sqlite").is_file());
}

#[test]
fn a_bad_location_is_one_error_line_and_a_failure() {
    let sandbox = sandbox();
    sandbox.write("some-file", "a regular file, not a folder");
    let run = sandbox.run(&["--database", "some-file/x.sqlite", "init-db"]);
    assert!(!run.success);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .starts_with("error: cannot create folder some-file: "),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1);

    sandbox.write("notes.sqlite", "plain text, not a database");
    let run = sandbox.run(&["--database", "notes.sqlite", "init-db"]);
    assert!(!run.success);
    assert_eq!(
        run.stderr,
        "error: cannot initialize database notes.sqlite: file is not a database\n"
    );

    let run = sandbox.run_with_env(&["init-db"], &[("DATABASE_URL", "sqlite://")]);
    assert!(!run.success);
    assert_eq!(
        run.stderr,
        "error: the database setting (from --database or DATABASE_URL) \"sqlite://\" names no file\n"
    );

    let run = sandbox.run_with_env(
        &["init-db"],
        &[("DATABASE_URL", "mysql://root:pw@localhost/blog")],
    );
    assert!(!run.success);
    assert!(!run.stderr.contains("pw@"), "{}", run.stderr);
    assert!(
        !sandbox.path().join("mysql:").exists(),
        "a folder was made of the URL"
    );
}

#[test]
fn serve_names_a_database_it_cannot_open() {
    let sandbox = sandbox();
    std::fs::create_dir(sandbox.path().join("a-folder")).unwrap();
    let run = sandbox.run(&["--database", "a-folder", "serve", "--port", "0"]);
    assert!(!run.success);
    assert!(
        run.stderr
            .starts_with("error: cannot open database a-folder: "),
        "{}",
        run.stderr
    );
}

#[test]
fn init_db_session_as_the_book_shows_it() {
    let sandbox = sandbox();
    sandbox.copy_in("README.md"); // a file of the workspace root, not a folder
    let transcript = sandbox.transcript(&[
        "init-db",
        "--database sqlite:data/blog.sqlite init-db",
        "--database README.md/blog.sqlite init-db",
    ]);
    insta::assert_snapshot!("init_db_session", transcript);
}

#[test]
fn serve_refuses_a_database_without_tables() {
    let sandbox = sandbox();
    let run = sandbox.run(&["--database", "empty.sqlite", "serve", "--port", "0"]);
    assert!(!run.success);
    assert_eq!(
        run.stderr,
        "error: database empty.sqlite has no `post` and `user` tables; run `init-db` first\n"
    );
}

#[test]
fn an_escape_sequence_in_a_path_is_printed_escaped() {
    let sandbox = sandbox();
    sandbox.write("\u{1b}[31mred", "a file in the way of a folder");
    let run = sandbox.run(&["--database", "\u{1b}[31mred/blog.sqlite", "init-db"]);
    assert!(!run.success);
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);
    assert!(run.stderr.contains("\\u{1b}[31mred"), "{:?}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{:?}", run.stderr);
}

#[test]
fn help_lists_the_commands() {
    let sandbox = sandbox();
    let run = sandbox.run(&["--help"]);
    assert!(run.success);
    insta::assert_snapshot!("help", run.stdout);
}

// ----------------------------------------------------------- walkthrough

#[test]
fn walkthrough_prints_its_eight_sections() {
    let sandbox = sandbox();
    let run = sandbox.run(&[]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    // The book's chapter 3 shows this very snapshot.
    insta::assert_snapshot!("walkthrough", run.stdout);
}

#[test]
fn walkthrough_runs_twice_and_ends_with_empty_tables() {
    let sandbox = sandbox();
    let first = sandbox.run(&[]);
    let second = sandbox.run(&[]);
    assert!(second.success, "{}", second.stderr);
    assert_eq!(first.stdout, second.stdout);

    let db = open_db(&sandbox, "instance/step03-walkthrough.sqlite");
    assert_eq!(count(&db, "SELECT count(*) FROM user"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM post"), 0);
    // It never touches the database `init-db` and `serve` use.
    assert!(!sandbox.path().join(DEFAULT_DB).exists());
}

// ------------------------------------------------------------ timestamps

#[test]
fn a_stored_timestamp_text_parses_to_its_moment_in_utc() {
    let (_dir, db) = fresh_database();
    let author = insert_user(&db, "ann");
    insert_post(&db, author, "2024-03-05 14:07:30", "Hi", "");

    let (posts, _) = db::posts_newest_first(&db).unwrap();
    let created = posts[0].created;
    assert_eq!(created.0.timestamp(), 1_709_647_650);
    assert_eq!(created.0.to_rfc3339(), "2024-03-05T14:07:30+00:00");
    assert_eq!(created, Timestamp::parse("2024-03-05 14:07:30").unwrap());
    // Python's fromisoformat also takes a fraction of a second.
    let fraction = Timestamp::parse("2024-03-05 14:07:30.250").unwrap();
    assert_eq!(fraction.0.timestamp_subsec_millis(), 250);

    // rusqlite's FromSql reads any column as a Timestamp.
    let read: Timestamp = db
        .query_row("SELECT created FROM post", (), |row| row.get(0))
        .unwrap();
    assert_eq!(read, created);
}

#[test]
fn written_timestamps_round_trip_as_sqlites_text() {
    let (_dir, db) = fresh_database();
    let author = insert_user(&db, "ann");
    for text in ["2024-03-05 14:07:30", "1999-12-31 23:59:59.123456"] {
        let written = Timestamp::parse(text).unwrap();
        let id = db::add_post(&db, author, written, "t", "b").unwrap();
        let stored: String = db
            .query_row("SELECT created FROM post WHERE id = ?", (id,), |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(stored, text, "the stored text differs");
        let read = db::posts_newest_first(&db)
            .unwrap()
            .0
            .into_iter()
            .find(|post| post.id == id)
            .unwrap();
        assert_eq!(read.created, written);
    }
}

#[test]
fn sqlites_own_current_timestamp_reads_as_now() {
    let (_dir, db) = fresh_database();
    let author = insert_user(&db, "ann");
    db.execute(
        "INSERT INTO post (author_id, title, body) VALUES (?, 'Now', '')",
        (author,),
    )
    .unwrap();
    let created = db::posts_newest_first(&db).unwrap().0[0].created;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - created.0.timestamp()).abs() < 60, "{created}");
}

#[test]
fn a_malformed_timestamp_is_an_error_naming_the_post() {
    let (_dir, db) = fresh_database();
    let author = insert_user(&db, "ann");
    insert_post(&db, author, "2024-03-05 14:07:30", "Fine", "");
    let bad = insert_post(&db, author, "yesterday", "Broken", "");

    let (posts, mut unreadable) = db::posts_newest_first(&db).unwrap();
    assert_eq!(posts.len(), 1, "the good post is still read");
    let err = unreadable.pop().unwrap();
    assert!(
        matches!(err, Error::BadTimestamp { post, .. } if post == bad),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "post {bad} has a malformed `created` value: \"yesterday\" is not YYYY-MM-DD HH:MM:SS (input contains invalid characters)"
        )
    );

    db.execute("UPDATE post SET created = 20240305 WHERE id = ?", (bad,))
        .unwrap();
    let err = db::posts_newest_first(&db).unwrap().1.pop().unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "post {bad} has a malformed `created` value: expected YYYY-MM-DD HH:MM:SS text, found an integer"
        )
    );

    // Through rusqlite's FromSql, the same value is an error too.
    let read = db.query_row("SELECT created FROM post WHERE id = ?", (bad,), |row| {
        row.get::<_, Timestamp>(0)
    });
    assert!(read.is_err());
}

// ------------------------------------------------------------- passwords

#[test]
fn the_stored_password_is_an_argon2_hash_that_verifies() {
    let (_dir, db) = fresh_database();
    let plain = "hunter2 but longer";
    db::add_user(&db, "ann", plain).unwrap();
    db::add_user(&db, "bo", plain).unwrap();

    let stored = strings(&db, "SELECT password FROM user ORDER BY id");
    for hash in &stored {
        assert_ne!(hash, plain);
        assert!(!hash.contains(plain));
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(password::verify(plain, hash));
        assert!(!password::verify("hunter2", hash));
    }
    // Same password, different salts, different hashes.
    assert_ne!(stored[0], stored[1]);
    // A value that is no hash at all verifies nothing, and does not panic.
    assert!(!password::verify(plain, plain));
}

// ------------------------------------------------------- Python's datetime

/// What Python's sqlite3 writes for `datetime` values: a naive value as
/// `YYYY-MM-DD HH:MM:SS[.ffffff]`, which reads; an aware one with its offset
/// (`+00:00`), which is refused with the post named, never guessed at.
#[test]
fn pythons_naive_datetimes_read_and_aware_ones_are_refused() {
    let naive = Timestamp::parse("2024-03-05 14:07:30.123456").unwrap();
    assert_eq!(naive.0.timestamp_subsec_micros(), 123_456);
    assert!(Timestamp::parse("2024-03-05 14:07:30").is_ok());
    let aware = Timestamp::parse("2024-03-05 14:07:30+00:00").unwrap_err();
    assert_eq!(
        aware.to_string(),
        "\"2024-03-05 14:07:30+00:00\" is not YYYY-MM-DD HH:MM:SS (trailing input)"
    );
}

// ------------------------------------------------------ the app, over HTTP

/// A testing app on a database this test owns, and a connection to fill it.
fn testing_app() -> (tempfile::TempDir, axum::Router, Connection) {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("test.sqlite");
    db::init_db(&path).unwrap();
    let config = Config::testing(path.clone());
    assert!(config.testing);
    let conn = Connection::open(&path).unwrap();
    (dir, create_app(config).unwrap(), conn)
}

#[tokio::test]
async fn the_index_lists_posts_newest_first_with_author_and_date() {
    let (_dir, app, db) = testing_app();
    let ann = insert_user(&db, "ann");
    let bo = insert_user(&db, "bo");
    insert_post(&db, ann, "2024-03-05 14:07:30", "Oldest", "First words.");
    insert_post(
        &db,
        bo,
        "2024-03-11 17:28:30",
        "Newest <b>& bold</b>",
        "Markup stays <i>text</i>.",
    );
    insert_post(
        &db,
        ann,
        "2024-03-08 09:00:00",
        "Middle",
        "Line one\nline two",
    );

    let (status, html) = send(&app, get_request("/")).await;
    assert_eq!(status, StatusCode::OK);
    let order: Vec<usize> = ["Newest", "Middle", "Oldest"]
        .iter()
        .map(|title| html.find(title).unwrap())
        .collect();
    assert!(order.is_sorted(), "{html}");
    assert!(
        html.contains("&lt;b&gt;&amp; bold&lt;&#x2f;b&gt;"),
        "{html}"
    );
    insta::assert_snapshot!("index_page", html);
}

#[tokio::test]
async fn the_index_of_an_empty_database_says_so() {
    let (_dir, app, _db) = testing_app();
    let (status, html) = send(&app, get_request("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<p>No posts yet.</p>"), "{html}");
}

#[tokio::test]
async fn one_unreadable_post_is_left_out_and_the_page_says_so() {
    let (_dir, app, db) = testing_app();
    let ann = insert_user(&db, "ann");
    insert_post(&db, ann, "2024-03-05 14:07:30", "Fine", "");
    insert_post(&db, ann, "5 March 2024", "Broken", "");

    let (status, html) = send(&app, get_request("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Fine") && !html.contains("Broken"), "{html}");
    assert!(
        html.contains("1 post could not be shown; the server's log says which."),
        "{html}"
    );
}

#[tokio::test]
async fn the_status_check_and_a_500_say_nothing_internal() {
    let (dir, app, _db) = testing_app();
    assert_eq!(send(&app, get_request("/status")).await.0, StatusCode::OK);
    std::fs::remove_file(dir.path().join("test.sqlite")).unwrap();
    let (status, page) = send(&app, get_request("/status")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.contains("Something is broken."), "{page}");
    let (status, page) = send(&app, get_request("/")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(page.contains("(request 3)"), "{page}");
    assert!(
        !page.contains(dir.path().to_str().unwrap()) && !page.contains("unable to open"),
        "{page}"
    );
}

#[test]
fn create_app_refuses_a_database_without_tables() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("empty.sqlite");
    let key = axum_extra::extract::cookie::Key::generate();
    let err = create_app(Config::new(path.clone(), key)).unwrap_err();
    assert!(matches!(err, Error::NotInitialized { .. }), "{err:?}");
    assert!(!path.exists(), "checking the database created it");
}

#[test]
fn serve_answers_the_index_and_stops_on_ctrl_c() {
    let sandbox = sandbox();
    assert!(sandbox.run(&["init-db"]).success);
    let served = testkit::Served::start(&sandbox, &[], &[]);
    assert!(
        served
            .first_line
            .starts_with("Serving instance/step03.sqlite on http://127.0.0.1:")
    );
    let stopped = served.stop();
    assert!(stopped.success, "{}", stopped.stderr);
    assert_eq!(stopped.stdout, "Stopped.\n");
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let (success, stderr) = sandbox().run_into_closed_pipe(&[]);
    assert!(success, "{stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn every_command_reads_one_setting_the_same_way_or_refuses_it() {
    let sandbox = sandbox();
    for value in [
        "file:posts.db",
        "sqlite:posts.db?mode=ro",
        "file::memory:",
        ":memory:",
    ] {
        for args in [&["init-db"][..], &["serve", "--port", "0"]] {
            let run = sandbox.run_with_env(args, &[("DATABASE_URL", value)]);
            assert!(!run.success, "{value} {args:?}");
            assert!(
                run.stderr
                    .starts_with("error: the database setting (from --database or DATABASE_URL)"),
                "{value} {args:?}: {}",
                run.stderr
            );
        }
    }
    assert_eq!(
        std::fs::read_dir(sandbox.path()).unwrap().count(),
        0,
        "nothing was created"
    );
}

/// Posts a wrong login for `name` on a connection of its own, as the proxy
/// would pass it on, with `forwarded` as `X-Forwarded-For` (none if empty);
/// returns the status line.
fn guess(address: &str, name: &str, forwarded: &str) -> String {
    let fields = format!("username={name}&password=wrong");
    let header = match forwarded {
        "" => String::new(),
        _ => format!("X-Forwarded-For: {forwarded}\r\n"),
    };
    let request = format!(
        "POST /auth/login HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{header}\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{fields}",
        fields.len()
    );
    let answer = testkit::exchange(address, &request);
    answer.lines().next().unwrap_or_default().to_owned()
}

/// Guesses `FREE_FAILURES_PER_ADDRESS` names and one more, each once (the
/// last of them sets the first wait), then another; returns the status line
/// of that last one.
fn guess_many_names(address: &str, forwarded: impl Fn(u32) -> String) -> String {
    use stepkit::throttle::FREE_FAILURES_PER_ADDRESS;
    for n in 0..=FREE_FAILURES_PER_ADDRESS {
        let status = guess(address, &format!("guess{n}"), &forwarded(n));
        assert!(status.starts_with("HTTP/1.1 400"), "guess {n}: {status}");
    }
    guess(
        address,
        "one-more",
        &forwarded(FREE_FAILURES_PER_ADDRESS + 1),
    )
}

/// Behind the proxy `TRUSTED_PROXY` names, an address that keeps failing
/// waits, whatever names it tries, and another address is still heard. A
/// peer that is not the proxy is counted by its own address, unless it sends
/// `X-Forwarded-For` (most likely the proxy, misnamed): then no address is
/// counted, so a wrong setting locks no one out. Without the setting, nothing is counted per
/// address (each client of 127.0.0.1 would wait for one guesser); with a
/// value that is no address, `serve` stops in one line.
#[test]
fn behind_a_trusted_proxy_an_address_that_keeps_failing_waits() {
    let sandbox = sandbox();
    assert!(sandbox.run(&["init-db"]).success);
    let quiet = ("RUST_LOG", "warn");

    let proxied = testkit::Served::start(&sandbox, &[], &[("TRUSTED_PROXY", "127.0.0.1"), quiet]);
    let address = proxied.address();
    // The proxy appends the client's address, with a port or without.
    let forwarded = |n| match n % 2 {
        0 => "198.51.100.1, 203.0.113.7".to_owned(),
        _ => "203.0.113.7:4000".to_owned(),
    };
    let last = guess_many_names(address, forwarded);
    assert!(last.starts_with("HTTP/1.1 429"), "{last}");
    let other = guess(address, "someone", "203.0.113.8");
    assert!(
        other.starts_with("HTTP/1.1 400"),
        "another address is heard: {other}"
    );
    assert!(proxied.stop().success);

    let not_the_proxy =
        testkit::Served::start(&sandbox, &[], &[("TRUSTED_PROXY", "127.0.0.2"), quiet]);
    let forwarded = |n| format!("203.0.113.{n}");
    let last = guess_many_names(not_the_proxy.address(), forwarded);
    assert!(
        last.starts_with("HTTP/1.1 400"),
        "a misnamed proxy locks no one out: {last}"
    );
    let last = guess_many_names(not_the_proxy.address(), |_| String::new());
    assert!(
        last.starts_with("HTTP/1.1 429"),
        "a peer that is no proxy counts as itself: {last}"
    );
    assert!(not_the_proxy.stop().success);

    let direct = testkit::Served::start(&sandbox, &[], &[quiet]);
    let last = guess_many_names(direct.address(), |_| "203.0.113.7".to_owned());
    assert!(
        last.starts_with("HTTP/1.1 400"),
        "no setting, no count: {last}"
    );
    assert!(direct.stop().success);

    for (value, why) in [
        ("nginx", "which is not an IP address (say 127.0.0.1)"),
        (
            "::1",
            "but this server listens on 127.0.0.1, so its proxy connects from a 127.x.x.x address",
        ),
    ] {
        let env = [("TRUSTED_PROXY", value), quiet];
        let run = sandbox.run_with_env(&["serve", "--port", "0"], &env);
        assert!(!run.success);
        let expected = format!("error: TRUSTED_PROXY is {}, {why}", stepkit::quote(value));
        assert_eq!(run.stderr.trim_end(), expected);
    }
}
