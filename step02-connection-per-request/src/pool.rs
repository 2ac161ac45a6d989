//! The other design: a pool. sqlx keeps a few connections open and lends
//! one to each request, axum's usual idiom. Two handlers show the two ways a
//! handler gets one, as axum's own sqlx example does: an extractor that
//! checks a connection out, and the pool itself as state.

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Sqlite, SqliteConnection};

use crate::Error;
use crate::db::{Database, User};

/// The most connections the pool keeps open.
pub const POOL_SIZE: u32 = 8;

// ANCHOR: connect
/// A pool of at most `size` connections to the prepared database. sqlx runs
/// each SQLite connection on a thread of its own, so queries never block
/// tokio's workers. It opens connections when requests first need them.
pub fn connect(database: &Database, size: u32) -> SqlitePool {
    let options = SqliteConnectOptions::new().filename(database.path());
    let counted = database.clone();
    SqlitePoolOptions::new()
        .max_connections(size)
        .after_connect(move |_conn, _meta| {
            let opened = &counted.counts().opened;
            opened.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tracing::info!("the pool opened a connection");
            Box::pin(async { Ok(()) })
        })
        .connect_lazy_with(options)
}
// ANCHOR_END: connect

// ANCHOR: extractor
/// A connection checked out of the pool for one request. It goes back to
/// the pool, still open, when the handler drops it.
#[derive(Debug)]
pub struct PooledDb(pub PoolConnection<Sqlite>);

impl<S> FromRequestParts<S> for PooledDb
where
    SqlitePool: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(_parts: &mut Parts, state: &S) -> Result<Self, Error> {
        Ok(PooledDb(SqlitePool::from_ref(state).acquire().await?))
    }
}
// ANCHOR_END: extractor

// ANCHOR: routes
/// The pooled routes, beside the per-request ones in `routes.rs`.
pub fn routes<S>() -> Router<S>
where
    SqlitePool: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/api/pool/users/count", get(count_users))
        .route("/api/pool/users/{id}", get(user_json))
}

/// `GET /api/pool/users/{id}`: `/api/users/{id}`'s JSON, through the pool.
async fn user_json(PooledDb(mut conn): PooledDb, Path(id): Path<i64>) -> Result<Response, Error> {
    Ok(match find_user(&mut conn, id).await? {
        Some(user) => Json(user).into_response(),
        None => {
            let error = format!("no user with id {id}");
            (StatusCode::NOT_FOUND, Json(json!({ "error": error }))).into_response()
        }
    })
}

/// `GET /api/pool/users/count`: the pool as state; sqlx checks a connection
/// out for the one query and back in straight after.
async fn count_users(State(pool): State<SqlitePool>) -> Result<Json<serde_json::Value>, Error> {
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await?;
    Ok(Json(json!({ "users": users })))
}

/// The same SQL as `db::find_user`, sent through sqlx.
async fn find_user(conn: &mut SqliteConnection, id: i64) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, email FROM users WHERE id = ?")
        .bind(id)
        .fetch_optional(conn)
        .await
}
// ANCHOR_END: routes
