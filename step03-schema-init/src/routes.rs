//! The routes: flaskr's index of posts, a status check, the users pages and
//! a JSON read, each on the request's own connection; and [`app`], which
//! joins them with the layers every request passes through.

use std::sync::Arc;

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use minijinja::{Environment, context};
use serde::{Deserialize, Serialize};
use serde_json::json;
use stepkit::quote;

use crate::Error;
use crate::db::{self, Database, Post, RequestDb};

/// How many users the list page shows at most.
pub const PAGE_SIZE: i64 = 100;
/// Longest username accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// What every handler can reach.
#[derive(Debug, Clone, FromRef)]
pub struct AppState {
    pub templates: Arc<Environment<'static>>,
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
    Ok(env)
}

/// Builds the app: the routes, and the layers every request passes through
/// (the last one added is outermost).
pub fn app(database: Database) -> Result<Router, Error> {
    let state = AppState {
        templates: Arc::new(templates()?),
    };
    let routes = Router::new()
        .route("/", get(index))
        .route("/status", get(check_database))
        .route("/users", get(list_users))
        .route("/users/new", get(new_user_form).post(create_user))
        .route("/api/users/{id}", get(user_json));
    let app = db::init_app(routes, database);
    Ok(stepkit::layers(app, state.templates.clone()).with_state(state))
}

// ANCHOR: index
/// `GET /`: every post with its author, newest first. A post that cannot be
/// read is left out and logged, and the page says how many were.
async fn index(State(state): State<AppState>, db: RequestDb) -> Result<Html<String>, Error> {
    let (posts, unreadable) = db.run(db::posts_newest_first).await?;
    for err in &unreadable {
        tracing::warn!("left a post off the index: {err}");
    }
    let posts: Vec<PostView> = posts.iter().map(PostView::from).collect();
    let unreadable = unreadable.len();
    state.render("index.html", context! { posts, unreadable })
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

/// `GET /users`: two queries, one connection.
async fn list_users(State(state): State<AppState>, db: RequestDb) -> Result<Html<String>, Error> {
    let total = db.run(db::count_users).await?;
    let users = db.run(|conn| db::first_users(conn, PAGE_SIZE)).await?;
    state.render("users.html", context! { total, users })
}

/// `GET /users/new`: the empty form. It needs no database, and opens none.
async fn new_user_form(State(state): State<AppState>) -> Result<Html<String>, Error> {
    state.render("new_user.html", context! { username => "" })
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
    if let Some(problem) = problem_with(&username, &password) {
        return form_again(&state, StatusCode::BAD_REQUEST, problem, &form);
    }
    // The UNIQUE rule itself catches a taken username, even from a racing request.
    let inserted = db
        .run(move |conn| match db::add_user(conn, &username, &password) {
            Err(Error::Sqlite(err)) if is_unique_violation(&err) => Ok(None),
            other => other.map(Some),
        })
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

/// True for a broken UNIQUE rule (here: `username`), not for other constraints.
fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(failure, _)
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
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

/// What is wrong with a submitted username and password, if anything. A form
/// body that is not UTF-8 arrives with U+FFFD in place of the bad bytes.
pub fn problem_with(username: &str, password: &str) -> Option<String> {
    for (field, value) in [("username", username), ("password", password)] {
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
    if username.chars().count() > MAX_NAME_CHARS {
        return Some(format!(
            "The username is longer than {MAX_NAME_CHARS} characters."
        ));
    }
    None
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
