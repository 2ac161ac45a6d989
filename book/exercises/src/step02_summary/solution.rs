//! One answer: both queries in one `db.run`, so they share the request's
//! connection and one trip to a blocking thread. Two `db.run` calls would
//! share the connection too, at the price of a second trip.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use step02_connection_per_request::Error;
use step02_connection_per_request::db::{self, RequestDb};

pub fn routes() -> Router {
    Router::new().route("/api/users/summary", get(summary))
}

async fn summary(db: RequestDb) -> Result<Json<Value>, Error> {
    let (count, first) = db
        .run(|conn| {
            let count = db::count_users(conn)?;
            let first = db::first_users(conn, 1)?.into_iter().next();
            Ok::<_, rusqlite::Error>((count, first))
        })
        .await?;
    let first = first.map(|user| user.name);
    Ok(Json(json!({ "count": count, "first": first })))
}
