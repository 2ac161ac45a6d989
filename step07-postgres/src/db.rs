//! The database: where it lives (a SQLite file or a PostgreSQL server),
//! whether its migrations are all applied, a pool of diesel connections, and the connection each request checks out on
//! first use and gives back when it ends. The queries are in `models.rs`.
//!
//! Flask keeps the connection on `g` (`get_db`) and closes it in a
//! `teardown_appcontext` function (`close_db`). Here the middleware
//! [`connection_per_request`] puts an unopened [`RequestDb`] into the
//! request, handlers extract it, and the middleware closes whatever was
//! opened, however the handler ended.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::prelude::*;
use diesel::r2d2::{CustomizeConnection, ManageConnection, Pool, PooledConnection, R2D2Connection};
use futures_util::FutureExt;
use stepkit::file::FileIdentity;

use crate::backend::{Conn, Location, check_postgres_url};
use crate::draft::SCHEMA_RS;
use crate::{Error, drift, migrate, upkeep};

/// Where the database lives when neither `--database` nor `DATABASE_URL` says:
/// Flask keeps its database in an `instance` folder, and so do we.
/// The path is relative to the folder you run the command from.
pub const DEFAULT_DATABASE: &str = "instance/step07.sqlite";

/// Turns the value of `--database` or `DATABASE_URL` into a [`Location`], so
/// that one value means one database to every command.
///
/// A `postgres://` (or `postgresql://`) URL names a PostgreSQL database. A
/// plain path is a SQLite file, taken as it is. A URL in sqlx's form is read
/// too: `sqlite:data/app.sqlite` and `sqlite://data/app.sqlite` are relative,
/// `sqlite:///tmp/app.sqlite` is absolute (SQLAlchemy reads `sqlite:///` as
/// relative: mind the difference). Anything this step could not honour
/// exactly is refused: other schemes (`mysql://`, `file:`), options such
/// as `?mode=ro` on a SQLite URL, SQLite's own `file:` names, and in-memory
/// databases, which vanish with the command.
pub fn location(setting: Option<&str>) -> Result<Location, Error> {
    let Some(value) = setting else {
        return Ok(Location::Sqlite(PathBuf::from(DEFAULT_DATABASE)));
    };
    let refuse = |reason: String| Err(Error::DatabaseSetting(reason));
    // libpq's `host=... password=...` form would be taken for a file name.
    let key_value = value.split_whitespace().all(|word| word.contains('='));
    if stepkit::setting::url_scheme(value).is_none() && value.contains('=') && key_value {
        return refuse("looks like libpq's key=value form; give a postgres:// URL".to_owned());
    }
    match stepkit::setting::url_scheme(value) {
        Some(scheme) if ["postgres", "postgresql"].contains(&&*scheme.to_ascii_lowercase()) => {
            // libpq knows the scheme in lower case only.
            let url = scheme.to_ascii_lowercase() + &value[scheme.len()..];
            match check_postgres_url(&url) {
                None => Ok(Location::Postgres(url)),
                Some(why) => refuse(why.to_owned()),
            }
        }
        // The value may hold a password, so only its scheme is repeated.
        Some(scheme) if !scheme.eq_ignore_ascii_case("sqlite") => refuse(format!(
            "is a `{scheme}:` URL, but this step needs a SQLite file (a path or a sqlite: URL) or a postgres:// URL"
        )),
        // A path or a sqlite: URL: the kit's rules, as in steps 2 to 6.
        _ => Ok(Location::Sqlite(stepkit::setting::sqlite_path(
            Some(value),
            DEFAULT_DATABASE,
        )?)),
    }
}

/// Fails with a hint unless the database exists, is sound, has had every
/// migration this program was built with, and has the tables they make, so that
/// `serve` never answers requests on a schema its queries were not compiled
/// for. Rows that point nowhere are reported by `db check`, not refused here.
pub fn check_migrated(location: &Location) -> Result<(), Error> {
    let database = location.clone();
    if let Location::Sqlite(path) = location
        && !path.exists()
    {
        return Err(Error::NoDatabase { database });
    }
    let mut conn = migrate::connect(location)?;
    upkeep::check_sound(&mut conn, location)?;
    let migrations = migrate::embedded(location);
    let pending = migrate::pending(&mut conn, migrations)?;
    if pending > 0 {
        return Err(Error::Pending { database, pending });
    }
    // Versions alone can lie (a wrong `db stamp`): the tables must match too.
    // On PostgreSQL, creating nothing: `schema.rs` against the tables there
    // (`db check` migrates a scratch schema, which needs CREATE rights).
    let drift = match location {
        Location::Sqlite(_) => drift::check(&mut conn, migrations, SCHEMA_RS)?,
        Location::Postgres(_) => drift::schema_rs_drift(&mut conn, SCHEMA_RS, "the database has")?,
    };
    let structural = drift
        .iter()
        .filter(|line| !line.starts_with("data:"))
        .count();
    match structural {
        0 => Ok(()),
        count => Err(Error::Drifted { database, count }),
    }
}

