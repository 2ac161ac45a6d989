//! How much does opening a SQLite connection per request cost? This serves
//! step 2's app once on 127.0.0.1 and loads the same read in both designs it
//! holds: `GET /api/users/1` (one connection per request) and
//! `GET /api/pool/users/1` (a sqlx pool). It reports requests per second, p50
//! and p99 latency, and the connections each row opened. The load is bounded
//! in requests, clients and time, and never leaves loopback. Run it with:
//!
//! ```console
//! cargo run --release -p step02-connection-per-request --example step02_load -- --report book/src/measured/step02-bench.md
//! ```
//!
//! CI never runs it: its figures depend on the machine.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use step02_connection_per_request::db::{self, Database};
use step02_connection_per_request::{pool, routes};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout_at};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Client = SendRequest<Empty<Bytes>>;

/// The benchmark's own database, deleted and refilled on every run.
const DATABASE: &str = "instance/step02-bench.sqlite";
/// One row per design: its name and the route that exercises it.
const ROWS: [(&str, &str); 2] = [
    ("one per request", "/api/users/1"),
    ("pool", "/api/pool/users/1"),
];
/// Requests each client sends before the clock starts.
const WARM_UP: usize = 5;
/// Users in the benchmark database.
const USERS: usize = 50;

/// Load step 2's app: one connection per request against a pool.
#[derive(Debug, Parser)]
struct Load {
    /// Requests per row, after a short warm-up (1 to 1000000).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    requests: u32,
    /// Clients sending at once, each on its own keep-alive connection (1 to 64).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    clients: u16,
    /// Seconds after which a row stops, warm-up included, done or not (1 to 600).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=600))]
    time_limit: u64,
    /// Also write the results (a Markdown table) to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

fn main() -> ExitCode {
    let outcome = match Load::try_parse() {
        Ok(load) => run(&load),
        Err(err) if !err.use_stderr() => err.exit(), // --help, --version
        Err(err) => Err(err.into()),
    };
    let Err(err) = outcome else {
        return ExitCode::SUCCESS;
    };
    let text = err.to_string(); // clap's errors run on with usage lines
    let line = text.lines().next().unwrap_or_default();
    eprintln!("bench: {}", line.strip_prefix("error: ").unwrap_or(line));
    ExitCode::FAILURE
}

fn run(load: &Load) -> Result<(), BoxError> {
    let path = Path::new(DATABASE);
    fresh_database(path)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let rows = runtime.block_on(measure_all(Database::new(path.to_path_buf()), load))?;
    let text = report(&rows, load);
    print!("{text}");
    if let Some(file) = &load.report {
        std::fs::write(file, &text)
            .map_err(|err| format!("cannot write {}: {err}", file.display()))?;
    }
    Ok(())
}

/// Deletes the old file, then creates the table and [`USERS`] users.
fn fresh_database(path: &Path) -> Result<(), BoxError> {
    if let Err(err) = std::fs::remove_file(path)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        return Err(format!("cannot delete {}: {err}", path.display()).into());
    }
    let mut conn = db::open(path)?;
    let tx = conn.transaction()?;
    for n in 1..=USERS {
        let user = (format!("User {n}"), format!("user{n}@example.com"));
        tx.execute("INSERT INTO users (name, email) VALUES (?, ?)", user)?;
    }
    Ok(tx.commit()?)
}

/// Serves the app once and measures each row in turn: the table's lines.
async fn measure_all(database: Database, load: &Load) -> Result<Vec<String>, BoxError> {
    let pool = pool::connect(&database, pool::POOL_SIZE);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, routes::app(database.clone(), pool)?)
        .with_graceful_shutdown(async move { stopped.await.unwrap_or_default() });
    let server = tokio::spawn(server.into_future());
    let mut rows = Vec::new();
    for (design, route) in ROWS {
        let (before, _, _) = database.counts().now();
        let (latencies, elapsed) = measure(address, route, load).await?;
        let (after, _, _) = database.counts().now();
        let per_second = latencies.len() as f64 / elapsed.as_secs_f64();
        let millis = |percent| percentile(&latencies, percent).as_secs_f64() * 1000.0;
        let (count, p50, p99, opened) = (latencies.len(), millis(50), millis(99), after - before);
        rows.push(format!(
            "| {design} | `GET {route}` | {count} | {per_second:.0} | {p50:.2} ms | {p99:.2} ms | {opened} |"
        ));
    }
    let _ = stop.send(());
    server.await??;
    Ok(rows)
}

