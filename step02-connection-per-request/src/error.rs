//! Errors a handler can return. Bad input from a user never gets here: the
//! handlers answer it with a 4xx and a message. What does get here is the
//! server's own trouble, answered with a 500 and a readable line.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

// ANCHOR: app_error
/// Something went wrong on the server's side.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Start-up and benchmark failures, already worded for the reader.
    #[error("{0}")]
    Failed(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {0}")]
    Pool(#[from] sqlx::Error),
    #[error("template error: {0}")]
    Template(#[from] minijinja::Error),
    #[error("a blocking database task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    #[error("the connection-per-request middleware is not installed")]
    MissingLayer,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        let body = format!("Something went wrong on the server: {self}\n");
        (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
    }
}
// ANCHOR_END: app_error
