//! Your version of the DELETE route. Run its checks with
//! `cargo run -p exercises -- check step02-delete`.

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::delete;
use step02_connection_per_request::Error;
use step02_connection_per_request::db::RequestDb;

pub fn routes() -> Router {
    Router::new().route("/api/users/{id}", delete(delete_user))
}

/// `DELETE /api/users/{id}`. It answers 204 even when no user had that id.
async fn delete_user(db: RequestDb, Path(id): Path<i64>) -> Result<StatusCode, Error> {
    db.run(move |conn| conn.execute("DELETE FROM users WHERE id = ?", (id,)))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
