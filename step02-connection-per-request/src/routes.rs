//! The routes: a status check, the users pages and a JSON read, each on the
//! request's own connection; and [`app`], which joins them with the pooled
//! routes and the layers every request passes through.

use std::sync::Arc;

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use minijinja::{Environment, context};
use serde::Deserialize;
use serde_json::json;
use sqlx::SqlitePool;
use stepkit::{quote, render, text_problem};

use crate::Error;
use crate::db::{self, Database, RequestDb};
use crate::pool;

/// How many users the list page shows at most.
pub const PAGE_SIZE: i64 = 100;
/// Longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// What every handler can reach.
#[derive(Debug, Clone, FromRef)]
pub struct AppState {
    pub templates: Arc<Environment<'static>>,
    pub pool: SqlitePool,
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
/// the kit's layers, which every request passes through.
pub fn app(database: Database, pool: SqlitePool) -> Result<Router, Error> {
    let templates = Arc::new(templates()?);
    let state = AppState {
        templates: templates.clone(),
        pool,
    };
    let routes = Router::new()
        .route("/", get(check_database))
        .route("/users", get(list_users))
        .route("/users/new", get(new_user_form).post(create_user))
        .route("/api/users/{id}", get(user_json));
    let app = db::init_app(routes, database).merge(pool::routes());
    Ok(stepkit::layers(app, templates).with_state(state))
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
    Ok((
        status,
        render(&state.templates, "status.html", context! { works })?,
    )
        .into_response())
}
// ANCHOR_END: check

// ANCHOR: list_users
/// `GET /users`: two queries, one connection.
async fn list_users(State(state): State<AppState>, db: RequestDb) -> Result<Html<String>, Error> {
    let total = db.run(db::count_users).await?;
    let users = db.run(|conn| db::first_users(conn, PAGE_SIZE)).await?;
    Ok(render(
        &state.templates,
        "users.html",
        context! { total, users },
    )?)
}
// ANCHOR_END: list_users

/// `GET /users/new`: the empty form. It needs no database, and opens none.
async fn new_user_form(State(state): State<AppState>) -> Result<Html<String>, Error> {
    Ok(render(
        &state.templates,
        "new_user.html",
        context! { name => "", email => "" },
    )?)
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
    Ok((status, render(&state.templates, "new_user.html", values)?).into_response())
}

/// What is wrong with a submitted name and email, if anything: the kit's
/// checks of any text, then the email rule below.
pub fn problem_with(name: &str, email: &str) -> Option<String> {
    let problem = text_problem("name", name, MAX_NAME_CHARS, false)
        .or_else(|| text_problem("email", email, usize::MAX, false));
    if problem.is_some() {
        return problem;
    }
    let invalid = !is_valid_email(email);
    invalid.then(|| format!("{} is not a valid email address.", quote(email)))
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
