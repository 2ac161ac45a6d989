//! step02-connection-per-request: the connection's life in each request,
//! the routes on both designs, a real socket, `serve` and `bench`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use step02_connection_per_request::db::{
    ConnectionCounts, Database, RequestDb, connection_per_request,
};
use step02_connection_per_request::{AppError, AppState, app, bench, pool};
use tempfile::TempDir;
use tower::ServiceExt;
use workspace_tests::{Sandbox, get_request, send, step_binary};

const STEP: &str = "step02-connection-per-request";

/// A prepared database in a temporary folder of its own.
async fn database() -> (TempDir, Database) {
    let dir = TempDir::new().unwrap();
    let database = Database::prepare(&dir.path().join("test.sqlite"))
        .await
        .unwrap();
    (dir, database)
}

/// The app on one connection per request, or on a pool.
fn build(database: &Database, pooled: bool) -> Router {
    let state = if pooled {
        AppState::pooled(database.clone(), pool::connect(database, 2))
    } else {
        AppState::new(database.clone())
    };
    app(state)
}

fn post_form(body: &str) -> Request<Body> {
    Request::post("/users/new")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn user_rows(database: &Database) -> Vec<(String, String)> {
    workspace_tests::user_rows(&rusqlite::Connection::open(database.path()).unwrap())
}

fn counts(opened: usize, used: usize, closed: usize) -> ConnectionCounts {
    ConnectionCounts {
        opened,
        failed_opens: 0,
        used,
        closed,
    }
}

// --- The walkthrough and the command line -------------------------------

#[test]
fn walkthrough_narrates_each_request() {
    let sandbox = Sandbox::new(STEP);
    let run = sandbox.run(&[]);
    assert!(run.success, "{}", run.stderr);
    // The book's chapter 2 shows this very snapshot.
    insta::assert_snapshot!("walkthrough", run.stdout);
    // What it narrates is in the data: two users, plus the one the
    // spawn_blocking scene inserted; the 409 and the 400 wrote nothing.
    let db = sandbox.open_db("instance/step02-walkthrough.sqlite");
    let rows = workspace_tests::user_rows(&db);
    let names: Vec<&str> = rows.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["Ada Lovelace", "Grace Hopper", "Late"]);
}

#[test]
fn help_lists_the_subcommands() {
    let run = Sandbox::new(STEP).run(&["--help"]);
    insta::assert_snapshot!("help", run.stdout);
}

// --- The connection's life in one request -------------------------------

/// A router with test-only routes on the real middleware.
fn lifecycle_app(database: &Database) -> Router {
    async fn three_queries(db: RequestDb) -> Result<String, AppError> {
        let mut total = 0;
        for _ in 0..3 {
            total += db
                .run(|conn| conn.query_row("SELECT 1", (), |row| row.get::<_, i64>(0)))
                .await?;
        }
        Ok(total.to_string())
    }
    async fn fails_after_a_query(db: RequestDb) -> Result<String, AppError> {
        db.run(|conn| conn.query_row("SELECT * FROM no_such_table", (), |_| Ok(())))
            .await?;
        Ok("unreachable".into())
    }
    async fn panics_after_a_query(db: RequestDb) -> String {
        db.run(|conn| conn.query_row("SELECT 1", (), |_| Ok(())))
            .await
            .unwrap();
        panic!("a bug in the handler");
    }
    async fn no_database() -> &'static str {
        "no database needed"
    }
    Router::new()
        .route("/three", get(three_queries))
        .route("/fails", get(fails_after_a_query))
        .route("/panics", get(panics_after_a_query))
        .route("/none", get(no_database))
        .layer(axum::middleware::from_fn_with_state(
            database.clone(),
            connection_per_request,
        ))
        .layer(tower_http_catch_panic())
}

fn tower_http_catch_panic()
-> tower_http::catch_panic::CatchPanicLayer<tower_http::catch_panic::DefaultResponseForPanic> {
    tower_http::catch_panic::CatchPanicLayer::new()
}

#[tokio::test]
async fn a_request_that_never_asks_opens_nothing() {
    let (_dir, database) = database().await;
    let (status, _) = send(&lifecycle_app(&database), get_request("/none")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(database.counts(), counts(0, 0, 0));
}

#[tokio::test]
async fn three_uses_share_one_connection_closed_once() {
    let (_dir, database) = database().await;
    let (status, body) = send(&lifecycle_app(&database), get_request("/three")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "3"));
    assert_eq!(database.counts(), counts(1, 3, 1));
}

#[tokio::test]
async fn the_connection_is_closed_after_an_error_response() {
    let (_dir, database) = database().await;
    let (status, body) = send(&lifecycle_app(&database), get_request("/fails")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("no such table: no_such_table"), "{body}");
    assert_eq!(database.counts(), counts(1, 1, 1));
}

