//! step07-postgres: upgrades and downgrades that keep every row, a failed
//! migration that leaves nothing behind, backups, stamp on a step 5
//! database, drift found by `db check`, and `serve` refusing a database that
//! is behind.
//!
//! The tests of migrations on data run once on a SQLite file and, when
//! `TEST_POSTGRES_URL` names a server, once more on a PostgreSQL database.

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::{EmbeddedMigrations, FileBasedMigrations};
use step07_postgres::backend::{Conn, Location};
use step07_postgres::backup::{self, Backup};
use step07_postgres::db;
use step07_postgres::drift;
use step07_postgres::migrate::{self, MIGRATIONS};
use tempfile::TempDir;
use testkit::backends::TestDatabase;
use testkit::migrations::{self, WITH_BIO, WITHOUT_BIO, edited};
use testkit::{Sandbox, Served};

const FIRST: &str = "20260101000001";
const LAST: &str = "20260104000001";
const VERSIONS: [&str; 4] = [FIRST, "20260102000001", "20260103000001", LAST];

fn sandbox() -> Sandbox {
    Sandbox::new(env!("CARGO_BIN_EXE_step07-postgres"))
}

/// A sandbox whose default database is at the first migration, holding one
/// user, so that the next upgrade has rows to back up.
fn sandbox_at_first_with_a_user() -> Sandbox {
    let sandbox = sandbox();
    assert!(sandbox.run(&["db", "upgrade", "--to", FIRST]).success);
    let mut conn = connect_to(&sandbox.path().join("instance/step07.sqlite"));
    diesel::sql_query(
        "INSERT INTO user (username, username_key, password) VALUES ('ann', 'ann', 'h')",
    )
    .execute(&mut conn)
    .unwrap();
    sandbox
}

/// A SQLite file at `path`, opened as the `db` commands open it.
fn connect_to(path: &std::path::Path) -> Conn {
    migrate::connect(&Location::Sqlite(path.to_path_buf())).unwrap()
}

/// A database the test owns, migrated to a version, with rows in it.
struct Blog {
    database: TestDatabase,
    location: Location,
    conn: Conn,
}

impl Blog {
    /// One blog per backend, at `version`: on SQLite, and on PostgreSQL
    /// when a server is given.
    fn each_at(version: &str) -> Vec<Blog> {
        let each = TestDatabase::each().into_iter();
        each.map(|database| Blog::at(database, version)).collect()
    }

    /// A blog on SQLite only, at `version`, for what only SQLite shows.
    fn sqlite_at(version: &str) -> Blog {
        Blog::at(TestDatabase::sqlite(), version)
    }

    /// Another blog on the same backend as this one, at `version`.
    fn another_at(&self, version: &str) -> Blog {
        Blog::at(self.database.fresh_like(), version)
    }

    /// The database `database` migrated to `version`, with two users and
    /// three posts written with the first migration's columns.
    fn at(database: TestDatabase, version: &str) -> Blog {
        eprintln!("-- on {}", database.backend()); // shown if the test fails
        let location = db::location(Some(&database.setting())).unwrap();
        let mut conn = migrate::connect(&location).unwrap();
        let migrations = migrate::embedded(&location);
        migrate::upgrade(&mut conn, migrations, Some(FIRST)).unwrap();
        fill(&mut conn);
        migrate::upgrade(&mut conn, migrations, Some(version)).unwrap();
        Blog {
            database,
            location,
            conn,
        }
    }

    fn migrations(&self) -> &'static EmbeddedMigrations {
        migrate::embedded(&self.location)
    }
}

/// Two users and three posts, in SQL both databases read.
fn fill(conn: &mut Conn) {
    diesel::sql_query(
        "INSERT INTO \"user\" (username, username_key, password) VALUES ('ann', 'ann', 'hash-a'), ('bo', 'bo', 'hash-b')",
    )
    .execute(conn)
    .unwrap();
    diesel::sql_query(
        "INSERT INTO post (author_id, created, title, body) VALUES
            (1, '2024-03-05 14:07:30', 'Hello World', 'one'),
            (1, '2024-03-06 09:00:00', 'Again', 'two'),
            (2, '2024-03-07 18:30:00', 'Bo here', 'three')",
    )
    .execute(conn)
    .unwrap();
}

