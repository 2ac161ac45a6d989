//! Chapter 1: search users by name, with a placeholder.
//!
//! `users_named` finds the users whose name contains some text. Its
//! starting point pastes that text into the SQL, so a quote breaks the
//! query and a crafted text reads every row. Pass the text as a value, and
//! make `%` and `_` match only themselves.

use rusqlite::Connection;
use step01_raw_sqlite::db::{self, User};

use crate::{Check, Exercise};

mod exercise;
mod solution;

pub const EXERCISE: Exercise = Exercise {
    name: "step01-search",
    chapter: "step01-raw-sqlite.md",
    task: "search users by name, with a placeholder",
    edit: "book/exercises/src/step01_search/exercise.rs",
    pristine: "50d026a194f4962d",
    run: |version| {
        let answer: UsersNamed = version.pick(exercise::users_named, solution::users_named);
        crate::run_checks(&CHECKS, answer)
    },
};

/// What `users_named` must be: the users whose name contains `text`.
type UsersNamed = fn(&Connection, &str) -> rusqlite::Result<Vec<User>>;

const CHECKS: [Check<UsersNamed>; 4] = [
    (
        "finds names containing the text, in any case, oldest first",
        finds_names,
    ),
    (
        "a quote in the text is only a character",
        quote_is_a_character,
    ),
    (
        "a crafted text reads no other rows",
        crafted_text_reads_nothing,
    ),
    ("% and _ match only themselves", wildcards_are_literal),
];

/// Step 1's table with a few users, in a folder of its own.
fn some_users() -> (tempfile::TempDir, Connection) {
    let folder = crate::scratch();
    let conn = db::open(&folder.path().join("step01.sqlite")).expect("step 1's database");
    for (name, email) in [
        ("Ada Lovelace", "ada@example.com"),
        ("Grace Hopper", "grace@example.com"),
        ("Brian O'Brien", "brian@example.com"),
        ("Sale 50% off", "sale@example.com"),
        ("Sale 500 off", "bulk@example.com"),
        ("Adam Smith", "adam@example.com"),
    ] {
        db::insert_user(&conn, name, email).expect("a user");
    }
    (folder, conn)
}

fn names(users_named: UsersNamed, conn: &Connection, text: &str) -> Vec<String> {
    let users = users_named(conn, text).unwrap_or_else(|err| panic!("searching {text:?}: {err}"));
    users.into_iter().map(|user| user.name).collect()
}

fn finds_names(users_named: UsersNamed) {
    let (_folder, conn) = some_users();
    assert_eq!(
        names(users_named, &conn, "ADA"),
        ["Ada Lovelace", "Adam Smith"]
    );
    assert_eq!(names(users_named, &conn, "hopper"), ["Grace Hopper"]);
}

fn quote_is_a_character(users_named: UsersNamed) {
    let (_folder, conn) = some_users();
    assert_eq!(names(users_named, &conn, "O'Brien"), ["Brian O'Brien"]);
}

fn crafted_text_reads_nothing(users_named: UsersNamed) {
    let (_folder, conn) = some_users();
    let crafted = "' OR 1=1 --";
    assert_eq!(names(users_named, &conn, crafted), Vec::<String>::new());
}

fn wildcards_are_literal(users_named: UsersNamed) {
    let (_folder, conn) = some_users();
    assert_eq!(names(users_named, &conn, "50%"), ["Sale 50% off"]);
    assert_eq!(names(users_named, &conn, "Sale 50_"), Vec::<String>::new());
}
