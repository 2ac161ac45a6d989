//! Every way this step can fail, each with a message that names what is at
//! fault.
//!
//! The command line prints an error as one line. A request that fails
//! answers 500 and tells the client nothing internal: no paths, no SQLite
//! messages. Those go to the log, under the request's number.

use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

// ANCHOR: error
/// An error of the command line or of a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Kit(#[from] stepkit::Error),
    #[error("cannot create folder {path}: {}", explain(.source))]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: diesel::ConnectionError,
    },
    #[error("cannot initialize database {path}: {source}")]
    Schema {
        path: PathBuf,
        source: diesel::result::Error,
    },
    #[error("database {path} has no `post` and `user` tables; run `init-db` first")]
    NotInitialized { path: PathBuf },
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
// ANCHOR_END: error

/// A failed request: the detail goes to the log, inside the request's span;
/// the client gets a bare 500 (503 when every connection stayed lent for
/// [`POOL_WAIT`](crate::db::POOL_WAIT)), which the kit's error layer words.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        tracing::error!("request failed: {self}");
        match self {
            Error::Pool(_) | Error::Gone { .. } => StatusCode::SERVICE_UNAVAILABLE.into_response(),
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
