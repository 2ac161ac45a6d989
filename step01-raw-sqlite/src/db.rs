//! The database: where it lives, how it is opened, and the queries on `users`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::Backup;
use rusqlite::{Connection, OptionalExtension};

use crate::Error;

/// Where the database lives when neither `--database` nor `DATABASE_URL` says:
/// Flask keeps its database in an `instance` folder, and so do we.
/// The path is relative to the folder you run the command from.
pub const DEFAULT_DATABASE: &str = "instance/step01.sqlite";

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

const CREATE_USERS: &str = "
    CREATE TABLE IF NOT EXISTS users (
        id    INTEGER PRIMARY KEY AUTOINCREMENT,
        name  TEXT NOT NULL,
        email TEXT NOT NULL UNIQUE
    )";
// ANCHOR_END: open

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
