//! One answer: `execute` says how many rows it deleted; none is a 404.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::delete;
use axum::{Json, Router};
use serde_json::json;
use step02_connection_per_request::Error;
use step02_connection_per_request::db::RequestDb;

pub fn routes() -> Router {
    Router::new().route("/api/users/{id}", delete(delete_user))
}

async fn delete_user(db: RequestDb, Path(id): Path<i64>) -> Result<Response, Error> {
    let deleted = db
        .run(move |conn| conn.execute("DELETE FROM users WHERE id = ?", (id,)))
        .await?;
    Ok(match deleted {
        0 => {
            let error = json!({ "error": format!("no user has id {id}") });
            (StatusCode::NOT_FOUND, Json(error)).into_response()
        }
        _ => StatusCode::NO_CONTENT.into_response(),
    })
}
