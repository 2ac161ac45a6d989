//! The pages (a status check, the users list for logged-in users), and
//! [`app`], which joins them with the blueprints of `auth.rs`, `blog.rs` and
//! `api.rs` (under `/api`) and the layers every request passes through.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::cookie::Key;
use minijinja::{Environment, context};
use stepkit::render;

use crate::Error;
use crate::api::{self, Paged};
use crate::auth::{self, CurrentUser, LoggedIn};
use crate::db::{self, Database, RequestDb};
use crate::{blog, models};

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
    env.add_template("create.html", include_str!("../templates/create.html"))?;
    env.add_template("update.html", include_str!("../templates/update.html"))?;
    env.add_template("pages.html", include_str!("../templates/pages.html"))?;
    Ok(env)
}

/// Builds the app: the pages, flaskr's auth and blog blueprints, the API
/// nested under `/api`, and the layers every request passes through (the
/// last one added is outermost).
pub fn app(database: Database, key: Key) -> Result<Router, Error> {
    let state = AppState {
        templates: Arc::new(templates()?),
        key,
    };
    let routes = pages()
        .merge(auth::router())
        .merge(blog::router())
        .nest("/api", api::router());
    let app =
        db::init_app(routes, database).layer(middleware::from_fn(stepkit::session::same_origin));
    Ok(stepkit::layers(app, state.templates.clone()).with_state(state))
}

/// The pages blueprint.
fn pages() -> Router<AppState> {
    Router::new()
        .route("/status", get(check_database))
        .route("/users", get(list_users))
}

// --- Pages --------------------------------------------------------------------

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
