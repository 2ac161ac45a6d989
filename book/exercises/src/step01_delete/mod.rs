//! Chapter 1: a `delete` that refuses to delete nothing.
//!
//! `DELETE FROM users WHERE email = ?` succeeds whether or not a row
//! matched: a typo in the email deletes nothing and says nothing. Make
//! `delete_user` refuse an email no user has, with a message that names it.

use rusqlite::Connection;
use step01_raw_sqlite::db;

use crate::{Check, Exercise};

mod exercise;
mod solution;

pub const EXERCISE: Exercise = Exercise {
    name: "step01-delete",
    chapter: "step01-raw-sqlite.md",
    task: "a delete that refuses to delete nothing",
    edit: "book/exercises/src/step01_delete/exercise.rs",
    pristine: "368dddfcdb47cd17",
    run: |version| {
        let answer: DeleteUser = version.pick(exercise::delete_user, solution::delete_user);
        crate::run_checks(&CHECKS, answer)
    },
};

/// What `delete_user` must be: it deletes the user with `email`, or says
/// why it did not.
type DeleteUser = fn(&Connection, &str) -> Result<(), String>;

const CHECKS: [Check<DeleteUser>; 4] = [
    (
        "deletes the user with that email, and no other",
        deletes_that_user,
    ),
    (
        "finds the email in any case, as the UNIQUE rule does",
        ignores_case,
    ),
    (
        "refuses an email no user has, naming it",
        refuses_unknown_email,
    ),
    ("a refused delete changes nothing", refusal_changes_nothing),
];

/// Step 1's table with two users, in a folder of its own.
fn two_users() -> (tempfile::TempDir, Connection) {
    let folder = crate::scratch();
    let conn = db::open(&folder.path().join("step01.sqlite")).expect("step 1's database");
    db::insert_user(&conn, "Ada Lovelace", "ada@example.com").expect("a user");
    db::insert_user(&conn, "Grace Hopper", "grace@example.com").expect("a user");
    (folder, conn)
}

fn emails(conn: &Connection) -> Vec<String> {
    let users = db::all_users(conn).expect("the users");
    users.into_iter().map(|user| user.email).collect()
}

fn deletes_that_user(delete_user: DeleteUser) {
    let (_folder, conn) = two_users();
    delete_user(&conn, "ada@example.com").expect("Ada is deleted");
    assert_eq!(emails(&conn), ["grace@example.com"]);
}

fn ignores_case(delete_user: DeleteUser) {
    let (_folder, conn) = two_users();
    delete_user(&conn, "Grace@Example.COM").expect("Grace is deleted");
    assert_eq!(emails(&conn), ["ada@example.com"]);
}

fn refuses_unknown_email(delete_user: DeleteUser) {
    let (_folder, conn) = two_users();
    match delete_user(&conn, "nobody@example.com") {
        Ok(()) => panic!("deleting nobody@example.com, whom no user has, answered Ok"),
        Err(message) => assert!(
            message.contains("nobody@example.com"),
            "the refusal should name the email; it says {message:?}"
        ),
    }
}

fn refusal_changes_nothing(delete_user: DeleteUser) {
    let (_folder, conn) = two_users();
    let _ = delete_user(&conn, "nobody@example.com");
    assert_eq!(emails(&conn), ["ada@example.com", "grace@example.com"]);
}
