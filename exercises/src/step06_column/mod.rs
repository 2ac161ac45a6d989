//! Chapter 6: the migration that adds a column, and its way back.
//!
//! Write migration `2026-01-05-000001_user_bio`: its `up.sql` gives every
//! user a `bio`, `TEXT NOT NULL DEFAULT ''`, and its `down.sql` takes the
//! table back to exactly what it was, keeping the users. The starting
//! point has the up; the down is yours.

use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::FileBasedMigrations;
use step06_migrations::migrate;

use crate::{Check, Exercise};

pub const EXERCISE: Exercise = Exercise {
    name: "step06-column",
    chapter: "step06-migrations.md",
    task: "a migration that adds a column, and its down",
    edit: "exercises/src/step06_column/exercise/",
    run: |version| {
        let answer = version.pick(EXERCISE_SQL, SOLUTION_SQL);
        crate::run_checks(&CHECKS, answer)
    },
};

/// A migration's two files.
#[derive(Debug, Clone, Copy)]
struct Migration {
    up: &'static str,
    down: &'static str,
}

const EXERCISE_SQL: Migration = Migration {
    up: include_str!("exercise/up.sql"),
    down: include_str!("exercise/down.sql"),
};

const SOLUTION_SQL: Migration = Migration {
    up: include_str!("solution/up.sql"),
    down: include_str!("solution/down.sql"),
};

/// The version before the new migration: step 6's last.
const STEP06_HEAD: &str = "2026-01-04-000001";
const NEW_MIGRATION: &str = "2026-01-05-000001_user_bio";

const CHECKS: [Check<Migration>; 3] = [
    (
        "up gives every user an empty bio, keeping them",
        up_adds_bio,
    ),
    (
        "down puts the user table back as it was, keeping the users",
        down_restores,
    ),
    ("up works again after down", up_down_up),
];

/// A database at step 6's last version with one user, the folder of step
/// 6's migrations plus `migration`, and the user table's SQL as it stands.
struct Setup {
    _folder: tempfile::TempDir,
    conn: SqliteConnection,
    source: FileBasedMigrations,
    user_table: String,
}

fn setup(migration: Migration) -> Setup {
    let folder = crate::scratch();
    let migrations = folder.path().join("migrations");
    let step06 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../step06-migrations/migrations");
    for entry in std::fs::read_dir(step06).expect("step 6's migrations") {
        let from = entry.expect("a migration").path();
        let to = migrations.join(from.file_name().expect("a name"));
        std::fs::create_dir_all(&to).expect("a folder");
        for file in ["up.sql", "down.sql"] {
            std::fs::copy(from.join(file), to.join(file)).expect("a copy");
        }
    }
    let new = migrations.join(NEW_MIGRATION);
    std::fs::create_dir_all(&new).expect("a folder");
    std::fs::write(new.join("up.sql"), migration.up).expect("up.sql");
    std::fs::write(new.join("down.sql"), migration.down).expect("down.sql");
    let source = FileBasedMigrations::from_path(&migrations).expect("the migrations");
    let mut conn = migrate::connect(&folder.path().join("step06.sqlite")).expect("a database");
    migrate::upgrade(&mut conn, &source, Some(STEP06_HEAD)).expect("step 6's migrations");
    diesel::sql_query("INSERT INTO user (username, password) VALUES ('ada', 'a hash')")
        .execute(&mut conn)
        .expect("a user");
    let user_table = table_sql(&mut conn);
    Setup {
        _folder: folder,
        conn,
        source,
        user_table,
    }
}

#[derive(QueryableByName)]
struct Sql {
    #[diesel(sql_type = Text)]
    sql: String,
}

/// How SQLite stores the user table's definition.
fn table_sql(conn: &mut SqliteConnection) -> String {
    let rows: Vec<Sql> =
        diesel::sql_query("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'user'")
            .load(conn)
            .expect("the schema");
    rows.into_iter().map(|row| row.sql).collect()
}

#[derive(QueryableByName)]
struct Bio {
    #[diesel(sql_type = Text)]
    username: String,
    #[diesel(sql_type = Text)]
    bio: String,
}

fn usernames(conn: &mut SqliteConnection) -> Vec<String> {
    let rows: Vec<Sql> = diesel::sql_query("SELECT username AS sql FROM user ORDER BY id")
        .load(conn)
        .expect("the users");
    rows.into_iter().map(|row| row.sql).collect()
}

fn up(setup: &mut Setup) {
    migrate::upgrade(&mut setup.conn, &setup.source, None)
        .unwrap_or_else(|err| panic!("db upgrade: {err}"));
}

fn down(setup: &mut Setup) {
    migrate::downgrade(&mut setup.conn, &setup.source, 1)
        .unwrap_or_else(|err| panic!("db downgrade: {err}"));
}

fn up_adds_bio(migration: Migration) {
    let mut setup = setup(migration);
    up(&mut setup);
    let bios: Vec<Bio> = diesel::sql_query("SELECT username, bio FROM user")
        .load(&mut setup.conn)
        .unwrap_or_else(|err| panic!("reading user.bio: {err}"));
    let bios: Vec<(String, String)> = bios
        .into_iter()
        .map(|row| (row.username, row.bio))
        .collect();
    assert_eq!(bios, [("ada".to_string(), String::new())]);
}

fn down_restores(migration: Migration) {
    let mut setup = setup(migration);
    up(&mut setup);
    down(&mut setup);
    assert_eq!(
        table_sql(&mut setup.conn),
        setup.user_table,
        "after down, the user table should be as it was before up"
    );
    assert_eq!(usernames(&mut setup.conn), ["ada"]);
}

fn up_down_up(migration: Migration) {
    let mut setup = setup(migration);
    up(&mut setup);
    down(&mut setup);
    up(&mut setup);
    assert_eq!(usernames(&mut setup.conn), ["ada"]);
}
