//! The database: where it lives, the queries on `users`, and the connection
//! each request opens on first use and closes when it ends.
//!
//! Flask keeps the connection on `g` (`get_db`) and closes it in a
//! `teardown_appcontext` function (`close_db`). Here the middleware
//! [`connection_per_request`] puts an unopened [`RequestDb`] into the
//! request, handlers extract it, and the middleware closes whatever was
//! opened, however the handler ended.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::FutureExt;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

use crate::Error;

/// Where the database lives when neither `--database` nor `DATABASE_URL` says
/// (the kit's `setting.rs` reads those): Flask keeps its database in an
/// `instance` folder, and so do we. The path is relative to the folder you
/// run the command from.
pub const DEFAULT_DATABASE: &str = "instance/step02.sqlite";

/// Opens the database file, creating it (and its folder) when missing, and
/// makes sure the `users` table exists. Python: `sqlite3.connect(path)`.
pub fn open(path: &Path) -> Result<Connection, Error> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|source| Error::CreateDir {
            path: folder.to_path_buf(),
            source,
        })?;
    }
    let cannot_open = |source| Error::Open {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open(path).map_err(cannot_open)?;
    conn.execute_batch(CREATE_USERS).map_err(cannot_open)?; // first real read
    Ok(conn)
}

// Emails compare without regard to case (`COLLATE NOCASE`), in the UNIQUE
// rule and in every `WHERE email = ?`: Ann@Example.com is ann@example.com.
const CREATE_USERS: &str = "
    CREATE TABLE IF NOT EXISTS users (
        id    INTEGER PRIMARY KEY AUTOINCREMENT,
        name  TEXT NOT NULL,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE
    )";

/// One row of the `users` table, as a page or JSON shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
}

impl User {
    /// Reads the columns by name, as `sqlite3.Row` lets Python do.
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
        Ok(User {
            id: row.get("id")?,
            name: row.get("name")?,
            email: row.get("email")?,
        })
    }
}

/// Inserts one user and returns its new id. The values travel separately
/// from the SQL text, through the `?` placeholders.
pub fn insert_user(conn: &Connection, name: &str, email: &str) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO users (name, email) VALUES (?, ?)",
        (name, email),
    )?;
    Ok(conn.last_insert_rowid())
}

/// The first `limit` users, oldest first.
pub fn first_users(conn: &Connection, limit: i64) -> rusqlite::Result<Vec<User>> {
    let mut statement =
        conn.prepare_cached("SELECT id, name, email FROM users ORDER BY id LIMIT ?")?;
    let users = statement.query_map((limit,), User::from_row)?;
    users.collect()
}

/// The user with this id, if there is one.
pub fn find_user(conn: &Connection, id: i64) -> rusqlite::Result<Option<User>> {
    conn.query_row(
        "SELECT id, name, email FROM users WHERE id = ?",
        (id,),
        User::from_row,
    )
    .optional()
}

/// How many rows `users` holds.
pub fn count_users(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM users", (), |row| row.get(0))
}

/// Reads SQLite's catalogue: fails unless the file really is a database.
/// (`SELECT 1` would not touch the file at all.)
pub fn check(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT count(*) FROM sqlite_schema", (), |_| Ok(()))
}

/// The app's database file, and this step's lesson in numbers: how many
/// connections were opened, used and closed.
#[derive(Debug, Clone)]
pub struct Database {
    path: PathBuf,
    counts: Arc<Counts>,
}

/// Connections opened (by requests or the pool), uses of a request's
/// connection, and connections closed by requests.
#[derive(Debug, Default)]
pub struct Counts {
    pub opened: AtomicUsize,
    pub used: AtomicUsize,
    pub closed: AtomicUsize,
}

impl Counts {
    /// `(opened, used, closed)` so far.
    pub fn now(&self) -> (usize, usize, usize) {
        let read = |count: &AtomicUsize| count.load(Ordering::SeqCst);
        (read(&self.opened), read(&self.used), read(&self.closed))
    }
}

