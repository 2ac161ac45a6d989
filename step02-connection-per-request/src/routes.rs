//! The routes: a status check, the users pages and a JSON read, each on the
//! request's own connection; and [`app`], which joins them with the pooled
//! routes and the layers every request passes through.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use minijinja::{Environment, context};
use serde::Deserialize;
use serde_json::json;
use sqlx::SqlitePool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

use crate::Error;
use crate::db::{self, Database, RequestDb};
use crate::error::{printable, quote};
use crate::pool;

/// How many users the list page shows at most.
pub const PAGE_SIZE: i64 = 100;
/// Longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The largest request body accepted, in bytes; a larger one is answered 413.
pub const BODY_LIMIT: usize = 16 * 1024;
/// The longest a request may take, body included; then it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler can reach.
#[derive(Debug, Clone, FromRef)]
pub struct AppState {
    pub templates: Arc<Environment<'static>>,
    pub pool: SqlitePool,
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
    env.add_template("status.html", include_str!("../templates/status.html"))?;
    env.add_template("users.html", include_str!("../templates/users.html"))?;
    env.add_template("new_user.html", include_str!("../templates/new_user.html"))?;
    Ok(env)
}

// ANCHOR: app
/// Builds the app: the per-request routes, the pooled ones beside them, and
/// the layers every request passes through (the last one added is outermost).
pub fn app(database: Database, pool: SqlitePool) -> Result<Router, Error> {
    let state = AppState {
        templates: Arc::new(templates()?),
        pool,
        requests: Arc::default(),
    };
    let routes = Router::new()
        .route("/", get(check_database))
        .route("/users", get(list_users))
        .route("/users/new", get(new_user_form).post(create_user))
        .route("/api/users/{id}", get(user_json));
    let app = db::init_app(routes, database)
        .merge(pool::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            readable_errors,
        ))
        .with_state(state);
    Ok(app)
}
// ANCHOR_END: app

// ANCHOR: check
/// `GET /`: does the database answer? The source's "It works." route. Its
/// query reads the file, so a missing, locked or broken database is a 503.
async fn check_database(State(state): State<AppState>, db: RequestDb) -> Result<Response, Error> {
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
    Ok((status, state.render("status.html", context! { works })?).into_response())
}
// ANCHOR_END: check

// ANCHOR: list_users
/// `GET /users`: two queries, one connection.
async fn list_users(State(state): State<AppState>, db: RequestDb) -> Result<Html<String>, Error> {
    let total = db.run(db::count_users).await?;
    let users = db.run(|conn| db::first_users(conn, PAGE_SIZE)).await?;
    state.render("users.html", context! { total, users })
}
// ANCHOR_END: list_users

/// `GET /users/new`: the empty form. It needs no database, and opens none.
async fn new_user_form(State(state): State<AppState>) -> Result<Html<String>, Error> {
    state.render("new_user.html", context! { name => "", email => "" })
}

/// The form's fields; a missing one arrives as empty and is reported.
#[derive(Debug, Default, Deserialize)]
pub struct NewUser {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
}

// ANCHOR: create_user
/// `POST /users/new`: insert and redirect to the list, or show the form
/// again with the problem and a 4xx status. A rejected form writes nothing.
async fn create_user(
    State(state): State<AppState>,
    db: RequestDb,
    Form(form): Form<NewUser>,
) -> Result<Response, Error> {
    let name = form.name.trim().to_owned();
    let email = form.email.trim().to_owned();
    if let Some(problem) = problem_with(&name, &email) {
        return form_again(&state, StatusCode::BAD_REQUEST, problem, &form);
    }
    // The UNIQUE rule itself catches a taken email, even from a racing request.
    let inserted = db
        .run(move |conn| match db::insert_user(conn, &name, &email) {
            Err(err) if is_unique_violation(&err) => Ok(None),
            other => other.map(Some),
        })
        .await?;
    match inserted {
        Some(_) => Ok(Redirect::to("/users").into_response()),
        None => {
            let problem = "A user with this email already exists.".to_owned();
            form_again(&state, StatusCode::CONFLICT, problem, &form)
        }
    }
}
// ANCHOR_END: create_user

/// True for a broken UNIQUE rule (here: `email`), not for other constraints.
fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(failure, _)
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

fn form_again(
    state: &AppState,
    status: StatusCode,
    message: String,
    form: &NewUser,
) -> Result<Response, Error> {
    let values = context! { message, name => &form.name, email => &form.email };
    Ok((status, state.render("new_user.html", values)?).into_response())
}

/// What is wrong with a submitted name and email, if anything. A form body
/// that is not UTF-8 arrives with U+FFFD in place of the bad bytes.
pub fn problem_with(name: &str, email: &str) -> Option<String> {
    for (field, value) in [("name", name), ("email", email)] {
        if value.is_empty() {
            return Some(format!("Please enter the {field}."));
        }
        if value.contains('\u{FFFD}') {
            return Some(format!("The {field} is not valid UTF-8 text."));
        }
        if value.chars().any(char::is_control) {
            return Some(format!("The {field} contains a control character."));
        }
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Some(format!(
            "The name is longer than {MAX_NAME_CHARS} characters."
        ));
    }
    if !is_valid_email(email) {
        return Some(format!("{} is not a valid email address.", quote(email)));
    }
    None
}

/// A documented, deliberately plain rule, not the whole of RFC 5322: at most
/// 254 bytes; one `@`; before it, up to 64 characters with no spaces, no
/// `"(),:;<>[\]`, and no dot at either end or twice in a row; after it, two
/// or more dot-separated labels of ASCII letters, digits and inner hyphens.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = (1..=64).contains(&local.chars().count())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"(),:;<>@[\\]".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    email.len() <= 254 && local_ok && labels.len() >= 2 && labels.iter().all(label_ok)
}

// ANCHOR: user_json
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
// ANCHOR_END: user_json

// ANCHOR: readable_errors
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
// ANCHOR_END: readable_errors
