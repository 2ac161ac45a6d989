//! Chapter 6: a constraint as a migration.
//!
//! Write migration `2026-01-06-000001_username_nocase`, after which no two
//! usernames may differ only in case ("ada" and "Ada"), and its down. On a
//! database that already holds two such users, `db upgrade` must fail and
//! change nothing, so that someone can sort them out first. SQLite cannot
//! change a column's collation in place; a UNIQUE index can have its own.

use step06_migrations::migrate;

use crate::step06::{self, Migration, Setup};
use crate::{Check, Exercise};

pub const EXERCISE: Exercise = Exercise {
    name: "step06-nocase",
    chapter: "step06-migrations.md",
    task: "a migration that makes usernames unique in any case",
    edit: "book/exercises/src/step06_nocase/exercise/",
    pristine: "2db293b99d297e72",
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

const NEW_MIGRATION: &str = "2026-01-06-000001_username_nocase";

const CHECKS: [Check<Migration>; 4] = [
    (
        "after up, a username differing only in case is refused",
        refuses_case_twin,
    ),
    ("up keeps the users", keeps_users),
    (
        "up on case twins fails and changes nothing",
        twins_block_upgrade,
    ),
    (
        "after down, such a username is let in again",
        down_lifts_rule,
    ),
];

fn setup(migration: Migration, users: &[&str]) -> Setup {
    step06::setup(NEW_MIGRATION, migration, users)
}

fn refuses_case_twin(migration: Migration) {
    let mut setup = setup(migration, &["ada"]);
    step06::up(&mut setup);
    let twin = step06::add_user(&mut setup.conn, "ADA");
    assert!(twin.is_err(), "after up, \"ADA\" was let in beside \"ada\"");
}

fn keeps_users(migration: Migration) {
    let mut setup = setup(migration, &["ada", "grace"]);
    step06::up(&mut setup);
    assert_eq!(step06::usernames(&mut setup.conn), ["ada", "grace"]);
}

fn twins_block_upgrade(migration: Migration) {
    let mut setup = setup(migration, &["ada", "Ada"]);
    let before = migrate::current(&mut setup.conn).expect("the version");
    let upgrade = migrate::upgrade(&mut setup.conn, &setup.source, None);
    assert!(
        upgrade.is_err(),
        "the upgrade went through with \"ada\" and \"Ada\""
    );
    let after = migrate::current(&mut setup.conn).expect("the version");
    assert_eq!(after, before, "the version moved");
    assert_eq!(step06::usernames(&mut setup.conn), ["ada", "Ada"]);
}

fn down_lifts_rule(migration: Migration) {
    let mut setup = setup(migration, &["ada"]);
    step06::up(&mut setup);
    step06::down(&mut setup);
    step06::add_user(&mut setup.conn, "ADA").expect("after down, \"ADA\" is let in");
    assert_eq!(
        step06::table_sql(&mut setup.conn),
        setup.user_table,
        "after down, the user table should be as it was before up"
    );
}
