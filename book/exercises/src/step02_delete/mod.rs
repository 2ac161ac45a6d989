//! Chapter 2: a route that deletes, and says when there was nothing to.
//!
//! `DELETE /api/users/{id}` should delete that user and answer
//! `204 No Content`; for an id no user has, `404` with a JSON body that
//! names the id, like step 2's other API answers. The starting point
//! answers 204 whatever happened.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use step02_connection_per_request::db::{self, Database};

use crate::fixtures::{send, step02_app};
use crate::{Check, Exercise};

mod exercise;
mod solution;

pub const EXERCISE: Exercise = Exercise {
    name: "step02-delete",
    chapter: "step02-connection-per-request.md",
    task: "a DELETE route that answers 404 for nothing to delete",
    edit: "book/exercises/src/step02_delete/exercise.rs",
    pristine: "5a89b48e16299aed",
    run: |version| {
        let answer: Routes = version.pick(exercise::routes, solution::routes);
        crate::run_checks(&CHECKS, answer)
    },
};

/// What `routes` must be: the router with the DELETE route on it.
type Routes = fn() -> Router;

const CHECKS: [Check<Routes>; 3] = [
    (
        "deletes that user, and no other, answering 204",
        deletes_that_user,
    ),
    ("answers 404 with JSON naming an id no user has", unknown_id),
    (
        "opens one connection for the request, and closes it",
        one_connection,
    ),
];

/// Step 2's table with two users (ids 1 and 2), and the app serving `routes`.
fn app(routes: Routes) -> (tempfile::TempDir, Database, Router) {
    step02_app(routes, &["Ada Lovelace", "Grace Hopper"])
}

/// `DELETE uri`: the status and the body's text.
fn delete(app: Router, uri: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .method(Method::DELETE)
        .uri(uri)
        .body(Body::empty())
        .expect("a request");
    send(app, request)
}

fn names_left(database: &Database) -> Vec<String> {
    let conn = db::open(database.path()).expect("the database");
    let users = db::first_users(&conn, 10).expect("the users");
    users.into_iter().map(|user| user.name).collect()
}

fn deletes_that_user(routes: Routes) {
    let (_folder, database, app) = app(routes);
    let (status, _) = delete(app, "/api/users/1");
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(names_left(&database), ["Grace Hopper"]);
}

fn unknown_id(routes: Routes) {
    let (_folder, database, app) = app(routes);
    let (status, body) = delete(app, "/api/users/7");
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "deleting user 7, whom nobody is"
    );
    let json: Value = serde_json::from_str(&body)
        .unwrap_or_else(|_| panic!("the 404's body is not JSON: {body:?}"));
    assert!(
        json.to_string().contains('7'),
        "the 404 should name the id: {json}"
    );
    assert_eq!(names_left(&database), ["Ada Lovelace", "Grace Hopper"]);
}

fn one_connection(routes: Routes) {
    let (_folder, database, app) = app(routes);
    delete(app, "/api/users/2");
    let (opened, _, closed) = database.counts().now();
    assert_eq!((opened, closed), (1, 1), "connections opened and closed");
}
