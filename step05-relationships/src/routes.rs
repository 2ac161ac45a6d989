//! The pages (a status check, the users list and form), and [`app`], which
//! joins them with the blueprints of `auth.rs`, `blog.rs` and `api.rs` (under
//! `/api`) and the layers every request passes through.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use axum_extra::extract::cookie::Key;
use minijinja::{Environment, context};
use serde::Deserialize;
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

use crate::Error;
use crate::api::{self, ListQuery};
use crate::auth::{self, CurrentUser};
use crate::db::{self, Database, RequestDb};
use crate::error::{printable, quote};
use crate::models::{problem_with, unique};
use crate::{blog, models};

/// The largest request body accepted, in bytes; a larger one is answered 413.
pub const BODY_LIMIT: usize = 16 * 1024;
/// The longest a request may take, body included; then it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler can reach.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub templates: Arc<Environment<'static>>,
    /// Signs the session cookie: Flask's `SECRET_KEY`.
    pub key: Key,
    /// Numbers the requests, for the log and for 500 answers.
    pub requests: Arc<AtomicU64>,
}

impl AppState {
    fn render(&self, name: &str, values: minijinja::Value) -> Result<Html<String>, Error> {
        Ok(Html(self.templates.get_template(name)?.render(values)?))
    }
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
    env.add_template("new_user.html", include_str!("../templates/new_user.html"))?;
    env.add_template("register.html", include_str!("../templates/register.html"))?;
    env.add_template("login.html", include_str!("../templates/login.html"))?;
    env.add_template("create.html", include_str!("../templates/create.html"))?;
    env.add_template("update.html", include_str!("../templates/update.html"))?;
    env.add_template("pages.html", include_str!("../templates/pages.html"))?;
    Ok(env)
}

// ANCHOR: app
/// Builds the app: the pages, flaskr's auth and blog blueprints, the API
/// nested under `/api`, and the layers every request passes through (the
/// last one added is outermost).
pub fn app(database: Database, key: Key) -> Result<Router, Error> {
    let state = AppState {
        templates: Arc::new(templates()?),
        key,
        requests: Arc::default(),
    };
    let routes = pages()
        .merge(auth::router())
        .merge(blog::router())
        .nest("/api", api::router());
    let app = db::init_app(routes, database)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn(same_origin))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            readable_errors,
        ))
        .with_state(state);
    Ok(app)
}

/// The pages blueprint.
fn pages() -> Router<AppState> {
    Router::new()
        .route("/status", get(check_database))
        .route("/users", get(list_users))
        .route("/users/new", get(new_user_form).post(create_user))
}

// ANCHOR_END: app

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
        state.render("status.html", context! { user, works })?,
    )
        .into_response())
}

/// `GET /users?page=N&search=TEXT`: a page of users.
async fn list_users(
    State(state): State<AppState>,
    db: RequestDb,
    CurrentUser(user): CurrentUser,
    Query(query): Query<ListQuery>,
) -> Result<Response, Error> {
    let page = match query.page() {
        Ok(page) => page,
        Err((_, message)) => return Ok((StatusCode::BAD_REQUEST, message).into_response()),
    };
    let search = query.search.clone();
    let users = db
        .run(move |conn| models::users_page(conn, search.as_deref(), page))
        .await?;
    let search = query.search.unwrap_or_default();
    Ok(state
        .render("users.html", context! { user, users, search })?
        .into_response())
}

/// `GET /users/new`: the empty form. It needs no database, and opens none.
async fn new_user_form(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Html<String>, Error> {
    state.render("new_user.html", context! { user, username => "" })
}

/// The form's fields; a missing one arrives as empty and is reported.
#[derive(Debug, Default, Deserialize)]
pub struct NewUser {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
}

/// `POST /users/new`: insert and redirect to the list, or show the form
/// again with the problem and a 4xx status. A rejected form writes nothing.
async fn create_user(
    State(state): State<AppState>,
    db: RequestDb,
    Form(form): Form<NewUser>,
) -> Result<Response, Error> {
    let username = form.username.trim().to_owned();
    let password = form.password.clone();
    if let Some((_, problem)) = problem_with(&username, &password) {
        return form_again(&state, StatusCode::BAD_REQUEST, problem, &form);
    }
    let inserted = db
        .run(move |conn| unique(models::create_user(conn, &username, &password)))
        .await?;
    match inserted {
        Some(_) => Ok(Redirect::to("/users").into_response()),
        None => {
            let problem = format!(
                "User {} is already registered.",
                quote(form.username.trim())
            );
            form_again(&state, StatusCode::CONFLICT, problem, &form)
        }
    }
}

/// The form again, with the message; the password is never sent back.
fn form_again(
    state: &AppState,
    status: StatusCode,
    message: String,
    form: &NewUser,
) -> Result<Response, Error> {
    let values = context! { message, username => &form.username };
    Ok((status, state.render("new_user.html", values)?).into_response())
}

// ANCHOR: same_origin
/// Refuses a form posted from another site: a request that changes
/// something (anything but GET and HEAD) whose browser says it comes from
/// elsewhere. The session cookie's `SameSite=Lax` already keeps it off such
/// requests in current browsers; this check does not rely on that alone.
async fn same_origin(request: Request, next: Next) -> Response {
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes && is_cross_site(request.headers()) {
        tracing::warn!("refused a request from another site");
        let refusal = "This request came from another site, so it was refused.";
        return (StatusCode::FORBIDDEN, refusal).into_response();
    }
    next.run(request).await
}

/// True when the browser says so (`Sec-Fetch-Site: cross-site`), or when
/// the `Origin` it sends is not this server's `Host`.
fn is_cross_site(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if text("sec-fetch-site") == Some("cross-site") {
        return true;
    }
    match text("origin") {
        None => false,
        Some(origin) => origin.split_once("://").map(|(_, rest)| rest) != text("host"),
    }
}
// ANCHOR_END: same_origin

/// Numbers each request for the log, and gives every error answer a short
/// readable body: JSON under `/api/`, a page elsewhere. A 5xx tells the
/// client nothing internal, only the number the log lines carry.
async fn readable_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let id = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", id, method = %request.method(), path);
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    tracing::info!(parent: &span, "answered {status}");
    let api = path.starts_with("/api/");
    let worded = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|kind| {
            let kind = kind.to_str().unwrap_or_default();
            kind.starts_with(if api { "application/json" } else { "text/html" })
        });
    if !(status.is_client_error() || status.is_server_error()) || worded {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let detail = match status.is_server_error() {
        true => {
            format!("Something went wrong on the server (request {id}); its log has the details.")
        }
        false => {
            let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
            let text: String = String::from_utf8_lossy(&text)
                .trim()
                .chars()
                .take(200)
                .collect();
            printable(&text)
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let status = status.to_string();
    if api {
        let error = if detail.is_empty() { &status } else { &detail };
        return (parts, Json(json!({ "error": error }))).into_response();
    }
    match state.render("error.html", context! { status, detail }) {
        Ok(page) => (parts, page).into_response(),
        Err(_) => (parts, status).into_response(),
    }
}