#[tokio::test]
async fn the_connection_is_closed_after_a_panic_and_the_app_keeps_serving() {
    let (_dir, database) = database().await;
    let app = lifecycle_app(&database);
    let (status, _) = send(&app, get_request("/panics")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(database.counts(), counts(1, 1, 1));

    let (status, body) = send(&app, get_request("/three")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "3"));
    assert_eq!(database.counts(), counts(2, 4, 2));
}

#[tokio::test]
async fn the_real_routes_open_and_close_one_connection_each() {
    let (_dir, database) = database().await;
    let app = build(&database, false);
    send(&app, post_form("name=Ada&email=ada%40example.com")).await;
    send(&app, get_request("/users")).await; // two queries
    send(&app, post_form("name=Ada&email=ada%40example.com")).await; // 409
    send(&app, get_request("/users/new")).await; // no database
    assert_eq!(database.counts(), counts(3, 4, 3));
}

// --- The routes, on both designs -----------------------------------------

#[tokio::test]
async fn the_form_inserts_and_redirects_on_both_designs() {
    for pooled in [false, true] {
        let (_dir, database) = database().await;
        let app = build(&database, pooled);
        let response = app
            .clone()
            .oneshot(post_form("name=Ada+Lovelace&email=ada%40example.com"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "pooled: {pooled}");
        assert_eq!(response.headers()[header::LOCATION], "/users");
        assert_eq!(
            user_rows(&database),
            [("Ada Lovelace".to_owned(), "ada@example.com".to_owned())]
        );
    }
}

#[tokio::test]
async fn bad_input_shows_the_form_again_and_writes_nothing() {
    let cases = [
        (
            "email=zoe%40example.com",
            StatusCode::BAD_REQUEST,
            "Please enter a name.",
        ),
        (
            "name=+++&email=zoe%40example.com",
            StatusCode::BAD_REQUEST,
            "Please enter a name.",
        ),
        (
            "name=Zo%00e&email=zoe%40example.com",
            StatusCode::BAD_REQUEST,
            "The name contains a control character.",
        ),
        (
            "name=Zoe",
            StatusCode::BAD_REQUEST,
            "Please enter an email address.",
        ),
        (
            "name=Zoe&email=",
            StatusCode::BAD_REQUEST,
            "Please enter an email address.",
        ),
        (
            "name=Zoe&email=zoe-at-example.com",
            StatusCode::BAD_REQUEST,
            "zoe-at-example.com is not a valid email address.",
        ),
        (
            "name=Zed&email=ada%40example.com",
            StatusCode::CONFLICT,
            "A user with the email ada@example.com already exists.",
        ),
    ];
    for pooled in [false, true] {
        let (_dir, database) = database().await;
        let app = build(&database, pooled);
        send(&app, post_form("name=Ada&email=ada%40example.com")).await;
        for (form, status, message) in cases {
            let (got, body) = send(&app, post_form(form)).await;
            assert_eq!(got, status, "{form} (pooled: {pooled})");
            assert!(body.contains(message), "{form}: no `{message}` in\n{body}");
            assert_eq!(user_rows(&database).len(), 1, "{form} wrote a row");
        }
    }
}

#[tokio::test]
async fn a_long_name_is_refused() {
    let (_dir, database) = database().await;
    let form = format!("name={}&email=long%40example.com", "x".repeat(101));
    let (status, body) = send(&build(&database, false), post_form(&form)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("The name is longer than 100 characters."));
    assert!(user_rows(&database).is_empty());
}

#[tokio::test]
async fn a_script_in_a_name_is_shown_escaped() {
    let (_dir, database) = database().await;
    let app = build(&database, false);
    send(
        &app,
        post_form("name=%3Cscript%3Ealert(1)%3C%2Fscript%3E&email=x%40example.com"),
    )
    .await;
    let (status, page) = send(&app, get_request("/users")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("<script>"), "the name was not escaped");
    insta::assert_snapshot!("users_page", page);
}

#[tokio::test]
async fn the_json_read_answers_200_404_and_400() {
    for pooled in [false, true] {
        let (_dir, database) = database().await;
        let app = build(&database, pooled);
        send(&app, post_form("name=Ada&email=ada%40example.com")).await;
        let found = send(&app, get_request("/api/users/1")).await;
        let missing = send(&app, get_request("/api/users/99")).await;
        let not_a_number = send(&app, get_request("/api/users/abc")).await;
        assert_eq!(
            (found.0, missing.0, not_a_number.0),
            (
                StatusCode::OK,
                StatusCode::NOT_FOUND,
                StatusCode::BAD_REQUEST
            )
        );
        let bodies = format!("{}\n{}\n{}\n", found.1, missing.1, not_a_number.1);
        insta::assert_snapshot!("json_answers", bodies);
    }
}

#[tokio::test]
async fn the_status_page_says_what_broke() {
    let (dir, database) = database().await;
    let app = build(&database, false);
    let (status, page) = send(&app, get_request("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>It works.</h1>"));

    std::fs::remove_file(dir.path().join("test.sqlite")).unwrap();
    let (status, page) = send(&app, get_request("/")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.contains("<h1>Something is broken.</h1>"));
    assert!(page.contains("unable to open database file"), "{page}");
    assert_eq!(database.counts().opened, database.counts().closed);
}

// --- Over a real socket --------------------------------------------------

#[tokio::test]
async fn over_a_real_socket_every_connection_is_closed_at_shutdown() {
    let (_dir, database) = database().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, build(&database, false))
        .with_graceful_shutdown(async move { stopped.await.unwrap() });
    let server = tokio::spawn(server.into_future());

    let mut client = bench::Client::connect(address).await.unwrap();
    for _ in 0..5 {
        let page = client.get("/users").await.unwrap();
        assert!(String::from_utf8_lossy(&page).contains("0 users"));
    }
    drop(client);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert_eq!(database.counts(), counts(5, 10, 5));
}

