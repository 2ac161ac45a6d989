//! The routes, written once against [`UserStore`] and mounted twice: on the
//! per-request connection ([`app`]) or on the pool ([`app`] with a pool).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, middleware};
use minijinja::{Environment, context};
use serde::Deserialize;
use serde_json::json;
use sqlx::SqlitePool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::db::{Database, RequestDb, connection_per_request};
use crate::error::AppError;
use crate::pool::PooledDb;
use crate::store::{Inserted, UserStore};

/// How many users the list page shows at most.
pub const PAGE_SIZE: i64 = 100;
/// Longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub database: Database,
    pub templates: Arc<Environment<'static>>,
    /// `Some` for `serve --pool`: requests borrow a pooled connection.
    pub pool: Option<SqlitePool>,
}

impl AppState {
    /// State for the per-request connection (`serve`).
    pub fn new(database: Database) -> AppState {
        AppState {
            database,
            templates: Arc::new(templates()),
            pool: None,
        }
    }

    /// State for the pooled variant (`serve --pool`).
    pub fn pooled(database: Database, pool: SqlitePool) -> AppState {
        AppState {
            pool: Some(pool),
            ..AppState::new(database)
        }
    }

    fn render(&self, name: &str, values: minijinja::Value) -> Result<Html<String>, AppError> {
        Ok(Html(self.templates.get_template(name)?.render(values)?))
    }
}

/// The templates, compiled into the binary. Files ending in `.html` are
/// autoescaped: a name like `<script>` is shown, never run.
fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true); // no blank lines where {% tags %} stood
    env.set_lstrip_blocks(true);
    for (name, source) in [
        ("base.html", include_str!("../templates/base.html")),
        ("status.html", include_str!("../templates/status.html")),
        ("users.html", include_str!("../templates/users.html")),
        ("new_user.html", include_str!("../templates/new_user.html")),
    ] {
        env.add_template(name, source)
            .expect("the bundled templates parse");
    }
    env
}

// ANCHOR: app
/// Builds the app: with a pool in `state`, each request borrows a pooled
/// connection; without one, each request gets its own, opened on first use.
pub fn app(state: AppState) -> Router {
    let routes = match state.pool {
        Some(_) => routes::<PooledDb>(),
        None => routes::<RequestDb>().layer(middleware::from_fn_with_state(
            state.database.clone(),
            connection_per_request,
        )),
    };
    routes
        .layer(CatchPanicLayer::custom(|_| answer_panic()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .with_state(state)
}

/// Every route, for any way `D` of getting a connection.
fn routes<D>() -> Router<AppState>
where
    D: UserStore + FromRequestParts<AppState, Rejection = AppError> + 'static,
{
    Router::new()
        .route("/", get(check_database::<D>))
        .route("/users", get(list_users::<D>))
        .route("/users/new", get(new_user_form).post(create_user::<D>))
        .route("/api/users/{id}", get(user_json::<D>))
}
// ANCHOR_END: app

fn answer_panic() -> Response {
    let body = "Something went wrong on the server: the handler panicked\n";
    (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
}

/// A log span per request, numbered, so each connection's open and close
/// lines show which request they belong to (`RUST_LOG=info`).
fn request_span(request: &Request) -> tracing::Span {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    tracing::info_span!("request", id, method = %request.method(), uri = %request.uri())
}

// ANCHOR: check
/// `GET /`: does the database answer? Flask's "It works." test route.
async fn check_database<D: UserStore>(
    State(state): State<AppState>,
    mut db: D,
) -> Result<Response, AppError> {
    let (status, error) = match db.check().await {
        Ok(()) => (StatusCode::OK, None),
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, Some(err.to_string())),
    };
    let page = state.render("status.html", context! { error })?;
    Ok((status, page).into_response())
}
// ANCHOR_END: check

// ANCHOR: list_users
/// `GET /users`: two queries, one connection.
async fn list_users<D: UserStore>(
    State(state): State<AppState>,
    mut db: D,
) -> Result<Html<String>, AppError> {
    let total = db.count_users().await?;
    let users = db.list_users(PAGE_SIZE).await?;
    state.render("users.html", context! { total, users })
}
// ANCHOR_END: list_users

/// `GET /users/new`: the empty form. It needs no database, and opens none.
async fn new_user_form(State(state): State<AppState>) -> Result<Html<String>, AppError> {
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
async fn create_user<D: UserStore>(
    State(state): State<AppState>,
    mut db: D,
    Form(form): Form<NewUser>,
) -> Result<Response, AppError> {
    let name = form.name.trim().to_owned();
    let email = form.email.trim().to_owned();
    if let Some(problem) = problem_with(&name, &email) {
        return form_again(&state, StatusCode::BAD_REQUEST, problem, &form);
    }
    match db.insert_user(name, email).await? {
        Inserted::Id(_) => Ok(Redirect::to("/users").into_response()),
        Inserted::EmailTaken => {
            let problem = format!(
                "A user with the email {} already exists.",
                form.email.trim()
            );
            form_again(&state, StatusCode::CONFLICT, problem, &form)
        }
    }
}
// ANCHOR_END: create_user

fn form_again(
    state: &AppState,
    status: StatusCode,
    message: String,
    form: &NewUser,
) -> Result<Response, AppError> {
    let values = context! { message, name => &form.name, email => &form.email };
    Ok((status, state.render("new_user.html", values)?).into_response())
}

/// What is wrong with a submitted name and email, if anything.
pub fn problem_with(name: &str, email: &str) -> Option<String> {
    if name.is_empty() {
        Some("Please enter a name.".to_owned())
    } else if name.chars().any(char::is_control) {
        Some("The name contains a control character.".to_owned())
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some(format!(
            "The name is longer than {MAX_NAME_CHARS} characters."
        ))
    } else if email.is_empty() {
        Some("Please enter an email address.".to_owned())
    } else if !is_valid_email(email) {
        Some(format!("{email} is not a valid email address."))
    } else {
        None
    }
}

/// A deliberately small check: something before one `@`, a dotted domain
/// after it, no spaces, at most 254 bytes.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

// ANCHOR: user_json
/// `GET /api/users/{id}`: one user as JSON, or a JSON error.
async fn user_json<D: UserStore>(mut db: D, Path(id): Path<String>) -> Result<Response, AppError> {
    let Ok(id) = id.parse::<i64>() else {
        let error = format!(
            "`{id}` is not a user id: ids are whole numbers from 1 to {}",
            i64::MAX
        );
        return Ok((StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response());
    };
    Ok(match db.find_user(id).await? {
        Some(user) => Json(user).into_response(),
        None => {
            let error = format!("no user with id {id}");
            (StatusCode::NOT_FOUND, Json(json!({ "error": error }))).into_response()
        }
    })
}
// ANCHOR_END: user_json
