//! What step 6's exercises share: a migration's two files, and a database
//! migrated with step 6's own `upgrade` and `downgrade` from a folder that
//! holds step 6's migrations and the exercise's.

use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::FileBasedMigrations;
use step06_migrations::migrate;

/// A migration's two files.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub up: &'static str,
    pub down: &'static str,
}

/// The version before the exercise's migration: step 6's last.
const STEP06_HEAD: &str = "2026-01-04-000001";

/// A database at step 6's last version with `users`, and the folder of step
/// 6's migrations plus `migration` (as `name`).
pub struct Setup {
    _folder: tempfile::TempDir,
    pub conn: SqliteConnection,
    pub source: FileBasedMigrations,
}

pub fn setup(name: &str, migration: Migration, users: &[&str]) -> Setup {
    let folder = crate::scratch();
    let migrations = folder.path().join("migrations");
    let step06 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../step06-migrations/migrations");
    for entry in std::fs::read_dir(step06).expect("step 6's migrations") {
        let from = entry.expect("a migration").path();
        let to = migrations.join(from.file_name().expect("a name"));
        std::fs::create_dir_all(&to).expect("a folder");
        for file in ["up.sql", "down.sql"] {
            std::fs::copy(from.join(file), to.join(file)).expect("a copy");
        }
    }
    let new = migrations.join(name);
    std::fs::create_dir_all(&new).expect("a folder");
    std::fs::write(new.join("up.sql"), migration.up).expect("up.sql");
    std::fs::write(new.join("down.sql"), migration.down).expect("down.sql");
    let source = FileBasedMigrations::from_path(&migrations).expect("the migrations");
    let mut conn = migrate::connect(&folder.path().join("step06.sqlite")).expect("a database");
    migrate::upgrade(&mut conn, &source, Some(STEP06_HEAD)).expect("step 6's migrations");
    for username in users {
        add_user(&mut conn, username).expect("a user");
    }
    Setup {
        _folder: folder,
        conn,
        source,
    }
}

#[derive(QueryableByName)]
struct Sql {
    #[diesel(sql_type = Text)]
    sql: String,
}

/// A table as the database describes it: each column (name, type, NOT
/// NULL, default, key), each index, each foreign key.
pub fn table_shape(conn: &mut SqliteConnection, table: &str) -> String {
    let sql = "SELECT group_concat(line, '; ') AS sql FROM (
        SELECT 'column ' || name || ' ' || type || ' ' || \"notnull\" || ' ' || coalesce(dflt_value, '-') || ' ' || pk AS line
            FROM pragma_table_info(?1)
        UNION ALL SELECT 'index ' || \"unique\" || ' ' || origin FROM pragma_index_list(?1)
        UNION ALL SELECT 'foreign key ' || \"from\" || ' ' || \"table\" FROM pragma_foreign_key_list(?1))";
    let rows: Vec<Sql> = diesel::sql_query(sql)
        .bind::<Text, _>(table)
        .load(conn)
        .expect("the table's shape");
    rows.into_iter().map(|row| row.sql).collect()
}

pub fn usernames(conn: &mut SqliteConnection) -> Vec<String> {
    let rows: Vec<Sql> = diesel::sql_query("SELECT username AS sql FROM user ORDER BY id")
        .load(conn)
        .expect("the users");
    rows.into_iter().map(|row| row.sql).collect()
}

pub fn up(setup: &mut Setup) {
    migrate::upgrade(&mut setup.conn, &setup.source, None)
        .unwrap_or_else(|err| panic!("db upgrade: {err}"));
}

pub fn down(setup: &mut Setup) {
    migrate::downgrade(&mut setup.conn, &setup.source, 1)
        .unwrap_or_else(|err| panic!("db downgrade: {err}"));
}

/// The posts' `(author_id, title)`, in id order.
pub fn posts(conn: &mut SqliteConnection) -> Vec<String> {
    let sql = "SELECT author_id || ' ' || title AS sql FROM post ORDER BY id";
    let rows: Vec<Sql> = diesel::sql_query(sql).load(conn).expect("the posts");
    rows.into_iter().map(|row| row.sql).collect()
}

/// How SQLite stores the post table's definition, and its indexes'.
pub fn post_sql(conn: &mut SqliteConnection) -> String {
    let sql = "SELECT group_concat(sql, ';') AS sql FROM sqlite_schema WHERE tbl_name = 'post' AND sql IS NOT NULL";
    let rows: Vec<Sql> = diesel::sql_query(sql).load(conn).expect("the schema");
    rows.into_iter().map(|row| row.sql).collect()
}

/// Inserts a post by user `author_id` titled `title`.
pub fn add_post(conn: &mut SqliteConnection, author_id: i64, title: &str) -> QueryResult<usize> {
    diesel::sql_query("INSERT INTO post (author_id, title, body, slug) VALUES (?, ?, 'b', ?)")
        .bind::<diesel::sql_types::BigInt, _>(author_id)
        .bind::<Text, _>(title)
        .bind::<Text, _>(format!("{title}-{author_id}-{}", next_number(conn)))
        .execute(conn)
}

/// A number no post's slug has yet: one more than the posts there are.
fn next_number(conn: &mut SqliteConnection) -> usize {
    posts(conn).len() + 1
}

/// Inserts a user called `username`.
pub fn add_user(conn: &mut SqliteConnection, username: &str) -> QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO user (username, username_key, password) VALUES (?1, lower(?1), 'a hash')",
    )
    .bind::<Text, _>(username)
    .execute(conn)
}
