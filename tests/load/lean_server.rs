//! The leanest honest SQLite read, for the load bench to hold step 4 up to:
//! the rules step 4 keeps that cost something are kept (the read runs on a
//! blocking thread, never on a worker; the server is the kit's, with its
//! limits on slow clients), and nothing else is there: no pool, no layers,
//! no request log. Each blocking thread keeps a connection open, with the
//! statement prepared once (`prepare_cached`), and answers the same JSON as
//! step 4's `GET /api/users/{id}`.
//!
//! Beside it, two routes price what a database call's hop costs alone:
//! `/nodb/users/1` answers the same JSON from memory, `/hop/users/1` makes
//! it on a blocking thread first. With `--layers`, the routes sit behind the
//! kit's layers, as every step's do, and the kit's request log is on: the
//! bench prices those two things with it.
//!
//! `cargo run --release -p workspace-tests --example lean_server -- DATABASE PORT [--layers]`

use std::cell::RefCell;
use std::path::PathBuf;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use minijinja::Environment;
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Value, json};

thread_local! {
    /// The blocking thread's own connection, opened on its first read.
    static CONNECTION: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

/// `GET /users/{id}`: the user as JSON, 404 when there is none.
async fn read_user(State(database): State<PathBuf>, Path(id): Path<i64>) -> Response {
    let read = tokio::task::spawn_blocking(move || {
        CONNECTION.with(|kept| -> rusqlite::Result<Option<Value>> {
            let mut kept = kept.borrow_mut();
            let conn = match kept.as_mut() {
                Some(conn) => conn,
                None => kept.insert(Connection::open(&database)?),
            };
            let mut statement =
                conn.prepare_cached("SELECT id, username FROM user WHERE id = ?1")?;
            statement
                .query_row([id], |row| {
                    Ok(json!({ "id": row.get::<_, i64>(0)?, "username": row.get::<_, String>(1)? }))
                })
                .optional()
        })
    })
    .await;
    match read {
        Ok(Ok(Some(user))) => Json(user).into_response(),
        Ok(Ok(None)) => StatusCode::NOT_FOUND.into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn user_one() -> Value {
    json!({ "id": 1, "username": "user1" })
}

fn app(database: PathBuf) -> Router {
    Router::new()
        .route("/users/{id}", get(read_user))
        .route("/nodb/users/1", get(|| async { Json(user_one()) }))
        .route(
            "/hop/users/1",
            get(|| async {
                let user = tokio::task::spawn_blocking(user_one).await;
                user.map(Json)
                    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
            }),
        )
        .with_state(database)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: lean_server DATABASE PORT";
    let database = PathBuf::from(args.next().ok_or(usage)?);
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let mut app = app(database.clone());
    if args.next().as_deref() == Some("--layers") {
        stepkit::logging::init("lean_server");
        let mut pages = Environment::new();
        pages.add_template("error.html", "{{ status }}: {{ detail }}")?;
        app = stepkit::layers::layers(app, std::sync::Arc::new(pages));
    }
    let runtime = stepkit::serve::runtime()?;
    let shown = database.display().to_string();
    runtime.block_on(stepkit::serve(app, port, shown))?;
    Ok(())
}