impl Database {
    /// The database at `path`, which [`open`] has prepared.
    pub fn new(path: PathBuf) -> Database {
        Database {
            path,
            counts: Arc::default(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Opens a connection to the existing file; never creates one. It blocks:
    /// call it on a blocking thread, never in async code.
    fn connect(&self) -> Result<Connection, Error> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(&self.path, flags).map_err(|source| Error::Open {
                path: self.path.clone(),
                source,
            })?;
        self.counts.opened.fetch_add(1, Ordering::SeqCst);
        tracing::info!("opened a connection");
        Ok(conn)
    }
}

// ANCHOR: request_db
/// This request's connection, the counterpart of Flask's `g.db`.
///
/// Cloning is cheap and every clone shares one slot: the first
/// [`RequestDb::run`] opens the connection, the next ones reuse it.
#[derive(Debug, Clone)]
pub struct RequestDb(Arc<Slot>);

#[derive(Debug)]
struct Slot {
    database: Database,
    connection: Mutex<Option<Connection>>,
    span: tracing::Span,
}

impl RequestDb {
    fn new(database: Database) -> RequestDb {
        RequestDb(Arc::new(Slot {
            database,
            connection: Mutex::new(None),
            span: tracing::Span::current(),
        }))
    }

    /// Runs `query` on this request's connection, opening it on first use
    /// (Flask's `get_db()`). The work runs on tokio's blocking thread pool,
    /// so a slow query never stalls the threads that serve other requests.
    pub async fn run<T, E, F>(&self, query: F) -> Result<T, Error>
    where
        T: Send + 'static,
        Error: From<E>,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let slot = Arc::clone(&self.0);
        let work = move || {
            let _entered = slot.span.enter();
            let mut connection = slot.lock();
            if connection.is_none() {
                *connection = Some(slot.database.connect()?);
            }
            slot.database.counts.used.fetch_add(1, Ordering::SeqCst);
            let conn = connection.as_ref().expect("opened just above");
            Ok(query(conn)?)
        };
        tokio::task::spawn_blocking(work).await?
    }

    /// Closes the connection if this request opened one (Flask's `close_db`).
    async fn close(&self, outcome: String) {
        if self.0.lock().is_none() {
            return; // never opened: nothing to close, no thread to borrow
        }
        let slot = Arc::clone(&self.0);
        if let Err(err) = tokio::task::spawn_blocking(move || slot.close(&outcome)).await {
            tracing::warn!("closing the connection failed: {err}");
        }
    }
}
// ANCHOR_END: request_db

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Connection>> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn close(&self, outcome: &str) {
        let _entered = self.span.enter();
        if let Some(conn) = self.lock().take() {
            if let Err((_, err)) = conn.close() {
                tracing::warn!("closing the connection failed: {err}");
            }
            self.database.counts.closed.fetch_add(1, Ordering::SeqCst);
            tracing::info!("closed the connection {outcome}");
        }
    }
}

// ANCHOR: drop
/// The last line of defence: when a request is dropped half-way (the client
/// went away), no code after an `.await` runs, but `Drop` does. It cannot
/// await, so this rare path closes on the thread that drops it.
impl Drop for Slot {
    fn drop(&mut self) {
        self.close("when the request was dropped");
    }
}
// ANCHOR_END: drop

// ANCHOR: middleware
/// The teardown: gives each request an unopened [`RequestDb`], runs the
/// handler, then closes the connection whether the handler answered, failed
/// or panicked. Like Flask's `close_db(e)`, it knows how the request ended.
pub async fn connection_per_request(
    State(database): State<Database>,
    mut request: Request,
    next: Next,
) -> Response {
    let db = RequestDb::new(database);
    request.extensions_mut().insert(db.clone());

    let outcome = AssertUnwindSafe(next.run(request)).catch_unwind().await;
    match outcome {
        Ok(response) => {
            db.close(format!("after {}", response.status())).await;
            response
        }
        Err(panic) => {
            db.close("after a panic".to_owned()).await;
            std::panic::resume_unwind(panic) // answered with a 500 by CatchPanicLayer
        }
    }
}
// ANCHOR_END: middleware

// ANCHOR: extractor
/// Lets a handler ask for the connection by naming it: `db: RequestDb`.
impl<S: Send + Sync> FromRequestParts<S> for RequestDb {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        parts
            .extensions
            .get::<RequestDb>()
            .cloned()
            .ok_or(Error::MissingLayer)
    }
}
// ANCHOR_END: extractor

// ANCHOR: init_app
/// Registers the database with the routes, as flaskr's `db.init_app(app)`
/// does: every request gets its connection, closed when the request ends.
pub fn init_app<S>(routes: Router<S>, database: Database) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    routes.layer(axum::middleware::from_fn_with_state(
        database,
        connection_per_request,
    ))
}
// ANCHOR_END: init_app
