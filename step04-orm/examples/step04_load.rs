//! What do diesel and the r2d2 pool cost a request? This serves step 4's app
//! once on 127.0.0.1, with one extra route that answers like
//! `GET /api/users/1` without touching the database, and loads four rows in
//! turn: the point read `GET /api/users/1`, that no-database route,
//! `GET /api/posts?per_page=100` (a page of 100 posts with their authors) and
//! `POST /api/posts` (a write). It reports requests per second, p50 and p99
//! latency and the answers that were not 2xx, then the point read's speed as
//! a share of the no-database route's. The load is bounded in requests,
//! clients and time, and never leaves loopback. Run it with:
//!
//! ```console
//! cargo run --release -p step04-orm --example step04_load -- --report book/src/measured/step04-bench.md
//! ```
//!
//! CI never runs it: its figures depend on the machine.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use axum::{Json, Router, routing::get};
use clap::Parser;
use diesel::Connection;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::json;
use step04_orm::db::{self, Database, POOL_SIZE};
use step04_orm::models::{self, NewPost};
use step04_orm::{Config, create_app, routes};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout_at};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Client = SendRequest<Full<Bytes>>;

/// The benchmark's own database, deleted and refilled on every run.
const DATABASE: &str = "instance/step04-bench.sqlite";
/// Requests each client sends before the clock starts; each must be 2xx.
const WARM_UP: usize = 5;
/// Users and posts in the benchmark database (argon2 makes users slow).
const USERS: usize = 50;
const POSTS: usize = 200;

/// One row of the table: what it measures, and the request it repeats: a
/// GET, or a POST of `body` (JSON) when there is one.
struct Row {
    what: &'static str,
    path: &'static str,
    body: &'static str,
}

impl Row {
    const fn new(what: &'static str, path: &'static str, body: &'static str) -> Row {
        Row { what, path, body }
    }

    fn method(&self) -> Method {
        match self.body.is_empty() {
            true => Method::GET,
            false => Method::POST,
        }
    }
}

static ROWS: [Row; 6] = [
    Row::new("point read (diesel, pool)", "/api/users/1", ""),
    Row::new("no database", "/nodb/users/1", ""),
    Row::new("no database, app's layers", "/layered/users/1", ""),
    Row::new("no database, one spawn_blocking hop", "/hop/users/1", ""),
    Row::new("page of 100 posts", "/api/posts?per_page=100", ""),
    Row::new("insert a post", "/api/posts", NEW_POST),
];
const NEW_POST: &str = r#"{"author_id":1,"title":"Bench","body":"Written by the benchmark."}"#;

/// What one row measured: its line of the table, and its requests per second.
struct Measured {
    line: String,
    per_second: f64,
}

impl Measured {
    /// Sorts the latencies, and writes the row's line with p50 and p99.
    fn new(row: &Row, mut latencies: Vec<Duration>, elapsed: Duration, not_2xx: usize) -> Self {
        latencies.sort();
        let count = latencies.len();
        let per_second = count as f64 / elapsed.as_secs_f64();
        let millis = |percent| percentile(&latencies, percent).as_secs_f64() * 1000.0;
        let (what, method, path, p50, p99) =
            (row.what, row.method(), row.path, millis(50), millis(99));
        let line = format!(
            "| {what} | `{method} {path}` | {count} | {per_second:.0} | {p50:.2} ms | {p99:.2} ms | {not_2xx} |"
        );
        Measured { line, per_second }
    }
}

/// Load step 4's app: diesel reads and writes against a route without a database.
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
    let username = fresh_database(path)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let layered = behind_the_layers(no_database("/layered/users/1", &username), path)?;
    let app = create_app(Config::testing(path.to_path_buf()))?
        .merge(no_database("/nodb/users/1", &username))
        .merge(layered)
        .merge(one_hop(&username));
    let measured = runtime.block_on(measure_all(app, load))?;
    let text = report(&measured, load);
    print!("{text}");
    if let Some(file) = &load.report {
        std::fs::write(file, &text)
            .map_err(|err| format!("cannot write {}: {err}", file.display()))?;
    }
    Ok(())
}