/// `serve --port 0` started in a temporary folder, with its address.
struct Server {
    child: Child,
    stdout: BufReader<ChildStdout>,
    address: String,
    _dir: TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = TempDir::new().unwrap();
        let mut child = Command::new(step_binary(STEP))
            .args(["serve", "--port", "0"])
            .current_dir(dir.path())
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first_line = String::new();
        stdout.read_line(&mut first_line).unwrap();
        let prefix = "Serving instance/step02.sqlite on http://";
        assert!(first_line.starts_with(prefix), "{first_line}");
        let address = first_line[prefix.len()..]
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        Server {
            child,
            stdout,
            address,
            _dir: dir,
        }
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    fn interrupt(&self) {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Waits for the exit; returns what it printed after its first line.
    fn finish(mut self) -> String {
        let status = self.child.wait().unwrap();
        assert!(status.success(), "exit status {status}");
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        rest
    }
}

#[test]
fn serve_prints_its_url_and_stops_cleanly_on_ctrl_c() {
    let mut server = Server::start();
    let address = server.address.clone();
    let mut socket = TcpStream::connect(address).unwrap();
    socket
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("It works."));

    let mut stderr = server.child.stderr.take().unwrap();
    server.interrupt();
    let rest = server.finish();
    assert_eq!(
        rest,
        "Stopped. Connections opened: 1, closed by requests: 1.\n"
    );

    // RUST_LOG=info shows the open and the close inside the request's span.
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    insta::assert_snapshot!("serve_log", without_times(&log));
}

#[test]
fn a_second_ctrl_c_stops_serve_even_with_a_request_half_sent() {
    let server = Server::start();
    let mut socket = TcpStream::connect(&server.address).unwrap();
    socket.write_all(b"GET / HTTP/1.1\r\nHo").unwrap(); // and never more
    server.interrupt();
    server.interrupt();
    // Before the fix, serve waited for this client for ever. Now it exits:
    // at once if the half request was not read yet (nothing in flight), or
    // after the second Ctrl-C, with a line saying it stopped waiting.
    let printed = server.finish();
    assert!(
        printed.ends_with("Stopped. Connections opened: 0, closed by requests: 0.\n"),
        "{printed}"
    );
}

/// A log without what changes from run to run: the leading timestamp and
/// the measured latency.
fn without_times(log: &str) -> String {
    log.lines()
        .map(|line| {
            let line = line
                .split_once(' ')
                .map_or(line, |(_time, rest)| rest.trim_start());
            match line.split_once("latency=") {
                Some((before, after)) => {
                    let unit_and_rest = after.split_once(' ').map_or("", |(_, rest)| rest);
                    format!("{before}latency=[..] {unit_and_rest}")
                }
                None => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn bench_measures_both_designs_and_the_pool_opens_fewer_connections() {
    let sandbox = Sandbox::new(STEP);
    let run = sandbox.run(&[
        "bench",
        "--requests",
        "40",
        "--clients",
        "2",
        "--report",
        "report.md",
    ]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("report.md")).unwrap(),
        run.stdout
    );
    let rows: Vec<Vec<&str>> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("| one per request") || line.starts_with("| pool"))
        .map(|line| line.split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 4, "{}", run.stdout);
    for row in rows {
        // columns: "", design, route, requests, req/s, p50, p99, opened, ""
        assert_eq!(row[3], "40", "every request was answered");
        let opened: usize = row[7].parse().unwrap();
        if row[1] == "pool" {
            assert!(opened <= 8, "the pool opened {opened}");
        } else {
            assert!(opened >= 40, "one per request opened only {opened}");
        }
    }
}