/// Warms the clients up, then shares `load.requests` requests between them.
/// Returns the sorted latencies and the time the measured requests took.
async fn measure(
    address: SocketAddr,
    route: &'static str,
    load: &Load,
) -> Result<(Vec<Duration>, Duration), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(load.time_limit);
    let clients = timeout_at(deadline, warm_up(address, route, load.clients))
        .await
        .map_err(|_| format!("the warm-up of {route} outlasted --time-limit"))??;
    let (requests, count) = (load.requests as usize, clients.len());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (index, client) in clients.into_iter().enumerate() {
        let share = requests / count + usize::from(index < requests % count);
        tasks.push(tokio::spawn(send(client, route, share, deadline)));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Ok((latencies, elapsed))
}

/// Connects `count` clients, each sending [`WARM_UP`] requests.
async fn warm_up(address: SocketAddr, route: &str, count: u16) -> Result<Vec<Client>, BoxError> {
    let mut clients = Vec::new();
    for _ in 0..count {
        let stream = TcpStream::connect(address).await?;
        let (mut client, connection) = handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        for _ in 0..WARM_UP {
            get(&mut client, route).await?;
        }
        clients.push(client);
    }
    Ok(clients)
}

/// One client's `share` of the requests, or fewer if the deadline strikes.
async fn send(
    mut client: Client,
    route: &str,
    share: usize,
    deadline: Instant,
) -> Result<Vec<Duration>, BoxError> {
    let mut latencies = Vec::new();
    for _ in 0..share {
        let sent = Instant::now();
        match timeout_at(deadline, get(&mut client, route)).await {
            Ok(answer) => answer?,
            Err(_) => break, // the time limit struck mid-request: not counted
        }
        latencies.push(sent.elapsed());
    }
    Ok(latencies)
}

/// Sends `GET path` and reads the whole answer; anything but 200 is an error.
async fn get(client: &mut Client, path: &str) -> Result<(), BoxError> {
    let request = Request::get(path)
        .header(header::HOST, "127.0.0.1")
        .body(Empty::new())?;
    let failed = |err: hyper::Error| format!("GET {path}: {err}");
    client.ready().await.map_err(failed)?; // the previous answer is fully read
    let response = client.send_request(request).await.map_err(failed)?;
    let status = response.status();
    response.into_body().collect().await.map_err(failed)?;
    match status {
        StatusCode::OK => Ok(()),
        _ => Err(format!("GET {path} answered {status}").into()),
    }
}

/// The latency below which `percent` % of the sorted latencies fall.
fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    let index = (sorted.len() * percent).div_ceil(100).saturating_sub(1);
    sorted.get(index).copied().unwrap_or_default()
}

/// The results as Markdown: the machine and load, then the table.
fn report(rows: &[String], load: &Load) -> String {
    let build = match cfg!(debug_assertions) {
        true => "debug build (use --release for real figures)",
        false => "release build",
    };
    let (requests, clients, size) = (load.requests, load.clients, pool::POOL_SIZE);
    let mut text = format!(
        "Machine: {}, {build}.\n\
         Load: {requests} requests per row from {clients} keep-alive clients on 127.0.0.1, \
         one app serving both designs; pool of {size}.\n\n\
         The last column counts the warm-up too: \
         {WARM_UP} requests per client before the clock starts.\n\n\
         | design | route | requests | req/s | p50 | p99 | connections opened |\n\
         |---|---|--:|--:|--:|--:|--:|\n",
        machine()
    );
    for row in rows {
        let _ = writeln!(text, "{row}");
    }
    text
}

/// The CPU model and core count, as the OS reports them.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
        .map_or("unknown CPU", |(_, model)| model.trim());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let (os, arch) = (std::env::consts::OS, std::env::consts::ARCH);
    format!("{model}, {cores} cores, {os} {arch}")
}
