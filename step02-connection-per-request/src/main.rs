//! The command line of step 2. With no command it runs the walkthrough.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use step02_connection_per_request::db::{self, Database};
use step02_connection_per_request::{Error, pool, routes, walkthrough};

/// Step 2: one SQLite connection per web request, opened on first use and
/// always closed, with a sqlx connection pool beside it.
///
/// With no command, runs a narrated walkthrough that sends requests to the
/// app in-process, on a fresh demo database (instance/step02-walkthrough.sqlite).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The database for `serve`: a path or a sqlite: URL
    /// [default: instance/step02.sqlite]
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
    /// Serve the app on 127.0.0.1 until Ctrl-C or SIGTERM. It logs each
    /// request, and each connection opened and closed, to stderr (RUST_LOG=warn
    /// quiets it).
    Serve {
        /// The port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 5000)]
        port: u16,
    },
}

fn main() -> ExitCode {
    stepkit::exit(run(Cli::parse()))
}

fn run(cli: Cli) -> Result<(), Error> {
    // The walkthrough has a database of its own; only the commands read this.
    let database = || stepkit::setting::sqlite_path(cli.database.as_deref(), db::DEFAULT_DATABASE);
    let out = &mut std::io::stdout().lock();
    match cli.command {
        None => walkthrough::run(out),
        Some(Command::Serve { port }) => serve(database()?, port),
    }
}

// ANCHOR: serve
/// Prepares the database, builds the app and serves it until Ctrl-C.
fn serve(path: PathBuf, port: u16) -> Result<(), Error> {
    stepkit::logging::init("step02_connection_per_request");
    db::open(&path)?; // creates the file and its table, before tokio starts
    let database = Database::new(path.clone());
    stepkit::serve::runtime()?.block_on(async {
        let pool = pool::connect(&database, pool::POOL_SIZE);
        let app = routes::app(database, pool.clone())?;
        stepkit::serve(app, port, path.display()).await?;
        pool.close().await;
        Ok(())
    })
}
// ANCHOR_END: serve
