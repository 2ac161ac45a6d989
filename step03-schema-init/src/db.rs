//! The database module: where the file lives, the schema and the `init-db`
//! command, and the connection each request opens on first use.
//!
//! The request-scoped connection is step 2's idea, copied and trimmed so this
//! step stands on its own: the middleware [`connection_per_request`] gives
//! each request an unopened [`RequestDb`], handlers extract it, and the
//! middleware closes whatever was opened once the handler is done.

use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::FutureExt;
use rusqlite::{Connection, OpenFlags};
use tempfile::TempDir;

use crate::Error;

/// Where the database lives when neither `--database` nor `DATABASE_URL`
/// says: in the `instance` folder, as Flask keeps it, under the folder you
/// run the command from.
pub const DEFAULT_DATABASE: &str = "instance/step03.sqlite";

// ANCHOR: schema_const
/// The schema, compiled into the binary: the counterpart of Flask's
/// `current_app.open_resource("schema.sql")`, with no file to lose at run time.
pub const SCHEMA: &str = include_str!("schema.sql");
// ANCHOR_END: schema_const

/// Turns the value of `--database` or `DATABASE_URL` into a file path.
///
/// Accepts a plain path (`data/app.sqlite`) or a URL in sqlx's form:
/// `sqlite://data/app.sqlite` and `sqlite:data/app.sqlite` are relative,
/// `sqlite:///tmp/app.sqlite` is absolute (SQLAlchemy reads `sqlite:///` as
/// relative: mind the difference). A `?mode=...` suffix is ignored; other
/// schemes, such as `postgres://`, and in-memory databases are refused.
pub fn database_path(setting: Option<&str>) -> Result<PathBuf, Error> {
    let Some(value) = setting else {
        return Ok(PathBuf::from(DEFAULT_DATABASE));
    };
    let path = match value.split_once(':') {
        Some(("sqlite", rest)) => rest.strip_prefix("//").unwrap_or(rest),
        Some((scheme, _)) if value.contains("://") => {
            return Err(Error::NotSqlite(scheme.to_owned()));
        }
        _ => value,
    };
    let path = path.split('?').next().unwrap_or_default();
    if path.trim().is_empty() || path == ":memory:" {
        return Err(Error::NoDatabasePath(value.to_owned()));
    }
    Ok(PathBuf::from(path))
}

// ANCHOR: init_db
/// Clears the existing data and creates new tables: runs [`SCHEMA`] on the
/// file, creating the file and its folder first if they are missing.
pub fn init_db(path: &Path) -> Result<(), Error> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|source| Error::CreateDir {
            path: folder.to_path_buf(),
            source,
        })?;
    }
    let conn = Connection::open(path).map_err(|source| Error::Open {
        path: path.to_path_buf(),
        source,
    })?;
    conn.execute_batch(SCHEMA).map_err(|source| Error::Schema {
        path: path.to_path_buf(),
        source,
    })
}

/// The `init-db` command: [`init_db`], then the line Flask's command prints.
pub fn init_db_command(path: &Path, out: &mut impl Write) -> Result<(), Error> {
    init_db(path)?;
    writeln!(out, "Initialized the database.")?;
    Ok(())
}
// ANCHOR_END: init_db

/// Fails with a hint unless the file exists and holds both tables, so that
/// `serve` stops at start-up rather than answering every request with 500.
pub fn check_initialized(path: &Path) -> Result<(), Error> {
    let not_initialized = || Error::NotInitialized {
        path: path.to_path_buf(),
    };
    if !path.exists() {
        return Err(not_initialized());
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|source| Error::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema
             WHERE type = 'table' AND name IN ('user', 'post')",
            (),
            |row| row.get(0),
        )
        .map_err(|source| Error::Open {
            path: path.to_path_buf(),
            source,
        })?;
    if tables == 2 {
        Ok(())
    } else {
        Err(not_initialized())
    }
}

/// The app's database file. A testing database also keeps its temporary
/// folder alive for as long as the app holds this value.
#[derive(Debug, Clone)]
pub struct Database {
    path: PathBuf,
    _temporary: Option<Arc<TempDir>>,
}

impl Database {
    /// The database at `path`; `temporary` is the folder to keep alive, if any.
    pub fn new(path: PathBuf, temporary: Option<Arc<TempDir>>) -> Database {
        Database {
            path,
            _temporary: temporary,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens a connection to the existing file (never creates it: that is
    /// `init-db`'s job). Blocking: call it from a blocking thread.
    fn open(&self) -> Result<Connection, Error> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(&self.path, flags).map_err(|source| Error::Open {
                path: self.path.clone(),
                source,
            })?;
        tracing::info!(database = %self.path.display(), "opened a connection");
        Ok(conn)
    }

    fn close(&self, conn: Connection, outcome: &str) {
        if let Err((_, err)) = conn.close() {
            tracing::warn!("closing the connection failed: {err}");
        }
        tracing::info!(outcome, "closed the connection");
    }
}

// ANCHOR: request_db
/// This request's connection, the counterpart of Flask's `g.db`. Every
/// clone shares one slot: the first [`RequestDb::run`] opens the connection,
/// later ones in the same request reuse it.
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
    /// (Flask's `get_db()`), on tokio's blocking thread pool.
    pub async fn run<T, F>(&self, query: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    {
        let slot = Arc::clone(&self.0);
        let work = move || {
            let _entered = slot.request_span.enter();
            let mut connection = slot
                .connection
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let conn = match &mut *connection {
                Some(open) => open,
                empty => empty.insert(slot.database.open()?),
            };
            query(conn)
        };
        tokio::task::spawn_blocking(work).await?
    }

    /// Closes the connection if this request opened one (Flask's `close_db`).
    async fn close(&self, outcome: String) {
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

/// The last resort: a request dropped half-way (the client went away) runs
/// no code after its `.await`, but it does run `Drop`.
impl Drop for Slot {
    fn drop(&mut self) {
        self.close("request dropped before it finished");
    }
}

// ANCHOR: middleware
/// The teardown: gives each request an unopened [`RequestDb`], runs the
/// handler, then closes the connection however the handler ended.
pub async fn connection_per_request(
    State(database): State<Database>,
    mut request: Request,
    next: Next,
) -> Response {
    let db = RequestDb::new(database);
    request.extensions_mut().insert(db.clone());

    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => {
            db.close(format!("after {}", response.status())).await;
            response
        }
        Err(panic) => {
            db.close("after a panic".to_owned()).await;
            std::panic::resume_unwind(panic) // CatchPanicLayer answers 500
        }
    }
}
// ANCHOR_END: middleware

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

// ANCHOR: init_app
/// Registers the database with the app, as flaskr's `db.init_app(app)`
/// does: every request gets its connection, closed when the request ends.
/// (The other half of flaskr's `init_app`, the `init-db` command, is
/// [`init_db_command`], which `main` offers as a subcommand.)
pub fn init_app<S>(app: Router<S>, database: Database) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    app.layer(axum::middleware::from_fn_with_state(
        database,
        connection_per_request,
    ))
}
// ANCHOR_END: init_app
