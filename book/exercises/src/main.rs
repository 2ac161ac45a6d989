//! `cargo run -p exercises`: lists the exercises and whether your version
//! of each passes its checks; `check NAME` runs one exercise's checks and
//! says what each found.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use exercises::{EXERCISES, Exercise, Outcome, Version};
use step01_raw_sqlite::error::quote;

/// The book's exercises, with checks.
#[derive(Debug, Parser)]
#[command(about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every exercise, its chapter, and whether your version passes.
    List,
    /// Run one exercise's checks on your version (or on the solution).
    Check {
        /// The exercise, as `list` names it (step01-delete, ...).
        name: String,
        /// Check the solution instead of your version.
        #[arg(long)]
        solution: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    let outcome = match cli.command.unwrap_or(Command::List) {
        Command::List => list(&mut out),
        Command::Check { name, solution } => {
            let Some(exercise) = exercises::find(&name) else {
                let names: Vec<&str> = EXERCISES.iter().map(|e| e.name).collect();
                eprintln!(
                    "exercises: no exercise is called {}; there are {}",
                    quote(&name),
                    names.join(", ")
                );
                return ExitCode::FAILURE;
            };
            let version = if solution {
                Version::Solution
            } else {
                Version::Exercise
            };
            check(&mut out, exercise, version)
        }
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        // A closed pipe (`| head`) is no failure of the exercise.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("exercises: cannot write the report: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Prints each exercise with ✓ when your version passes every check.
fn list(out: &mut impl Write) -> std::io::Result<bool> {
    for exercise in &EXERCISES {
        let passed = (exercise.run)(Version::Exercise)
            .iter()
            .all(|outcome| outcome.problem.is_none());
        let mark = if passed { "done " } else { "to do" };
        writeln!(out, "{mark}  {:<15} {}", exercise.name, exercise.task)?;
    }
    writeln!(out, "\nRun one: cargo run -p exercises -- check NAME")?;
    Ok(true)
}

/// Prints what each check found; true if all passed.
fn check(out: &mut impl Write, exercise: &Exercise, version: Version) -> std::io::Result<bool> {
    let whose = match version {
        Version::Exercise => format!("your version ({})", exercise.edit),
        Version::Solution => "the solution".to_string(),
    };
    writeln!(
        out,
        "{}: {}, checked on {whose}",
        exercise.name, exercise.task
    )?;
    let outcomes: Vec<Outcome> = (exercise.run)(version);
    for outcome in &outcomes {
        match &outcome.problem {
            None => writeln!(out, "  ok      {}", outcome.check)?,
            Some(problem) => {
                writeln!(out, "  FAILED  {}", outcome.check)?;
                for line in problem.lines() {
                    writeln!(out, "          {line}")?;
                }
            }
        }
    }
    let failed = outcomes
        .iter()
        .filter(|outcome| outcome.problem.is_some())
        .count();
    match failed {
        0 => writeln!(out, "All {} checks pass.", outcomes.len())?,
        _ => writeln!(out, "{failed} of {} checks failed.", outcomes.len())?,
    }
    Ok(failed == 0)
}