/// The most connections the pool keeps open.
pub const POOL_SIZE: u32 = 8;

/// How long a request waits for a connection (all lent, or the server
/// down) before it is answered 503: well inside the request timeout.
pub const POOL_WAIT: Duration = Duration::from_secs(5);

/// Run on each new SQLite connection before the pool lends it out: the
/// source's "optimizing" advice. A connection waits up to 5 s for another's
/// write lock before saying "database is locked"; WAL lets readers go on
/// while one connection writes; foreign keys are checked (SQLite's default
/// is off); and each connection caches up to 16 MiB of pages. `synchronous
/// = NORMAL` is SQLite's advice for WAL: a commit waits for the disk only at
/// each checkpoint, so a crash of the program loses nothing and a power cut
/// may lose the last commits, never the file (chapter 4 says more). A
/// PostgreSQL server needs none of this: it locks rows, not a file, and
/// always checks foreign keys. It gets [`SESSION`] instead.
const PRAGMAS: &str = "
    PRAGMA busy_timeout = 5000;
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    PRAGMA foreign_keys = ON;
    PRAGMA cache_size = -16384;";

/// Run on each new PostgreSQL connection: a statement waits at most 5 s for
/// a lock another session holds (a table being altered, say), as SQLite's
/// busy timeout does, and runs at most 10 s, well inside the request
/// timeout. Without them a request would wait as long as the lock is held.
const SESSION: &str = "
    SET lock_timeout = '5s';
    SET statement_timeout = '10s';";

#[derive(Debug, Clone, Copy)]
struct Pragmas;

impl CustomizeConnection<Conn, Error> for Pragmas {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), Error> {
        match conn {
            Conn::Sqlite(sqlite) => Ok(sqlite.batch_execute(PRAGMAS)?),
            Conn::Postgres(postgres) => Ok(postgres.batch_execute(SESSION)?),
        }
    }
}

