//! flaskr's `auth.py`: register, log in, log out, and who is logged in.
//!
//! The session is a signed cookie, as Flask's is: it holds the user's id in
//! plain text next to a signature made with the app's secret key, so the
//! server can trust it and a client cannot forge or change it.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use axum_extra::extract::cookie::{Cookie, Key, SignedCookieJar};
use minijinja::{Environment, context};
use serde::Deserialize;
use stepkit::session::{SESSION_COOKIE, no_session_cookie};

use crate::db::RequestDb;
use crate::models::{self, User, problem_with, unique};
use crate::{Error, password};

/// How long a session lasts after logging in, as Flask's permanent
/// sessions do: 31 days, in seconds.
pub const SESSION_LIFETIME: i64 = 31 * 24 * 60 * 60;

/// Renders a template for a page of the blog.
pub fn render(
    templates: &Environment<'_>,
    name: &str,
    values: minijinja::Value,
) -> Result<Html<String>, Error> {
    Ok(Html(templates.get_template(name)?.render(values)?))
}

/// Who is logged in: flaskr's `load_logged_in_user`, which sets `g.user`.
/// The id comes from the signed session cookie; a cookie that is missing,
/// forged or tampered with fails its signature check and counts as no
/// session at all.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Option<User>);

impl<S> FromRequestParts<S> for CurrentUser
where
    Key: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let jar = SignedCookieJar::<Key>::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        let id = jar
            .get(SESSION_COOKIE)
            .and_then(|cookie| session_user(cookie.value()));
        let Some(id) = id else {
            return Ok(CurrentUser(None));
        };
        let db = RequestDb::from_request_parts(parts, state).await?;
        let user = db.run(move |conn| models::find_user(conn, id)).await?;
        Ok(CurrentUser(user))
    }
}

/// The user id a signed session value names, if the session has not
/// expired. The value is `id.issued`, `issued` in seconds since 1970.
fn session_user(value: &str) -> Option<i64> {
    let (id, issued) = value.split_once('.')?;
    let age = chrono::Utc::now().timestamp() - issued.parse::<i64>().ok()?;
    (0..=SESSION_LIFETIME)
        .contains(&age)
        .then_some(id.parse().ok()?)
}

/// The session cookie for `user`, issued now.
pub fn session_cookie(user: &User) -> Cookie<'static> {
    stepkit::session::session_cookie(format!("{}.{}", user.id, chrono::Utc::now().timestamp()))
}

/// flaskr's `login_required`, as an extractor: a handler that takes
/// `LoggedIn(user)` runs only for a logged-in user; anyone else is sent to
/// the login page before the handler starts.
#[derive(Debug, Clone)]
pub struct LoggedIn(pub User);

impl<S> FromRequestParts<S> for LoggedIn
where
    Key: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match CurrentUser::from_request_parts(parts, state).await {
            Ok(CurrentUser(Some(user))) => Ok(LoggedIn(user)),
            Ok(CurrentUser(None)) => Err(Redirect::to("/auth/login").into_response()),
            Err(err) => Err(err.into_response()),
        }
    }
}

/// The auth blueprint.
pub fn router<S>() -> Router<S>
where
    Arc<Environment<'static>>: FromRef<S>,
    Key: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/auth/register", get(register_form).post(register))
        .route("/auth/login", get(login_form).post(login))
        .route("/auth/logout", get(logout))
}

/// The register and login forms' fields; a missing one arrives empty.
#[derive(Debug, Default, Deserialize)]
pub struct Credentials {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
}

async fn register_form(
    State(templates): State<Arc<Environment<'static>>>,
    CurrentUser(user): CurrentUser,
) -> Result<Html<String>, Error> {
    render(
        &templates,
        "register.html",
        context! { user, username => "" },
    )
}

/// `POST /auth/register`: creates the user and sends them to log in, or
/// shows the form again with flaskr's message.
async fn register(
    State(templates): State<Arc<Environment<'static>>>,
    db: RequestDb,
    CurrentUser(user): CurrentUser,
    Form(form): Form<Credentials>,
) -> Result<Response, Error> {
    let username = form.username.trim().to_owned();
    let error = if username.is_empty() {
        Some("Username is required.".to_owned())
    } else if form.password.trim().is_empty() {
        Some("Password is required.".to_owned())
    } else {
        problem_with(&username, &form.password).map(|(_, problem)| problem)
    };
    if let Some(error) = error {
        let page = render(
            &templates,
            "register.html",
            context! { user, username, error },
        )?;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let name = username.clone();
    let created = db
        .run(move |conn| unique(models::create_user(conn, &name, &form.password)))
        .await?;
    if created.is_none() {
        let error = format!("User {username} is already registered.");
        let page = render(
            &templates,
            "register.html",
            context! { user, username, error },
        )?;
        return Ok((StatusCode::CONFLICT, page).into_response());
    }
    Ok(Redirect::to("/auth/login").into_response())
}

async fn login_form(
    State(templates): State<Arc<Environment<'static>>>,
    CurrentUser(user): CurrentUser,
) -> Result<Html<String>, Error> {
    render(&templates, "login.html", context! { user, username => "" })
}

/// `POST /auth/login`: checks the password against the stored hash (on a
/// blocking thread: argon2 is slow on purpose), then starts a session by
/// setting the signed cookie, and redirects to the index.
async fn login(
    State(templates): State<Arc<Environment<'static>>>,
    db: RequestDb,
    jar: SignedCookieJar,
    Form(form): Form<Credentials>,
) -> Result<Response, Error> {
    let username = form.username.trim().to_owned();
    let name = username.clone();
    let checked = db
        .run(move |conn| {
            let Some((user, hash)) = models::user_for_login(conn, &name)? else {
                return Ok::<_, Error>(Err("Incorrect username."));
            };
            match password::verify(&form.password, &hash) {
                true => Ok(Ok(user)),
                false => Ok(Err("Incorrect password.")),
            }
        })
        .await?;
    match checked {
        Ok(user) => Ok((jar.add(session_cookie(&user)), Redirect::to("/")).into_response()),
        Err(error) => {
            let values = context! { user => None::<User>, username, error };
            let page = render(&templates, "login.html", values)?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
    }
}

/// `GET /auth/logout`: ends the session and goes back to the index.
async fn logout(jar: SignedCookieJar) -> Response {
    (jar.remove(no_session_cookie()), Redirect::to("/")).into_response()
}
