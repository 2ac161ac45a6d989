//! Exercises for each chapter, in the spirit of rustlings: code you finish,
//! and checks that tell you when it is done.
//!
//! Each exercise is a folder in `src/`, named after its step. In it,
//! `exercise.rs` (or, for step 6, `exercise/`) is the starting point you
//! edit; `mod.rs` holds its checks, which read like tests; `solution.rs` is
//! one answer, for when you are stuck. Run an exercise's checks with:
//!
//! ```console
//! cargo run -p exercises -- check step01-delete
//! ```
//!
//! `cargo test -p exercises` checks the exercises themselves: each starting
//! point fails its checks, each solution passes them, and the book lists
//! exactly these exercises.

use std::panic::{self, AssertUnwindSafe};

pub mod step01_delete;
pub mod step01_search;
pub mod step02_summary;
pub mod step03_login;
pub mod step04_search;
pub mod step05_author;
pub mod step06_column;

/// Whose code the checks run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The file you edit, which starts as the starting point.
    Exercise,
    /// The answer beside it.
    Solution,
}

impl Version {
    /// `exercise` or `solution`, whichever this is.
    pub fn pick<T>(self, exercise: T, solution: T) -> T {
        match self {
            Version::Exercise => exercise,
            Version::Solution => solution,
        }
    }
}

/// One exercise, as the book and `cargo run -p exercises` list it.
#[derive(Debug, Clone, Copy)]
pub struct Exercise {
    /// What you type after `check`.
    pub name: &'static str,
    /// The chapter it ends, a file in `book/src/`.
    pub chapter: &'static str,
    /// What to build, in one line.
    pub task: &'static str,
    /// The file (or folder) to edit, from the workspace root.
    pub edit: &'static str,
    /// Runs the checks against one version.
    pub run: fn(Version) -> Vec<Outcome>,
}

/// Every exercise, in the book's order.
pub const EXERCISES: [Exercise; 7] = [
    step01_delete::EXERCISE,
    step01_search::EXERCISE,
    step02_summary::EXERCISE,
    step03_login::EXERCISE,
    step04_search::EXERCISE,
    step05_author::EXERCISE,
    step06_column::EXERCISE,
];

/// The exercise called `name`.
pub fn find(name: &str) -> Option<&'static Exercise> {
    EXERCISES.iter().find(|exercise| exercise.name == name)
}

/// What one check found: nothing wrong, or what was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub check: &'static str,
    pub problem: Option<String>,
}

/// One check: what it expects, and the code that fails (panics, through
/// `assert!` and friends, as a test does) if the answer falls short.
pub type Check<A> = (&'static str, fn(A));

/// Runs every check against `answer`, each on its own, so one failure does
/// not hide the next. A panic is caught and becomes the check's problem.
pub fn run_checks<A: Copy>(checks: &[Check<A>], answer: A) -> Vec<Outcome> {
    let quiet = panic::take_hook();
    panic::set_hook(Box::new(|_| {})); // the outcome reports the message
    let outcomes = checks
        .iter()
        .map(|(check, run)| {
            let problem = panic::catch_unwind(AssertUnwindSafe(|| run(answer)))
                .err()
                .map(|payload| panic_message(payload.as_ref()));
            Outcome { check, problem }
        })
        .collect();
    panic::set_hook(quiet);
    outcomes
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "it panicked".to_string()
    }
}

/// A fresh temporary folder for one check's database.
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary folder")
}