/// Opens the pool's connections with [`migrate::connect`]. (diesel's own
/// `ConnectionManager` would try each backend in turn and lose the reason
/// a connection failed.)
#[derive(Debug)]
pub struct Manager(Location);

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = Error;

    fn connect(&self) -> Result<Conn, Error> {
        migrate::connect(&self.0)
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Error> {
        Ok(conn.ping()?)
    }

    /// A connection dropped while its thread panics may be inside a
    /// transaction: the pool closes it rather than lend it again.
    fn has_broken(&self, conn: &mut Conn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Runs `work` on `conn` and counts the SELECT statements it sends, through
/// diesel's connection instrumentation: the way to see an N+1 problem.
pub fn count_selects<T>(conn: &mut Conn, work: impl FnOnce(&mut Conn) -> T) -> (T, usize) {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            let sql = query.to_string();
            if sql.trim_start().to_ascii_uppercase().starts_with("SELECT") {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let result = work(conn);
    conn.set_instrumentation(None::<Box<dyn Instrumentation>>);
    (result, count.load(Ordering::SeqCst))
}

/// Fails in one line unless this user can write to a SQLite database: with
/// a read-only file or folder the server would start, then fail every
/// request. Returns the file and its schema version as they are now, for
/// [`Database::connect`] to compare with. A server's rights are its own.
fn check_writable(location: &Location) -> Result<Option<(FileIdentity, Schema)>, Error> {
    let Location::Sqlite(path) = location else {
        return Ok(None);
    };
    let mut opened = migrate::connect(location)?;
    let Conn::Sqlite(conn) = &mut opened else {
        return Ok(None);
    };
    let unwritable = |source| Error::Unwritable {
        path: path.to_path_buf(),
        source,
    };
    conn.batch_execute(PRAGMAS).map_err(unwritable)?;
    conn.batch_execute("BEGIN IMMEDIATE; ROLLBACK;")
        .map_err(unwritable)?;
    let counter = Arc::new(AtomicI64::new(schema_version(conn)?));
    let migrated_to = migrate::current(&mut opened)?;
    let path = path.to_path_buf();
    let file = FileIdentity::of(&path).map_err(|_| Error::Gone { path })?;
    Ok(Some((
        file,
        Schema {
            counter,
            migrated_to,
        },
    )))
}

/// The schema a server started on: SQLite's change counter, and the latest
/// migration applied.
#[derive(Debug, Clone)]
struct Schema {
    counter: Arc<AtomicI64>,
    migrated_to: Option<String>,
}

#[derive(QueryableByName)]
struct SchemaVersion {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    schema_version: i64,
}

/// SQLite's count of changes to the schema, which every migration raises
/// (and `VACUUM` and `ANALYZE` too).
fn schema_version(conn: &mut SqliteConnection) -> QueryResult<i64> {
    let row: SchemaVersion = diesel::sql_query("PRAGMA schema_version").get_result(conn)?;
    Ok(row.schema_version)
}

/// The app's database, the pool of connections to it, and the turn its
/// writers take on SQLite.
#[derive(Debug, Clone)]
pub struct Database {
    location: Location,
    sqlite_file: Option<(FileIdentity, Schema)>,
    pool: Pool<Manager>,
    writer: Arc<Mutex<()>>,
}

/// A connection lent by the pool; dropping it gives it back.
pub type Pooled = PooledConnection<Manager>;

impl Database {
    /// The database at `location`, which `db upgrade` has prepared, with a
    /// pool of up to [`POOL_SIZE`] connections, opened as requests need them.
    pub fn new(location: Location) -> Result<Database, Error> {
        let sqlite_file = check_writable(&location)?;
        // A server's socket can go stale while it sits in the pool; a file cannot.
        let is_server = matches!(location, Location::Postgres(_));
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(0))
            .test_on_check_out(is_server)
            .connection_timeout(POOL_WAIT)
            .connection_customizer(Box::new(Pragmas))
            .build(Manager(location.clone()))?;
        let writer = Arc::default();
        Ok(Database {
            location,
            sqlite_file,
            pool,
            writer,
        })
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Checks a connection out of the pool, waiting if all are lent. It
    /// blocks: call it on a blocking thread, never in async code.
    pub fn connect(&self) -> Result<Pooled, Error> {
        let gone = |path: &Path| Error::Gone {
            path: path.to_path_buf(),
        };
        // The open connections would keep writing to a deleted file.
        if let (Some((file, _)), Location::Sqlite(path)) = (&self.sqlite_file, &self.location)
            && !file.is_still_there()
        {
            return Err(gone(path));
        }
        let mut conn = self.pool.get()?;
        // The models were compiled for the schema the server started on. A
        // change of the counter alone is upkeep (`db vacuum`); a change of
        // the migrations applied means the models no longer fit.
        if let (Some((_, schema)), Location::Sqlite(path)) = (&self.sqlite_file, &self.location) {
            let Conn::Sqlite(sqlite) = &mut *conn else {
                return Ok(conn);
            };
            let counter = schema_version(sqlite)?;
            if counter != schema.counter.load(Ordering::SeqCst) {
                if migrate::current(&mut conn)? != schema.migrated_to {
                    let path = path.to_path_buf();
                    return Err(Error::Migrated { path });
                }
                schema.counter.store(counter, Ordering::SeqCst);
            }
        }
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
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
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
    /// request at a time on SQLite. SQLite lets one connection write at
    /// once; the others would sleep in its busy handler, in steps of up to
    /// 100 ms, and try again. Waiting in line instead, the next writer starts
    /// as soon as the one before it commits. PostgreSQL locks rows, so its
    /// writers need no line.
    pub async fn write<T, E, F>(&self, change: F) -> Result<T, Error>
    where
        T: Send + 'static,
        Error: From<E>,
        E: From<diesel::result::Error>,
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
    {
        let writer = Arc::clone(&self.0.database.writer);
        self.run(move |conn| {
            let sqlite = matches!(conn, Conn::Sqlite(_));
            let _turn = sqlite.then(|| writer.lock().unwrap_or_else(PoisonError::into_inner));
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
