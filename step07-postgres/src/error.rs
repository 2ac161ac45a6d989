//! Every way this step can fail, each with a message that names what is at
//! fault.
//!
//! The command line prints an error as one line. A request that fails
//! answers 500 and tells the client nothing internal: no paths, no database
//! messages. Those go to the log, under the request's number.

use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::backend::Location;

/// An error of the command line or of a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Kit(#[from] stepkit::Error),
    #[error("the database setting (from --database or DATABASE_URL) {0}")]
    DatabaseSetting(String),
    #[error("cannot create folder {path}: {}", explain(.source))]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database {database}: {}", .database.hide_password(&one_line(.source)))]
    Open {
        database: Location,
        source: diesel::ConnectionError,
    },
    #[error("cannot back up with pg_dump: {0}")]
    Dump(String),
    #[error(
        "database {database} is {pending} migration(s) behind this program; run `db upgrade` (or `serve --migrate`)"
    )]
    Pending { database: Location, pending: usize },
    #[error("{path} is not a SQLite database (is it the right file?)")]
    NotADatabase { path: PathBuf },
    #[error("cannot back the database up ({0}); nothing was migrated")]
    BackupFailed(String),
    #[error(
        "database {database} is busy: another program (a running `serve`?) kept its write lock for 5 s; nothing was migrated, and the backup made for it was removed"
    )]
    Busy { database: Location },
    #[error(
        "database {database} has tables but no migration recorded (did step 5's `init-db` make it?); adopt it with `db stamp {first}`, then `db upgrade`"
    )]
    NotAdopted { database: Location, first: String },
    #[error("cannot read the migrations: {0}")]
    Migration(Box<dyn std::error::Error + Send + Sync>),
    #[error("{1}; nothing was changed")]
    MigrationFailed(String, Box<dyn std::error::Error + Send + Sync>),
    #[error(
        "the migrations would leave {0} row(s) pointing at rows that do not exist; nothing was changed"
    )]
    ForeignKeys(i64),
    #[error("no migration has the version {} (see `db history`)", stepkit::quote(.0))]
    UnknownVersion(String),
    #[error(
        "version {} is recorded as applied, but this program has no such migration (a newer program's?); revert it with that program, or record the version the database is really at with `db stamp VERSION`",
        stepkit::quote(.0)
    )]
    UnknownApplied(String),
    #[error("more than one migration starts with {}; give more of its version", stepkit::quote(.0))]
    AmbiguousVersion(String),
    #[error("a migration name is letters, digits and _, not {0}")]
    MigrationName(String),
    #[error(
        "the message {0} has no letter or digit from A to Z or 0 to 9, which the migration's folder is named with"
    )]
    Message(String),
    #[error("`db sql` runs one statement, and this has more after a `;`")]
    OneStatement,
    #[error("`db sql` needs a statement: \"SELECT * FROM user\", say")]
    NoStatement,
    #[error(
        "`db sql` does not show what RETURNING gives back; run the statement without it, then SELECT"
    )]
    Returning,
    #[error("`db sql` shows EXPLAIN QUERY PLAN (EXPLAIN on PostgreSQL), not SQLite's bytecode")]
    Explain,
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("schema.rs line {0}: {1}")]
    SchemaRs(usize, String),
    #[error(
        "the database is {0} migration(s) behind: `db upgrade` first, so that the draft starts from the latest"
    )]
    DraftBehind(usize),
    #[error("cannot draft this migration: {0}; write it by hand with `db new`")]
    CannotDraft(String),
    #[error(
        "the draft fails on a copy of the database's schema ({0}); write the migration by hand with `db new`"
    )]
    DraftFails(String),
    #[error(
        "database {database} is damaged ({first}); `db check` lists what is wrong, and a backup restores it"
    )]
    Damaged { database: Location, first: String },
    #[error("{0} difference(s) from the migrations and schema.rs, listed above")]
    Drift(usize),
    #[error("there is no database at {database} yet: `db upgrade` creates it")]
    NoDatabase { database: Location },
    #[error(
        "database {database} differs from what this program expects in {count} way(s); `db check` lists them"
    )]
    Drifted { database: Location, count: usize },
    #[error("invalid timestamp: {0}")]
    Timestamp(#[from] crate::timestamp::TimestampError),
    #[error("database error: {0}")]
    Diesel(#[from] diesel::result::Error),
    #[error("cannot write to database {path}: {source}; the file and its folder must be writable")]
    Unwritable {
        path: PathBuf,
        source: diesel::result::Error,
    },
    #[error("database {path} was deleted or replaced while serving; restart the server")]
    Gone { path: PathBuf },
    #[error("database {path} was migrated while serving; restart the server")]
    Migrated { path: PathBuf },
    #[error("no database connection: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("template error: {0}")]
    Template(#[from] minijinja::Error),
    #[error("a blocking task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("no connection for this request: the `init_app` layer is missing")]
    MissingLayer,
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// A failed request: the detail goes to the log, inside the request's span;
/// the client gets a bare 500 (503 when no connection could be had, as
/// when the database server is down), which the kit's error layer words.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        tracing::error!("request failed: {self}");
        match self {
            Error::Pool(_) | Error::Gone { .. } | Error::Migrated { .. } => {
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

/// An I/O error in words a reader can act on; the system's own otherwise.
fn explain(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::AlreadyExists => "a file of that name is in the way".to_owned(),
        _ => err.to_string(),
    }
}

/// libpq's messages run over several lines; a command's error is one.
fn one_line(err: &diesel::ConnectionError) -> String {
    err.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
