//! Chapter 6: a column ALTER TABLE cannot add, and its way back.
//!
//! Write migration `2026-01-05-000001_user_joined`: its `up.sql` gives every
//! user `joined`, `TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP`, filled for
//! the users already there with their first post's date (or the time of the
//! upgrade), keeping their ids and the id counter; its `down.sql` takes the
//! table back to what it was, keeping the users. SQLite's `ALTER TABLE`
//! cannot add a column with that default: the table has to be rebuilt.

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::step06::{self, Migration, Setup};
use crate::{Check, Exercise};

pub const EXERCISE: Exercise = Exercise {
    name: "step06-column",
    chapter: "step06-migrations.md",
    task: "a column ALTER TABLE cannot add, filled from the data, and its down",
    edit: "book/exercises/src/step06_column/exercise/",
    pristine: "845c0e2a58952bab",
    run: |version| {
        let answer = version.pick(EXERCISE_SQL, SOLUTION_SQL);
        crate::run_checks(&CHECKS, answer)
    },
};

const EXERCISE_SQL: Migration = Migration {
    up: include_str!("exercise/up.sql"),
    down: include_str!("exercise/down.sql"),
};

const SOLUTION_SQL: Migration = Migration {
    up: include_str!("solution/up.sql"),
    down: include_str!("solution/down.sql"),
};

const NEW_MIGRATION: &str = "2026-01-05-000001_user_joined";

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}

fn strings(conn: &mut SqliteConnection, sql: &str) -> Vec<String> {
    let rows: Vec<Value> = diesel::sql_query(sql)
        .load(conn)
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    rows.into_iter().map(|row| row.value).collect()
}

/// Step 6's database with four users, the fourth deleted (so the id
/// counter is ahead of the ids), ada with two posts, bo with one, cy with
/// none; and this exercise's migration.
fn setup(migration: Migration) -> Setup {
    let mut setup = step06::setup(NEW_MIGRATION, migration, &["ada", "bo", "cy", "dee"]);
    let posts = "INSERT INTO post (author_id, created, title, body, slug) VALUES
        (1, '2024-03-06 09:00:00', 'Second', 'b', 'second-1'),
        (1, '2024-03-05 14:07:30', 'First', 'b', 'first-2'),
        (2, '2024-04-01 08:00:00', 'Hello', 'b', 'hello-3')";
    for sql in [posts, "DELETE FROM user WHERE username = 'dee'"] {
        diesel::sql_query(sql).execute(&mut setup.conn).expect(sql);
    }
    setup
}

const CHECKS: [Check<Migration>; 5] = [
    (
        "up gives each user a join date: their first post's, or the upgrade's time",
        up_fills_joined,
    ),
    (
        "a user made after up gets a join date without naming one",
        new_users_get_one,
    ),
    (
        "still keeps the users, their ids and the id counter through up",
        up_keeps_ids,
    ),
    (
        "still puts the user table back as it was after down, keeping the users",
        down_restores,
    ),
    ("up works again after down", up_down_up),
];

fn up_fills_joined(migration: Migration) {
    let mut setup = setup(migration);
    let before = strings(&mut setup.conn, "SELECT CURRENT_TIMESTAMP AS value");
    step06::up(&mut setup);
    let joined = strings(
        &mut setup.conn,
        "SELECT username || ' ' || joined AS value FROM user ORDER BY id",
    );
    assert_eq!(
        joined[..2],
        ["ada 2024-03-05 14:07:30", "bo 2024-04-01 08:00:00"]
    );
    let cy = joined[2].strip_prefix("cy ").expect("cy's row");
    assert!(
        cy >= before[0].as_str(),
        "cy joined at {cy}, before the upgrade ({})",
        before[0]
    );
}

fn new_users_get_one(migration: Migration) {
    let mut setup = setup(migration);
    step06::up(&mut setup);
    step06::add_user(&mut setup.conn, "eve").expect("a user without a join date");
    let joined = strings(
        &mut setup.conn,
        "SELECT coalesce(joined, 'NULL') AS value FROM user WHERE username = 'eve'",
    );
    assert_ne!(joined, ["NULL"]);
}

fn up_keeps_ids(migration: Migration) {
    let mut setup = setup(migration);
    step06::up(&mut setup);
    step06::add_user(&mut setup.conn, "eve").expect("a new user");
    let ids = strings(
        &mut setup.conn,
        "SELECT id || ' ' || username AS value FROM user ORDER BY id",
    );
    assert_eq!(
        ids,
        ["1 ada", "2 bo", "3 cy", "5 eve"],
        "dee's id 4 must not come back"
    );
    let authors = strings(
        &mut setup.conn,
        "SELECT CAST(author_id AS TEXT) AS value FROM post ORDER BY id",
    );
    assert_eq!(authors, ["1", "1", "2"]);
}

fn down_restores(migration: Migration) {
    let mut setup = setup(migration);
    let shape = step06::table_shape(&mut setup.conn, "user");
    step06::up(&mut setup);
    step06::down(&mut setup);
    assert_eq!(
        step06::table_shape(&mut setup.conn, "user"),
        shape,
        "after down, the user table should be as it was before up"
    );
    assert_eq!(step06::usernames(&mut setup.conn), ["ada", "bo", "cy"]);
    // And `db check` agrees: what step 6 serves is what it finds.
    let drift = step06_migrations::drift::check(
        &mut setup.conn,
        &step06_migrations::migrate::MIGRATIONS,
        step06_migrations::draft::SCHEMA_RS,
    );
    assert_eq!(drift.expect("db check runs"), Vec::<String>::new());
}

fn up_down_up(migration: Migration) {
    let mut setup = setup(migration);
    step06::up(&mut setup);
    step06::down(&mut setup);
    step06::up(&mut setup);
    let joined = strings(
        &mut setup.conn,
        "SELECT joined AS value FROM user WHERE id = 1",
    );
    assert_eq!(joined, ["2024-03-05 14:07:30"]);
}
