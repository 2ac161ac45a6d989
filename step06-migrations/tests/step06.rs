//! step06-migrations: upgrades and downgrades that keep every row, a failed
//! migration that leaves nothing behind, backups, stamp on a step 5
//! database, drift found by `db check`, and `serve` refusing a database that
//! is behind.

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::FileBasedMigrations;
use step06_migrations::migrate::{self, MIGRATIONS};
use step06_migrations::{backup, drift};
use tempfile::TempDir;
use testkit::migrations::{self, WITH_BIO, WITHOUT_BIO, edited, with_the_sources};
use testkit::{Sandbox, Served};

const FIRST: &str = "20260101000001";
const LAST: &str = "20260104000001";
const VERSIONS: [&str; 4] = [FIRST, "20260102000001", "20260103000001", LAST];

fn sandbox() -> Sandbox {
    Sandbox::new(env!("CARGO_BIN_EXE_step06-migrations"))
}

/// A sandbox whose default database is at the first migration, holding one
/// user, so that the next upgrade has rows to back up.
fn sandbox_at_first_with_a_user() -> Sandbox {
    let sandbox = sandbox();
    assert!(sandbox.run(&["db", "upgrade", "--to", FIRST]).success);
    let mut conn = migrate::connect(&sandbox.path().join("instance/step06.sqlite")).unwrap();
    diesel::sql_query(
        "INSERT INTO user (username, username_key, password) VALUES ('ann', 'ann', 'h')",
    )
    .execute(&mut conn)
    .unwrap();
    sandbox
}

/// A database in a folder the test owns, migrated to `version`, with two
/// users and three posts written with the first migration's columns.
fn database_at(version: &str) -> (TempDir, SqliteConnection) {
    let dir = TempDir::new().unwrap();
    let mut conn = migrate::connect(&dir.path().join("blog.sqlite")).unwrap();
    migrate::upgrade(&mut conn, &MIGRATIONS, Some(FIRST)).unwrap();
    diesel::sql_query(
        "INSERT INTO user (username, username_key, password) VALUES ('ann', 'ann', 'hash-a'), ('bo', 'bo', 'hash-b');
         ",
    )
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query(
        "INSERT INTO post (author_id, created, title, body) VALUES
            (1, '2024-03-05 14:07:30', 'Hello World', 'one'),
            (1, '2024-03-06 09:00:00', 'Again', 'two'),
            (2, '2024-03-07 18:30:00', 'Bo here', 'three')",
    )
    .execute(&mut conn)
    .unwrap();
    migrate::upgrade(&mut conn, &MIGRATIONS, Some(version)).unwrap();
    (dir, conn)
}

/// Everything in the database as text: the schema SQLite keeps, and every
/// row of both tables as JSON, to compare before with after.
fn everything(conn: &mut SqliteConnection) -> String {
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
    diesel::sql_query(sql)
        .get_result::<Dump>(conn)
        .unwrap()
        .dump
}

