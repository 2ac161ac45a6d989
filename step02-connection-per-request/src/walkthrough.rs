//! The narrated tour that `cargo run -p step02-connection-per-request`
//! prints. It builds the app in-process and sends it requests directly
//! (no port, no network), then says what happened to the connection.

use std::io::Write;
use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::blocking::{self, Placement};
use crate::db::Database;
use crate::error::AppError;
use crate::pool;
use crate::routes::{AppState, app};

/// The demo database, relative to the folder the command runs in.
pub const DEMO_DATABASE: &str = "instance/step02-walkthrough.sqlite";
/// The file section 2 prepares and then deletes.
pub const GONE_DATABASE: &str = "instance/step02-walkthrough-gone.sqlite";

/// Runs the four sections in order, writing the narration to `out`.
pub async fn run(out: &mut impl Write) -> Result<(), AppError> {
    let path = Path::new(DEMO_DATABASE);
    remove_if_present(path)?;
    writeln!(out, "Step 2: one database connection per request")?;
    per_request(out, path).await?;
    database_gone(out, Path::new(GONE_DATABASE)).await?;
    pooled(out, path).await?;
    why_spawn_blocking(out, path)?;
    writeln!(out)?;
    writeln!(
        out,
        "Next: `serve`, `serve --pool` and `bench` (see --help)."
    )?;
    Ok(())
}

async fn per_request(out: &mut impl Write, path: &Path) -> Result<(), AppError> {
    heading(out, 1, "One connection per request, opened on first use")?;
    let database = Database::prepare(path).await?;
    writeln!(
        out,
        "Prepared {} with an empty users table.",
        path.display()
    )?;
    let app = app(AppState::new(database.clone()));
    let requests = [
        get("/users/new"),
        post("Ada Lovelace", "ada@example.com"),
        post("Grace Hopper", "grace@example.com"),
        get("/users"),
        post("Ada King", "ada@example.com"),
        post("", "nobody@example.com"),
        get("/api/users/1"),
        get("/api/users/99"),
        get("/"),
    ];
    for request in requests {
        send(out, &app, &database, false, request).await?;
    }
    Ok(())
}

async fn database_gone(out: &mut impl Write, path: &Path) -> Result<(), AppError> {
    heading(out, 2, "The error path: the database file is gone")?;
    let database = Database::prepare(path).await?;
    let app = app(AppState::new(database.clone()));
    std::fs::remove_file(path)?;
    writeln!(
        out,
        "Prepared {} and deleted it; requests open existing files only.",
        path.display()
    )?;
    send(out, &app, &database, false, get("/")).await
}

async fn pooled(out: &mut impl Write, path: &Path) -> Result<(), AppError> {
    heading(out, 3, "The same routes on a pool (serve --pool)")?;
    let database = Database::prepare(path).await?; // the users from section 1 are still there
    // One connection keeps this tour deterministic; `serve --pool` lends up to 8.
    let app = app(AppState::pooled(
        database.clone(),
        pool::connect(&database, 1),
    ));
    writeln!(
        out,
        "A sqlx pool of one connection; each request borrows it and gives it back."
    )?;
    for request in [get("/users"), get("/api/users/1"), get("/users")] {
        send(out, &app, &database, true, request).await?;
    }
    let opened = database.counts().opened;
    writeln!(
        out,
        "Three requests, {opened} connection opened: the pool keeps it open between requests."
    )?;
    Ok(())
}

fn why_spawn_blocking(out: &mut impl Write, path: &Path) -> Result<(), AppError> {
    heading(out, 4, "Why SQLite calls run on spawn_blocking")?;
    writeln!(
        out,
        "Another connection holds the write lock, and a task is ready to commit it."
    )?;
    writeln!(
        out,
        "An INSERT must wait for that lock, on a runtime with one worker thread:"
    )?;
    for (placement, label) in [
        (Placement::WorkerThread, "on the worker thread"),
        (Placement::BlockingPool, "in spawn_blocking   "),
    ] {
        let outcome = match blocking::insert_while_locked(path, placement)? {
            Ok(_) => "inserted, once the other task had committed".to_owned(),
            Err(err) => format!("failed: {err} (the committing task never got to run)"),
        };
        writeln!(out, "  {label} -> {outcome}")?;
    }
    Ok(())
}