/// Everything in the database as text: the schema the database keeps, and
/// every row of both tables as JSON, to compare before with after.
fn everything(conn: &mut Conn) -> String {
    #[derive(QueryableByName)]
    struct Dump {
        #[diesel(sql_type = Text)]
        dump: String,
    }
    let sql = "SELECT
        (SELECT group_concat(line, '\n') FROM (
            SELECT m.name || ': column ' || p.name || ' ' || p.type || ' ' || p.\"notnull\" || ' ' || coalesce(p.dflt_value, '-') || ' ' || p.pk AS line
                FROM sqlite_schema m, pragma_table_info(m.name) p WHERE m.type = 'table'
            UNION ALL SELECT m.name || ': index ' || i.name || ' ' || i.\"unique\" FROM sqlite_schema m, pragma_index_list(m.name) i WHERE m.type = 'table'
            UNION ALL SELECT m.name || ': foreign key ' || f.\"from\" || ' -> ' || f.\"table\" || '.' || f.\"to\" FROM sqlite_schema m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'
            UNION ALL SELECT name || ': CHECK' FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%CHECK%'
            ORDER BY line))
        || '\n' || coalesce((SELECT json_group_array(json(r)) FROM (SELECT json_object('id', id, 'username', username, 'password', password) AS r FROM user ORDER BY id)), '')
        || '\n' || coalesce((SELECT json_group_array(json(r)) FROM (SELECT json_object('id', id, 'author_id', author_id, 'created', created, 'title', title, 'body', body) AS r FROM post ORDER BY id)), '')
        AS dump";
    let postgres = "SELECT
        (SELECT string_agg(line, E'\\n' ORDER BY line) FROM (
            SELECT table_name || ': column ' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '-') || ' ' || is_identity AS line
                FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> '__diesel_schema_migrations'
            UNION ALL SELECT tablename || ': index ' || indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename <> '__diesel_schema_migrations'
            UNION ALL SELECT conrelid::regclass::text || ': constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
        ) AS lines)
        || E'\\n' || coalesce((SELECT json_agg(json_build_object('id', id, 'username', username, 'password', password) ORDER BY id)::text FROM \"user\"), '')
        || E'\\n' || coalesce((SELECT json_agg(json_build_object('id', id, 'author_id', author_id, 'created', created, 'title', title, 'body', body) ORDER BY id)::text FROM post), '')
        AS dump";
    let sql = match conn {
        Conn::Sqlite(_) => sql,
        Conn::Postgres(_) => postgres,
    };
    diesel::sql_query(sql)
        .get_result::<Dump>(conn)
        .unwrap()
        .dump
}

fn strings(conn: &mut Conn, sql: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Value {
        #[diesel(sql_type = Text)]
        value: String,
    }
    diesel::sql_query(sql)
        .load::<Value>(conn)
        .unwrap()
        .into_iter()
        .map(|v| v.value)
        .collect()
}

#[test]
fn walkthrough_upgrades_downgrades_and_keeps_every_row() {
    let run = sandbox().run(&[]);
    assert!(run.success, "{}", run.stderr);
    insta::assert_snapshot!("walkthrough", run.stdout);
}

#[test]
fn help_lists_the_commands() {
    let sandbox = sandbox();
    insta::assert_snapshot!("help", sandbox.run(&["--help"]).stdout);
    insta::assert_snapshot!("db_help", sandbox.run(&["db", "--help"]).stdout);
}

#[test]
fn the_db_commands_as_the_book_shows_them() {
    let sandbox = sandbox();
    let transcript = sandbox.transcript(&[
        "db current",
        "db upgrade --to 20260102",
        "db history",
        "db upgrade",
        "db upgrade",
        "db current",
        "db check",
        "db downgrade --steps 2",
        "db upgrade --to 2027",
        "db stamp 2026",
    ]);
    insta::assert_snapshot!("db_session", transcript);
}

#[test]
fn upgrade_from_empty_makes_the_latest_schema() {
    for database in TestDatabase::each() {
        eprintln!("-- on {}", database.backend());
        let location = db::location(Some(&database.setting())).unwrap();
        let mut conn = migrate::connect(&location).unwrap();
        let migrations = migrate::embedded(&location);
        assert_eq!(migrate::current(&mut conn).unwrap(), None);
        let applied = migrate::upgrade(&mut conn, migrations, None).unwrap();
        assert_eq!(applied.len(), 4);
        assert_eq!(migrate::current(&mut conn).unwrap().as_deref(), Some(LAST));
        assert_eq!(
            migrate::tables(&mut conn).unwrap(),
            ["post", "session", "user"]
        );
        assert_eq!(
            drift::check(&mut conn, migrations, step07_postgres::draft::SCHEMA_RS).unwrap(),
            Vec::<String>::new()
        );
    }
}

#[test]
fn upgrade_with_data_keeps_every_value_and_fills_the_new_columns() {
    for mut first in Blog::each_at(FIRST) {
        let before = everything(&mut first.conn);
        let mut last = first.another_at(LAST);
        // The columns the first migration made hold the same values...
        let rows_before: Vec<&str> = before.lines().rev().take(2).collect();
        let rows_after: Vec<String> = everything(&mut last.conn)
            .lines()
            .rev()
            .take(2)
            .map(str::to_owned)
            .collect();
        assert_eq!(rows_before, rows_after);
        // ... and the new ones are filled as designed.
        let filled = strings(&mut last.conn, PUBLISHED_AND_SLUG);
        assert_eq!(
            filled,
            ["yes hello-world-1", "yes again-2", "yes bo-here-3"]
        );
    }
}

/// The slug migration follows the app's own rule (`models::slug`) on both
/// databases, for titles beyond A to Z too: PostgreSQL's `lower()` would
/// lower É and Ü, SQLite's and the app's do not.
#[test]
fn the_slug_migration_follows_the_apps_rule_on_both_databases() {
    for mut blog in Blog::each_at("20260102000001") {
        let title = " Über ÉTÉ Straße ";
        diesel::sql_query("INSERT INTO post (author_id, title, body) VALUES (1, $1, 'b')")
            .bind::<Text, _>(title)
            .execute(&mut blog.conn)
            .unwrap();
        let migrations = blog.migrations();
        migrate::upgrade(&mut blog.conn, migrations, Some("20260103000001")).unwrap();
        let slugs = strings(
            &mut blog.conn,
            "SELECT slug AS value FROM post WHERE id = 4",
        );
        assert_eq!(slugs, [step07_postgres::models::slug(title, 4)]);
    }
}

/// On PostgreSQL, `db upgrade`s run at once take turns: one applies the
/// migrations, the others then find nothing to do, and none fails.
#[test]
fn upgrades_run_at_once_take_turns_on_postgres() {
    let postgres = TestDatabase::each()
        .into_iter()
        .filter(TestDatabase::is_postgres);
    for database in postgres {
        let url = database.setting();
        let sandbox = sandbox();
        let runs: Vec<_> = (0..3)
            .map(|_| {
                let mut command = sandbox.command(&["db", "upgrade"]);
                command.env("DATABASE_URL", &url);
                command.stdout(std::process::Stdio::piped());
                command.stderr(std::process::Stdio::piped());
                command.spawn().unwrap()
            })
            .collect();
        let mut applied = 0;
        for run in runs {
            let output = run.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "{stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
            applied += stdout
                .lines()
                .filter(|line| line.starts_with("Applied"))
                .count();
        }
        assert_eq!(applied, 4, "each migration applied exactly once");
    }
}

/// Each post's `published` and `slug`, in SQL both databases read.
const PUBLISHED_AND_SLUG: &str = "SELECT CASE WHEN published THEN 'yes' ELSE 'no' END || ' ' || slug AS value FROM post ORDER BY id";

#[test]
fn each_downgrade_with_data_returns_to_the_version_before() {
    for first in Blog::each_at(FIRST) {
        for pair in VERSIONS.windows(2) {
            let mut before = first.another_at(pair[0]);
            let expected = everything(&mut before.conn);
            let mut blog = first.another_at(pair[1]);
            let migrations = blog.migrations();
            let reverted = migrate::downgrade(&mut blog.conn, migrations, 1).unwrap();
            assert_eq!(reverted.len(), 1);
            assert_eq!(
                migrate::current(&mut blog.conn).unwrap().as_deref(),
                Some(pair[0])
            );
            assert_eq!(
                everything(&mut blog.conn),
                expected,
                "downgrade from {}",
                pair[1]
            );
        }
    }
}

#[test]
fn up_down_up_is_a_straight_upgrade() {
    for mut straight in Blog::each_at(LAST) {
        let mut round_trip = straight.another_at(LAST);
        let migrations = round_trip.migrations();
        migrate::downgrade(&mut round_trip.conn, migrations, 3).unwrap();
        migrate::upgrade(&mut round_trip.conn, migrations, None).unwrap();
        assert_eq!(
            everything(&mut round_trip.conn),
            everything(&mut straight.conn)
        );
        assert_eq!(
            strings(&mut round_trip.conn, PUBLISHED_AND_SLUG),
            strings(&mut straight.conn, PUBLISHED_AND_SLUG)
        );
    }
}

#[test]
fn a_migration_that_fails_halfway_leaves_the_database_as_it_was() {
    for mut blog in Blog::each_at(FIRST) {
        let before = everything(&mut blog.conn);
        let (folder, why) = match blog.location {
            Location::Sqlite(_) => ("broken", "no such column: no_such_column"),
            Location::Postgres(_) => (
                "broken-postgres",
                "column \"no_such_column\" does not exist",
            ),
        };
        let fixture = FileBasedMigrations::from_path(format!(
            "{}/tests/fixtures/{folder}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let err = migrate::upgrade(&mut blog.conn, &fixture, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Failed to run 2026-01-03-000001_broken with: {why}; nothing was changed")
        );
        assert_eq!(
            everything(&mut blog.conn),
            before,
            "a failed upgrade left something behind"
        );
        assert_eq!(
            migrate::current(&mut blog.conn).unwrap().as_deref(),
            Some(FIRST),
            "migration 2 was kept"
        );
    }
}

#[test]
fn a_row_the_new_constraint_refuses_stops_the_rebuild_whole() {
    for mut blog in Blog::each_at("20260103000001") {
        diesel::sql_query(
            "INSERT INTO post (author_id, title, body) VALUES (1, '   ', 'a blank title')",
        )
        .execute(&mut blog.conn)
        .unwrap();
        let before = everything(&mut blog.conn);
        let migrations = blog.migrations();
        let err = migrate::upgrade(&mut blog.conn, migrations, None).unwrap_err();
        let why = match blog.location {
            Location::Sqlite(_) => "CHECK constraint failed",
            Location::Postgres(_) => {
                "check constraint \"post_title_check\" of relation \"post\" is violated by some row"
            }
        };
        let expected = format!("Failed to run 2026-01-04-000001_post_title_check with: {why}");
        assert!(err.to_string().starts_with(&expected), "{err}");
        assert_eq!(everything(&mut blog.conn), before);
    }
}

#[test]
fn the_backup_holds_the_same_rows() {
    let mut blog = Blog::sqlite_at(LAST);
    let Backup::Made(copy) = backup::make(&mut blog.conn, &blog.location).unwrap() else {
        panic!("no backup");
    };
    assert_eq!(
        copy.file_name().unwrap(),
        "test.sqlite.backup-20260104000001"
    );
    let mut backup = connect_to(&copy);
    assert_eq!(everything(&mut backup), everything(&mut blog.conn));

    let empty = TempDir::new().unwrap();
    let location = Location::Sqlite(empty.path().join("e.sqlite"));
    let mut fresh = migrate::connect(&location).unwrap();
    migrate::upgrade(&mut fresh, &MIGRATIONS, None).unwrap();
    assert_eq!(
        backup::make(&mut fresh, &location).unwrap(),
        Backup::Empty,
        "nothing to back up"
    );
}

/// Nothing secret reaches `pg_dump`'s command line, which `ps` shows every
/// user of the machine: a stand-in `pg_dump` records its arguments, and the
/// URL carries a password and an `sslpassword`, which go in `PGPASSWORD`
/// and a private service file (removed afterwards).
#[test]
fn pg_dump_is_given_no_secret_on_its_command_line() {
    use std::os::unix::fs::PermissionsExt;
    let Some(blog) = Blog::each_at(LAST)
        .into_iter()
        .find(|b| b.database.is_postgres())
    else {
        return;
    };
    let sandbox = sandbox();
    let bin = sandbox.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let stand_in = bin.join("pg_dump");
    let script = "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$0.args\"\ncat \"$PGSERVICEFILE\" > \"$0.service\"\necho '-- a stand-in dump'\n";
    std::fs::write(&stand_in, script).unwrap();
    std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
    let url = format!(
        "{}?sslpassword=hunter2&application_name=blog",
        blog.database.setting()
    );
    let password = url
        .split("://")
        .nth(1)
        .unwrap()
        .split('@')
        .next()
        .unwrap()
        .split(':')
        .nth(1)
        .unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let env = [("DATABASE_URL", url.as_str()), ("PATH", path.as_str())];
    let run = sandbox.run_with_env(&["db", "downgrade"], &env);
    assert!(run.success, "{}", run.stderr);
    let args = std::fs::read_to_string(bin.join("pg_dump.args")).unwrap();
    assert!(
        !args.contains("hunter2") && !args.contains(&format!(":{password}@")),
        "{args}"
    );
    let service = std::fs::read_to_string(bin.join("pg_dump.service")).unwrap();
    assert!(service.contains("sslpassword=hunter2\n"), "{service}");
    let instance: Vec<String> = std::fs::read_dir(sandbox.path().join("instance"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        instance.iter().all(|name| !name.contains("pg_service")),
        "{instance:?}"
    );
}

/// On PostgreSQL the backup is `pg_dump`'s SQL, in the instance folder,
/// when `pg_dump` is installed; without it, the backup is skipped, and
/// the command says so.
#[test]
fn a_postgres_backup_is_a_pg_dump_or_a_clear_skip() {
    let Some(blog) = Blog::each_at(LAST)
        .into_iter()
        .find(|b| b.database.is_postgres())
    else {
        return;
    };
    let sandbox = sandbox();
    let url = blog.database.setting();
    let env = [("DATABASE_URL", url.as_str())];
    assert!(sandbox.run_with_env(&["db", "downgrade"], &env).success);
    let name = url.rsplit('/').next().unwrap();
    let dump = sandbox
        .path()
        .join(format!("instance/{name}.backup-20260104000001.sql"));
    let text = std::fs::read_to_string(&dump).expect("pg_dump wrote the backup");
    assert!(
        text.contains("Bo here") && text.contains("CREATE TABLE"),
        "{text}"
    );
    // It holds the password hashes: readable by its owner only.
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dump).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    let no_pg_dump = [("DATABASE_URL", url.as_str()), ("PATH", "/nonexistent")];
    let run = sandbox.run_with_env(&["db", "downgrade"], &no_pg_dump);
    assert!(run.success, "{}", run.stderr);
    let first = run.stdout.lines().next().unwrap_or_default().to_owned();
    assert!(
        first.starts_with("Did not back up postgres://")
            && first
                .ends_with("pg_dump is not on the PATH (it comes with PostgreSQL's client tools)."),
        "{first}"
    );
    assert!(
        !run.stdout.contains(&url) && !run.stderr.contains(&url),
        "the URL was printed whole"
    );
}

#[test]
fn upgrade_on_the_command_line_backs_up_first_unless_told_not_to() {
    let sandbox = sandbox_at_first_with_a_user();
    let run = sandbox.run(&["db", "upgrade", "--to", "20260102"]);
    assert_eq!(
        run.stdout,
        "Backed up instance/step07.sqlite to instance/step07.sqlite.backup-20260101000001\nApplied 2026-01-02-000001_post_published\n"
    );
    let run = sandbox.run(&["db", "upgrade", "--no-backup"]);
    assert!(!run.stdout.contains("Backed up"), "{}", run.stdout);
}

#[test]
fn a_step5_database_is_adopted_with_stamp_then_upgraded() {
    let sandbox = sandbox();
    let path = sandbox.path().join("instance/step07.sqlite");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    use diesel::connection::SimpleConnection;
    conn.batch_execute(include_str!("../../step05-relationships/src/schema.sql"))
        .unwrap();
    conn.batch_execute(
        "INSERT INTO user (username, username_key, password) VALUES ('ann', 'ann', 'h');
        INSERT INTO post (author_id, title, body) VALUES (1, 'Kept', 'through it all');",
    )
    .unwrap();
    drop(conn);

    let refused = sandbox.run(&["db", "upgrade"]);
    assert!(!refused.success, "migration 1 ran on tables that exist");
    assert!(
        refused
            .stderr
            .contains("adopt it with `db stamp 20260101000001`, then `db upgrade`"),
        "{}",
        refused.stderr
    );
    let run = sandbox.run(&["db", "stamp", FIRST]);
    assert_eq!(run.stdout, "Stamped 2026-01-01-000001_blog_schema\n");
    let run = sandbox.run(&["db", "upgrade"]);
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stdout
            .ends_with("Applied 2026-01-04-000001_post_title_check\n"),
        "{}",
        run.stdout
    );
    let mut conn = connect_to(&path);
    assert_eq!(
        strings(&mut conn, "SELECT title || ' ' || slug AS value FROM post"),
        ["Kept kept-1"]
    );
    assert_eq!(
        sandbox.run(&["db", "check"]).stdout,
        "No drift: the database matches the migrations and schema.rs.\n"
    );
}

