//! The exercises are real exercises: each starting point fails its checks,
//! each solution passes them, and the book lists exactly these, each with
//! the command that checks it.
//!
//! A learner solves exercises in place, so a starting point that is no
//! longer as committed (its fingerprint differs) is the learner's work: it
//! is named in one line and left alone. `.ci/run` sets
//! `EXERCISES=pristine`, which makes such a difference a failure.

use std::fs;
use std::io::Write;

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

/// True when `.ci/run` asks for every starting point as committed
/// (`EXERCISES=pristine`): a learner's edits are then a failure, not a skip.
fn pristine_required() -> bool {
    std::env::var("EXERCISES").as_deref() == Ok("pristine")
}

/// The exercises whose file a learner has edited, said in one line; in CI,
/// a failure that gives the fingerprints to record.
fn skip_edited() -> Vec<&'static str> {
    let edited: Vec<&exercises::Exercise> = EXERCISES
        .iter()
        .filter(|exercise| !exercises::is_pristine(exercise))
        .collect();
    let names: Vec<&str> = edited.iter().map(|exercise| exercise.name).collect();
    if names.is_empty() {
        return names;
    }
    let found: Vec<String> = edited
        .iter()
        .map(|exercise| format!("{}: {}", exercise.name, exercises::fingerprint(exercise)))
        .collect();
    assert!(
        !pristine_required(),
        "these starting points differ from their recorded fingerprints; if you \
         changed them on purpose, record the new ones (`pristine` in their mod.rs): {found:#?}"
    );
    // Once per run, and past the harness's capture, so that it shows on a pass.
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "not checked as starting points, since you have edited them: {}",
            names.join(", ")
        );
    });
    names
}

#[test]
fn every_starting_point_fails_its_checks() {
    let edited = skip_edited();
    let passing: Vec<&str> = EXERCISES
        .iter()
        .filter(|exercise| !edited.contains(&exercise.name))
        .filter(|exercise| failures(exercise, Version::Exercise).is_empty())
        .map(|exercise| exercise.name)
        .collect();
    assert!(
        passing.is_empty(),
        "these starting points pass every check, so they are no exercises: {passing:?}"
    );
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
    if skip_edited().contains(&"step01-delete") {
        return; // the book shows the starting point's output
    }
    let sandbox = Sandbox::new(env!("CARGO_BIN_EXE_exercises"));
    let transcript = sandbox.transcript(&[
        "check step01-delete",
        "check step01-delete --solution",
        "check step01-remove",
    ]);
    insta::assert_snapshot!(transcript);
}
