//! Chapter 6: the migration that adds a column, and its way back.
//!
//! Write migration `2026-01-05-000001_user_bio`: its `up.sql` gives every
//! user a `bio`, `TEXT NOT NULL DEFAULT ''`, and its `down.sql` takes the
//! table back to exactly what it was, keeping the users. The starting
//! point has the up; the down is yours.

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::step06::{self, Migration, Setup};
use crate::{Check, Exercise};

pub const EXERCISE: Exercise = Exercise {
    name: "step06-column",
    chapter: "step06-migrations.md",
    task: "a migration that adds a column, and its down",
    edit: "book/exercises/src/step06_column/exercise/",
    pristine: "7f423e373dc7ea56",
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

const NEW_MIGRATION: &str = "2026-01-05-000001_user_bio";

#[derive(QueryableByName)]
struct Bio {
    #[diesel(sql_type = Text)]
    username: String,
    #[diesel(sql_type = Text)]
    bio: String,
}

/// Step 6's database with one user, and this exercise's migration.
fn setup(migration: Migration) -> Setup {
    step06::setup(NEW_MIGRATION, migration, &["ada"])
}

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

fn up_adds_bio(migration: Migration) {
    let mut setup = setup(migration);
    step06::up(&mut setup);
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
    step06::up(&mut setup);
    step06::down(&mut setup);
    assert_eq!(
        step06::table_sql(&mut setup.conn),
        setup.user_table,
        "after down, the user table should be as it was before up"
    );
    assert_eq!(step06::usernames(&mut setup.conn), ["ada"]);
}

fn up_down_up(migration: Migration) {
    let mut setup = setup(migration);
    step06::up(&mut setup);
    step06::down(&mut setup);
    step06::up(&mut setup);
    assert_eq!(step06::usernames(&mut setup.conn), ["ada"]);
}
