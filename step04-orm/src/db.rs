//! The database: where it lives, the schema and `init-db`, a pool of diesel
//! connections, and the connection each request checks out on first use and
//! gives back when it ends. The queries are in `models.rs`.
//!
//! Flask keeps the connection on `g` (`get_db`) and closes it in a
//! `teardown_appcontext` function (`close_db`). Here the middleware
//! [`connection_per_request`] puts an unopened [`RequestDb`] into the
//! request, handlers extract it, and the middleware closes whatever was
//! opened, however the handler ended.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use futures_util::FutureExt;
use stepkit::file::FileIdentity;

use crate::Error;

/// Where the database lives when neither `--database` nor `DATABASE_URL` says:
/// Flask keeps its database in an `instance` folder, and so do we.
/// The path is relative to the folder you run the command from.
pub const DEFAULT_DATABASE: &str = "instance/step04.sqlite";

/// The schema, compiled into the binary: the counterpart of Flask's
/// `current_app.open_resource("schema.sql")`, with no file to lose at run time.
pub const SCHEMA: &str = include_str!("schema.sql");

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
    let mut conn = establish(path)?;
    conn.batch_execute(SCHEMA).map_err(|source| Error::Schema {
        path: path.to_path_buf(),
        source,
    })
}

/// Opens one connection to `path`, creating the file if it is missing.
fn establish(path: &Path) -> Result<SqliteConnection, Error> {
    let url = path.to_string_lossy();
    SqliteConnection::establish(&url).map_err(|source| Error::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// The `init-db` command: [`init_db`], then the line Flask's command prints.
pub fn init_db_command(path: &Path, out: &mut impl std::io::Write) -> Result<(), Error> {
    init_db(path)?;
    writeln!(out, "Initialized the database.")?;
    Ok(())
}
// ANCHOR_END: init_db

/// The one column of the catalogue query in [`check_initialized`].
#[derive(QueryableByName)]
struct TableCount {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

/// Fails with a hint unless the file exists and holds both tables, so that
/// `serve` stops at start-up rather than answering every request with 500.
pub fn check_initialized(path: &Path) -> Result<(), Error> {
    let not_initialized = || Error::NotInitialized {
        path: path.to_path_buf(),
    };
    if !path.exists() {
        return Err(not_initialized());
    }
    let mut conn = establish(path)?;
    let tables: i64 = diesel::sql_query(
        "SELECT count(*) AS count FROM sqlite_schema WHERE type = 'table' AND name IN ('user', 'post')",
    )
    .get_result::<TableCount>(&mut conn)
    .map_err(|source| Error::Schema {
        path: path.to_path_buf(),
        source,
    })?
    .count;
    match tables {
        2 => Ok(()),
        _ => Err(not_initialized()),
    }
}

// ANCHOR: pool
/// The most connections the pool keeps open.
pub const POOL_SIZE: u32 = 8;

/// How long a request waits for a connection when all are lent before it
/// is answered 503: well inside the request timeout.
pub const POOL_WAIT: Duration = Duration::from_secs(5);

/// Run on each new connection before the pool lends it out: the source's
/// "optimizing" advice. A connection waits up to 5 s for another's write
/// lock before saying "database is locked"; WAL lets readers go on while one
/// connection writes; foreign keys are checked (SQLite's default is off);
/// and each connection caches up to 16 MiB of pages. `synchronous = NORMAL`
/// is SQLite's advice for WAL: a commit waits for the disk only at each
/// checkpoint, so a crash of the program loses nothing and a power cut may
/// lose the last commits, never the file (chapter 4 says more).
const PRAGMAS: &str = "
    PRAGMA busy_timeout = 5000;
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    PRAGMA foreign_keys = ON;
    PRAGMA cache_size = -16384;";

#[derive(Debug, Clone, Copy)]
struct Pragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(PRAGMAS)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}
// ANCHOR_END: pool

/// Fails in one line unless this user can write to the database: with a
/// read-only file or folder the server would start, then fail every
/// request. Returns the file as it is now, for [`Database::connect`].
fn check_writable(path: &Path) -> Result<FileIdentity, Error> {
    let mut conn = establish(path)?;
    let unwritable = |source| Error::Unwritable {
        path: path.to_path_buf(),
        source,
    };
    conn.batch_execute(PRAGMAS).map_err(unwritable)?;
    conn.batch_execute("BEGIN IMMEDIATE; ROLLBACK;")
        .map_err(unwritable)?;
    let path = path.to_path_buf();
    FileIdentity::of(&path).map_err(|_| Error::Gone { path })
}

/// The app's database file, the pool of connections to it, and the turn
/// its writers take.
#[derive(Debug, Clone)]
pub struct Database {
    path: PathBuf,
    file: FileIdentity,
    pool: Pool<ConnectionManager<SqliteConnection>>,
    writer: Arc<Mutex<()>>,
}

/// A connection lent by the pool; dropping it gives it back.
type Pooled = PooledConnection<ConnectionManager<SqliteConnection>>;

impl Database {
    /// The database at `path`, which [`init_db`] has prepared, with a pool
    /// of up to [`POOL_SIZE`] connections, opened as requests need them.
    pub fn new(path: PathBuf) -> Result<Database, Error> {
        let file = check_writable(&path)?;
        let manager = ConnectionManager::new(path.to_string_lossy());
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(0))
            .test_on_check_out(false) // a SQLite file does not go stale like a socket
            .connection_timeout(POOL_WAIT)
            .connection_customizer(Box::new(Pragmas))
            .build(manager)?;
        let writer = Arc::default();
        Ok(Database {
            path,
            file,
            pool,
            writer,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks a connection out of the pool, waiting if all are lent. It
    /// blocks: call it on a blocking thread, never in async code.
    pub fn connect(&self) -> Result<Pooled, Error> {
        // The open connections would keep writing to a deleted file.
        if !self.file.is_still_there() {
            let path = self.path.clone();
            return Err(Error::Gone { path });
        }
        let conn = self.pool.get()?;
        // At debug: the request's own line is the log; these two with it
        // would cost a third of a point read's speed (the appendix measures it).
        tracing::debug!("checked a connection out of the pool");
        Ok(conn)
    }
}

/// This request's connection, the counterpart of Flask's `g.db`.
///
/// Cloning is cheap and every clone shares one slot: the first
/// [`RequestDb::run`] opens the connection, the next ones reuse it.
#[derive(Clone)]
pub struct RequestDb(Arc<Slot>);

struct Slot {
    database: Database,
    connection: Mutex<Option<Pooled>>,
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

    /// Runs `query` on this request's connection, checking it out of the
    /// pool on first use, as Flask-SQLAlchemy's session does. The work runs
    /// on tokio's blocking thread pool,
    /// so a slow query never stalls the threads that serve other requests.
    pub async fn run<T, E, F>(&self, query: F) -> Result<T, Error>
    where
        T: Send + 'static,
        Error: From<E>,
        F: FnOnce(&mut SqliteConnection) -> Result<T, E> + Send + 'static,
    {
        let slot = Arc::clone(&self.0);
        let work = move || {
            let _entered = slot.span.enter();
            let mut connection = slot.lock();
            if connection.is_none() {
                *connection = Some(slot.database.connect()?);
            }
            let conn = connection.as_mut().expect("checked out just above");
            Ok(query(conn)?)
        };
        tokio::task::spawn_blocking(work).await?
    }

    // ANCHOR: write
    /// Runs `change` as [`RequestDb::run`] does, in a transaction, one
    /// request at a time. SQLite lets one connection write at once; the
    /// others would sleep in its busy handler, in steps of up to 100 ms, and
    /// try again. Waiting in line instead, the next writer starts as soon
    /// as the one before it commits.
    pub async fn write<T, E, F>(&self, change: F) -> Result<T, Error>
    where
        T: Send + 'static,
        Error: From<E>,
        E: From<diesel::result::Error>,
        F: FnOnce(&mut SqliteConnection) -> Result<T, E> + Send + 'static,
    {
        let writer = Arc::clone(&self.0.database.writer);
        self.run(move |conn| {
            let _turn = writer.lock().unwrap_or_else(PoisonError::into_inner);
            conn.transaction(change)
        })
        .await
    }
    // ANCHOR_END: write

    /// Gives the connection back to the pool before the request ends, for
    /// slow work that needs none (checking a password); a later
    /// [`RequestDb::run`] checks one out again.
    pub fn release(&self) {
        self.0.close("before slow work that needs no connection");
    }

    /// Gives the connection back if this request took one (Flask's
    /// `close_db`). That only returns it to the pool, which never blocks, so
    /// unlike closing a SQLite connection it needs no blocking thread.
    async fn close(&self, outcome: String) {
        self.0.close(&outcome);
    }
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Pooled>> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn close(&self, outcome: &str) {
        let _entered = self.span.enter();
        if let Some(conn) = self.lock().take() {
            drop(conn); // back to the pool, still open
            tracing::debug!("gave the connection back {outcome}");
        }
    }
}

/// The last line of defence: when a request is dropped half-way (the client
/// went away), no code after an `.await` runs, but `Drop` does. It cannot
/// await, so this rare path closes on the thread that drops it.
impl Drop for Slot {
    fn drop(&mut self) {
        self.close("when the request was dropped");
    }
}

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