/// Deletes the old files, creates the tables, [`USERS`] users and [`POSTS`]
/// posts; returns user 1's name.
fn fresh_database(path: &Path) -> Result<String, BoxError> {
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if let Err(err) = std::fs::remove_file(&file)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            return Err(format!("cannot delete {}: {err}", file.display()).into());
        }
    }
    db::init_db(path)?;
    let mut conn = Database::new(path.to_path_buf())?.connect()?;
    conn.transaction::<_, BoxError, _>(|conn| {
        for n in 1..=USERS {
            models::create_user(
                conn,
                &format!("user{n}"),
                &models::PasswordHash::of(&format!("password {n}"))?,
            )?;
        }
        for n in 1..=POSTS {
            let (title, body) = (format!("Post {n}"), format!("Body of post {n}."));
            let author_id = (n % USERS + 1) as i64;
            let post = NewPost {
                author_id,
                title: &title,
                body: &body,
            };
            models::create_post(conn, &post)?;
        }
        Ok(())
    })?;
    let user = models::find_user(&mut conn, 1)?.ok_or("user 1 is missing")?;
    Ok(user.username)
}

/// `GET /nodb/users/1`: the JSON of `/api/users/1`, from memory.
fn no_database(path: &str, username: &str) -> Router {
    let user = json!({ "id": 1, "username": username });
    Router::new().route(path, get(move || std::future::ready(Json(user.clone()))))
}

/// The same JSON, made on a blocking thread, as every database call is: what
/// the hop to `spawn_blocking` and back costs by itself.
fn one_hop(username: &str) -> Router {
    let user = json!({ "id": 1, "username": username });
    let handler = move || {
        let user = user.clone();
        async move {
            Json(
                tokio::task::spawn_blocking(move || user)
                    .await
                    .unwrap_or_default(),
            )
        }
    };
    Router::new().route("/hop/users/1", get(handler))
}

/// `routes` behind the layers the app's own routes pass through (the
/// request's connection, then the kit's: the body limit, the timeout, the
/// panic catcher and the request log, which writes nothing here, since the
/// bench sets up no logging), so that its row prices the database alone.
fn behind_the_layers(routes: Router, path: &Path) -> Result<Router, BoxError> {
    let database = Database::new(path.to_path_buf())?;
    let templates = std::sync::Arc::new(routes::templates()?);
    Ok(stepkit::layers(db::init_app(routes, database), templates))
}

/// Serves the app once and measures each row in turn.
async fn measure_all(app: Router, load: &Load) -> Result<Vec<Measured>, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move { stopped.await.unwrap_or_default() });
    let server = tokio::spawn(server.into_future());
    SESSION.set(log_in(address).await?).ok();
    let mut measured = Vec::new();
    for row in &ROWS {
        measured.push(measure(address, row, load).await?);
    }
    let _ = stop.send(());
    server.await??;
    Ok(measured)
}

/// Warms the clients up, then shares `load.requests` requests between them.
async fn measure(
    address: SocketAddr,
    row: &'static Row,
    load: &Load,
) -> Result<Measured, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(load.time_limit);
    let clients = timeout_at(deadline, warm_up(address, row, load.clients))
        .await
        .map_err(|_| format!("the warm-up of {} outlasted --time-limit", row.path))??;
    let (requests, count) = (load.requests as usize, clients.len());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (index, client) in clients.into_iter().enumerate() {
        let share = requests / count + usize::from(index < requests % count);
        tasks.push(tokio::spawn(send(client, row, share, deadline)));
    }
    let (mut latencies, mut not_2xx) = (Vec::new(), 0);
    for task in tasks {
        let (times, failed) = task.await??;
        latencies.extend(times);
        not_2xx += failed;
    }
    Ok(Measured::new(row, latencies, started.elapsed(), not_2xx))
}

/// Connects `count` clients, each sending [`WARM_UP`] requests.
async fn warm_up(address: SocketAddr, row: &Row, count: u16) -> Result<Vec<Client>, BoxError> {
    let mut clients = Vec::new();
    for _ in 0..count {
        let stream = TcpStream::connect(address).await?;
        let (mut client, connection) = handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        for _ in 0..WARM_UP {
            let status = call(&mut client, row).await?;
            if !status.is_success() {
                return Err(format!("{} {} answered {status}", row.method(), row.path).into());
            }
        }
        clients.push(client);
    }
    Ok(clients)
}

