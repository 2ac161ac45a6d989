//! The routes: flaskr's index of posts, a status check, the users page (for
//! logged-in users only) and a JSON read, each on the request's own
//! connection; and [`app`], which joins them with the auth blueprint and the
//! layers every request passes through.

use std::sync::Arc;

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use axum_extra::extract::cookie::Key;
use minijinja::{Environment, context};
use serde::Serialize;
use serde_json::json;
use stepkit::render;

use crate::Error;
use crate::auth::{self, CurrentUser, LoggedIn};
use crate::db::{self, Database, Post, RequestDb};

/// How many users the list page shows at most.
pub const PAGE_SIZE: i64 = 100;

/// What every handler can reach.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub templates: Arc<Environment<'static>>,
    /// Signs the session cookie: Flask's `SECRET_KEY`.
    pub key: Key,
}

/// The templates, compiled into the binary. A name ending in `.html` turns
/// on HTML escaping, so a `<` in a user's name arrives as `&lt;`.
pub fn templates() -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_template("base.html", include_str!("../templates/base.html"))?;
    env.add_template("error.html", include_str!("../templates/error.html"))?;
    env.add_template("index.html", include_str!("../templates/index.html"))?;
    env.add_template("status.html", include_str!("../templates/status.html"))?;
    env.add_template("users.html", include_str!("../templates/users.html"))?;
    env.add_template("register.html", include_str!("../templates/register.html"))?;
    env.add_template("login.html", include_str!("../templates/login.html"))?;
    Ok(env)
}

/// Builds the app: the routes, flaskr's auth blueprint, the kit's check
/// that a form was posted from this site, and the layers every request
/// passes through.
pub fn app(database: Database, key: Key) -> Result<Router, Error> {
    let state = AppState {
        templates: Arc::new(templates()?),
        key,
    };
    let routes = Router::new()
        .route("/", get(index))
        .route("/status", get(check_database))
        .route("/users", get(list_users))
        .route("/api/users/{id}", get(user_json))
        .merge(auth::router());
    let app =
        db::init_app(routes, database).layer(middleware::from_fn(stepkit::session::same_origin));
    Ok(stepkit::layers(app, state.templates.clone()).with_state(state))
}

// ANCHOR: index
/// `GET /`: every post with its author, newest first. A post that cannot be
/// read is left out and logged, and the page says how many were.
async fn index(
    State(state): State<AppState>,
    db: RequestDb,
    CurrentUser(user): CurrentUser,
) -> Result<Html<String>, Error> {
    let (posts, unreadable) = db.run(db::posts_newest_first).await?;
    for err in &unreadable {
        tracing::warn!("left a post off the index: {err}");
    }
    let posts: Vec<PostView> = posts.iter().map(PostView::from).collect();
    let unreadable = unreadable.len();
    Ok(render(
        &state.templates,
        "index.html",
        context! { user, posts, unreadable },
    )?)
}
// ANCHOR_END: index

/// A post as the template sees it, its date already formatted.
#[derive(Debug, Serialize)]
struct PostView {
    title: String,
    body: String,
    author: String,
    /// `2024-03-05`, for people.
    created_date: String,
    /// `2024-03-05T14:07:30Z`, for the `<time>` element.
    created_iso: String,
}

impl From<&Post> for PostView {
    fn from(post: &Post) -> PostView {
        PostView {
            title: post.title.clone(),
            body: post.body.clone(),
            author: post.username.clone(),
            created_date: post.created.0.format("%Y-%m-%d").to_string(),
            created_iso: post.created.0.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    }
}

/// `GET /status`: does the database answer? The source's "It works." route. Its
/// query reads the file, so a missing, locked or broken database is a 503.
async fn check_database(
    State(state): State<AppState>,
    db: RequestDb,
    CurrentUser(user): CurrentUser,
) -> Result<Response, Error> {
    let works = match db.run(db::check).await {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!("the database check failed: {err}");
            false
        }
    };
    let status = match works {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    Ok((
        status,
        render(&state.templates, "status.html", context! { user, works })?,
    )
        .into_response())
}

/// `GET /users`: two queries, one connection; for logged-in users only
/// (`LoggedIn` sends anyone else to the login page).
async fn list_users(
    State(state): State<AppState>,
    db: RequestDb,
    LoggedIn(user): LoggedIn,
) -> Result<Html<String>, Error> {
    let total = db.run(db::count_users).await?;
    let users = db.run(|conn| db::first_users(conn, PAGE_SIZE)).await?;
    Ok(render(
        &state.templates,
        "users.html",
        context! { user, total, users },
    )?)
}

/// `GET /api/users/{id}`: one user as JSON, or a JSON error.
async fn user_json(db: RequestDb, Path(id): Path<i64>) -> Result<Response, Error> {
    Ok(match db.run(move |conn| db::find_user(conn, id)).await? {
        Some(user) => Json(user).into_response(),
        None => {
            let error = format!("no user with id {id}");
            (StatusCode::NOT_FOUND, Json(json!({ "error": error }))).into_response()
        }
    })
}
