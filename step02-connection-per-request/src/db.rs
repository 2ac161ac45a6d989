//! One SQLite connection per request: opened on first use, shared by every
//! later use in the same request, closed when the request ends.
//!
//! Flask keeps the connection on `g` (`get_db`) and closes it in a
//! `teardown_appcontext` function (`close_db`). Here the middleware
//! [`connection_per_request`] puts an empty [`RequestDb`] into the request's
//! extensions, handlers take it as an extractor, and the middleware closes
//! whatever was opened once the handler is done, however it ended.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::FutureExt;
use rusqlite::{Connection, OpenFlags};

use crate::error::AppError;

/// Where the database lives when neither `--database` nor `DATABASE_URL`
/// says: in the `instance` folder, as Flask keeps it, under the folder you
/// run the command from.
pub const DEFAULT_DATABASE: &str = "instance/step02.sqlite";

/// Turns the value of `--database` or `DATABASE_URL` into a file path.
///
/// Accepts a plain path (`data/app.sqlite`) or a URL in sqlx's form:
/// `sqlite://data/app.sqlite` and `sqlite:data/app.sqlite` are relative,
/// `sqlite:///tmp/app.sqlite` is absolute (SQLAlchemy reads `sqlite:///` as
/// relative: mind the difference). A `?mode=...` suffix is ignored; other
/// schemes, such as `postgres://`, and in-memory databases are refused.
pub fn database_path(setting: Option<&str>) -> Result<PathBuf, AppError> {
    let Some(value) = setting else {
        return Ok(PathBuf::from(DEFAULT_DATABASE));
    };
    let path = match value.split_once(':') {
        Some(("sqlite", rest)) => rest.strip_prefix("//").unwrap_or(rest),
        Some((scheme, _)) if value.contains("://") => {
            return Err(AppError::Failed(format!(
                "the database setting is a `{scheme}:` URL, but this step needs a SQLite file: \
                 a path or a sqlite: URL (from --database or DATABASE_URL)"
            )));
        }
        _ => value,
    };
    let path = path.split('?').next().unwrap_or_default();
    if path.trim().is_empty() || path == ":memory:" {
        return Err(AppError::Failed(format!(
            "the database setting `{value}` names no file (from --database or DATABASE_URL)"
        )));
    }
    Ok(PathBuf::from(path))
}

/// The app's database: the file, and counters of what happened to it.
#[derive(Debug, Clone)]
pub struct Database {
    path: PathBuf,
    counts: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    opened: AtomicUsize,
    failed_opens: AtomicUsize,
    used: AtomicUsize,
    closed: AtomicUsize,
}

/// How many connections have been opened and closed since the app started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionCounts {
    /// Connections opened, by requests or by the pool.
    pub opened: usize,
    /// Attempts to open that failed (the file is gone, say).
    pub failed_opens: usize,
    /// Calls to [`RequestDb::run`]: queries run on a request's connection.
    pub used: usize,
    pub closed: usize,
}

impl Database {
    /// Creates the file (and its folder) and the `users` table if missing.
    /// Runs once, at start-up, on a blocking thread like every SQLite call;
    /// requests only open what exists.
    pub async fn prepare(path: &Path) -> Result<Database, AppError> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || Database::prepare_blocking(path)).await?
    }

    fn prepare_blocking(path: PathBuf) -> Result<Database, AppError> {
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|err| {
                AppError::Failed(format!("cannot create folder {}: {err}", folder.display()))
            })?;
        }
        let conn = Connection::open(&path).map_err(|err| {
            AppError::Failed(format!("cannot open database {}: {err}", path.display()))
        })?;
        conn.execute_batch(crate::store::CREATE_USERS)
            .map_err(|err| {
                AppError::Failed(format!("cannot use database {}: {err}", path.display()))
            })?;
        Ok(Database {
            path,
            counts: Arc::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Connections opened and closed so far, by requests and by the pool.
    pub fn counts(&self) -> ConnectionCounts {
        ConnectionCounts {
            opened: self.counts.opened.load(Ordering::SeqCst),
            failed_opens: self.counts.failed_opens.load(Ordering::SeqCst),
            used: self.counts.used.load(Ordering::SeqCst),
            closed: self.counts.closed.load(Ordering::SeqCst),
        }
    }

    /// Counts a connection opened outside this module (by the pool).
    pub(crate) fn count_open(&self) {
        self.counts.opened.fetch_add(1, Ordering::SeqCst);
    }

    /// Opens a connection to the existing file. Blocking: call it from a
    /// blocking thread, never from async code.
    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).inspect_err(|err| {
            self.counts.failed_opens.fetch_add(1, Ordering::SeqCst);
            tracing::warn!(database = %self.path.display(), "could not open a connection: {err}");
        })?;
        self.counts.opened.fetch_add(1, Ordering::SeqCst);
        tracing::info!(database = %self.path.display(), "opened a connection");
        Ok(conn)
    }

    fn close(&self, conn: Connection, outcome: &str) {
        if let Err((_, err)) = conn.close() {
            tracing::warn!("closing the connection failed: {err}");
        }
        self.counts.closed.fetch_add(1, Ordering::SeqCst);
        tracing::info!(outcome, "closed the connection");
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
    request_span: tracing::Span,
}

impl RequestDb {
    fn new(database: Database) -> RequestDb {
        RequestDb(Arc::new(Slot {
            database,
            connection: Mutex::new(None),
            request_span: tracing::Span::current(),
        }))
    }

    /// Runs `query` with this request's connection, opening it on first use
    /// (Flask's `get_db()`). The work runs on tokio's blocking thread pool,
    /// so a slow query never stalls the threads that serve other requests.
    pub async fn run<T, F>(&self, query: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let slot = Arc::clone(&self.0);
        let work = move || {
            let _entered = slot.request_span.enter();
            let mut connection = slot
                .connection
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if connection.is_none() {
                *connection = Some(slot.database.open()?);
            }
            slot.database.counts.used.fetch_add(1, Ordering::SeqCst);
            let conn = connection.as_ref().expect("opened just above");
            query(conn).map_err(AppError::from)
        };
        tokio::task::spawn_blocking(work).await?
    }

    /// Closes the connection if this request opened one (Flask's `close_db`).
    async fn close(&self, outcome: String) {
        if self
            .0
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
        {
            return; // never opened: nothing to close, no thread to borrow
        }
        let slot = Arc::clone(&self.0);
        let work = move || slot.close(&outcome);
        if let Err(err) = tokio::task::spawn_blocking(work).await {
            tracing::warn!("closing the connection failed: {err}");
        }
    }
}
// ANCHOR_END: request_db

impl Slot {
    fn close(&self, outcome: &str) {
        let _entered = self.request_span.enter();
        let taken = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(conn) = taken {
            self.database.close(conn, outcome);
        }
    }
}

// ANCHOR: drop
/// The last line of defence: when a request is dropped half-way (the client
/// went away), no code after an `.await` runs, but `Drop` does. It cannot
/// await, so this rare path closes on the thread that drops it.
impl Drop for Slot {
    fn drop(&mut self) {
        self.close("request dropped before it finished");
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
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<RequestDb>()
            .cloned()
            .ok_or(AppError::MissingLayer)
    }
}
// ANCHOR_END: extractor
