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

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

mod fixtures;
pub mod step01_delete;
pub mod step01_search;
pub mod step02_delete;
pub mod step02_summary;
pub mod step03_counts;
pub mod step03_login;
pub mod step04_search;
pub mod step04_silent;
pub mod step05_author;
pub mod step05_latest;
mod step06;
pub mod step06_column;
pub mod step06_unique;

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
    /// The [`fingerprint`] of `edit` as the starting point, so that the
    /// tests know a starting point from a learner's work.
    pub pristine: &'static str,
    /// Runs the checks against one version.
    pub run: fn(Version) -> Vec<Outcome>,
}

/// Every exercise, in the book's order.
pub const EXERCISES: [Exercise; 12] = [
    step01_delete::EXERCISE,
    step01_search::EXERCISE,
    step02_summary::EXERCISE,
    step02_delete::EXERCISE,
    step03_login::EXERCISE,
    step03_counts::EXERCISE,
    step04_search::EXERCISE,
    step04_silent::EXERCISE,
    step05_author::EXERCISE,
    step05_latest::EXERCISE,
    step06_column::EXERCISE,
    step06_unique::EXERCISE,
];

/// The exercise called `name`.
pub fn find(name: &str) -> Option<&'static Exercise> {
    EXERCISES.iter().find(|exercise| exercise.name == name)
}

/// A short hash (FNV-1a, 64 bits) of the exercise's file, or of its
/// folder's `up.sql` and `down.sql`, as they are on disk now; "missing"
/// if one of them cannot be read.
pub fn fingerprint(exercise: &Exercise) -> String {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let edit = workspace.join(exercise.edit);
    let files = match edit.is_dir() {
        true => vec![edit.join("up.sql"), edit.join("down.sql")],
        false => vec![edit],
    };
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let Ok(bytes) = std::fs::read(file) else {
            return "missing".to_string();
        };
        for byte in bytes {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// True if the exercise's file is its starting point, untouched.
pub fn is_pristine(exercise: &Exercise) -> bool {
    fingerprint(exercise) == exercise.pristine
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
    quiet_while_checking();
    checks
        .iter()
        .map(|(check, run)| {
            CHECKING.with(|checking| checking.set(true));
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| run(answer)));
            CHECKING.with(|checking| checking.set(false));
            let problem = outcome.err().map(|payload| panic_message(payload.as_ref()));
            Outcome { check, problem }
        })
        .collect()
}

thread_local! {
    /// True while this thread runs a check, whose panic is its outcome.
    static CHECKING: Cell<bool> = const { Cell::new(false) };
}

/// Keeps the panic hook quiet for a check's panic, which the outcome
/// reports, and as it was for every other panic (a failing test's, say).
fn quiet_while_checking() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let report = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CHECKING.with(Cell::get) {
                report(info);
            }
        }));
    });
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
