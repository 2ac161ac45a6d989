//! Chapter 6: a constraint as a migration.
//!
//! Write migration `2026-01-06-000001_post_title_per_author`, after which no
//! author may have two posts with the same title (two authors may), and its
//! down. On a database that already holds such a pair, `db upgrade` must
//! fail and change nothing, so that someone can sort them out first. SQLite
//! cannot add a constraint to a table in place; a UNIQUE index is one.

use step06_migrations::migrate;

use crate::step06::{self, Migration, Setup};
use crate::{Check, Exercise};

pub const EXERCISE: Exercise = Exercise {
    name: "step06-unique",
    chapter: "step06-migrations.md",
    task: "a migration that makes titles unique per author",
    edit: "book/exercises/src/step06_unique/exercise/",
    pristine: "ff4962918c0c2f6d",
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

const NEW_MIGRATION: &str = "2026-01-06-000001_post_title_per_author";

const CHECKS: [Check<Migration>; 4] = [
    (
        "after up, an author's second post with a title of theirs is refused",
        refuses_a_second_title,
    ),
    ("up keeps the posts", keeps_posts),
    (
        "up on an author's two posts of one title fails and changes nothing",
        twins_block_upgrade,
    ),
    ("after down, such a post is let in again", down_lifts_rule),
];

/// Ada (user 1) and Grace (user 2), each with the posts given.
fn setup(migration: Migration, posts: &[(i64, &str)]) -> Setup {
    let mut setup = step06::setup(NEW_MIGRATION, migration, &["ada", "grace"]);
    for (author, title) in posts {
        step06::add_post(&mut setup.conn, *author, title).expect("a post");
    }
    setup
}

fn refuses_a_second_title(migration: Migration) {
    let mut setup = setup(migration, &[(1, "Notes")]);
    step06::up(&mut setup);
    let twin = step06::add_post(&mut setup.conn, 1, "Notes");
    assert!(twin.is_err(), "after up, Ada could post \"Notes\" twice");
    step06::add_post(&mut setup.conn, 2, "Notes").expect("Grace may use Ada's title");
}

fn keeps_posts(migration: Migration) {
    let mut setup = setup(migration, &[(1, "Notes"), (2, "Notes"), (1, "More")]);
    step06::up(&mut setup);
    assert_eq!(
        step06::posts(&mut setup.conn),
        ["1 Notes", "2 Notes", "1 More"]
    );
}

fn twins_block_upgrade(migration: Migration) {
    let mut setup = setup(migration, &[(1, "Notes"), (1, "Notes")]);
    let before = migrate::current(&mut setup.conn).expect("the version");
    let upgrade = migrate::upgrade(&mut setup.conn, &setup.source, None);
    assert!(
        upgrade.is_err(),
        "the upgrade went through with two posts of Ada's called \"Notes\""
    );
    let after = migrate::current(&mut setup.conn).expect("the version");
    assert_eq!(after, before, "the version moved");
    assert_eq!(step06::posts(&mut setup.conn), ["1 Notes", "1 Notes"]);
}

fn down_lifts_rule(migration: Migration) {
    let mut setup = setup(migration, &[(1, "Notes")]);
    let before = step06::post_sql(&mut setup.conn);
    step06::up(&mut setup);
    step06::down(&mut setup);
    step06::add_post(&mut setup.conn, 1, "Notes")
        .expect("after down, Ada may post \"Notes\" again");
    assert_eq!(
        step06::post_sql(&mut setup.conn),
        before,
        "after down, the post table and its indexes should be as they were before up"
    );
}
