//! step07-postgres: what only a second database brings. URLs that libpq
//! would misread, passwords that are never printed, a server that is down,
//! and, on PostgreSQL, a request behind another session's lock.

use axum::http::StatusCode;
use axum_extra::extract::cookie::Key;
use diesel::connection::SimpleConnection;
use step07_postgres::backend::Location;
use step07_postgres::db::{self, Database};
use step07_postgres::{Config, create_app, migrate, routes};
use testkit::backends::TestDatabase;
use testkit::{Sandbox, get, send};

fn sandbox() -> Sandbox {
    Sandbox::new(env!("CARGO_BIN_EXE_step07-postgres"))
}

/// URLs libpq would misread, or read as a file name, are refused before
/// libpq sees them, without repeating them.
#[test]
fn a_postgres_url_libpq_would_misread_is_refused() {
    let setting = "the database setting (from --database or DATABASE_URL)";
    let encode =
        "has a `@` or `/` in its user name or password; percent-encode them (`%40`, `%2F`)";
    for (url, why) in [
        ("postgres://ann:p@ss@127.0.0.1/blog", encode),
        ("postgres://ann:a/b@127.0.0.1/blog", encode),
        (
            "postgres://ann:100%@127.0.0.1/blog",
            "has a `%` that starts no `%XX` escape in its user name or password; write it `%25`",
        ),
        (
            "postgres:ann:pw@127.0.0.1/blog",
            "is a postgres: URL without `//`; write postgres://user:password@host/database",
        ),
        (
            "host=127.0.0.1 password=pw dbname=blog",
            "looks like libpq's key=value form; give a postgres:// URL",
        ),
    ] {
        let err = db::location(Some(url)).unwrap_err();
        assert_eq!(err.to_string(), format!("{setting} {why}"), "{url}");
    }
    // libpq ends the user part at the first `@`: a `?` before it is the password's.
    let question = db::location(Some("postgres://ann:top?secret@db.example/blog")).unwrap();
    assert_eq!(question.to_string(), "postgres://ann@db.example/blog");
    let option = db::location(Some("postgres://db.example/blog?password=leak%ZZ")).unwrap();
    assert_eq!(option.to_string(), "postgres://db.example/blog?...");
    assert_eq!(
        option.hide_password(r#"invalid percent-encoded token: "leak%ZZ""#),
        r#"invalid percent-encoded token: "***""#
    );
    let upper = db::location(Some("POSTGRES://ann:p%40ss@127.0.0.1/blog")).unwrap();
    assert_eq!(
        upper,
        Location::Postgres("postgres://ann:p%40ss@127.0.0.1/blog".to_owned())
    );
}

/// A SQLite setting follows the kit's rules, as in steps 2 to 6: SQLite's
/// own `file:` names and in-memory databases are refused, and nothing is
/// made.
#[test]
fn a_sqlite_setting_follows_the_kits_rules() {
    let setting = "the database setting (from --database or DATABASE_URL)";
    for (value, why) in [
        (
            "sqlite:file:%3Amemory%3A",
            "\"sqlite:file:%3Amemory%3A\" is a SQLite file: URI, which this step does not read; give a plain path",
        ),
        (
            "sqlite::memory:",
            "\"sqlite::memory:\" is an in-memory database, which would be gone when the command ends",
        ),
    ] {
        let err = db::location(Some(value)).unwrap_err();
        assert_eq!(err.to_string(), format!("{setting} {why}"), "{value}");
        let sandbox = sandbox();
        let run = sandbox.run(&["--database", value, "db", "upgrade"]);
        assert!(!run.success, "{value}");
        assert_eq!(run.stderr, format!("error: {setting} {why}\n"));
        assert!(
            std::fs::read_dir(sandbox.path()).unwrap().next().is_none(),
            "{value} made a file"
        );
    }
}

/// A `postgres://` URL is taken as it is, and shown without its password
/// or options; a server that does not answer is one line of error.
#[test]
fn a_postgres_url_is_never_printed_with_its_password() {
    let url = "postgres://ann:s3cret@db.example:5432/blog?sslmode=require";
    let location = db::location(Some(url)).unwrap();
    assert_eq!(location, Location::Postgres(url.to_owned()));
    assert_eq!(
        location.to_string(),
        "postgres://ann@db.example:5432/blog?..."
    );

    let unreachable = "postgresql://ann:s3cret@127.0.0.1:1/blog";
    let run = sandbox().run(&["--database", unreachable, "db", "current"]);
    assert!(!run.success);
    assert!(
        run.stderr.starts_with(
            "error: cannot open database postgresql://ann@127.0.0.1:1/blog: connection to server at \"127.0.0.1\", port 1 failed:"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);

    let run = sandbox().run(&[
        "--database",
        "mysql://ann:s3cret@db.example/blog",
        "db",
        "current",
    ]);
    assert_eq!(
        run.stderr,
        "error: the database setting (from --database or DATABASE_URL) is a `mysql:` URL, but this step needs a SQLite file (a path or a sqlite: URL) or a postgres:// URL\n"
    );
}

/// A request that cannot get a connection (here: no server listens) is
/// answered 503 once the pool stops waiting, not left to the request timeout.
#[tokio::test]
async fn a_database_server_that_is_down_is_a_503() {
    let location = db::location(Some("postgres://ann:s3cret@127.0.0.1:1/blog")).unwrap();
    let app = routes::app(Database::new(location).unwrap(), Key::generate()).unwrap();
    let (status, body) = send(&app, get("/api/users")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body.starts_with(r#"{"error":"Something went wrong on the server"#),
        "{body}"
    );
    assert!(
        !body.contains("s3cret") && !body.contains("127.0.0.1"),
        "{body}"
    );
}

/// On PostgreSQL a request waits at most 5 s for a lock another session
/// holds (the pool's `lock_timeout`, SQLite's busy timeout), and is then
/// answered, not left waiting as long as the lock is held.
#[tokio::test]
async fn a_request_behind_a_lock_is_answered_not_left_waiting() {
    let postgres = TestDatabase::each()
        .into_iter()
        .filter(TestDatabase::is_postgres);
    for database in postgres {
        let location = db::location(Some(&database.setting())).unwrap();
        let mut holder = migrate::connect(&location).unwrap();
        migrate::upgrade(&mut holder, migrate::embedded(&location), None).unwrap();
        let app = create_app(Config::testing(location)).unwrap();
        holder
            .batch_execute("BEGIN; LOCK TABLE post IN ACCESS EXCLUSIVE MODE;")
            .unwrap();
        let (status, answer) = send(&app, get("/api/posts")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
        holder.batch_execute("ROLLBACK").unwrap();
        let (status, _) = send(&app, get("/api/posts")).await;
        assert_eq!(status, StatusCode::OK);
    }
}

/// The users search beyond A to Z: the pattern is lowered as both
/// databases' `lower()` lowers, A to Z only, so a name with É is found by
/// its own spelling in any case of A to Z; and PostgreSQL's `lower()`
/// follows the server's locale, as the chapter says.
#[tokio::test]
async fn the_search_finds_a_name_beyond_a_to_z_on_both_databases() {
    use diesel::prelude::*;
    for database in TestDatabase::each() {
        let location = db::location(Some(&database.setting())).unwrap();
        let mut conn = migrate::connect(&location).unwrap();
        migrate::upgrade(&mut conn, migrate::embedded(&location), None).unwrap();
        step07_postgres::models::create_user(
            &mut conn,
            "Émile",
            &step07_postgres::models::PasswordHash::of("pw").unwrap(),
        )
        .unwrap();
        let app = create_app(Config::testing(location.clone())).unwrap();
        for search in ["%C3%89mile", "%C3%89MILE", "mile"] {
            let (status, json) = send(&app, get(&format!("/api/users?search={search}"))).await;
            assert_eq!(status, StatusCode::OK);
            assert!(
                json.contains("Émile"),
                "{}: {search}: {json}",
                database.backend()
            );
        }
        if database.is_postgres() {
            #[derive(QueryableByName)]
            struct Lowered {
                #[diesel(sql_type = diesel::sql_types::Text)]
                ctype: String,
                #[diesel(sql_type = diesel::sql_types::Text)]
                lowered: String,
            }
            let sql = "SELECT current_setting('lc_ctype') AS ctype, lower('ÉMILE') AS lowered";
            let found: Lowered = diesel::sql_query(sql).get_result(&mut conn).unwrap();
            let expected = match found.ctype.as_str() {
                "C" | "POSIX" => "Émile",
                _ => "émile",
            };
            assert_eq!(found.lowered, expected, "lc_ctype {}", found.ctype);
        }
    }
}

/// In production the app's role may read and write rows, not change the
/// schema: `db upgrade` runs as the owner, `serve` as the app. Serving then
/// needs no CREATE right anywhere: its start-up checks only read.
#[test]
fn serving_needs_only_the_rights_the_app_uses() {
    let Some(database) = testkit::backends::PgDatabase::create() else {
        return;
    };
    let sandbox = sandbox();
    let owner = [("DATABASE_URL", database.url())];
    assert!(sandbox.run_with_env(&["db", "upgrade"], &owner).success);
    let app_url = database.app_role_url();
    let env = [("DATABASE_URL", app_url.as_str()), ("RUST_LOG", "warn")];
    let served = testkit::Served::start(&sandbox, &[], &env);
    let mut client = testkit::HttpClient::connect(served.address()).unwrap();
    let user = r#"{"username":"ann","password":"pw"}"#;
    assert_eq!(
        client.send("POST", "/api/users", Some(user)).unwrap().0,
        201
    );
    assert_eq!(client.send("GET", "/api/posts", None).unwrap().0, 200);
    let stopped = served.stop();
    assert!(stopped.success, "{}", stopped.stderr);
    // The role really has no right to change the schema.
    let upgrade = sandbox.run_with_env(
        &["db", "downgrade", "--no-backup"],
        &[("DATABASE_URL", &app_url)],
    );
    assert!(!upgrade.success, "{}", upgrade.stdout);
}

/// One name whatever its case, beyond A to Z too, on both databases: the
/// UNIQUE `username_key` holds the name lowercased by Unicode's rules,
/// which neither SQLite's `NOCASE` nor `lower()` under the C locale does.
/// Logging in finds the name however it is capitalised.
#[test]
fn a_name_in_another_case_is_taken_on_both_databases() {
    use step07_postgres::models::{create_user, unique, user_by_username, user_for_login};
    for database in TestDatabase::each() {
        let location = db::location(Some(&database.setting())).unwrap();
        let mut conn = migrate::connect(&location).unwrap();
        migrate::upgrade(&mut conn, migrate::embedded(&location), None).unwrap();
        for (name, twin) in [
            ("ann", "ANN"),
            ("\u{e9}mile", "\u{c9}MILE"),
            ("\u{f8}ystein", "\u{d8}ystein"),
        ] {
            create_user(
                &mut conn,
                name,
                &step07_postgres::models::PasswordHash::of("pw").unwrap(),
            )
            .unwrap();
            let taken = unique(create_user(
                &mut conn,
                twin,
                &step07_postgres::models::PasswordHash::of("pw").unwrap(),
            ))
            .unwrap();
            assert!(
                taken.is_none(),
                "{}: {twin} beside {name}",
                database.backend()
            );
            let found = user_for_login(&mut conn, twin)
                .unwrap()
                .map(|(user, _)| user.username);
            assert_eq!(found.as_deref(), Some(name), "{}", database.backend());
            let author = user_by_username(&mut conn, twin)
                .unwrap()
                .map(|user| user.username);
            assert_eq!(author.as_deref(), Some(name), "{}", database.backend());
        }
    }
}

/// `db vacuum` on PostgreSQL is `VACUUM ANALYZE`; it says what it did, with
/// the database named but never its password.
#[test]
fn vacuum_runs_on_postgres_too() {
    let Some(database) = testkit::backends::PgDatabase::create() else {
        return;
    };
    let sandbox = sandbox();
    let env = [("DATABASE_URL", database.url())];
    assert!(sandbox.run_with_env(&["db", "upgrade"], &env).success);
    let run = sandbox.run_with_env(&["db", "vacuum"], &env);
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("Vacuumed postgres://tutorial@"),
        "{}",
        run.stdout
    );
    let said = &run.stdout;
    assert!(
        said.ends_with(" bytes freed.\n") || said.contains("; it grew by "),
        "{said}"
    );
    let password = database
        .url()
        .split(':')
        .nth(2)
        .unwrap()
        .split('@')
        .next()
        .unwrap();
    assert!(
        !run.stdout.contains(&format!(":{password}@")),
        "{}",
        run.stdout
    );
}

/// `db print-schema` prints step 7's own `schema.rs` (its tables, columns
/// and types) from either database, each read from its own catalogue.
#[test]
fn print_schema_prints_the_schema_rs_of_either_database() {
    use testkit::migrations::declared_columns;
    for database in TestDatabase::each() {
        let location = db::location(Some(&database.setting())).unwrap();
        let mut conn = migrate::connect(&location).unwrap();
        migrate::upgrade(&mut conn, migrate::embedded(&location), None).unwrap();
        let setting = database.setting();
        let printed =
            sandbox().run_with_env(&["db", "print-schema"], &[("DATABASE_URL", &setting)]);
        assert!(
            printed.success,
            "{}: {}",
            database.backend(),
            printed.stderr
        );
        let ours = include_str!("../src/schema.rs");
        assert_eq!(
            declared_columns(&printed.stdout),
            declared_columns(ours),
            "{}",
            database.backend()
        );
        assert!(
            printed
                .stdout
                .contains("diesel::joinable!(post -> user (author_id));")
        );
    }
}
