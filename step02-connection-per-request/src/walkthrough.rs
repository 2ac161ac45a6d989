//! The narrated tour that `cargo run -p step02-connection-per-request`
//! prints. It builds the app in-process and hands it requests directly (no
//! port, no network), then says what happened to the connection. It prints
//! what it knows: the status, the JSON, and the app's connection counts.

use std::io::Write;
use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use crate::blocking::{self, Placement};
use crate::db::{self, Database};
use crate::{Error, pool, routes};

/// The demo database, relative to the folder the command runs in.
pub const DEMO_DATABASE: &str = "instance/step02-walkthrough.sqlite";
/// The file section 2 prepares and then deletes.
pub const GONE_DATABASE: &str = "instance/step02-walkthrough-gone.sqlite";

/// Runs the four sections in order, writing the narration to `out`.
pub fn run(out: &mut impl Write) -> Result<(), Error> {
    let path = Path::new(DEMO_DATABASE);
    remove_if_present(path)?;
    writeln!(out, "Step 2: one database connection per request")?;
    let runtime = tokio::runtime::Runtime::new().map_err(Error::Runtime)?;
    runtime.block_on(async {
        per_request(out, path).await?;
        database_gone(out, Path::new(GONE_DATABASE)).await?;
        pooled(out, path).await
    })?;
    why_spawn_blocking(out, path)?;
    writeln!(out)?;
    writeln!(out, "Next: `serve` (see --help).")?;
    Ok(())
}

/// The app on `path`, with a pool of one connection, which keeps the tour
/// deterministic (`serve` lends up to 8).
fn demo_app(path: &Path) -> Result<(Router, Database), Error> {
    db::open(path)?;
    let database = Database::new(path.to_path_buf());
    let app = routes::app(database.clone(), pool::connect(&database, 1))?;
    Ok((app, database))
}

async fn per_request(out: &mut impl Write, path: &Path) -> Result<(), Error> {
    heading(out, 1, "One connection per request, opened on first use")?;
    let (app, database) = demo_app(path)?;
    writeln!(
        out,
        "Prepared {} with an empty users table.",
        path.display()
    )?;
    let requests = [
        get("/users/new"),
        post("Ada Lovelace", "ada@example.com"),
        post("Grace Hopper", "grace@example.com"),
        get("/users"),
        post("Ada King", "ADA@example.com"),
        post("", "nobody@example.com"),
        get("/api/users/1"),
        get("/api/users/99"),
        get("/"),
    ];
    for request in requests {
        send(out, &app, &database, request).await?;
    }
    Ok(())
}

async fn database_gone(out: &mut impl Write, path: &Path) -> Result<(), Error> {
    heading(out, 2, "The error path: the database file is gone")?;
    let (app, database) = demo_app(path)?;
    std::fs::remove_file(path)?;
    writeln!(
        out,
        "Prepared {} and deleted it; requests open existing files only.",
        path.display()
    )?;
    send(out, &app, &database, get("/")).await
}

async fn pooled(out: &mut impl Write, path: &Path) -> Result<(), Error> {
    heading(out, 3, "The pooled routes, beside them")?;
    let (app, database) = demo_app(path)?; // section 1's users are still there
    writeln!(
        out,
        "A sqlx pool of one connection; each request borrows it and gives it back."
    )?;
    let requests = [
        get("/api/pool/users/1"),
        get("/api/pool/users/count"),
        get("/api/pool/users/2"),
    ];
    for request in requests {
        send(out, &app, &database, request).await?;
    }
    let (opened, _, _) = database.counts().now();
    writeln!(
        out,
        "\nThree requests, {opened} connection opened: the pool keeps it open between requests."
    )?;
    Ok(())
}

fn why_spawn_blocking(out: &mut impl Write, path: &Path) -> Result<(), Error> {
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

/// Sends one request, then prints its answer and what its connection did.
async fn send(
    out: &mut impl Write,
    app: &Router,
    database: &Database,
    request: Request<Body>,
) -> Result<(), Error> {
    let before = database.counts().now();
    writeln!(out, "\n{} {}", request.method(), request.uri())?;
    if let Some(Fields(name, email)) = request.extensions().get::<Fields>() {
        writeln!(out, "  form: name={name:?} email={email:?}")?;
    }
    let response = app
        .clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {});
    let status = response.status();
    let location = response.headers().get(header::LOCATION).cloned();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|kind| kind == "application/json");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    match (location, is_json) {
        (Some(to), _) => writeln!(out, "  answer: {status}, to {}", to.to_str().unwrap_or("?"))?,
        (None, true) => writeln!(
            out,
            "  answer: {status}, {}",
            String::from_utf8_lossy(&body)
        )?,
        (None, false) => writeln!(out, "  answer: {status}, a page")?,
    }
    let after = database.counts().now();
    let (opened, used, closed) = (after.0 - before.0, after.1 - before.1, after.2 - before.2);
    let story = match (opened, used) {
        (0, 0) if status == StatusCode::SERVICE_UNAVAILABLE => {
            "opening it failed (no file), so there was nothing to close".to_owned()
        }
        (0, 0) if closed == 0 => "none opened: nothing asked for one".to_owned(),
        (0, _) => "none opened; the pool's open one was used".to_owned(),
        _ => format!("opened {opened}, used {used}, closed {closed}"),
    };
    writeln!(out, "  connection: {story}")?;
    Ok(())
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .body(Body::empty())
        .expect("a valid request")
}

/// The fields a walkthrough POST carries, kept for the narration.
#[derive(Debug, Clone)]
struct Fields(&'static str, &'static str);

/// `POST /users/new` as a browser sends the form.
fn post(name: &'static str, email: &'static str) -> Request<Body> {
    let encode = |text: &str| text.replace('@', "%40").replace(' ', "+");
    let body = format!("name={}&email={}", encode(name), encode(email));
    let mut request = Request::post("/users/new")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("a valid request");
    request.extensions_mut().insert(Fields(name, email));
    request
}

fn heading(out: &mut impl Write, number: u8, title: &str) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(out, "## {number}. {title}")
}

fn remove_if_present(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
        _ => Ok(()),
    }
}
