//! The command line of step 4. With no command it runs the walkthrough.

use std::io::IsTerminal;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use clap::{Parser, Subcommand};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use step04_orm::backend::Location;
use step04_orm::{Config, Error, create_app, db, walkthrough};
use tokio::net::TcpListener;

/// Step 4: step 3's blog tables through the diesel ORM: CRUD, a JSON API,
/// pages and pagination, on a pool of connections.
///
/// With no command, runs a narrated walkthrough on a fresh demo database
/// (instance/step04-walkthrough.sqlite).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The database for `init-db` and `serve`: a SQLite path or sqlite: URL,
    /// or a postgres:// URL [default: instance/step04.sqlite]
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
    /// Serve the app on 127.0.0.1 until Ctrl-C. It logs each request, and
    /// each connection checked out and given back, to stderr (RUST_LOG=warn quiets it).
    Serve {
        /// The port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 5000)]
        port: u16,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `| head -1`: the reader has gone, which is no failure of ours.
        Err(Error::Output(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    // The walkthrough has a database of its own; only the commands read this.
    let database = || db::location(cli.database.as_deref());
    let out = &mut std::io::stdout().lock();
    match cli.command {
        None => walkthrough::run(out),
        Some(Command::InitDb) => db::init_db_command(&database()?, out),
        Some(Command::Serve { port }) => serve(database()?, port),
    }
}

/// How long a client may take to send a request's headers, or to start the
/// next request on a kept-alive connection, before it is disconnected.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `serve` waits after Ctrl-C for the requests in flight.
const GRACE: Duration = Duration::from_secs(10);

/// Builds the app from its config and serves it until Ctrl-C.
fn serve(location: Location, port: u16) -> Result<(), Error> {
    init_logging();
    let app = create_app(Config::new(location.clone()))?; // blocking, before tokio starts
    let runtime = tokio::runtime::Runtime::new().map_err(Error::Runtime)?;
    runtime.block_on(serve_app(app, port, &location))
}

/// Serves `app` on 127.0.0.1 with hyper, which bounds the time a client may
/// take to send its headers (`axum::serve` sets no such limit), until Ctrl-C.
async fn serve_app(app: Router, port: u16, location: &Location) -> Result<(), Error> {
    let mut ctrl_c = listen_for_ctrl_c().map_err(Error::Runtime)?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|source| Error::Bind { port, source })?;
    let url = format!("http://{}/", listener.local_addr()?);
    println!("Serving {location} on {url} (Ctrl-C stops)");
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => { // out of file descriptors, say: let some close
                    tracing::warn!("cannot accept a connection: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = ctrl_c.recv() => break,
        };
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        tokio::spawn(graceful.watch(connection));
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => println!("Stopped."),
        () = tokio::time::sleep(GRACE) => println!("Stopped without waiting longer for open requests."),
        _ = ctrl_c.recv() => println!("Stopped at the second Ctrl-C."),
    }
    Ok(())
}

/// Listens for Ctrl-C from now on: called before the URL is printed, so a
/// Ctrl-C pressed right after it is never missed.
#[cfg(unix)]
fn listen_for_ctrl_c() -> std::io::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
}

#[cfg(windows)]
fn listen_for_ctrl_c() -> std::io::Result<tokio::signal::windows::CtrlC> {
    tokio::signal::windows::ctrl_c()
}

/// Logs to stderr: each request, and each connection checked out and back.
/// `RUST_LOG` overrides the default level.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "step04_orm=info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
