//! The database: where it lives, how it is opened, and the queries on `users`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::Backup;
use rusqlite::{Connection, OptionalExtension};

use crate::Error;
use crate::error::quote;

/// Where the database lives when neither `--database` nor `DATABASE_URL` says:
/// Flask keeps its database in an `instance` folder, and so do we.
/// The path is relative to the folder you run the command from.
pub const DEFAULT_DATABASE: &str = "instance/step01.sqlite";

// ANCHOR: database_path
/// Turns the value of `--database` or `DATABASE_URL` into a file path, so
/// that one value means one file to every command.
///
/// A plain path is taken as it is. A URL in sqlx's form is read too:
/// `sqlite:data/app.sqlite` and `sqlite://data/app.sqlite` are relative,
/// `sqlite:///tmp/app.sqlite` is absolute (SQLAlchemy reads `sqlite:///` as
/// relative: mind the difference). Anything this step could not honour
/// exactly is refused: other schemes (`postgres://`, `file:`), options such
/// as `?mode=ro`, and in-memory databases, which vanish with the command.
pub fn database_path(setting: Option<&str>) -> Result<PathBuf, Error> {
    let Some(value) = setting else {
        return Ok(PathBuf::from(DEFAULT_DATABASE));
    };
    let refuse = |reason: String| Err(Error::DatabaseSetting(reason));
    let path = match url_scheme(value) {
        None => value,
        Some(scheme) if scheme.eq_ignore_ascii_case("sqlite") => {
            let rest = &value[scheme.len() + 1..];
            if rest.contains('?') {
                let why =
                    "carries options (?...), which this step does not honour; give a plain path";
                return refuse(format!("{} {why}", quote(value)));
            }
            rest.strip_prefix("//").unwrap_or(rest)
        }
        // The value may hold a password, so only its scheme is repeated.
        Some(scheme) => {
            return refuse(format!(
                "is a `{scheme}:` URL, but this step needs a SQLite file: a path or a sqlite: URL"
            ));
        }
    };
    if path.trim().is_empty() {
        return refuse(format!("{} names no file", quote(value)));
    }
    if path.contains(":memory:") {
        let why = "is an in-memory database, which would be gone when the command ends";
        return refuse(format!("{} {why}", quote(value)));
    }
    Ok(PathBuf::from(path))
}

/// The scheme of a URL (`sqlite` in `sqlite://app.db`), or `None` for a plain
/// path. A scheme is two characters or more, so `C:\data\app.db` is a path.
fn url_scheme(value: &str) -> Option<&str> {
    let (scheme, _) = value.split_once(':')?;
    let is_scheme = scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    is_scheme.then_some(scheme)
}
// ANCHOR_END: database_path

// ANCHOR: open
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
// ANCHOR_END: open

/// Opens a database that must exist already, for commands that only read.
pub fn open_existing(path: &Path) -> Result<Connection, Error> {
    if !path.exists() {
        return Err(Error::NoDatabase {
            path: path.to_path_buf(),
        });
    }
    open(path)
}

/// One row of the `users` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
}

// ANCHOR: from_row
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
// ANCHOR_END: from_row

// ANCHOR: insert
/// Inserts one user and returns its new id. The values travel separately
/// from the SQL text, through the `?` placeholders.
pub fn insert_user(conn: &Connection, name: &str, email: &str) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO users (name, email) VALUES (?, ?)",
        (name, email),
    )?;
    Ok(conn.last_insert_rowid())
}
// ANCHOR_END: insert

// ANCHOR: all_users
/// Every user, oldest first.
pub fn all_users(conn: &Connection) -> rusqlite::Result<Vec<User>> {
    let mut statement = conn.prepare("SELECT id, name, email FROM users ORDER BY id")?;
    let users = statement.query_map((), User::from_row)?;
    users.collect()
}
// ANCHOR_END: all_users

/// How many rows `users` holds.
pub fn count_users(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM users", (), |row| row.get(0))
}

/// The name stored for `email`, if that user exists.
pub fn name_for_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT name FROM users WHERE email = ?", (email,), |row| {
        row.get(0)
    })
    .optional()
}

/// Gives the user with `email` a new name.
pub fn rename_user(conn: &Connection, email: &str, name: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE users SET name = ? WHERE email = ?", (name, email))?;
    Ok(())
}

/// The names of the tables in the file, as SQLite's own catalogue lists them.
pub fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare(
        "SELECT name FROM sqlite_schema
         WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    let names = statement.query_map((), |row| row.get(0))?;
    names.collect()
}

// ANCHOR: transaction
/// Inserts all of `users` in one transaction: either every row lands or none.
pub fn insert_all(conn: &mut Connection, users: &[(&str, &str)]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for (name, email) in users {
        insert_user(&tx, name, email)?; // on error, `tx` is dropped: ROLLBACK
    }
    tx.commit()
}
// ANCHOR_END: transaction

// ANCHOR: backup
/// Copies the live database into `destination` with SQLite's online backup
/// API, which stays consistent even while other connections write.
pub fn backup(conn: &Connection, destination: &Path) -> rusqlite::Result<()> {
    let mut copy = Connection::open(destination)?;
    let backup = Backup::new(conn, &mut copy)?;
    backup.run_to_completion(100, Duration::ZERO, None)
}
// ANCHOR_END: backup
