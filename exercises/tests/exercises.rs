//! The exercises are real exercises: each starting point fails its checks,
//! each solution passes them, and the book lists exactly these, each with
//! the command that checks it.

use std::fs;

use exercises::{EXERCISES, Version};
use testkit::{Sandbox, workspace_root};

/// The names of the checks a version fails.
fn failures(exercise: &exercises::Exercise, version: Version) -> Vec<String> {
    (exercise.run)(version)
        .into_iter()
        .filter_map(|outcome| {
            let problem = outcome.problem?;
            Some(format!("{}: {problem}", outcome.check))
        })
        .collect()
}

#[test]
fn every_solution_passes_its_checks() {
    for exercise in &EXERCISES {
        let failed = failures(exercise, Version::Solution);
        assert!(
            failed.is_empty(),
            "the solution of {} fails: {failed:#?}",
            exercise.name
        );
    }
}

#[test]
fn every_starting_point_fails_its_checks() {
    for exercise in &EXERCISES {
        assert!(
            !failures(exercise, Version::Exercise).is_empty(),
            "{} passes every check, so it is no exercise. If you solved it, well \
             done: `git checkout -- {}` puts the starting point back.",
            exercise.name,
            exercise.edit
        );
    }
}

#[test]
fn every_exercise_has_its_files() {
    for exercise in &EXERCISES {
        let edit = workspace_root().join(exercise.edit);
        assert!(
            edit.exists(),
            "{}: {} is missing",
            exercise.name,
            exercise.edit
        );
        assert!(
            workspace_root()
                .join("book/src")
                .join(exercise.chapter)
                .is_file(),
            "{}: no chapter {}",
            exercise.name,
            exercise.chapter
        );
    }
}

const CHECK: &str = "cargo run -p exercises -- check ";

#[test]
fn the_book_lists_exactly_these_exercises() {
    for exercise in &EXERCISES {
        let chapter = fs::read_to_string(workspace_root().join("book/src").join(exercise.chapter))
            .expect("the chapter reads");
        assert!(
            chapter.contains(&format!("{CHECK}{}\n", exercise.name)),
            "{} does not show `{CHECK}{}`",
            exercise.chapter,
            exercise.name
        );
    }
    for entry in fs::read_dir(workspace_root().join("book/src")).expect("book/src") {
        let path = entry.expect("an entry").path();
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for piece in text.split(CHECK).skip(1) {
            let name = piece.split_whitespace().next().unwrap_or_default();
            assert!(
                exercises::find(name).is_some(),
                "{} lists the exercise {name:?}, which does not exist",
                path.display()
            );
        }
    }
}

#[test]
fn a_check_session_as_the_book_shows_it() {
    let sandbox = Sandbox::new(env!("CARGO_BIN_EXE_exercises"));
    let transcript = sandbox.transcript(&[
        "check step01-delete",
        "check step01-delete --solution",
        "check step01-remove",
    ]);
    insta::assert_snapshot!(transcript);
}
