//! `bench`: how much does opening a connection per request cost? Serves the
//! app on loopback twice, once per design, and loads it with a bounded
//! number of requests from a few keep-alive clients in the same process.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use crate::db::Database;
use crate::error::AppError;
use crate::pool;
use crate::routes::{AppState, app};

/// The routes measured: a page with two queries, and a one-row JSON read.
pub const ROUTES: [&str; 2] = ["/users", "/api/users/1"];
/// Connections in the pool for the pooled run.
pub const POOL_SIZE: u32 = 8;
/// Requests each client sends before the measured ones.
pub const WARM_UP: usize = 5;
/// Users in the benchmark database.
pub const USERS: usize = 50;

/// How hard and how long to push.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Requests per route and design, after a short warm-up.
    pub requests: usize,
    /// Clients sending at the same time, each on its own connection.
    pub clients: usize,
    /// A route's run stops here even if requests remain.
    pub time_limit: Duration,
}

/// The figures for one route under one design.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub design: &'static str,
    pub route: &'static str,
    pub requests: usize,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub opened: usize,
}

/// Runs both designs against a fresh database at `path`.
pub async fn run(path: &Path, load: Load) -> Result<Vec<Measurement>, AppError> {
    let database = fresh_database(path).await?;
    let mut results = Vec::new();
    for pooled in [false, true] {
        let state = if pooled {
            AppState::pooled(database.clone(), pool::connect(&database, POOL_SIZE))
        } else {
            AppState::new(database.clone())
        };
        let design = if pooled { "pool" } else { "one per request" };
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(listener, app(state))
            .with_graceful_shutdown(async move { stopped.await.unwrap_or_default() });
        let server = tokio::spawn(server.into_future());
        for route in ROUTES {
            let before = database.counts().opened;
            let mut measurement = measure(address, route, load).await?;
            measurement.design = design;
            measurement.opened = database.counts().opened - before;
            results.push(measurement);
        }
        let _ = stop.send(());
        server.await??;
    }
    Ok(results)
}

/// A new database holding [`USERS`] users.
async fn fresh_database(path: &Path) -> Result<Database, AppError> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err.into()),
        _ => {}
    }
    let database = Database::prepare(path).await?;
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || add_users(&path)).await??;
    Ok(database)
}

fn add_users(path: &Path) -> Result<(), AppError> {
    let mut conn = rusqlite::Connection::open(path)?;
    let tx = conn.transaction()?;
    for n in 1..=USERS {
        tx.execute(
            "INSERT INTO users (name, email) VALUES (?, ?)",
            (format!("User {n}"), format!("user{n}@example.com")),
        )?;
    }
    tx.commit()?;
    Ok(())
}

async fn measure(
    address: SocketAddr,
    route: &'static str,
    load: Load,
) -> Result<Measurement, AppError> {
    let mut clients = Vec::new();
    for _ in 0..load.clients.max(1) {
        let mut client = Client::connect(address).await?;
        for _ in 0..WARM_UP {
            client.get(route).await?; // warm-up, not counted
        }
        clients.push(client);
    }
    let remaining = Arc::new(AtomicUsize::new(load.requests));
    let deadline = Instant::now() + load.time_limit;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut client in clients {
        let remaining = Arc::clone(&remaining);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while take_one(&remaining) && Instant::now() < deadline {
                let sent = Instant::now();
                client.get(route).await?;
                latencies.push(sent.elapsed());
            }
            Ok::<_, AppError>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Ok(Measurement {
        design: "",
        route,
        requests: latencies.len(),
        per_second: latencies.len() as f64 / elapsed,
        p50: percentile(&latencies, 50),
        p99: percentile(&latencies, 99),
        opened: 0,
    })
}

fn take_one(remaining: &AtomicUsize) -> bool {
    remaining
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok()
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = (sorted.len() * percent).div_ceil(100).saturating_sub(1);
    sorted[index.min(sorted.len() - 1)]
}

/// The results as a Markdown table, with the machine and build they ran on.
pub fn report(results: &[Measurement], load: Load) -> String {
    let mut text = String::new();
    let build = if cfg!(debug_assertions) {
        "debug build (use --release for real figures)"
    } else {
        "release build"
    };
    let _ = writeln!(text, "Machine: {}, {build}.", machine());
    let _ = writeln!(
        text,
        "Load: {} requests per row from {} keep-alive clients on 127.0.0.1; pool of {POOL_SIZE}.\n",
        load.requests, load.clients
    );
    let _ = writeln!(
        text,
        "The last column counts the warm-up too: {WARM_UP} requests per client before the clock starts.\n"
    );
    let _ = writeln!(
        text,
        "| connections | route | requests | req/s | p50 | p99 | connections opened |"
    );
    let _ = writeln!(text, "|---|---|--:|--:|--:|--:|--:|");
    for m in results {
        let _ = writeln!(
            text,
            "| {} | `GET {}` | {} | {:.0} | {:.2} ms | {:.2} ms | {} |",
            m.design,
            m.route,
            m.requests,
            m.per_second,
            m.p50.as_secs_f64() * 1000.0,
            m.p99.as_secs_f64() * 1000.0,
            m.opened
        );
    }
    text
}

/// The CPU model and core count, as the OS reports them.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split(':').nth(1))
        .map_or("unknown CPU".to_owned(), |model| model.trim().to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!(
        "{model}, {cores} cores, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

// ANCHOR: client
/// A minimal HTTP/1.1 client on one keep-alive connection (hyper's own).
#[derive(Debug)]
pub struct Client {
    sender: SendRequest<Body>,
}

impl Client {
    pub async fn connect(address: SocketAddr) -> Result<Client, AppError> {
        let stream = TcpStream::connect(address).await?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|err| AppError::Failed(format!("HTTP handshake: {err}")))?;
        tokio::spawn(connection);
        Ok(Client { sender })
    }

    /// Sends `GET path`; anything but a 200 is an error.
    pub async fn get(&mut self, path: &str) -> Result<Bytes, AppError> {
        let request = Request::get(path)
            .header(header::HOST, "127.0.0.1")
            .body(Body::empty())
            .map_err(|err| AppError::Failed(err.to_string()))?;
        let failed = |err: hyper::Error| AppError::Failed(format!("GET {path}: {err}"));
        self.sender.ready().await.map_err(failed)?; // the previous answer is fully read
        let response = self.sender.send_request(request).await.map_err(failed)?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(failed)?
            .to_bytes();
        if status != StatusCode::OK {
            return Err(AppError::Failed(format!("GET {path} answered {status}")));
        }
        Ok(body)
    }
}
// ANCHOR_END: client
