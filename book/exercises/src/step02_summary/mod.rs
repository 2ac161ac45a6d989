//! Chapter 2: a route that runs two queries on the request's connection.
//!
//! `GET /api/users/summary` should answer how many users there are and the
//! first one's name: `{"count": 2, "first": "Ada Lovelace"}`, with
//! `"first": null` when there are none. Both queries belong to one request:
//! they run on the connection step 2's `RequestDb` opens for it.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::fixtures::{send, step02_app};
use crate::{Check, Exercise};

mod exercise;
mod solution;

pub const EXERCISE: Exercise = Exercise {
    name: "step02-summary",
    chapter: "step02-connection-per-request.md",
    task: "a route that runs two queries on one connection",
    edit: "book/exercises/src/step02_summary/exercise.rs",
    pristine: "3043a2a00fb1fb28",
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

/// `GET /api/users/summary`: its status and JSON.
fn summary(app: Router) -> (StatusCode, Value) {
    let request = Request::get("/api/users/summary")
        .body(Body::empty())
        .expect("a request");
    let (status, body) = send(app, request);
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|_| panic!("the answer ({status}) is not JSON: {body}"));
    (status, json)
}

fn answers_both(routes: Routes) {
    let (_folder, _database, app) = step02_app(routes, &["Ada Lovelace", "Grace Hopper"]);
    let (status, json) = summary(app);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, json!({ "count": 2, "first": "Ada Lovelace" }));
}

fn empty_table(routes: Routes) {
    let (_folder, _database, app) = step02_app(routes, &[]);
    let (status, json) = summary(app);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, json!({ "count": 0, "first": null }));
}

fn one_connection(routes: Routes) {
    let (_folder, database, app) = step02_app(routes, &["Ada Lovelace"]);
    summary(app);
    let (opened, used, closed) = database.counts().now();
    assert!(used >= 1, "the route never used the request's connection");
    assert_eq!((opened, closed), (1, 1), "connections opened and closed");
}
