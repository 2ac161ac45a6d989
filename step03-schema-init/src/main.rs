//! The command line of step 3. With no command it runs the walkthrough.

use std::io::IsTerminal;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use step03_schema_init::{Config, Error, create_app, db, walkthrough};

// ANCHOR: cli
/// Step 3: flaskr's schema, the init-db command, the app factory, typed
/// timestamps and hashed passwords.
///
/// With no command, runs a narrated walkthrough on a fresh demo database
/// (instance/step03-walkthrough.sqlite).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The database for `init-db` and `serve`: a path or a sqlite: URL
    /// [default: instance/step03.sqlite]
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
    /// Serve the index page of posts on 127.0.0.1 until Ctrl-C.
    Serve {
        /// The port to listen on.
        #[arg(long, default_value_t = 5000)]
        port: u16,
    },
}
// ANCHOR_END: cli

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    // The walkthrough has a database of its own; only the commands read this.
    let database = || db::database_path(cli.database.as_deref());
    match cli.command {
        None => walkthrough::run(&mut std::io::stdout().lock()),
        Some(Command::InitDb) => db::init_db_command(&database()?, &mut std::io::stdout().lock()),
        Some(Command::Serve { port }) => serve(&database()?, port),
    }
}

/// How long `serve` waits after Ctrl-C for the requests in flight.
const GRACE: Duration = Duration::from_secs(10);

// ANCHOR: serve
/// Builds the app from its config and serves it until Ctrl-C.
fn serve(database: &Path, port: u16) -> Result<(), Error> {
    init_logging();
    let app = create_app(Config::new(database.to_path_buf()))?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let ctrl_c = count_ctrl_c().map_err(Error::Serve)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let url = listener.local_addr().map_err(Error::Serve)?;
        println!(
            "Serving {} on http://{url}/ (Ctrl-C stops)",
            database.display()
        );
        let serving = axum::serve(listener, app).with_graceful_shutdown(pressed(ctrl_c.clone(), 1));
        tokio::select! {
            served = serving.into_future() => served.map_err(Error::Serve),
            () = grace_period(ctrl_c) => {
                println!("Stopped without waiting longer for open connections.");
                Ok(())
            }
        }
    })
}

// ANCHOR_END: serve

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

/// Logs to stderr: requests, and each connection opened and closed.
/// `RUST_LOG` overrides the default level.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "step03_schema_init=info,tower_http=debug".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
