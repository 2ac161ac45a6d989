//! The command line of step 4. With no command it runs the walkthrough.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use step04_orm::{Config, Error, config, create_app, db, walkthrough};

/// Step 4: step 3's blog tables through the diesel ORM: CRUD, a JSON API,
/// pages and pagination, on a pool of connections.
///
/// With no command, runs a narrated walkthrough on a fresh demo database
/// (instance/step04-walkthrough.sqlite).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The database for `init-db` and `serve`: a path or a sqlite: URL
    /// [default: instance/step04.sqlite]
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
    /// Clear the existing data and create new tables (runs schema.sql).
    InitDb,
    /// Serve the app on 127.0.0.1 until Ctrl-C or SIGTERM. It logs each
    /// request to stderr (RUST_LOG=warn quiets it; RUST_LOG=info,step04_orm=debug
    /// adds each connection checked out and given back). Sessions are signed
    /// with SECRET_KEY (128 hex digits), or else with a key generated once into
    /// instance/step04-secret-key.
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
        Some(Command::InitDb) => db::init_db_command(&database()?, out),
        Some(Command::Serve { port }) => serve(database()?, port),
    }
}

/// Builds the app from its config and serves it until Ctrl-C or SIGTERM.
fn serve(path: PathBuf, port: u16) -> Result<(), Error> {
    stepkit::logging::init("step04_orm");
    db::check_initialized(&path)?; // before a key is made for a database that cannot serve
    let key = config::secret_key(std::env::var("SECRET_KEY").ok().as_deref())?;
    let app = create_app(Config::new(path.clone(), key))?; // SQLite, before tokio starts
    stepkit::serve::runtime()?.block_on(stepkit::serve(app, port, path.display()))?;
    Ok(())
}
