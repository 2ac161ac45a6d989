//! step02-connection-per-request: the connection's life in a request, the
//! routes on both designs, bad input, error answers, and the real `serve`.

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use rusqlite::Connection;
use step02_connection_per_request::db::{self, Database, RequestDb};
use step02_connection_per_request::{Error, pool, routes};
use tempfile::TempDir;
use testkit::{Sandbox, Served, get as get_request, post, post_form, send};

fn sandbox() -> Sandbox {
    Sandbox::new(env!("CARGO_BIN_EXE_step02-connection-per-request"))
}

/// A prepared database in a folder the test owns, and the app on it.
fn app() -> (TempDir, Database, Router) {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("test.sqlite");
    db::open(&path).unwrap();
    let database = Database::new(path);
    let app = routes::app(database.clone(), pool::connect(&database, 2)).unwrap();
    (dir, database, app)
}

fn user_rows(database: &Database) -> Vec<(String, String)> {
    let conn = Connection::open(database.path()).unwrap();
    let mut statement = conn
        .prepare("SELECT name, email FROM users ORDER BY id")
        .unwrap();
    let rows = statement
        .query_map((), |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

#[test]
fn walkthrough_narrates_each_request() {
    let run = sandbox().run(&[]);
    assert!(run.success, "{}", run.stderr);
    insta::assert_snapshot!("walkthrough", run.stdout);
}

#[test]
fn help_lists_the_commands() {
    let run = sandbox().run(&["--help"]);
    insta::assert_snapshot!("help", run.stdout);
}

// --- The connection's life in one request ---------------------------------

/// Test-only routes on the real middleware: three uses, an error, a panic.
fn lifecycle_app(database: &Database) -> Router {
    async fn three_queries(db: RequestDb) -> Result<String, Error> {
        let mut total = 0;
        for _ in 0..3 {
            total += db
                .run(|conn| conn.query_row("SELECT 1", (), |row| row.get::<_, i64>(0)))
                .await?;
        }
        Ok(total.to_string())
    }
    async fn fails(db: RequestDb) -> Result<String, Error> {
        db.run(|conn| conn.execute("SELECT * FROM no_such_table", ()))
            .await?;
        Ok("unreachable".into())
    }
    async fn panics(db: RequestDb) -> String {
        db.run(|conn| conn.execute("SELECT 1", ())).await.unwrap();
        panic!("a bug in the handler");
    }
    let routes = Router::new()
        .route("/three", get(three_queries))
        .route("/fails", get(fails))
        .route("/panics", get(panics))
        .route("/none", get(|| async { "no database needed" }));
    let templates = std::sync::Arc::new(routes::templates().unwrap());
    stepkit::layers(db::init_app(routes, database.clone()), templates)
}

#[tokio::test]
async fn each_ending_of_a_request_closes_its_one_connection() {
    let (_dir, database, _) = app();
    let app = lifecycle_app(&database);
    assert_eq!(send(&app, get_request("/none")).await.0, StatusCode::OK);
    assert_eq!(
        database.counts().now(),
        (0, 0, 0),
        "a request that never asks opens nothing"
    );

    let (status, body) = send(&app, get_request("/three")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "3"));
    assert_eq!(
        database.counts().now(),
        (1, 3, 1),
        "three uses share one connection"
    );

    assert_eq!(
        send(&app, get_request("/fails")).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(database.counts().now(), (2, 4, 2), "closed after an error");

    assert_eq!(
        send(&app, get_request("/panics")).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(database.counts().now(), (3, 5, 3), "closed after a panic");

    assert_eq!(
        send(&app, get_request("/three")).await.0,
        StatusCode::OK,
        "still serving"
    );
}

#[tokio::test]
async fn the_real_routes_open_and_close_one_connection_each() {
    let (_dir, database, app) = app();
    send(
        &app,
        post_form("/users/new", "name=Ada&email=ada%40example.com"),
    )
    .await;
    send(&app, get_request("/users")).await; // two queries
    send(
        &app,
        post_form("/users/new", "name=Ada&email=ada%40example.com"),
    )
    .await; // 409
    send(&app, get_request("/users/new")).await; // no database
    send(&app, post_form("/users/new", "name=&email=x%40example.com")).await; // refused first
    assert_eq!(database.counts().now(), (3, 4, 3));
}

// --- The routes -------------------------------------------------------------

#[tokio::test]
async fn the_form_inserts_and_redirects() {
    let (_dir, database, app) = app();
    let request = post_form("/users/new", "name=Ada+Lovelace&email=ada%40example.com");
    let response = tower::ServiceExt::oneshot(app, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/users");
    assert_eq!(
        user_rows(&database),
        [("Ada Lovelace".to_owned(), "ada@example.com".to_owned())]
    );
}

#[tokio::test]
async fn bad_input_shows_the_form_again_and_writes_nothing() {
    let huge = "z".repeat(10_000);
    let cases = [
        (
            "email=zoe%40example.com".to_owned(),
            StatusCode::BAD_REQUEST,
            "Please enter the name.".to_owned(),
        ),
        (
            "name=+++&email=zoe%40example.com".into(),
            StatusCode::BAD_REQUEST,
            "Please enter the name.".into(),
        ),
        (
            "name=Zo%00e&email=zoe%40example.com".into(),
            StatusCode::BAD_REQUEST,
            "The name contains a control character.".into(),
        ),
        (
            "name=Zoe&email=zoe%1B%5B31m%40example.com".into(),
            StatusCode::BAD_REQUEST,
            "The email contains a control character.".into(),
        ),
        (
            "name=Z%FFe&email=zoe%40example.com".into(),
            StatusCode::BAD_REQUEST,
            "The name is not valid UTF-8 text.".into(),
        ),
        (
            "name=Zoe".into(),
            StatusCode::BAD_REQUEST,
            "Please enter the email.".into(),
        ),
        (
            "name=Zoe&email=zoe-at-example.com".into(),
            StatusCode::BAD_REQUEST,
            "&quot;zoe-at-example.com&quot; is not a valid email address.".into(),
        ),
        (
            format!("name=Zoe&email={huge}"),
            StatusCode::BAD_REQUEST,
            format!(
                "&quot;{}&quot;... is not a valid email address.",
                "z".repeat(40)
            ),
        ),
        (
            format!("name={}&email=long%40example.com", "x".repeat(101)),
            StatusCode::BAD_REQUEST,
            "The name is longer than 100 characters.".into(),
        ),
        (
            "name=Zed&email=ADA%40Example.com".into(),
            StatusCode::CONFLICT,
            "A user with this email already exists.".into(),
        ),
    ];
    let (_dir, database, app) = app();
    send(
        &app,
        post_form("/users/new", "name=Ada&email=ada%40example.com"),
    )
    .await;
    for (form, status, message) in cases {
        let (got, body) = send(&app, post_form("/users/new", &form)).await;
        let shown = &form[..form.len().min(60)];
        assert_eq!(got, status, "{shown}");
        assert!(
            body.contains(&message),
            "{shown}: no `{message}` in\n{body}"
        );
        assert!(
            body.len() < 2 * stepkit::layers::BODY_LIMIT,
            "{shown}: the answer grows with the input"
        );
        assert_eq!(user_rows(&database).len(), 1, "{shown} wrote a row");
    }
}

#[tokio::test]
async fn a_script_in_a_name_is_shown_escaped() {
    let (_dir, _database, app) = app();
    let form = "name=%3Cscript%3Ealert(1)%3C%2Fscript%3E&email=x%40example.com";
    send(&app, post_form("/users/new", form)).await;
    let (status, page) = send(&app, get_request("/users")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("<script>"), "the name was not escaped");
    insta::assert_snapshot!("users_page", page);
}

#[tokio::test]
async fn the_json_reads_answer_alike_per_request_and_pooled() {
    let (_dir, _database, app) = app();
    send(
        &app,
        post_form("/users/new", "name=Ada&email=ada%40example.com"),
    )
    .await;
    for prefix in ["/api/users", "/api/pool/users"] {
        let found = send(&app, get_request(&format!("{prefix}/1"))).await;
        assert_eq!(
            found,
            (
                StatusCode::OK,
                r#"{"id":1,"name":"Ada","email":"ada@example.com"}"#.into()
            )
        );
        let missing = send(&app, get_request(&format!("{prefix}/99"))).await;
        assert_eq!(
            missing,
            (
                StatusCode::NOT_FOUND,
                r#"{"error":"no user with id 99"}"#.into()
            )
        );
        let (status, body) = send(&app, get_request(&format!("{prefix}/abc"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.starts_with(r#"{"error":"Invalid URL"#), "{body}");
    }
    let count = send(&app, get_request("/api/pool/users/count")).await;
    assert_eq!(count, (StatusCode::OK, r#"{"users":1}"#.into()));
}

// --- Every error answer is short and readable --------------------------------

#[tokio::test]
async fn error_answers_have_readable_bodies() {
    let (_dir, _database, app) = app();
    let big = "name=Ada&email=".to_owned() + &"a".repeat(20_000);
    let cases = [
        (get_request("/nowhere"), StatusCode::NOT_FOUND, "text/html"),
        (
            get_request("/api/nowhere"),
            StatusCode::NOT_FOUND,
            "application/json",
        ),
        (
            post("/users", "text/plain", ""),
            StatusCode::METHOD_NOT_ALLOWED,
            "text/html",
        ),
        (
            post("/api/users/1", "text/plain", ""),
            StatusCode::METHOD_NOT_ALLOWED,
            "application/json",
        ),
        (
            post_form("/users/new", &big),
            StatusCode::PAYLOAD_TOO_LARGE,
            "text/html",
        ),
        (
            post("/users/new", "text/plain", "name=Ada"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/html",
        ),
        (
            post_form("/users/new", "name=a&name=b"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "text/html",
        ),
    ];
    for (request, status, kind) in cases {
        let uri = request.uri().clone();
        let response = tower::ServiceExt::oneshot(app.clone(), request)
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{uri}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with(kind), "{uri}: {content_type}");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(
            body.len() > 20 && body.len() < 2_000,
            "{uri}: {} bytes",
            body.len()
        );
        assert!(
            String::from_utf8_lossy(&body).contains(status.as_str()),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn a_500_tells_the_client_nothing_internal() {
    let (dir, database, app) = app();
    std::fs::remove_file(database.path()).unwrap();
    for uri in ["/users", "/api/users/1"] {
        let (status, body) = send(&app, get_request(uri)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("(request "), "{body}");
        for secret in [dir.path().to_str().unwrap(), "unable to open", "sqlite"] {
            assert!(!body.contains(secret), "{uri} leaks {secret:?}: {body}");
        }
    }
}

#[tokio::test]
async fn the_check_reads_the_file_and_fails_on_garbage_or_a_lock() {
    let (_dir, database, app) = app();
    assert_eq!(send(&app, get_request("/")).await.0, StatusCode::OK);

    std::fs::write(database.path(), vec![b'x'; 8192]).unwrap();
    let (status, page) = send(&app, get_request("/")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.contains("Something is broken.") && !page.contains("not a database"),
        "{page}"
    );
}

// --- The real binary -----------------------------------------------------------

#[test]
fn serve_prints_its_url_answers_and_stops_on_ctrl_c() {
    let sandbox = sandbox();
    let served = Served::start(&sandbox, &[], &[]);
    assert!(
        served
            .first_line
            .starts_with("Serving instance/step02.sqlite on http://127.0.0.1:")
    );
    let page = http_get(served.address(), "/");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    let stopped = served.stop();
    assert!(stopped.success, "{}", stopped.stderr);
    assert_eq!(stopped.stdout, "Stopped.\n");
    assert!(
        stopped.stderr.contains("opened a connection"),
        "{}",
        stopped.stderr
    );
    assert!(
        stopped
            .stderr
            .contains("closed the connection after 200 OK"),
        "{}",
        stopped.stderr
    );
}

#[test]
fn serve_stops_gracefully_on_sigterm_too() {
    let sandbox = sandbox();
    let served = Served::start(&sandbox, &[], &[]);
    let page = http_get(served.address(), "/");
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    let stopped = served.terminate();
    assert!(stopped.success, "{}", stopped.stderr);
    assert_eq!(stopped.stdout, "Stopped.\n");
}

#[test]
fn a_client_that_sends_nothing_is_disconnected_and_others_are_served() {
    let sandbox = sandbox();
    let served = Served::start(&sandbox, &[], &[]);
    let mut silent = TcpStream::connect(served.address()).unwrap();
    let mut half = TcpStream::connect(served.address()).unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    assert!(http_get(served.address(), "/").starts_with("HTTP/1.1 200 OK"));
    // Both reads end (after the header timeout) instead of waiting for ever.
    for stream in [&mut silent, &mut half] {
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
    }
    assert!(served.stop().success);
}

/// A plain HTTP/1.1 GET over a socket; returns the whole answer as text.
fn http_get(address: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let (success, stderr) = sandbox().run_into_closed_pipe(&[]);
    assert!(success, "{stderr}");
    assert_eq!(stderr, "");
}

/// A body declared over the limit is refused from its header alone: the
/// answer is 413 at once, not `100 Continue` followed by a wait for a
/// gigabyte.
#[test]
fn a_body_declared_over_the_limit_is_refused_before_it_is_sent() {
    let sandbox = sandbox();
    let served = Served::start(&sandbox, &[], &[("RUST_LOG", "warn")]);
    let address = served.address();
    let mut stream = TcpStream::connect(address).unwrap();
    let head = format!(
        "POST /users/new HTTP/1.1\r\nHost: {address}\r\nExpect: 100-continue\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut first_line = String::new();
    std::io::BufReader::new(&stream)
        .read_line(&mut first_line)
        .unwrap();
    assert_eq!(first_line, "HTTP/1.1 413 Payload Too Large\r\n");
    assert!(served.stop().success);
}

/// A client that sends its over-limit body anyway, without asking first (as
/// Python's urllib does), reads the 413 when it is done, instead of finding
/// the connection cut while it writes: the server reads and drops up to
/// 64 MiB of a refused body (for at most 5 s) first, as nginx does.
#[test]
fn a_client_that_sends_an_over_limit_body_anyway_reads_the_413() {
    let sandbox = sandbox();
    let served = Served::start(&sandbox, &[], &[("RUST_LOG", "warn")]);
    let address = served.address();
    let mut stream = TcpStream::connect(address).unwrap();
    let body = vec![b'x'; 16 * 1024 * 1024]; // more than the sockets' buffers hold
    let head = format!(
        "POST /users/new HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body).expect("the whole body is sent");
    let mut first_line = String::new();
    std::io::BufReader::new(&stream)
        .read_line(&mut first_line)
        .expect("the answer is read");
    assert_eq!(first_line, "HTTP/1.1 413 Payload Too Large\r\n");
    assert!(served.stop().success);
}
