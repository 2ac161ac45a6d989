//! The command line of step 2. With no command it runs the walkthrough.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use step02_connection_per_request::db::{Database, database_path};
use step02_connection_per_request::{AppError, AppState, app, bench, pool, walkthrough};
use tokio::net::TcpListener;

/// Step 2: one SQLite connection per web request, opened on first use and
/// always closed, and the same app on a sqlx connection pool.
///
/// With no command, runs a narrated walkthrough that sends requests to the
/// app in-process, on a fresh demo database (instance/step02-walkthrough.sqlite).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The database for `serve` (the walkthrough and bench use files of
    /// their own): a path or a sqlite: URL [default: instance/step02.sqlite]
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
        /// The port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 5000)]
        port: u16,
        /// Borrow connections from a sqlx pool instead of opening one per request.
        #[arg(long)]
        pool: bool,
    },
    /// Measure requests per second and p99 latency, one connection per
    /// request against the pool, on a benchmark database (instance/step02-bench.sqlite).
    Bench {
        /// Requests per route and design (1 to 1000000).
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        requests: u32,
        /// Clients sending at once, each on its own connection (1 to 64).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        clients: u16,
        /// Seconds after which a route's run stops, done or not (1 to 600).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=600))]
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
            let database = Database::prepare(&database_path(cli.database.as_deref())?).await?;
            serve(database, port, pool).await
        }
        Some(Command::Bench {
            requests,
            clients,
            time_limit,
            report,
        }) => {
            let load = bench::Load {
                requests: requests as usize,
                clients: clients.into(),
                time_limit: Duration::from_secs(time_limit),
            };
            let results = bench::run(Path::new("instance/step02-bench.sqlite"), load).await?;
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

/// How long `serve` waits after Ctrl-C for the requests in flight.
const GRACE: Duration = Duration::from_secs(10);

// ANCHOR: serve
async fn serve(database: Database, port: u16, pooled: bool) -> Result<(), AppError> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "step02_connection_per_request=info,tower_http=info".into());
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
    let ctrl_c = count_ctrl_c()?;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|err| AppError::Failed(format!("cannot listen on 127.0.0.1:{port}: {err}")))?;
    println!(
        "Serving {} on http://{}/ (Ctrl-C to stop)",
        database.path().display(),
        listener.local_addr()?
    );

    let serving =
        axum::serve(listener, app(state)).with_graceful_shutdown(pressed(ctrl_c.clone(), 1));
    tokio::select! {
        served = serving.into_future() => served?, // the requests in flight have finished
        () = grace_period(ctrl_c) => println!("Stopped without waiting longer for open connections."),
    }
    let counts = database.counts();
    match pool {
        Some(pool) => {
            pool.close().await; // closes the pooled connections
            println!(
                "Stopped. The pool opened {} connections and has closed them.",
                counts.opened
            );
        }
        None => println!(
            "Stopped. Connections opened: {}, closed by requests: {}.",
            counts.opened, counts.closed
        ),
    }
    Ok(())
}

// ANCHOR_END: serve

// ANCHOR: ctrl_c
/// Counts Ctrl-C presses from this call on. Listening starts here, before the
/// URL is printed, so a Ctrl-C right after it is never missed (tokio's
/// `ctrl_c()` would only start listening when first polled).
fn count_ctrl_c() -> std::io::Result<tokio::sync::watch::Receiver<u32>> {
    #[cfg(unix)]
    let mut presses = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    #[cfg(windows)]
    let mut presses = tokio::signal::windows::ctrl_c()?;
    let (count, counted) = tokio::sync::watch::channel(0);
    tokio::spawn(async move {
        while presses.recv().await.is_some() {
            count.send_modify(|n| *n += 1);
        }
    });
    Ok(counted)
}

/// Resolves once Ctrl-C has been pressed `times` times in all.
async fn pressed(mut count: tokio::sync::watch::Receiver<u32>, times: u32) {
    if count.wait_for(|n| *n >= times).await.is_err() {
        std::future::pending::<()>().await; // no more signals will come
    }
}

/// After the first Ctrl-C, requests in flight get [`GRACE`] to finish; a
/// second Ctrl-C, or a client that never finishes its request, ends the wait.
async fn grace_period(count: tokio::sync::watch::Receiver<u32>) {
    pressed(count.clone(), 1).await;
    tokio::select! {
        () = tokio::time::sleep(GRACE) => {}
        () = pressed(count, 2) => {}
    }
}
// ANCHOR_END: ctrl_c
