//! What the checks start from, shared by the exercises of a step: a step's
//! tables in a folder of their own, with users and posts, or its app.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, PooledConnection};
use diesel::sql_types::BigInt;
use http_body_util::BodyExt;
use tempfile::TempDir;
use tower::ServiceExt;

/// A connection from a diesel step's pool.
pub type Pooled = PooledConnection<ConnectionManager<SqliteConnection>>;

/// Step 2's table with `names` as users (user0@example.com, ...), and the
/// app that serves `routes` on it with step 2's connection per request.
pub fn step02_app(
    routes: fn() -> Router,
    names: &[&str],
) -> (TempDir, step02_connection_per_request::db::Database, Router) {
    use step02_connection_per_request::db::{self, Database};
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

/// Sends `request` to `app`: the answer's status and body.
pub fn send(app: Router, request: Request<Body>) -> (StatusCode, String) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let response = app.oneshot(request).await.expect("an answer");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    })
}

/// Step 4's tables with `users` (each with its posts' titles and bodies),
/// on a connection from step 4's pool.
pub fn step04_blog(users: &[(&str, &[(&str, &str)])]) -> (TempDir, Pooled) {
    use step04_orm::db::{self, Database};
    use step04_orm::models::{self, NewPost};
    let folder = crate::scratch();
    let path = folder.path().join("step04.sqlite");
    db::init_db(&path).expect("step 4's tables");
    let mut conn = Database::new(path)
        .and_then(|database| database.connect())
        .expect("a connection");
    for (username, posts) in users {
        let user = models::create_user(
            &mut conn,
            username,
            &models::PasswordHash::of("a password").unwrap(),
        )
        .expect("a user");
        for (title, body) in *posts {
            let post = NewPost {
                author_id: user.id,
                title,
                body,
            };
            let id = models::create_post(&mut conn, &post).expect("a post");
            written_in_turn(&mut conn, id);
        }
    }
    (folder, conn)
}

/// Step 5's tables with `users` (each with its posts' titles), on a
/// connection from step 5's pool.
pub fn step05_blog(users: &[(&str, &[&str])]) -> (TempDir, Pooled) {
    use step05_relationships::db::{self, Database};
    use step05_relationships::models::{self, NewPost};
    let folder = crate::scratch();
    let path = folder.path().join("step05.sqlite");
    db::init_db(&path).expect("step 5's tables");
    let mut conn = Database::new(path)
        .and_then(|database| database.connect())
        .expect("a connection");
    for (username, titles) in users {
        let user = models::create_user(
            &mut conn,
            username,
            &models::PasswordHash::of("a password").unwrap(),
        )
        .expect("a user");
        for title in *titles {
            let post = NewPost {
                author_id: user.id,
                title,
                body: "...",
            };
            let id = models::create_post(&mut conn, &post).expect("a post");
            written_in_turn(&mut conn, id);
        }
    }
    (folder, conn)
}

/// Dates post `id` a minute after post `id - 1`: posts made by a check all
/// fall in the same second, and "newest first" would have no answer.
fn written_in_turn(conn: &mut SqliteConnection, id: i64) {
    diesel::sql_query(
        "UPDATE post SET created = datetime('2026-01-01 00:00:00', '+' || ?1 || ' minutes')
         WHERE id = ?1",
    )
    .bind::<BigInt, _>(id)
    .execute(conn)
    .expect("the post's date");
}