fn strings(conn: &mut SqliteConnection, sql: &str) -> Vec<String> {
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
    let dir = TempDir::new().unwrap();
    let mut conn = migrate::connect(&dir.path().join("new.sqlite")).unwrap();
    assert_eq!(migrate::current(&mut conn).unwrap(), None);
    let applied = migrate::upgrade(&mut conn, &MIGRATIONS, None).unwrap();
    assert_eq!(applied.len(), 4);
    assert_eq!(migrate::current(&mut conn).unwrap().as_deref(), Some(LAST));
    assert_eq!(
        migrate::tables(&mut conn).unwrap(),
        ["post", "session", "user"]
    );
    assert!(
        drift::check(&mut conn, &MIGRATIONS, step06_migrations::draft::SCHEMA_RS)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn upgrade_with_data_keeps_every_value_and_fills_the_new_columns() {
    let (_dir, mut first) = database_at(FIRST);
    let before = everything(&mut first);
    let (_dir2, mut last) = database_at(LAST);
    // The columns the first migration made hold the same values...
    let rows_before: Vec<&str> = before.lines().rev().take(2).collect();
    let rows_after: Vec<String> = everything(&mut last)
        .lines()
        .rev()
        .take(2)
        .map(str::to_owned)
        .collect();
    assert_eq!(rows_before, rows_after);
    // ... and the new ones are filled as designed.
    let filled = strings(
        &mut last,
        "SELECT published || ' ' || slug AS value FROM post ORDER BY id",
    );
    assert_eq!(filled, ["1 hello-world-1", "1 again-2", "1 bo-here-3"]);
}

#[test]
fn each_downgrade_with_data_returns_to_the_version_before() {
    for pair in VERSIONS.windows(2) {
        let (_dir, mut before) = database_at(pair[0]);
        let expected = everything(&mut before);
        let (_dir2, mut conn) = database_at(pair[1]);
        let reverted = migrate::downgrade(&mut conn, &MIGRATIONS, 1).unwrap();
        assert_eq!(reverted.len(), 1);
        assert_eq!(
            migrate::current(&mut conn).unwrap().as_deref(),
            Some(pair[0])
        );
        assert_eq!(
            everything(&mut conn),
            expected,
            "downgrade from {}",
            pair[1]
        );
    }
}

#[test]
fn up_down_up_is_a_straight_upgrade() {
    let (_dir, mut straight) = database_at(LAST);
    let (_dir2, mut round_trip) = database_at(LAST);
    migrate::downgrade(&mut round_trip, &MIGRATIONS, 3).unwrap();
    migrate::upgrade(&mut round_trip, &MIGRATIONS, None).unwrap();
    assert_eq!(everything(&mut round_trip), everything(&mut straight));
    let full = |conn: &mut SqliteConnection| {
        strings(
            conn,
            "SELECT json_group_array(json_object('slug', slug, 'published', published)) AS value FROM post",
        )
    };
    assert_eq!(full(&mut round_trip), full(&mut straight));
}

#[test]
fn a_migration_that_fails_halfway_leaves_the_database_as_it_was() {
    let (_dir, mut conn) = database_at(FIRST);
    let before = everything(&mut conn);
    let fixture = FileBasedMigrations::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/broken"
    ))
    .unwrap();
    let err = migrate::upgrade(&mut conn, &fixture, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Failed to run 2026-01-03-000001_broken with: no such column: no_such_column; nothing was changed"
    );
    assert_eq!(
        everything(&mut conn),
        before,
        "a failed upgrade left something behind"
    );
    assert_eq!(
        migrate::current(&mut conn).unwrap().as_deref(),
        Some(FIRST),
        "migration 2 was kept"
    );
}

#[test]
fn a_row_the_new_constraint_refuses_stops_the_rebuild_whole() {
    let (_dir, mut conn) = database_at("20260103000001");
    diesel::sql_query(
        "INSERT INTO post (author_id, title, body) VALUES (1, '   ', 'a blank title')",
    )
    .execute(&mut conn)
    .unwrap();
    let before = everything(&mut conn);
    let err = migrate::upgrade(&mut conn, &MIGRATIONS, None).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "Failed to run 2026-01-04-000001_post_title_check with: CHECK constraint failed"
        ),
        "{err}"
    );
    assert_eq!(everything(&mut conn), before);
}

#[test]
fn the_backup_holds_the_same_rows() {
    let (dir, mut conn) = database_at(LAST);
    let copy = backup::make(&mut conn, &dir.path().join("blog.sqlite"))
        .unwrap()
        .unwrap();
    assert_eq!(
        copy.file_name().unwrap(),
        "blog.sqlite.backup-20260104000001"
    );
    let mut backup = migrate::connect(&copy).unwrap();
    assert_eq!(everything(&mut backup), everything(&mut conn));

    let empty = TempDir::new().unwrap();
    let mut fresh = migrate::connect(&empty.path().join("e.sqlite")).unwrap();
    migrate::upgrade(&mut fresh, &MIGRATIONS, None).unwrap();
    assert_eq!(
        backup::make(&mut fresh, &empty.path().join("e.sqlite")).unwrap(),
        None,
        "nothing to back up"
    );
}

#[test]
fn upgrade_on_the_command_line_backs_up_first_unless_told_not_to() {
    let sandbox = sandbox_at_first_with_a_user();
    let run = sandbox.run(&["db", "upgrade", "--to", "20260102"]);
    assert_eq!(
        run.stdout,
        "Backed up instance/step06.sqlite to instance/step06.sqlite.backup-20260101000001\nApplied 2026-01-02-000001_post_published\n"
    );
    let run = sandbox.run(&["db", "upgrade", "--no-backup"]);
    assert!(!run.stdout.contains("Backed up"), "{}", run.stdout);
}