/// The chapter's session on a real step 5 database: `instance/step05.sqlite`
/// as step 5's `init-db` makes it, from step 5's own `schema.sql`.
#[test]
fn adopting_a_step5_database_as_the_book_shows_it() {
    let sandbox = sandbox();
    let path = sandbox.path().join("instance/step05.sqlite");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    use diesel::connection::SimpleConnection;
    conn.batch_execute(include_str!("../../step05-relationships/src/schema.sql"))
        .unwrap();
    drop(conn);
    let transcript = sandbox.transcript(&[
        "--database instance/step05.sqlite db history",
        "--database instance/step05.sqlite db upgrade",
        "--database instance/step05.sqlite db stamp 20260101000001",
        "--database instance/step05.sqlite db upgrade",
        "--database instance/step05.sqlite db check",
    ]);
    insta::assert_snapshot!("adopt_step5", transcript);
}

#[test]
fn check_reports_no_drift_on_a_clean_database_and_the_exact_drift_otherwise() {
    let sandbox = sandbox();
    assert!(sandbox.run(&["db", "upgrade"]).success);
    let clean = sandbox.run(&["db", "check"]);
    assert!(clean.success);
    let mut conn = connect_to(&sandbox.path().join("instance/step07.sqlite"));
    use diesel::connection::SimpleConnection;
    conn.batch_execute(
        "ALTER TABLE user ADD COLUMN nickname TEXT;
         DROP INDEX post_author_id;
         INSERT INTO __diesel_schema_migrations (version) VALUES ('20991231000000');",
    )
    .unwrap();
    let drifted = sandbox.run(&["db", "check"]);
    assert!(!drifted.success);
    insta::assert_snapshot!(
        "check_drift",
        format!("{}{}", drifted.stdout, drifted.stderr)
    );
}