/// One client's `share` of the requests, or fewer if the deadline strikes:
/// the latencies, and how many answers were not 2xx.
async fn send(
    mut client: Client,
    row: &Row,
    share: usize,
    deadline: Instant,
) -> Result<(Vec<Duration>, usize), BoxError> {
    let (mut latencies, mut not_2xx) = (Vec::new(), 0);
    for _ in 0..share {
        let sent = Instant::now();
        let status = match timeout_at(deadline, call(&mut client, row)).await {
            Ok(answer) => answer?,
            Err(_) => break, // the time limit struck mid-request: not counted
        };
        latencies.push(sent.elapsed());
        not_2xx += usize::from(!status.is_success());
    }
    Ok((latencies, not_2xx))
}

/// The session cookie of user 1, which the API's writes need.
static SESSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Logs in as user 1 (`POST /auth/login`) and returns the session cookie.
async fn log_in(address: SocketAddr) -> Result<String, BoxError> {
    let stream = TcpStream::connect(address).await?;
    let (mut client, connection) = handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::post("/auth/login")
        .header(header::HOST, "127.0.0.1")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from_static(
            b"username=user1&password=password%201",
        )))?;
    let response = client.send_request(request).await?;
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .ok_or("no session cookie")?;
    let pair = cookie.to_str()?.split(';').next().unwrap_or_default();
    Ok(pair.to_owned())
}

/// Sends the row's request, reads the whole answer and returns its status.
async fn call(client: &mut Client, row: &Row) -> Result<StatusCode, BoxError> {
    let mut request = Request::builder()
        .method(row.method())
        .uri(row.path)
        .header(header::HOST, "127.0.0.1");
    if let Some(cookie) = SESSION.get() {
        request = request.header(header::COOKIE, cookie);
    }
    if !row.body.is_empty() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request.body(Full::new(Bytes::from_static(row.body.as_bytes())))?;
    let failed = |err: hyper::Error| format!("{} {}: {err}", row.method(), row.path);
    client.ready().await.map_err(failed)?; // the previous answer is fully read
    let response = client.send_request(request).await.map_err(failed)?;
    let status = response.status();
    response.into_body().collect().await.map_err(failed)?;
    Ok(status)
}

/// The latency below which `percent` % of the sorted latencies fall.
fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    let index = (sorted.len() * percent).div_ceil(100).saturating_sub(1);
    sorted.get(index).copied().unwrap_or_default()
}

/// The results as Markdown: the machine and load, the table, then the ratio.
fn report(measured: &[Measured], load: &Load) -> String {
    let build = match cfg!(debug_assertions) {
        true => "debug build (use --release for real figures)",
        false => "release build",
    };
    let (requests, clients) = (load.requests, load.clients);
    let mut text = format!(
        "Machine: {}, {build}.\n\
         Load: {requests} requests per row from {clients} keep-alive clients on 127.0.0.1, \
         one app serving every row; pool of {POOL_SIZE}; {USERS} users and {POSTS} posts \
         to start with.\n\n\
         Each client first sends {WARM_UP} requests, which must all be 2xx, before the clock starts. \
         `/nodb/users/1` is merged beside the app, outside its layers (request log, timeout, \
         panic catcher, connection per request), so its ratio prices those too; \
         `/layered/users/1` is the same route behind those layers but the request log, \
         so its ratio prices the database alone.\n\n\
         | row | request | requests | req/s | p50 | p99 | not 2xx |\n\
         |---|---|--:|--:|--:|--:|--:|\n",
        machine()
    );
    for row in measured {
        let _ = writeln!(text, "{}", row.line);
    }
    if let [read, no_db, layered, ..] = measured // the first three of ROWS
        && no_db.per_second > 0.0
        && layered.per_second > 0.0
    {
        let bare = 100.0 * read.per_second / no_db.per_second;
        let behind = 100.0 * read.per_second / layered.per_second;
        let _ = writeln!(text, "\npoint read / bare no-database route: {bare:.0}%");
        let _ = writeln!(
            text,
            "point read / no-database route behind the layers: {behind:.0}%"
        );
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