#[test]
fn a_step5_database_is_adopted_with_stamp_then_upgraded() {
    let sandbox = sandbox();
    let path = sandbox.path().join("instance/step06.sqlite");
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
    let mut conn = migrate::connect(&path).unwrap();
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
        "--database instance/step05.sqlite db sql \"INSERT INTO user (username, username_key, password) VALUES ('ann', 'ann', 'not-a-hash')\"",
        "--database instance/step05.sqlite db sql \"INSERT INTO post (author_id, title, body) VALUES (1, 'Hello World', 'written by step 5')\"",
        "--database instance/step05.sqlite db history",
        "--database instance/step05.sqlite db upgrade",
        "--database instance/step05.sqlite db stamp 20260101000001",
        "--database instance/step05.sqlite db upgrade",
        "--database instance/step05.sqlite db check",
        "--database instance/step05.sqlite db sql \"SELECT id, author_id, title, published, slug FROM post\"",
    ]);
    insta::assert_snapshot!("adopt_step5", transcript);
    // The refused upgrade made no backup; the one that ran made one, named
    // after the version the stamp recorded.
    let mut backups: Vec<String> = std::fs::read_dir(sandbox.path().join("instance"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.contains(".backup-"))
        .collect();
    backups.sort();
    assert_eq!(backups, ["step05.sqlite.backup-20260101000001"]);
}

#[test]
fn check_reports_no_drift_on_a_clean_database_and_the_exact_drift_otherwise() {
    let sandbox = sandbox();
    assert!(sandbox.run(&["db", "upgrade"]).success);
    let clean = sandbox.run(&["db", "check"]);
    assert!(clean.success);
    let mut conn = migrate::connect(&sandbox.path().join("instance/step06.sqlite")).unwrap();
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
    let sandbox = sandbox();
    assert!(sandbox.run(&["db", "upgrade", "--to", FIRST]).success);
    let run = sandbox.run(&["serve", "--port", "0"]);
    assert!(!run.success);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    assert_eq!(
        errors,
        [
            "error: database instance/step06.sqlite is 3 migration(s) behind this program; run `db upgrade` (or `serve --migrate`)"
        ]
    );
    let key = sandbox.path().join("instance/step06-secret-key");
    assert!(!key.exists(), "a refused database leaves no key behind");
    let refused = sandbox.transcript(&["serve"]);
    let served = Served::start(&sandbox, &["--migrate"], &[]);
    assert!(
        served
            .first_line
            .starts_with("Applied 2026-01-02-000001_post_published"),
        "{}",
        served.first_line
    );
    // The test serves on a free port; the book shows the default one.
    let port = served.address().rsplit(':').next().unwrap().to_owned();
    let started = served.first_line.replace(&format!(":{port}/"), ":5000/");
    let shown =
        format!("{refused}$ cargo run -q -p step06-migrations -- serve --migrate\n{started}");
    insta::assert_snapshot!("serving", shown);
    assert!(served.stop().success);
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
    let path = sandbox.path().join("instance/step06.sqlite");
    let mut conn = migrate::connect(&path).unwrap();
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
    let journal = sandbox.path().join("instance/step06.sqlite-journal");
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

    let mut conn = migrate::connect(&path).unwrap();
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
    let backup = "Backed up instance/step06.sqlite to instance/step06.sqlite.backup-20260101000001";
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
    let (_dir, mut conn) = database_at("20260103000001");
    diesel::sql_query("DELETE FROM post WHERE id = 3")
        .execute(&mut conn)
        .unwrap();
    let counter = |conn: &mut SqliteConnection| {
        strings(
            conn,
            "SELECT CAST(seq AS TEXT) AS value FROM sqlite_sequence WHERE name = 'post'",
        )
    };
    assert_eq!(counter(&mut conn), ["3"]);
    migrate::upgrade(&mut conn, &MIGRATIONS, None).unwrap();
    assert_eq!(counter(&mut conn), ["3"], "up.sql lost the counter");
    migrate::downgrade(&mut conn, &MIGRATIONS, 1).unwrap();
    assert_eq!(counter(&mut conn), ["3"], "down.sql lost the counter");
}