#[test]
fn serve_refuses_a_database_with_pending_migrations() {
    for database in TestDatabase::each() {
        let setting = database.setting();
        let (shown, env) = match database {
            TestDatabase::Sqlite(_) => ("instance/step07.sqlite".to_owned(), vec![]),
            TestDatabase::Postgres(_) => {
                let location = db::location(Some(&setting)).unwrap();
                (
                    location.to_string(),
                    vec![("DATABASE_URL", setting.as_str())],
                )
            }
        };
        let sandbox = sandbox();
        assert!(
            sandbox
                .run_with_env(&["db", "upgrade", "--to", FIRST], &env)
                .success
        );
        let run = sandbox.run_with_env(&["serve", "--port", "0"], &env);
        assert!(!run.success);
        let errors: Vec<&str> = run
            .stderr
            .lines()
            .filter(|line| line.starts_with("error:"))
            .collect();
        assert_eq!(
            errors,
            [format!(
                "error: database {shown} is 3 migration(s) behind this program; run `db upgrade` (or `serve --migrate`)"
            )]
        );
        let served = Served::start(&sandbox, &["--migrate"], &env);
        assert!(
            served
                .first_line
                .starts_with("Applied 2026-01-02-000001_post_published"),
            "{}",
            served.first_line
        );
        assert!(served.stop().success);
    }
}

