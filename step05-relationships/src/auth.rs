//! flaskr's `auth.py`: register, log in, log out, and who is logged in, on
//! the models. The session lives in the database (`session.rs`):
//! the cookie holds only its random token, signed with the app's secret key,
//! so a cookie that a client forged or changed fails before the database is
//! asked.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::{Key, SignedCookieJar};
use minijinja::{Environment, context};
use serde::Deserialize;
use stepkit::password;
use stepkit::session::{SESSION_COOKIE, no_session_cookie, session_cookie};
use stepkit::throttle::Throttle;
use stepkit::{name_problem, normal_name, render, text_problem};

use crate::db::RequestDb;
use crate::models::{self, MAX_NAME_CHARS, PasswordHash, User, unique};
use crate::{Error, session};

/// Who is logged in: flaskr's `load_logged_in_user`, which sets `g.user`.
/// The token comes from the signed session cookie and names a row of the
/// `session` table; a cookie that is missing, forged or tampered with, or
/// whose session has ended, counts as no session at all.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Option<User>);

impl<S> FromRequestParts<S> for CurrentUser
where
    Key: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let Some(token) = session_token(parts, state).await else {
            return Ok(CurrentUser(None));
        };
        let db = RequestDb::from_request_parts(parts, state).await?;
        let user = db.run(move |conn| session::user_of(conn, &token)).await?;
        Ok(CurrentUser(user))
    }
}

/// The token in the request's session cookie, if its signature holds.
async fn session_token<S>(parts: &mut Parts, state: &S) -> Option<String>
where
    Key: FromRef<S>,
    S: Send + Sync,
{
    let jar = SignedCookieJar::<Key>::from_request_parts(parts, state)
        .await
        .unwrap_or_else(|never| match never {});
    jar.get(SESSION_COOKIE)
        .map(|cookie| cookie.value().to_owned())
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
        .route("/auth/logout", post(logout))
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
    let values = context! { user, username => "" };
    Ok(render(&templates, "register.html", values)?)
}

/// `POST /auth/register`: creates the user (the password stored as an
/// argon2 hash) and sends them to log in, or shows the form again with
/// flaskr's message and a 4xx status. A refused form writes nothing.
async fn register(
    State(templates): State<Arc<Environment<'static>>>,
    db: RequestDb,
    Form(form): Form<Credentials>,
) -> Result<Response, Error> {
    let username = normal_name(&form.username);
    if let Some(error) = problem_with(&username, &form.password) {
        let page = render(&templates, "register.html", context! { username, error })?;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    // The UNIQUE rule itself catches a taken username, even from a racing request.
    let hash = PasswordHash::of_off_thread(form.password).await?;
    let name = username.clone();
    let added = db
        .write(move |conn| unique(models::create_user(conn, &name, &hash)))
        .await?;
    if added.is_none() {
        let error = format!("User {username} is already registered.");
        let page = render(&templates, "register.html", context! { username, error })?;
        return Ok((StatusCode::CONFLICT, page).into_response());
    }
    Ok(Redirect::to("/auth/login").into_response())
}

/// What is wrong with a submitted username and password, if anything:
/// flaskr's two messages first, then the kit's checks of any text.
pub fn problem_with(username: &str, password: &str) -> Option<String> {
    if username.is_empty() {
        return Some("Username is required.".to_owned());
    }
    if password.is_empty() {
        return Some("Password is required.".to_owned());
    }
    name_problem("username", username, MAX_NAME_CHARS)
        .or_else(|| text_problem("password", password, usize::MAX, false))
}

async fn login_form(
    State(templates): State<Arc<Environment<'static>>>,
    CurrentUser(user): CurrentUser,
) -> Result<Html<String>, Error> {
    Ok(render(
        &templates,
        "login.html",
        context! { user, username => "" },
    )?)
}

/// `POST /auth/login`: checks the password against the stored hash (on a
/// blocking thread: argon2 is slow on purpose), then starts a session: a
/// row in the `session` table, and its token in the signed cookie. After
/// five wrong passwords in a row, the kit's throttle makes a username wait.
async fn login(
    State(templates): State<Arc<Environment<'static>>>,
    db: RequestDb,
    jar: SignedCookieJar,
    throttle: Throttle,
    Form(form): Form<Credentials>,
) -> Result<Response, Error> {
    let username = normal_name(&form.username);
    if let Err(too_soon) = throttle.attempt(&username) {
        return Ok(too_soon.into_response()); // before any hash is computed
    }
    let name = username.clone();
    let found = db
        .run(move |conn| models::user_for_login(conn, &name))
        .await?;
    // argon2 is slow on purpose, and waits its turn: no pooled connection
    // waits with it. As much work for a name no one has as for a wrong one.
    db.release();
    let stored = found.as_ref().map(|(_, hash)| hash.clone());
    let verify = move || password::verify_login(&form.password, stored.as_deref());
    let checked = match (found, tokio::task::spawn_blocking(verify).await?) {
        (None, _) => Err("Incorrect username."),
        (Some(_), false) => Err("Incorrect password."),
        (Some((user, _)), true) => Ok(db.write(move |conn| session::start(conn, user.id)).await?),
    };
    match checked {
        Ok(token) => {
            throttle.succeeded(&username);
            Ok((jar.add(session_cookie(token)), Redirect::to("/")).into_response())
        }
        Err(error) => {
            let values = context! { user => None::<User>, username, error };
            let page = render(&templates, "login.html", values)?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
    }
}

/// `POST /auth/logout`: deletes the session's row, so that the cookie is
/// worth nothing even where a copy of it survives, and goes back to the
/// index. A POST, not a link: no other site can log a user out with an image.
async fn logout(db: RequestDb, jar: SignedCookieJar) -> Result<Response, Error> {
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        let token = cookie.value().to_owned();
        db.write(move |conn| session::end(conn, &token)).await?;
    }
    Ok((jar.remove(no_session_cookie()), Redirect::to("/")).into_response())
}