#[test]
fn a_row_that_pointed_nowhere_before_does_not_block_an_upgrade_but_check_reports_it() {
    let (_dir, mut conn) = database_at("20260102000001");
    diesel::sql_query("INSERT INTO post (author_id, title, body) VALUES (99, 'Orphan', '')")
        .execute(&mut conn)
        .unwrap();
    assert_eq!(
        migrate::upgrade(&mut conn, &MIGRATIONS, None)
            .unwrap()
            .len(),
        2
    );
    let drift = drift::check(&mut conn, &MIGRATIONS, step06_migrations::draft::SCHEMA_RS).unwrap();
    let orphan =
        "data: 1 row(s) point at rows that do not exist (PRAGMA foreign_key_check lists them)";
    assert_eq!(drift, [orphan]);
}

#[test]
fn check_sees_changed_definitions_triggers_and_views() {
    let (dir, mut conn) = database_at(LAST);
    use diesel::connection::SimpleConnection;
    conn.batch_execute(
        "CREATE TRIGGER wipe AFTER INSERT ON user BEGIN DELETE FROM post; END;
         CREATE VIEW titles AS SELECT title FROM post;
         PRAGMA writable_schema = ON;
         UPDATE sqlite_schema SET sql = replace(sql, 'CHECK (trim(title) <> '''')', 'CHECK (1)')
             WHERE name = 'post';
         PRAGMA writable_schema = OFF;",
    )
    .unwrap();
    drop(conn);
    let mut conn = migrate::connect(&dir.path().join("blog.sqlite")).unwrap();
    let mut drift =
        drift::check(&mut conn, &MIGRATIONS, step06_migrations::draft::SCHEMA_RS).unwrap();
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
        "error: there is no database at instance/step06.sqlite yet: `db upgrade` creates it\n";
    assert!(run.stderr.ends_with(no_file), "{}", run.stderr);

    sandbox.write("instance/step06.sqlite", ""); // an empty database
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
    let (dir, _conn) = database_at(LAST);
    let config = step06_migrations::Config::testing(dir.path().join("blog.sqlite"));
    let app = step06_migrations::create_app(config).unwrap();
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

/// The checks steps 6 and 7 share (in testkit): a database migrated
/// under a running server is answered 503 and logged, with what to do.
#[test]
fn a_database_migrated_under_a_running_server_answers_503() {
    let file = "instance/step06.sqlite";
    testkit::migrations::migrated_under_a_running_server_answers_503(&sandbox(), file);
}

/// A bogus version quoted short, a file that is not a database called that,
/// and an unknown applied version that names `db stamp` as the way out.
#[test]
fn bad_versions_and_files_are_named_with_the_way_out() {
    let file = "instance/step06.sqlite";
    testkit::migrations::bad_versions_and_files_are_named_with_the_way_out(&sandbox(), file, LAST);
}

/// A backup is as private as the database, or more, and never written
/// through a link someone planted at its name.
#[test]
fn backups_are_private_and_follow_no_link() {
    let file = "instance/step06.sqlite";
    testkit::migrations::backups_are_private_and_follow_no_link(&sandbox(), file, FIRST);
}

/// `db vacuum` gives back the space deleted rows left, and says how much.
#[test]
fn vacuum_frees_the_space_deleted_rows_left() {
    let file = "instance/step06.sqlite";
    testkit::migrations::vacuum_frees_the_space_deleted_rows_left(&sandbox(), file);
}

/// A damaged file is reported by `db check` and refused by `serve`.
#[test]
fn a_damaged_file_is_reported_and_not_served() {
    let file = "instance/step06.sqlite";
    testkit::migrations::a_damaged_file_is_reported_and_not_served(&sandbox(), file);
}

/// A backup cut short by a kill or a full disk is never under a backup's
/// name, and nothing is migrated.
#[test]
fn a_backup_cut_short_is_never_taken_for_one() {
    let file = "instance/step06.sqlite";
    testkit::migrations::a_backup_cut_short_is_never_taken_for_one(&sandbox(), file, FIRST);
}

/// `db upgrade` on a database another program keeps locked says so, and
/// leaves no backup behind.
#[test]
fn a_busy_database_is_said_so_and_leaves_no_backup() {
    let file = "instance/step06.sqlite";
    testkit::migrations::a_busy_database_is_said_so_and_leaves_no_backup(&sandbox(), file, FIRST);
}

/// `db print-schema` on an up-to-date database prints the tables, columns
/// and types of step 6's own `schema.rs`, and its joins; a column that may
/// be NULL is `Nullable`, and a type it does not know is said so.
#[test]
fn print_schema_prints_the_schema_rs_of_the_database() {
    let sandbox = sandbox();
    assert!(sandbox.run(&["db", "upgrade"]).success);
    let printed = sandbox.run(&["db", "print-schema"]);
    assert!(printed.success, "{}", printed.stderr);
    let ours = include_str!("../src/schema.rs");
    use testkit::migrations::declared_columns;
    assert_eq!(declared_columns(&printed.stdout), declared_columns(ours));
    for join in [
        "diesel::joinable!(post -> user (author_id));",
        "diesel::joinable!(session -> user (user_id));",
    ] {
        assert!(printed.stdout.contains(join), "{join}");
    }
    insta::assert_snapshot!("print_schema", sandbox.transcript(&["db print-schema"]));
    let path = sandbox.path().join("instance/step06.sqlite");
    let mut conn = migrate::connect(&path).unwrap();
    use diesel::connection::SimpleConnection;
    conn.batch_execute(
        "CREATE TABLE note (id INTEGER PRIMARY KEY, said TEXT, shape GEOMETRY NOT NULL)",
    )
    .unwrap();
    let printed = sandbox.run(&["db", "print-schema"]).stdout;
    assert!(
        printed.contains("        said -> Nullable<Text>,\n"),
        "{printed}"
    );
    assert!(
        printed.contains("        shape -> Text, // SQL type GEOMETRY: check it\n"),
        "{printed}"
    );
}

/// Step 6's migrations and `draft` in a folder of their own.
fn with_the_draft(draft: &step06_migrations::draft::Draft) -> (TempDir, FileBasedMigrations) {
    let dir = migrations::migrations_with("step06-migrations/migrations", &draft.up, &draft.down);
    let source = FileBasedMigrations::from_path(dir.path()).unwrap();
    (dir, source)
}

#[test]
fn each_kind_of_draft_upgrades_and_downgrades_a_database_with_rows() {
    use step06_migrations::draft::{self, SCHEMA_RS};
    let session = &SCHEMA_RS[SCHEMA_RS.find("diesel::table! {\n    /// Who").unwrap()
        ..SCHEMA_RS.find("diesel::joinable!").unwrap()];
    let tag = "diesel::table! {\n    tag (id) {\n        id -> BigInt,\n        name -> Text,\n    }\n}\n";
    let changes = [
        ("add column user.bio", WITHOUT_BIO, WITH_BIO),
        (
            "post.slug allow NULL",
            "slug -> Text,",
            "slug -> Nullable<Text>,",
        ),
        (
            "drop column post.published",
            "        published -> Bool,\n",
            "",
        ),
        (
            "add table tag",
            "diesel::joinable!(post",
            &format!("{tag}diesel::joinable!(post"),
        ),
        ("drop table session", session, ""),
    ];
    for (change, from, to) in changes {
        let (_dir, mut conn) = database_at(LAST);
        let titles = "SELECT title || ' by ' || author_id AS value FROM post ORDER BY id";
        let before = strings(&mut conn, titles);
        let schema_rs = edited(SCHEMA_RS, from, to);
        let draft = draft::draft(&mut conn, &MIGRATIONS, &schema_rs, change)
            .unwrap()
            .expect("a draft");
        assert_eq!(draft.changes, [change]);
        let (_folder, source) = with_the_draft(&draft);
        migrate::upgrade(&mut conn, &source, None).unwrap();
        let drift = drift::check(&mut conn, &source, &schema_rs).unwrap();
        assert!(drift.is_empty(), "{change}: {drift:?}");
        assert_eq!(strings(&mut conn, titles), before, "{change}");
        migrate::downgrade(&mut conn, &source, 1).unwrap();
        let drift = drift::check(&mut conn, &MIGRATIONS, SCHEMA_RS).unwrap();
        assert!(drift.is_empty(), "{change}, reverted: {drift:?}");
        assert_eq!(strings(&mut conn, titles), before, "{change}, reverted");
    }
}

#[test]
fn a_rebuilding_draft_keeps_the_id_counter() {
    use step06_migrations::draft::{self, SCHEMA_RS};
    let (_dir, mut conn) = database_at(LAST);
    diesel::sql_query("DELETE FROM post WHERE id = 3")
        .execute(&mut conn)
        .unwrap();
    let schema_rs = edited(SCHEMA_RS, "slug -> Text,", "slug -> Nullable<Text>,");
    let draft = draft::draft(&mut conn, &MIGRATIONS, &schema_rs, "slug").unwrap();
    let (_folder, source) = with_the_draft(&draft.unwrap());
    migrate::upgrade(&mut conn, &source, None).unwrap();
    diesel::sql_query("INSERT INTO post (author_id, title, body) VALUES (1, 'New', 'x')")
        .execute(&mut conn)
        .unwrap();
    let ids = strings(
        &mut conn,
        "SELECT CAST(id AS TEXT) AS value FROM post ORDER BY id",
    );
    assert_eq!(ids, ["1", "2", "4"]);
}

#[test]
fn the_sql_shell_as_the_book_shows_it() {
    let sandbox = sandbox();
    let transcript = sandbox.transcript(&[
        "db upgrade --to 20260103",
        "db sql \"INSERT INTO user (username, username_key, password) VALUES ('ann', 'ann', 'not-a-hash')\"",
        "db sql \"INSERT INTO post (author_id, title, body) VALUES (1, ' ', 'blank')\"",
        "db upgrade",
        "db sql \"SELECT id, author_id, title, published FROM post\"",
        "db sql \"UPDATE post SET title = 'Fixed' WHERE title = ' '\"",
        "db upgrade",
        "db sql \"SELECT count(*) AS posts FROM post; DELETE FROM post\"",
    ]);
    insta::assert_snapshot!("sql_shell", transcript);
    let mut conn = migrate::connect(&sandbox.path().join("instance/step06.sqlite")).unwrap();
    let titles = strings(&mut conn, "SELECT title AS value FROM post");
    assert_eq!(titles, ["Fixed"], "the refused statement deleted nothing");
}

#[test]
fn two_migrations_made_in_one_second_get_versions_of_their_own() {
    let sandbox = sandbox();
    // Versions for now and the next seconds are taken already.
    let now = chrono::Utc::now();
    let taken: Vec<String> = (0..3)
        .map(|s| {
            (now + chrono::Duration::seconds(s))
                .format("%Y-%m-%d-%H%M%S")
                .to_string()
        })
        .collect();
    for version in &taken {
        sandbox.write(&format!("migrations/{version}_taken/up.sql"), "-- taken");
    }
    let run = sandbox.run(&["db", "new", "mine", "--dir", "migrations"]);
    assert!(run.success, "{}", run.stderr);
    let mine: Vec<String> = std::fs::read_dir(sandbox.path().join("migrations"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with("_mine"))
        .collect();
    assert_eq!(mine.len(), 1);
    let version = &mine[0][..17];
    assert!(!taken.iter().any(|t| t == version), "{version} is taken");
}

#[test]
fn a_drafted_table_with_a_text_key_refuses_a_null_key() {
    use step06_migrations::draft::{self, SCHEMA_RS};
    let (_dir, mut conn) = database_at(LAST);
    let tag = "diesel::table! {\n    tag (code) {\n        code -> Text,\n    }\n}\n";
    let schema_rs = format!("{SCHEMA_RS}{tag}");
    let drafted = draft::draft(&mut conn, &MIGRATIONS, &schema_rs, "tags").unwrap();
    let (_folder, source) = with_the_draft(&drafted.expect("a draft"));
    migrate::upgrade(&mut conn, &source, None).unwrap();
    let refused = diesel::sql_query("INSERT INTO tag (code) VALUES (NULL)").execute(&mut conn);
    assert!(refused.is_err(), "a NULL key was taken");
}

#[test]
fn a_draft_is_refused_while_a_version_it_does_not_know_is_applied() {
    let sandbox = with_the_sources(sandbox, "step06-migrations");
    assert!(sandbox.run(&["db", "upgrade"]).success);
    let mut conn = migrate::connect(&sandbox.path().join("instance/step06.sqlite")).unwrap();
    diesel::sql_query("INSERT INTO __diesel_schema_migrations (version) VALUES ('20991231000000')")
        .execute(&mut conn)
        .unwrap();
    let run = sandbox.run(&["db", "migrate", "-m", "ahead"]);
    assert!(!run.success);
    assert!(run.stderr.contains("20991231000000"), "{}", run.stderr);
    let folder = sandbox.path().join("step06-migrations/migrations");
    assert_eq!(std::fs::read_dir(folder).unwrap().count(), 4);
}

#[test]
fn the_sql_shell_shows_pragmas_plans_and_odd_values_and_streams_its_rows() {
    let sandbox = sandbox();
    assert!(sandbox.run(&["db", "upgrade"]).success);
    let transcript = sandbox.transcript(&[
        "db sql \"PRAGMA table_info(user)\"",
        "db sql \"PRAGMA user_version = 7\"",
        "db sql \"PRAGMA user_version\"",
        "db sql \"EXPLAIN QUERY PLAN SELECT * FROM post WHERE author_id = 1\"",
        "db sql \"EXPLAIN SELECT 1\"",
        "db sql \"INSERT INTO user (username, username_key, password) VALUES ('ann', 'ann', 'x') RETURNING id\"",
        "db sql \"SELECT 'a' || char(0) || 'b' AS nul, CAST(x'41ff42' AS TEXT) AS not_utf8, char(9) AS tab, char(27) AS esc\"",
    ]);
    insta::assert_snapshot!("sql_shell_odd", transcript);
    // The refused RETURNING wrote nothing.
    let mut conn = migrate::connect(&sandbox.path().join("instance/step06.sqlite")).unwrap();
    assert!(strings(&mut conn, "SELECT username AS value FROM user").is_empty());
    // An endless query is printed as it runs: the reader who has seen
    // enough stops it, and no row waits in memory for the last.
    let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n";
    let (ended_well, stderr) = sandbox.run_into_closed_pipe(&["db", "sql", endless]);
    assert!(ended_well, "{stderr}");
}

#[test]
fn a_downgrade_refused_for_an_unknown_version_leaves_no_backup() {
    let sandbox = sandbox_at_first_with_a_user();
    let mut conn = migrate::connect(&sandbox.path().join("instance/step06.sqlite")).unwrap();
    diesel::sql_query("INSERT INTO __diesel_schema_migrations (version) VALUES ('20991231000000')")
        .execute(&mut conn)
        .unwrap();
    let run = sandbox.run(&["db", "downgrade"]);
    assert!(
        !run.success && run.stderr.contains("20991231000000"),
        "{}",
        run.stderr
    );
    let backups = std::fs::read_dir(sandbox.path().join("instance"))
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            name.to_string_lossy().contains(".backup-")
        })
        .count();
    assert_eq!(backups, 0, "the refused downgrade left a backup");
}

#[test]
fn from_the_model_to_a_migration_as_the_book_shows_it() {
    let transcript = migrations::the_model_to_migration_loop(
        sandbox,
        "step06-migrations",
        "instance/step06.sqlite",
    );
    insta::assert_snapshot!("model_to_migration", transcript);
}

#[test]
fn what_a_draft_cannot_decide_is_refused_in_one_line_and_writes_nothing() {
    let schema_rs = step06_migrations::draft::SCHEMA_RS;
    let mut said = migrations::draft_refusals(sandbox, "step06-migrations", schema_rs);
    let sandbox = with_the_sources(sandbox, "step06-migrations");
    assert!(sandbox.run(&["db", "upgrade", "--to", FIRST]).success);
    let behind = sandbox.run(&["db", "migrate", "-m", "behind"]);
    said.push_str(&format!("a database behind:\n{}", behind.stderr));
    let nothing = sandbox.run(&["db", "upgrade"]);
    assert!(nothing.success);
    let nothing = sandbox.run(&["db", "migrate", "-m", "nothing"]);
    said.push_str(&format!("nothing to do:\n{}", nothing.stdout));
    insta::assert_snapshot!("draft_refusals", said);
}

/// `?before=ID` walks the posts by keyset: each once, in order, not shifted
/// by a post written meanwhile; a bad cursor, or one beside `author`, is a
/// 400 that names it.
#[test]
fn before_walks_every_post_once_by_keyset() {
    let sandbox = sandbox();
    let served = Served::start(&sandbox, &["--migrate"], &[("RUST_LOG", "warn")]);
    testkit::pages::keyset_walks_every_post_once(served.address(), &["before=5&author=walker"]);
}