#[test]
fn db_new_creates_an_empty_pair_and_refuses_odd_names() {
    let sandbox = sandbox();
    let run = sandbox.run(&["db", "new", "add_views", "--dir", "migrations"]);
    assert!(run.success, "{}", run.stderr);
    let made: Vec<_> = std::fs::read_dir(sandbox.path().join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(made.len(), 1);
    assert!(
        made[0].ends_with("_add_views") && made[0].len() == "2026-01-01-000000_add_views".len(),
        "{made:?}"
    );
    let run = sandbox.run(&["db", "new", "drop table; --", "--dir", "migrations"]);
    assert_eq!(
        run.stderr,
        "error: a migration name is letters, digits and _, not \"drop table; --\"\n"
    );
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let (success, stderr) = sandbox().run_into_closed_pipe(&[]);
    assert!(success, "{stderr}");
    assert_eq!(stderr, "");
}

/// Killed in the middle of `db upgrade` (SIGKILL, while its transaction is
/// open), the database is still at the old version, whole: never in between.
#[test]
fn an_upgrade_killed_midway_leaves_the_old_version_whole() {
    let sandbox = sandbox_at_first_with_a_user();
    let path = sandbox.path().join("instance/step07.sqlite");
    let mut conn = connect_to(&path);
    let before = everything(&mut conn);

    // A reader holds the database, so the upgrade can change it but can
    // never commit: it is certainly midway when it is killed.
    use diesel::connection::SimpleConnection;
    conn.batch_execute("BEGIN; SELECT count(*) FROM user;")
        .unwrap();
    let mut upgrade = sandbox
        .command(&["db", "upgrade", "--no-backup"])
        .spawn()
        .unwrap();
    let journal = sandbox.path().join("instance/step07.sqlite-journal");
    while !journal.exists() && upgrade.try_wait().unwrap().is_none() {
        std::thread::yield_now(); // wait for the upgrade to start writing
    }
    assert!(
        journal.exists(),
        "the upgrade ended before it began writing"
    );
    upgrade.kill().unwrap();
    upgrade.wait().unwrap();
    conn.batch_execute("COMMIT").unwrap();
    drop(conn);

    let mut conn = connect_to(&path);
    assert_eq!(
        strings(
            &mut conn,
            "SELECT integrity_check AS value FROM pragma_integrity_check"
        ),
        ["ok"]
    );
    assert_eq!(migrate::current(&mut conn).unwrap().as_deref(), Some(FIRST));
    assert_eq!(everything(&mut conn), before);
    assert_eq!(
        migrate::upgrade(&mut conn, &MIGRATIONS, None)
            .unwrap()
            .len(),
        3,
        "it upgrades cleanly now"
    );
}

#[test]
fn a_backup_is_made_only_when_there_is_work_and_never_overwritten() {
    let sandbox = sandbox_at_first_with_a_user();
    let first = sandbox.run(&["db", "upgrade"]);
    let backup = "Backed up instance/step07.sqlite to instance/step07.sqlite.backup-20260101000001";
    assert!(
        first.stdout.starts_with(&format!("{backup}\n")),
        "{}",
        first.stdout
    );
    let up_to_date = "Nothing to apply: the database is up to date.\n";
    assert_eq!(sandbox.run(&["db", "upgrade"]).stdout, up_to_date);
    assert_eq!(
        sandbox.run(&["db", "upgrade", "--to", FIRST]).stdout,
        up_to_date
    );
    assert!(sandbox.run(&["db", "downgrade", "--steps", "3"]).success);
    let again = sandbox.run(&["db", "upgrade", "--to", "20260102"]);
    assert!(
        again.stdout.starts_with(&format!("{backup}.2\n")),
        "{}",
        again.stdout
    );
    let past = sandbox.run(&["db", "upgrade", "--to", FIRST]);
    let message = "Nothing to apply up to 20260101000001: the database is past it.\n";
    assert!(past.stdout.ends_with(message), "{}", past.stdout);
}

#[test]
fn the_rebuild_keeps_the_id_counter() {
    let mut blog = Blog::sqlite_at("20260103000001");
    let conn = &mut blog.conn;
    diesel::sql_query("DELETE FROM post WHERE id = 3")
        .execute(conn)
        .unwrap();
    let counter = |conn: &mut Conn| {
        strings(
            conn,
            "SELECT CAST(seq AS TEXT) AS value FROM sqlite_sequence WHERE name = 'post'",
        )
    };
    assert_eq!(counter(conn), ["3"]);
    migrate::upgrade(conn, &MIGRATIONS, None).unwrap();
    assert_eq!(counter(conn), ["3"], "up.sql lost the counter");
    migrate::downgrade(conn, &MIGRATIONS, 1).unwrap();
    assert_eq!(counter(conn), ["3"], "down.sql lost the counter");
}

#[test]
fn a_row_that_pointed_nowhere_before_does_not_block_an_upgrade_but_check_reports_it() {
    let mut blog = Blog::sqlite_at("20260102000001");
    let conn = &mut blog.conn;
    diesel::sql_query("INSERT INTO post (author_id, title, body) VALUES (99, 'Orphan', '')")
        .execute(conn)
        .unwrap();
    assert_eq!(migrate::upgrade(conn, &MIGRATIONS, None).unwrap().len(), 2);
    let drift = drift::check(conn, &MIGRATIONS, step07_postgres::draft::SCHEMA_RS).unwrap();
    let orphan =
        "data: 1 row(s) point at rows that do not exist (PRAGMA foreign_key_check lists them)";
    assert_eq!(drift, [orphan]);
}

#[test]
fn check_sees_changed_definitions_triggers_and_views() {
    let mut blog = Blog::sqlite_at(LAST);
    use diesel::connection::SimpleConnection;
    blog.conn
        .batch_execute(
            "CREATE TRIGGER wipe AFTER INSERT ON user BEGIN DELETE FROM post; END;
         CREATE VIEW titles AS SELECT title FROM post;
         PRAGMA writable_schema = ON;
         UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (trim(title) <> '''')', 'CHECK (1)')
             WHERE name = 'post';
         PRAGMA writable_schema = OFF;",
        )
        .unwrap();
    blog.conn = migrate::connect(&blog.location).unwrap(); // sees the edited schema
    let mut drift = drift::check(
        &mut blog.conn,
        &MIGRATIONS,
        step07_postgres::draft::SCHEMA_RS,
    )
    .unwrap();
    drift.sort();
    let expected = [
        "definition differs: table post",
        "not in the migrations: trigger wipe",
        "not in the migrations: view titles",
    ];
    assert_eq!(drift, expected);
}

#[test]
fn commands_that_only_read_create_nothing_and_serve_refuses_a_wrong_stamp() {
    let sandbox = sandbox();
    let missing = "error: there is no database at typo/x.sqlite yet: `db upgrade` creates it\n";
    for args in [
        &["db", "check"][..],
        &["db", "current"],
        &["db", "history"],
        &["db", "downgrade"],
    ] {
        let mut all = vec!["--database", "typo/x.sqlite"];
        all.extend_from_slice(args);
        assert_eq!(sandbox.run(&all).stderr, missing, "{args:?}");
    }
    assert!(!sandbox.path().join("typo").exists());
    let run = sandbox.run(&["serve", "--port", "0"]);
    let no_file =
        "error: there is no database at instance/step07.sqlite yet: `db upgrade` creates it\n";
    assert!(run.stderr.ends_with(no_file), "{}", run.stderr);

    sandbox.write("instance/step07.sqlite", ""); // an empty database
    assert!(sandbox.run(&["db", "stamp", LAST]).success); // wrong, and serve notices
    let run = sandbox.run(&["serve", "--port", "0"]);
    assert!(!run.success);
    assert!(
        run.stderr
            .contains("differs from what this program expects"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_empty_version_is_named_as_unknown() {
    let sandbox = sandbox();
    let run = sandbox.run(&["db", "upgrade", "--to", ""]);
    assert_eq!(
        run.stderr,
        "error: no migration has the version \"\" (see `db history`)\n"
    );
    let stamp = sandbox.run(&["db", "stamp", "9999"]);
    assert_eq!(
        stamp.stderr,
        "error: no migration has the version \"9999\" (see `db history`)\n"
    );
    assert!(
        !sandbox.path().join("instance").exists(),
        "a refused command made a file"
    );
}

/// The app runs on what the migrations made: flaskr's testing config on an
/// upgraded database, with data that came through every migration.
#[tokio::test]
async fn the_app_serves_a_migrated_database() {
    for blog in Blog::each_at(LAST) {
        let config = step07_postgres::Config::testing(blog.location.clone());
        let app = step07_postgres::create_app(config).unwrap();
        let (status, page) = testkit::send(&app, testkit::get("/")).await;
        assert_eq!(status, axum::http::StatusCode::OK);
        assert!(
            page.contains("Bo here") && page.contains("Hello World"),
            "{page}"
        );
        let (status, json) = testkit::send(&app, testkit::get("/api/posts/1")).await;
        assert_eq!(status, axum::http::StatusCode::OK);
        assert!(
            json.contains(r#""slug":"hello-world-1""#) && json.contains(r#""published":true"#),
            "{json}"
        );
    }
}

/// The checks steps 6 and 7 share (in testkit): a database migrated
/// under a running server is answered 503 and logged, with what to do.
#[test]
fn a_database_migrated_under_a_running_server_answers_503() {
    let file = "instance/step07.sqlite";
    testkit::migrations::migrated_under_a_running_server_answers_503(&sandbox(), file);
}

/// A bogus version quoted short, a file that is not a database called that,
/// and an unknown applied version that names `db stamp` as the way out.
#[test]
fn bad_versions_and_files_are_named_with_the_way_out() {
    let file = "instance/step07.sqlite";
    testkit::migrations::bad_versions_and_files_are_named_with_the_way_out(&sandbox(), file, LAST);
}

/// A backup is as private as the database, or more, and never written
/// through a link someone planted at its name.
#[test]
fn backups_are_private_and_follow_no_link() {
    let file = "instance/step07.sqlite";
    testkit::migrations::backups_are_private_and_follow_no_link(&sandbox(), file, FIRST);
}

/// `db vacuum` gives back the space deleted rows left, and says how much.
#[test]
fn vacuum_frees_the_space_deleted_rows_left() {
    let file = "instance/step07.sqlite";
    testkit::migrations::vacuum_frees_the_space_deleted_rows_left(&sandbox(), file);
}

/// A damaged file is reported by `db check` and refused by `serve`.
#[test]
fn a_damaged_file_is_reported_and_not_served() {
    let file = "instance/step07.sqlite";
    testkit::migrations::a_damaged_file_is_reported_and_not_served(&sandbox(), file);
}

/// A backup cut short by a kill or a full disk is never under a backup's
/// name, and nothing is migrated.
#[test]
fn a_backup_cut_short_is_never_taken_for_one() {
    let file = "instance/step07.sqlite";
    testkit::migrations::a_backup_cut_short_is_never_taken_for_one(&sandbox(), file, FIRST);
}

/// `db upgrade` on a database another program keeps locked says so, and
/// leaves no backup behind.
#[test]
fn a_busy_database_is_said_so_and_leaves_no_backup() {
    let file = "instance/step07.sqlite";
    testkit::migrations::a_busy_database_is_said_so_and_leaves_no_backup(&sandbox(), file, FIRST);
}

/// The blog's migrations for its backend and `draft` in a folder of their own.
fn with_the_draft(
    blog: &Blog,
    draft: &step07_postgres::draft::Draft,
) -> (TempDir, FileBasedMigrations) {
    let folder = match blog.location {
        Location::Sqlite(_) => "step07-postgres/migrations",
        Location::Postgres(_) => "step07-postgres/migrations-postgres",
    };
    let dir = migrations::migrations_with(folder, &draft.up, &draft.down);
    let source = FileBasedMigrations::from_path(dir.path()).unwrap();
    (dir, source)
}

#[test]
fn each_kind_of_draft_upgrades_and_downgrades_a_database_with_rows() {
    use step07_postgres::draft::{self, SCHEMA_RS};
    let session = &SCHEMA_RS[SCHEMA_RS.find("diesel::table! {\n    /// Who").unwrap()
        ..SCHEMA_RS.find("diesel::joinable!").unwrap()];
    let tag = "diesel::table! {\n    tag (id) {\n        id -> BigInt,\n        name -> Text,\n    }\n}\n";
    let tag = format!("{tag}diesel::joinable!(post");
    // PostgreSQL drafts no drop: it keeps no CREATE TABLE for the down, and
    // cannot put a column back in its place.
    let changes = [
        ("add column user.bio", WITHOUT_BIO, WITH_BIO, true),
        (
            "post.slug allow NULL",
            "slug -> Text,",
            "slug -> Nullable<Text>,",
            true,
        ),
        (
            "drop column post.published",
            "        published -> Bool,\n",
            "",
            false,
        ),
        (
            "add table tag",
            "diesel::joinable!(post",
            tag.as_str(),
            true,
        ),
        ("drop table session", session, "", false),
    ];
    for (change, from, to, on_postgres) in changes {
        for mut blog in Blog::each_at(LAST) {
            let titles = "SELECT title || ' by ' || author_id AS value FROM post ORDER BY id";
            let before = strings(&mut blog.conn, titles);
            let schema_rs = edited(SCHEMA_RS, from, to);
            let embedded = blog.migrations();
            let drafted = draft::draft(&mut blog.conn, embedded, &schema_rs, change);
            if blog.database.is_postgres() && !on_postgres {
                let refused = drafted.unwrap_err().to_string();
                assert!(
                    refused.starts_with("cannot draft this migration"),
                    "{refused}"
                );
                continue;
            }
            let draft = drafted.unwrap().expect("a draft");
            assert_eq!(draft.changes, [change]);
            let (_folder, source) = with_the_draft(&blog, &draft);
            migrate::upgrade(&mut blog.conn, &source, None).unwrap();
            let drift = drift::check(&mut blog.conn, &source, &schema_rs).unwrap();
            assert!(drift.is_empty(), "{change}: {drift:?}");
            assert_eq!(strings(&mut blog.conn, titles), before, "{change}");
            migrate::downgrade(&mut blog.conn, &source, 1).unwrap();
            let drift = drift::check(&mut blog.conn, embedded, SCHEMA_RS).unwrap();
            assert!(drift.is_empty(), "{change}, reverted: {drift:?}");
            assert_eq!(
                strings(&mut blog.conn, titles),
                before,
                "{change}, reverted"
            );
        }
    }
}

#[test]
fn the_sql_shell_as_the_book_shows_it_on_either_database() {
    for database in TestDatabase::each() {
        eprintln!("-- on {}", database.backend());
        let sandbox = sandbox();
        // SQLite: the sandbox's default file, as the book runs it; PostgreSQL:
        // the test's own database, through DATABASE_URL.
        let env = match database.is_postgres() {
            true => format!("DATABASE_URL={} ", database.setting()),
            false => String::new(),
        };
        let env_pair = env.trim().split_once('=');
        let run = |args: &[&str]| sandbox.run_with_env(args, &Vec::from_iter(env_pair));
        let lines = [
            "db upgrade --to 20260103",
            "db sql \"INSERT INTO \\\"user\\\" (username, username_key, password) VALUES ('ann', 'ann', 'not-a-hash')\"",
            "db sql \"INSERT INTO post (author_id, title, body) VALUES (1, ' ', 'blank')\"",
            "db upgrade --no-backup",
            "db sql \"SELECT id, author_id, title, published FROM post\"",
            "db sql \"UPDATE post SET title = 'Fixed' WHERE title = ' '\"",
            "db upgrade --no-backup",
            "db sql \"SELECT count(*) AS posts FROM post; DELETE FROM post\"",
        ];
        let lines: Vec<String> = lines.iter().map(|line| format!("{env}{line}")).collect();
        let transcript = sandbox.transcript(&Vec::from_iter(lines.iter().map(String::as_str)));
        let title = run(&["db", "sql", "SELECT title FROM post"]).stdout;
        let fixed = "title\n'Fixed'\n(1 row(s))\n";
        assert_eq!(title, fixed, "the refused DELETE deleted nothing");
        if !database.is_postgres() {
            insta::assert_snapshot!("sql_shell", transcript);
            continue;
        }
        // PostgreSQL quotes every value, numbers too, and words its refusal its way.
        for said in [
            "'1' | '1' | ' ' | 'true'",
            "is violated by some row",
            "Applied 2026-01-04-000001_post_title_check",
            "`db sql` runs one statement",
        ] {
            assert!(transcript.contains(said), "{said}: {transcript}");
        }
    }
}

#[test]
fn from_the_model_to_a_migration_as_the_book_shows_it() {
    let transcript = migrations::the_model_to_migration_loop(
        sandbox,
        "step07-postgres",
        "instance/step07.sqlite",
    );
    insta::assert_snapshot!("model_to_migration", transcript);
}

#[test]
fn what_a_draft_cannot_decide_is_refused_in_one_line_and_writes_nothing() {
    let schema_rs = step07_postgres::draft::SCHEMA_RS;
    let said = migrations::draft_refusals(sandbox, "step07-postgres", schema_rs);
    insta::assert_snapshot!("draft_refusals", said);
}

/// `?before=ID` walks the posts by keyset, on both databases: each once, in
/// order, not shifted by a post written meanwhile; a bad cursor, or one
/// beside `author`, is a 400 that names it.
#[test]
fn before_walks_every_post_once_by_keyset() {
    for database in TestDatabase::each() {
        eprintln!("-- on {}", database.backend());
        let setting = database.setting();
        let env = [("DATABASE_URL", setting.as_str()), ("RUST_LOG", "warn")];
        let sandbox = sandbox();
        let served = Served::start(&sandbox, &["--migrate"], &env);
        let refused = ["before=5&author=walker"];
        testkit::pages::keyset_walks_every_post_once(served.address(), &refused);
    }
}
