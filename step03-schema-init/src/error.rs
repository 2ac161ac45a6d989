//! Every way this step can fail, each with a message that names what is at
//! fault. The command line prints it as one line; the web app answers with it.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

// ANCHOR: error
/// An error of the command line or of a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the database setting `{0}` names no file (from --database or DATABASE_URL)")]
    NoDatabasePath(String),
    #[error(
        "the database setting is a `{0}:` URL, but this step needs a SQLite file: a path or a sqlite: URL (from --database or DATABASE_URL)"
    )]
    NotSqlite(String),
    #[error("cannot create folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot initialize database {path}: {source}")]
    Schema {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database {path} has no `post` and `user` tables; run `init-db` first")]
    NotInitialized { path: PathBuf },
    #[error("post {post} has a malformed `created` value: {source}")]
    BadTimestamp {
        post: i64,
        source: crate::timestamp::TimestampError,
    },
    #[error("invalid timestamp: {0}")]
    Timestamp(#[from] crate::timestamp::TimestampError),
    #[error("cannot hash the password: {0}")]
    Password(argon2::password_hash::Error),
    #[error("cannot create a temporary database: {0}")]
    TempDir(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    #[error("template error: {0}")]
    Template(#[from] minijinja::Error),
    #[error("the database task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("no connection for this request: the `init_app` layer is missing")]
    MissingLayer,
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}
// ANCHOR_END: error

// ANCHOR: into_response
/// A failed request answers 500 with the error's own message as plain text,
/// and the log records it too.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        tracing::error!("request failed: {self}");
        let body = format!("500 Internal Server Error\n\n{self}\n");
        (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
    }
}
// ANCHOR_END: into_response
