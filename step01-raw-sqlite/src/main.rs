//! The command line of step 1. With no command it runs the walkthrough.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use step01_raw_sqlite::error::printable;
use step01_raw_sqlite::{Error, db, import, walkthrough};

// ANCHOR: cli
/// Step 1: plain SQL with rusqlite: placeholders, rows by name,
/// transactions and backups.
///
/// With no command, runs a narrated walkthrough on a fresh demo database
/// (instance/step01-walkthrough.sqlite).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The database for `import-csv` and `list`: a path or a sqlite: URL
    /// [default: instance/step01.sqlite]
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        hide_env_values = true,
        value_name = "PATH_OR_URL"
    )]
    database: Option<String>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load users from a CSV file with the header `name,email`. Known emails
    /// get the file's name; a bad file is rejected whole, naming its line.
    ImportCsv {
        /// The CSV file to read.
        file: PathBuf,
    },
    /// Print every user in the database.
    List,
}
// ANCHOR_END: cli

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `list | head -1`: the reader has gone, which is no failure of ours.
        Err(Error::Output(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(err) => {
            // A path or a value in the message may hold an escape sequence.
            eprintln!(
                "error: {}",
                step01_raw_sqlite::error::printable(&err.to_string())
            );
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    // The walkthrough has a database of its own; only the commands read this.
    let database = || db::database_path(cli.database.as_deref());
    let out = &mut std::io::stdout().lock();
    match cli.command {
        None => walkthrough::run(out),
        Some(Command::ImportCsv { file }) => {
            let database = database()?;
            let mut conn = db::open(&database)?;
            let summary = import::import_csv(&mut conn, &file)?;
            // The import is committed now: a failure to say so must not read as its failure.
            let committed = |err| {
                Error::Output(std::io::Error::other(format!(
                    "{err} (the import itself was committed)"
                )))
            };
            writeln!(
                out,
                "Imported {} into {}: {} inserted, {} updated, {} unchanged.",
                file.display(),
                database.display(),
                summary.inserted,
                summary.updated,
                summary.unchanged
            )
            .map_err(|err| match err.kind() {
                std::io::ErrorKind::BrokenPipe => Error::Output(err),
                _ => committed(err),
            })?;
            Ok(())
        }
        Some(Command::List) => {
            let database = database()?;
            let conn = db::open_existing(&database)?;
            let users = db::all_users(&conn)?;
            writeln!(out, "{}: {} users", database.display(), users.len())?;
            for user in users {
                let (name, email) = (printable(&user.name), printable(&user.email));
                writeln!(out, "  id {}: {name} <{email}>", user.id)?;
            }
            Ok(())
        }
    }
}
