//! Chapter 3: check a login against the stored argon2 hash.
//!
//! `check_login` decides whether a username and password may log in. The
//! table stores only an argon2 hash of each password (`db::add_user`), so
//! comparing the password with what is stored can never succeed, and the
//! stored hash must never work as a password itself. Refuse an unknown
//! user and a wrong password with the same words, so that a stranger
//! cannot learn who has an account.

use rusqlite::Connection;
use step03_schema_init::db;

use crate::{Check, Exercise};

mod exercise;
mod solution;

pub const EXERCISE: Exercise = Exercise {
    name: "step03-login",
    chapter: "step03-schema-init.md",
    task: "check a login against the stored argon2 hash",
    edit: "book/exercises/src/step03_login/exercise.rs",
    pristine: "29d76ff4da0b06c2",
    run: |version| {
        let answer: CheckLogin = version.pick(exercise::check_login, solution::check_login);
        crate::run_checks(&CHECKS, answer)
    },
};

/// What `check_login` must be: `Ok` to let the user in, or the refusal.
type CheckLogin = fn(&Connection, &str, &str) -> Result<(), String>;

const PASSWORD: &str = "correct horse battery staple";

const CHECKS: [Check<CheckLogin>; 4] = [
    ("lets the right password in", right_password),
    ("refuses a wrong password", wrong_password),
    (
        "refuses the stored hash used as a password",
        hash_is_no_password,
    ),
    (
        "says the same to an unknown user as to a wrong password",
        same_refusal,
    ),
];

/// Step 3's tables with the user "ada", in a folder of its own.
fn ada() -> (tempfile::TempDir, Connection) {
    let folder = crate::scratch();
    let path = folder.path().join("step03.sqlite");
    db::init_db(&path).expect("step 3's tables");
    let conn = Connection::open(&path).expect("open");
    db::add_user(&conn, "ada", PASSWORD).expect("ada");
    (folder, conn)
}

fn right_password(check_login: CheckLogin) {
    let (_folder, conn) = ada();
    check_login(&conn, "ada", PASSWORD).expect("ada logs in with her password");
}

fn wrong_password(check_login: CheckLogin) {
    let (_folder, conn) = ada();
    let outcome = check_login(&conn, "ada", "password123");
    assert!(outcome.is_err(), "a wrong password was let in");
}

fn hash_is_no_password(check_login: CheckLogin) {
    let (_folder, conn) = ada();
    let stored = db::stored_password(&conn, "ada")
        .expect("a read")
        .expect("ada's hash");
    let outcome = check_login(&conn, "ada", &stored);
    assert!(outcome.is_err(), "the stored hash was let in as a password");
}

fn same_refusal(check_login: CheckLogin) {
    let (_folder, conn) = ada();
    let unknown = check_login(&conn, "grace", PASSWORD);
    let wrong = check_login(&conn, "ada", "password123");
    assert!(unknown.is_err(), "an unknown user was let in");
    assert_eq!(unknown, wrong, "the two refusals differ");
}
