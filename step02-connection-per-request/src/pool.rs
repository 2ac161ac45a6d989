//! The pooled variant (`serve --pool`): sqlx keeps a few connections open
//! and lends one to each request, axum's usual idiom.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sqlx::Sqlite;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use crate::db::Database;
use crate::error::AppError;
use crate::routes::AppState;

// ANCHOR: connect
/// A pool of at most `size` connections to the prepared database.
/// sqlx runs each SQLite connection on a thread of its own, so queries never
/// block tokio's workers. Every connection it opens is counted.
pub fn connect(database: &Database, size: u32) -> SqlitePool {
    let options = SqliteConnectOptions::new().filename(database.path());
    let counter = database.clone();
    SqlitePoolOptions::new()
        .max_connections(size)
        .after_connect(move |_conn, _meta| {
            counter.count_open();
            Box::pin(async { Ok(()) })
        })
        .connect_lazy_with(options) // opens on the first request, not now
}
// ANCHOR_END: connect

// ANCHOR: extractor
/// A connection borrowed from the pool for the length of one request; it
/// goes back to the pool, still open, when the handler drops it.
#[derive(Debug)]
pub struct PooledDb(pub PoolConnection<Sqlite>);

impl FromRequestParts<AppState> for PooledDb {
    type Rejection = AppError;

    async fn from_request_parts(_parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let pool = state.pool.as_ref().ok_or(AppError::MissingLayer)?;
        Ok(PooledDb(pool.acquire().await?))
    }
}
// ANCHOR_END: extractor
