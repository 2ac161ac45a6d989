//! The pages (flaskr's index of posts, a status check, the users list for
//! logged-in users), and [`app`], which joins them with flaskr's auth
//! blueprint, the JSON API of `api.rs` under `/api`, and the layers every
//! request passes through.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::cookie::Key;
use minijinja::{Environment, context};
use serde::Serialize;
use stepkit::render;

use crate::Error;
use crate::api::{self, Paged, log_unreadable};
use crate::auth::{self, CurrentUser, LoggedIn};
use crate::db::{self, Database, RequestDb};
use crate::models::{self, PostWithAuthor};

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
    env.add_template("pages.html", include_str!("../templates/pages.html"))?;
    Ok(env)
}

// ANCHOR: app
/// Builds the app: the pages, flaskr's auth blueprint, the API nested under
/// `/api` (Flask's blueprints), the kit's check that a form was posted from
/// this site, and the layers every request passes through.
pub fn app(database: Database, key: Key) -> Result<Router, Error> {
    let state = AppState {
        templates: Arc::new(templates()?),
        key,
    };
    let routes = pages().merge(auth::router()).nest("/api", api::router());
    let app =
        db::init_app(routes, database).layer(middleware::from_fn(stepkit::session::same_origin));
    Ok(stepkit::layers(app, state.templates.clone()).with_state(state))
}

/// The pages blueprint.
fn pages() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/status", get(check_database))
        .route("/users", get(list_users))
}

// ANCHOR_END: app

// --- Pages --------------------------------------------------------------------

/// `GET /?page=N`: the posts with their authors, newest first, a page at a
/// time. A post that cannot be read is left out and logged, and the page
/// says how many were.
async fn index(
    State(state): State<AppState>,
    db: RequestDb,
    CurrentUser(user): CurrentUser,
    Paged(page, _query): Paged,
) -> Result<Response, Error> {
    let (posts, unreadable) = db.run(move |conn| models::posts_page(conn, page)).await?;
    let unreadable = log_unreadable(&unreadable);
    let posts = posts.map(|post| PostView::from(&post));
    Ok(render(
        &state.templates,
        "index.html",
        context! { user, posts, unreadable },
    )?
    .into_response())
}

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

impl From<&PostWithAuthor> for PostView {
    fn from(row: &PostWithAuthor) -> PostView {
        PostView {
            title: row.post.title.clone(),
            body: row.post.body.clone(),
            author: row.author.clone(),
            created_date: row.post.created.0.format("%Y-%m-%d").to_string(),
            created_iso: row.post.created.0.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    }
}

/// `GET /status`: does the database answer? The source's "It works." route.
/// Its query reads the `user` table, so a missing, locked or broken database
/// is a 503.
async fn check_database(
    State(state): State<AppState>,
    db: RequestDb,
    CurrentUser(user): CurrentUser,
) -> Result<Response, Error> {
    let works = match db.run(models::check).await {
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

/// `GET /users?page=N&search=TEXT`: a page of users, for logged-in users
/// only (`LoggedIn` sends anyone else to the login page).
async fn list_users(
    State(state): State<AppState>,
    db: RequestDb,
    LoggedIn(user): LoggedIn,
    Paged(page, query): Paged,
) -> Result<Response, Error> {
    let search = query.search.clone();
    let users = db
        .run(move |conn| models::users_page(conn, search.as_deref(), page))
        .await?;
    let search = query.search.unwrap_or_default();
    Ok(render(
        &state.templates,
        "users.html",
        context! { user, users, search },
    )?
    .into_response())
}
