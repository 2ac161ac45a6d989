//! The database: where it lives, the schema and `init-db`, the queries on
//! flaskr's two tables, and the connection each request opens on first use
//! and closes when it ends.
//!
//! Flask keeps the connection on `g` (`get_db`) and closes it in a
//! `teardown_appcontext` function (`close_db`). Here the middleware
//! [`connection_per_request`] puts an unopened [`RequestDb`] into the
//! request, handlers extract it, and the middleware closes whatever was
//! opened, however the handler ended.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::FutureExt;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;
use stepkit::{name_key, password};

use crate::Error;
use crate::timestamp::Timestamp;

/// Where the database lives when neither `--database` nor `DATABASE_URL` says:
/// Flask keeps its database in an `instance` folder, and so do we.
/// The path is relative to the folder you run the command from.
pub const DEFAULT_DATABASE: &str = "instance/step03.sqlite";

// ANCHOR: schema_const
/// The schema, compiled into the binary: the counterpart of Flask's
/// `current_app.open_resource("schema.sql")`, with no file to lose at run time.
pub const SCHEMA: &str = include_str!("schema.sql");
// ANCHOR_END: schema_const

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
pub fn init_db_command(path: &Path, out: &mut impl std::io::Write) -> Result<(), Error> {
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
    let cannot_open = |source| Error::Open {
        path: path.to_path_buf(),
        source,
    };
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(cannot_open)?;
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('user', 'post')",
            (),
            |row| row.get(0),
        )
        .map_err(cannot_open)?;
    match tables {
        2 => Ok(()),
        _ => Err(not_initialized()),
    }
}

/// A row of `user`, as a page or JSON shows it: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
}

impl User {
    /// Reads the columns by name, as `sqlite3.Row` lets Python do.
    pub fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
        Ok(User {
            id: row.get("id")?,
            username: row.get("username")?,
        })
    }
}

// ANCHOR: add_user
/// Adds a user and returns its id. Only the argon2 hash of `password` is
/// stored: no function here accepts a value for the column directly.
pub fn add_user(conn: &Connection, username: &str, password: &str) -> Result<i64, Error> {
    let hashed = password::hash(password)?;
    conn.execute(
        "INSERT INTO user (username, username_key, password) VALUES (?, ?, ?)",
        (username, name_key(username), hashed),
    )?;
    Ok(conn.last_insert_rowid())
}
// ANCHOR_END: add_user

/// The user called `username` and their stored password (a hash), if that
/// user exists: flaskr's `SELECT * FROM user WHERE username = ?`, by the
/// name's key, so that a name is found however it is capitalised.
pub fn user_for_login(
    conn: &Connection,
    username: &str,
) -> rusqlite::Result<Option<(User, String)>> {
    conn.query_row(
        "SELECT * FROM user WHERE username_key = ?",
        (name_key(username),),
        |row| Ok((User::from_row(row)?, row.get("password")?)),
    )
    .optional()
}

/// The stored password (a hash) of `username`, if that user exists.
pub fn stored_password(conn: &Connection, username: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT password FROM user WHERE username_key = ?",
        (name_key(username),),
        |row| row.get(0),
    )
    .optional()
}

/// The first `limit` users, oldest first.
pub fn first_users(conn: &Connection, limit: i64) -> rusqlite::Result<Vec<User>> {
    let mut statement = conn.prepare_cached("SELECT id, username FROM user ORDER BY id LIMIT ?")?;
    let users = statement.query_map((limit,), User::from_row)?;
    users.collect()
}

/// The user with this id, if there is one.
pub fn find_user(conn: &Connection, id: i64) -> rusqlite::Result<Option<User>> {
    conn.query_row(
        "SELECT id, username FROM user WHERE id = ?",
        (id,),
        User::from_row,
    )
    .optional()
}

/// How many rows `user` holds.
pub fn count_users(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM user", (), |row| row.get(0))
}

/// Adds a post written at `created` and returns its id.
pub fn add_post(
    conn: &Connection,
    author_id: i64,
    created: Timestamp,
    title: &str,
    body: &str,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO post (author_id, created, title, body) VALUES (?, ?, ?, ?)",
        (author_id, created, title, body),
    )?;
    Ok(conn.last_insert_rowid())
}

/// A post with its author's username, as the index page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub created: Timestamp,
    pub author_id: i64,
    pub username: String,
}

// ANCHOR: newest_first
/// Every post with its author, newest first (ties: the later id first). A
/// row that cannot be read comes back as an error beside the others, so one
/// bad row cannot take the whole page down.
pub fn posts_newest_first(conn: &Connection) -> rusqlite::Result<(Vec<Post>, Vec<Error>)> {
    let mut statement = conn.prepare(
        "SELECT p.id, p.title, p.body, p.created, p.author_id, u.username
         FROM post p JOIN user u ON p.author_id = u.id
         ORDER BY p.created DESC, p.id DESC",
    )?;
    let mut rows = statement.query(())?;
    let (mut posts, mut unreadable) = (Vec::new(), Vec::new());
    while let Some(row) = rows.next()? {
        match post_from_row(row) {
            Ok(post) => posts.push(post),
            Err(err) => unreadable.push(err),
        }
    }
    Ok((posts, unreadable))
}

/// Reads one row; a `created` that is not a timestamp names its post.
fn post_from_row(row: &rusqlite::Row<'_>) -> Result<Post, Error> {
    let id = row.get("id")?;
    let created = Timestamp::from_value(row.get_ref("created")?)
        .map_err(|source| Error::BadTimestamp { post: id, source })?;
    Ok(Post {
        id,
        title: row.get("title")?,
        body: row.get("body")?,
        created,
        author_id: row.get("author_id")?,
        username: row.get("username")?,
    })
}
// ANCHOR_END: newest_first

/// Reads SQLite's catalogue: fails unless the file really is a database.
/// (`SELECT 1` would not touch the file at all.)
pub fn check(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT count(*) FROM sqlite_schema", (), |_| Ok(()))
}

/// The app's database file.
#[derive(Debug, Clone)]
pub struct Database {
    path: PathBuf,
}

impl Database {
    /// The database at `path`, which [`init_db`] has prepared.
    pub fn new(path: PathBuf) -> Database {
        Database { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
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
        tracing::info!("opened a connection");
        Ok(conn)
    }
}

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
            tracing::info!("closed the connection {outcome}");
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