/// Sends one request and narrates its answer and its connection.
async fn send(
    out: &mut impl Write,
    app: &Router,
    database: &Database,
    pooled: bool,
    request: Request<Body>,
) -> Result<(), AppError> {
    let before = database.counts();
    let mut line = format!("{} {}", request.method(), request.uri());
    if let Some(fields) = request.extensions().get::<FormFields>() {
        line.push_str(&format!(" with name={:?} email={:?}", fields.0, fields.1));
    }
    let response = app
        .clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {});
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| AppError::Failed(e.to_string()))?;
    let after = database.counts();

    writeln!(out)?;
    writeln!(out, "{line}")?;
    match location {
        Some(location) => writeln!(out, "  answer: {status} to {location}")?,
        None => writeln!(
            out,
            "  answer: {status}, {}",
            gist(&String::from_utf8_lossy(&body.to_bytes()))
        )?,
    }
    let (opened, used, closed) = (
        after.opened - before.opened,
        after.used - before.used,
        after.closed - before.closed,
    );
    let story = match (pooled, opened) {
        (true, 0) => "borrowed the pool's open connection, then gave it back".to_owned(),
        (true, _) => "the pool opened one, lent it, and keeps it open".to_owned(),
        (false, 0) if after.failed_opens > before.failed_opens => {
            "the open failed, so there was nothing to close".to_owned()
        }
        (false, 0) if used == 0 => "none opened: this handler never asked for one".to_owned(),
        (false, _) => format!("opened {opened}, used {}, closed {closed}", times(used)),
    };
    writeln!(out, "  connection: {story}")?;
    Ok(())
}

fn times(count: usize) -> String {
    match count {
        1 => "once".to_owned(),
        2 => "twice".to_owned(),
        n => format!("{n} times"),
    }
}

/// The part of a page a reader cares about: the alert if any, else the heading.
fn gist(body: &str) -> String {
    if body.starts_with('{') {
        return body.to_owned();
    }
    let between = |start: &str, end: &str| {
        let from = body.find(start)? + start.len();
        let to = body[from..].find(end)? + from;
        Some(unescape(body[from..to].trim()))
    };
    let alert = between("role=\"alert\">", "</p>");
    let heading = between("<h1>", "</h1>").unwrap_or_default();
    let first_paragraph = between("</h1>\n    <p>", "</p>");
    match (alert, first_paragraph) {
        (Some(alert), _) => format!("\"{heading}\" saying \"{alert}\""),
        (None, Some(text)) => format!("\"{heading}\" {text}"),
        (None, None) => format!("\"{heading}\""),
    }
}

/// Undoes the HTML escaping minijinja applied, for the terminal.
fn unescape(html: &str) -> String {
    [
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#x27;", "'"),
        ("&#x2f;", "/"),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(html.to_owned(), |text, (entity, plain)| {
        text.replace(entity, plain)
    })
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .body(Body::empty())
        .expect("a valid request")
}

/// The fields a walkthrough POST carries, kept for the narration.
#[derive(Debug, Clone)]
struct FormFields(&'static str, &'static str);

/// `POST /users/new` as a browser sends the form.
fn post(name: &'static str, email: &'static str) -> Request<Body> {
    let encode = |text: &str| text.replace('@', "%40").replace(' ', "+");
    let body = format!("name={}&email={}", encode(name), encode(email));
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/users/new")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("a valid request");
    request.extensions_mut().insert(FormFields(name, email));
    request
}

fn heading(out: &mut impl Write, number: u8, title: &str) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(out, "## {number}. {title}")
}

fn remove_if_present(path: &Path) -> Result<(), AppError> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
        _ => Ok(()),
    }
}
