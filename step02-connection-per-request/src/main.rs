//! The command line of step 2. With no command it runs the walkthrough.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use step02_connection_per_request::db::{DEFAULT_DATABASE, Database};
use step02_connection_per_request::{AppError, AppState, app, bench, pool, walkthrough};
use tokio::net::TcpListener;

/// Step 2: one SQLite connection per web request, opened on first use and
/// always closed, and the same app on a sqlx connection pool.
///
/// With no command, runs a narrated walkthrough that sends requests to the
/// app in-process, on a fresh demo database (instance/walkthrough.sqlite).
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
    /// Serve the app on 127.0.0.1 until Ctrl-C. Set RUST_LOG=info to see each
    /// connection open and close.
    Serve {
        #[arg(long, default_value_t = 5000)]
        port: u16,
        /// Borrow connections from a sqlx pool instead of opening one per request.
        #[arg(long)]
        pool: bool,
    },
    /// Measure requests per second and p99 latency, one connection per
    /// request against the pool, on a benchmark database (instance/bench.sqlite).
    Bench {
        /// Requests per route and design.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        /// Clients sending at once.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Seconds after which a route's run stops, done or not.
        #[arg(long, default_value_t = 20)]
        time_limit: u64,
        /// Also write the results (a Markdown table) to this file.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Runtime::new()
        .map_err(AppError::from)
        .and_then(|runtime| runtime.block_on(run(cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), AppError> {
    match cli.command {
        None => walkthrough::run(&mut std::io::stdout().lock()).await,
        Some(Command::Serve { port, pool }) => {
            let database = Database::prepare(&database_path(cli.database.as_deref())?)?;
            serve(database, port, pool).await
        }
        Some(Command::Bench {
            requests,
            clients,
            time_limit,
            report,
        }) => {
            let load = bench::Load {
                requests,
                clients,
                time_limit: Duration::from_secs(time_limit),
            };
            let results = bench::run(Path::new("instance/bench.sqlite"), load).await?;
            let text = bench::report(&results, load);
            print!("{text}");
            if let Some(file) = report {
                std::fs::write(&file, &text).map_err(|err| {
                    AppError::Failed(format!("cannot write {}: {err}", file.display()))
                })?;
            }
            Ok(())
        }
    }
}

// ANCHOR: serve
async fn serve(database: Database, port: u16, pooled: bool) -> Result<(), AppError> {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let state = if pooled {
        AppState::pooled(database.clone(), pool::connect(&database, bench::POOL_SIZE))
    } else {
        AppState::new(database.clone())
    };
    let pool = state.pool.clone();
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|err| AppError::Failed(format!("cannot listen on 127.0.0.1:{port}: {err}")))?;
    println!(
        "Serving {} on http://{}/ (Ctrl-C to stop)",
        database.path().display(),
        listener.local_addr()?
    );

    axum::serve(listener, app(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?; // returns once the requests in flight have finished
    if let Some(pool) = pool {
        pool.close().await;
    }
    let counts = database.counts();
    println!(
        "Stopped. Connections opened: {}, closed by requests: {}.",
        counts.opened, counts.closed
    );
    Ok(())
}
// ANCHOR_END: serve

/// `--database` or `DATABASE_URL` as a file path: a plain path or a
/// `sqlite:` URL; a `?mode=...` suffix is ignored.
fn database_path(setting: Option<&str>) -> Result<PathBuf, AppError> {
    let Some(value) = setting else {
        return Ok(PathBuf::from(DEFAULT_DATABASE));
    };
    let path = value
        .strip_prefix("sqlite://")
        .or_else(|| value.strip_prefix("sqlite:"))
        .unwrap_or(value);
    let path = path.split('?').next().unwrap_or_default();
    if path.trim().is_empty() {
        let message = format!(
            "the database setting `{value}` names no file (from --database or DATABASE_URL)"
        );
        return Err(AppError::Failed(message));
    }
    Ok(PathBuf::from(path))
}
