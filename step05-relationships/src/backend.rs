//! Which database: a SQLite file or a PostgreSQL server, and one diesel
//! connection type that runs the same queries on either.

use std::fmt;
use std::path::PathBuf;

use diesel::prelude::*;

/// The database a setting names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file, created on first use.
    Sqlite(PathBuf),
    /// A `postgres://` URL, handed to libpq as it is.
    Postgres(String),
}

/// One connection, to either database. The derive makes `Conn` a diesel
/// connection of its own: a query built once runs on whichever backend it
/// holds, in that backend's dialect.
#[derive(diesel::MultiConnection)]
pub enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// For messages: the file's path, or the URL without its password and
/// options, so that credentials are never printed.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
                let (rest, options) = match rest.split_once('?') {
                    Some((rest, _)) => (rest, "?..."),
                    None => (rest, ""),
                };
                let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
                let server = match authority.rsplit_once('@') {
                    Some((user, host)) => {
                        let user = user.split(':').next().unwrap_or_default();
                        format!("{user}@{host}")
                    }
                    None => authority.to_owned(),
                };
                let (server, database) = (server.escape_debug(), database.escape_debug());
                write!(f, "{scheme}://{server}/{database}{options}")
            }
        }
    }
}
