//! Chapter 2: a route that runs two queries on the request's connection.
//!
//! `GET /api/users/summary` should answer how many users there are and the
//! first one's name: `{"count": 2, "first": "Ada Lovelace"}`, with
//! `"first": null` when there are none. Both queries belong to one request,
//! so they share its one connection.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use step02_connection_per_request::db::{self, Database};
use tower::ServiceExt;

use crate::{Check, Exercise};

mod exercise;
mod solution;

pub const EXERCISE: Exercise = Exercise {
    name: "step02-summary",
    chapter: "step02-connection-per-request.md",
    task: "a route that runs two queries on one connection",
    edit: "exercises/src/step02_summary/exercise.rs",
    run: |version| {
        let answer: Routes = version.pick(exercise::routes, solution::routes);
        crate::run_checks(&CHECKS, answer)
    },
};

/// What `routes` must be: the router with the summary route on it.
type Routes = fn() -> Router;

const CHECKS: [Check<Routes>; 3] = [
    ("answers the count and the first user's name", answers_both),
    (
        "answers null for the first user of an empty table",
        empty_table,
    ),
    (
        "opens one connection for the request, and closes it",
        one_connection,
    ),
];

/// Step 2's table with `names` as users, and the app that serves `routes`
/// on it with step 2's connection per request.
fn app_with(routes: Routes, names: &[&str]) -> (tempfile::TempDir, Database, Router) {
    let folder = crate::scratch();
    let path = folder.path().join("step02.sqlite");
    let conn = db::open(&path).expect("step 2's database");
    for (number, name) in names.iter().enumerate() {
        let email = format!("user{number}@example.com");
        db::insert_user(&conn, name, &email).expect("a user");
    }
    let database = Database::new(path);
    let app = db::init_app(routes(), database.clone());
    (folder, database, app)
}

/// `GET /api/users/summary`: its status and JSON.
fn summary(app: Router) -> (StatusCode, Value) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let request = Request::get("/api/users/summary")
            .body(Body::empty())
            .expect("a request");
        let response = app.oneshot(request).await.expect("an answer");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "the answer ({status}) is not JSON: {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, json)
    })
}

fn answers_both(routes: Routes) {
    let (_folder, _database, app) = app_with(routes, &["Ada Lovelace", "Grace Hopper"]);
    let (status, json) = summary(app);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, json!({ "count": 2, "first": "Ada Lovelace" }));
}

fn empty_table(routes: Routes) {
    let (_folder, _database, app) = app_with(routes, &[]);
    let (status, json) = summary(app);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, json!({ "count": 0, "first": null }));
}

fn one_connection(routes: Routes) {
    let (_folder, database, app) = app_with(routes, &["Ada Lovelace"]);
    summary(app);
    let (opened, used, closed) = database.counts().now();
    assert!(used >= 1, "the route never used the request's connection");
    assert_eq!((opened, closed), (1, 1), "connections opened and closed");
}
