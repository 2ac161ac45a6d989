//! The JSON API, a blueprint mounted at `/api`: CRUD on users and posts,
//! paginated lists, and the input rules the pages share. Every answer is
//! JSON; a 4xx names the field at fault, and a refused request writes
//! nothing. A write needs a session (the login of `auth.rs`), a user may
//! change only their own account, and a post only its author.

use axum::extract::{FromRef, FromRequestParts, OriginalUri, Path, Query};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use axum_extra::extract::cookie::Key;
use diesel::result::Error as DieselError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use stepkit::{normal_name, quote};

use crate::Error;
use crate::auth::CurrentUser;
use crate::db::RequestDb;
use crate::models::{
    self, NewPost, Page, PasswordHash, PostChanges, PostWithAuthor, foreign_key, post_problem,
    unique, user_problem,
};

/// Rows per page when the request does not say, and the most it may ask for.
pub const PER_PAGE: i64 = 10;
pub const MAX_PER_PAGE: i64 = 100;

/// The API's routes, for any app state: they need only the request's
/// connection.
pub fn router<S>() -> Router<S>
where
    Key: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/users", get(list_users).post(create_user))
        .route(
            "/users/{id}",
            get(get_user).patch(update_user).delete(delete_user),
        )
        .route("/users/{id}/posts", get(posts_of_user))
        .route("/posts", get(list_posts).post(create_post))
        .route(
            "/posts/{id}",
            get(get_post).patch(update_post).delete(delete_post),
        )
}

// --- Pagination ---------------------------------------------------------------

/// `?page=N&per_page=M&search=TEXT` (and `before=ID` for the posts), as
/// text, so a bad value gets a message of ours that names the parameter.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub page: Option<String>,
    pub per_page: Option<String>,
    pub search: Option<String>,
    pub author: Option<String>,
    pub before: Option<String>,
}

impl ListQuery {
    /// The page asked for: `page` from 1 (default 1), `per_page` from 1
    /// (default [`PER_PAGE`], at most [`MAX_PER_PAGE`]). `Err` names the
    /// parameter at fault.
    pub fn page(&self) -> Result<Page, (&'static str, String)> {
        let number = whole_number("page", self.page.as_deref(), 1)?;
        let per_page = whole_number("per_page", self.per_page.as_deref(), PER_PAGE)?;
        let per_page = per_page.min(MAX_PER_PAGE);
        Ok(Page { number, per_page })
    }
}

/// The page a list asks for, with the rest of its query, checked before the
/// handler runs: a bad `page` or `per_page` is a 400 that names it, as JSON
/// under `/api/` and as a page elsewhere.
pub struct Paged(pub Page, pub ListQuery);

impl<S: Send + Sync> FromRequestParts<S> for Paged {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Paged, Response> {
        let Query(query) = Query::<ListQuery>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let uri = parts.extensions.get::<OriginalUri>();
        let api = uri.is_some_and(|uri| uri.path().starts_with("/api/"));
        match query.page() {
            Ok(page) => Ok(Paged(page, query)),
            Err((field, message)) if api => Err(api_error(StatusCode::BAD_REQUEST, field, message)),
            Err((_, message)) => Err((StatusCode::BAD_REQUEST, message).into_response()),
        }
    }
}

fn whole_number(
    name: &'static str,
    text: Option<&str>,
    default: i64,
) -> Result<i64, (&'static str, String)> {
    let Some(text) = text else {
        return Ok(default);
    };
    match text.parse::<i64>() {
        Ok(number) if number >= 1 => Ok(number),
        _ => Err((
            name,
            format!("{name} must be a whole number from 1, not {}", quote(text)),
        )),
    }
}

// --- The JSON API -------------------------------------------------------------------

/// A 4xx answer of the API: what is wrong, and the field at fault.
fn api_error(status: StatusCode, field: &str, message: impl Into<String>) -> Response {
    let body = json!({ "error": message.into(), "field": field });
    (status, Json(body)).into_response()
}

/// The answer to a write without a session: the API changes nothing for
/// a visitor who has not logged in.
fn log_in_first() -> Response {
    let message = "log in first: POST /auth/login starts a session";
    api_error(StatusCode::UNAUTHORIZED, "session", message)
}

/// The answer to a write on someone else's user or post.
fn not_yours(what: &str, id: i64) -> Response {
    let message = format!("{what} {id} is not yours to change");
    api_error(StatusCode::FORBIDDEN, "id", message)
}

/// The one owner check, for users and posts: `None` lets the write go on,
/// for `owner` logged in; anyone else gets the refusal to answer with.
fn owner_only(me: Option<&models::User>, what: &str, id: i64, owner: i64) -> Option<Response> {
    match me {
        None => Some(log_in_first()),
        Some(me) if me.id != owner => Some(not_yours(what, id)),
        Some(_) => None,
    }
}

fn not_found(what: &str, id: i64) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "id",
        format!("no {what} with id {id}"),
    )
}

/// Logs each post that could not be read, and says how many there were.
pub fn log_unreadable(errors: &[DieselError]) -> usize {
    for err in errors {
        tracing::warn!("left a post out: {err}");
    }
    errors.len()
}

/// `POST /api/users`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    username: String,
    password: String,
}

/// `POST /api/users`: 201 with the new user (never the hash), 400 naming
/// the field at fault, or 409 if the username is taken.
async fn create_user(db: RequestDb, Json(input): Json<UserInput>) -> Result<Response, Error> {
    let username = normal_name(&input.username);
    if let Some((field, problem)) = user_problem(Some(&username), Some(&input.password)) {
        return Ok(api_error(StatusCode::BAD_REQUEST, field, problem));
    }
    let hash = PasswordHash::of_off_thread(input.password).await?;
    let name = username.clone();
    let created = db
        .write(move |conn| unique(models::create_user(conn, &name, &hash)))
        .await?;
    Ok(match created {
        Some(user) => {
            let location = format!("/api/users/{}", user.id);
            (
                StatusCode::CREATED,
                [(header::LOCATION, location)],
                Json(user),
            )
                .into_response()
        }
        None => {
            let message = format!("username {} is already taken", quote(&username));
            api_error(StatusCode::CONFLICT, "username", message)
        }
    })
}

/// `GET /api/users?page=N&per_page=M&search=TEXT`.
async fn list_users(db: RequestDb, Paged(page, query): Paged) -> Result<Response, Error> {
    let users = db
        .run(move |conn| models::users_page(conn, query.search.as_deref(), page))
        .await?;
    Ok(Json(users).into_response())
}

/// `GET /api/users/{id}`.
async fn get_user(db: RequestDb, Path(id): Path<i64>) -> Result<Response, Error> {
    Ok(
        match db.run(move |conn| models::find_user(conn, id)).await? {
            Some(user) => Json(user).into_response(),
            None => not_found("user", id),
        },
    )
}

/// `PATCH /api/users/{id}`'s body: any of the two fields, nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChanges {
    username: Option<String>,
    password: Option<String>,
}

/// `PATCH /api/users/{id}`: 200 with the user as it is now.
async fn update_user(
    db: RequestDb,
    CurrentUser(me): CurrentUser,
    Path(id): Path<i64>,
    Json(changes): Json<UserChanges>,
) -> Result<Response, Error> {
    if let Some(refusal) = owner_only(me.as_ref(), "user", id, id) {
        return Ok(refusal);
    }
    let username = changes.username.as_deref().map(normal_name);
    if let Some((field, problem)) = user_problem(username.as_deref(), changes.password.as_deref()) {
        return Ok(api_error(StatusCode::BAD_REQUEST, field, problem));
    }
    if username.is_none() && changes.password.is_none() {
        let message = "nothing to change: send username, password or both";
        return Ok(api_error(StatusCode::BAD_REQUEST, "request", message));
    }
    let hash = match changes.password {
        Some(password) => Some(PasswordHash::of_off_thread(password).await?),
        None => None,
    };
    let name = username.clone();
    let updated = db
        .write(move |conn| {
            unique(models::update_user(
                conn,
                id,
                name.as_deref(),
                hash.as_ref(),
            ))
        })
        .await?;
    Ok(match updated {
        Some(Some(user)) => Json(user).into_response(),
        Some(None) => not_found("user", id),
        None => {
            let message = format!(
                "username {} is already taken",
                quote(&username.unwrap_or_default())
            );
            api_error(StatusCode::CONFLICT, "username", message)
        }
    })
}

/// `DELETE /api/users/{id}`: 204, or 409 while the user still has posts
/// (the foreign key refuses; nothing is deleted), or 404.
async fn delete_user(
    db: RequestDb,
    CurrentUser(me): CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, Error> {
    if let Some(refusal) = owner_only(me.as_ref(), "user", id, id) {
        return Ok(refusal);
    }
    let deleted = db
        .write(move |conn| foreign_key(models::delete_user(conn, id).map_err(Error::from)))
        .await?;
    Ok(match deleted {
        Some(1) => StatusCode::NO_CONTENT.into_response(),
        Some(_) => not_found("user", id),
        None => {
            let message = format!("user {id} still has posts; delete them first");
            api_error(StatusCode::CONFLICT, "id", message)
        }
    })
}

/// `POST /api/posts`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostInput {
    author_id: i64,
    title: String,
    body: String,
}

/// `POST /api/posts`: 201 with the new post, or 422 naming `author_id` when
/// no such user exists (the foreign key says so).
async fn create_post(
    db: RequestDb,
    CurrentUser(me): CurrentUser,
    Json(input): Json<PostInput>,
) -> Result<Response, Error> {
    match me {
        None => return Ok(log_in_first()),
        Some(me) if me.id != input.author_id => {
            let message = format!("you may post only as yourself, author_id {}", me.id);
            return Ok(api_error(StatusCode::FORBIDDEN, "author_id", message));
        }
        Some(_) => {}
    }
    if let Some((field, problem)) = post_problem(Some(&input.title), Some(&input.body)) {
        return Ok(api_error(StatusCode::BAD_REQUEST, field, problem));
    }
    let author_id = input.author_id;
    let created = db
        .write(move |conn| {
            let new_post = NewPost {
                author_id,
                title: input.title.trim(),
                body: &input.body,
            };
            let created = foreign_key(models::create_post(conn, &new_post).map_err(Error::from))?;
            let Some(id) = created else {
                return Ok(None); // no such author
            };
            let post = models::find_post(conn, id)?.ok_or(DieselError::NotFound)?;
            Ok::<_, Error>(Some(post))
        })
        .await?;
    Ok(match created {
        Some(post) => {
            let location = format!("/api/posts/{}", post.post.id);
            (
                StatusCode::CREATED,
                [(header::LOCATION, location)],
                Json(post),
            )
                .into_response()
        }
        None => {
            let message = format!("no user with id {author_id}");
            api_error(StatusCode::UNPROCESSABLE_ENTITY, "author_id", message)
        }
    })
}

/// `GET /api/posts?page=N&per_page=M`: newest first, with authors; with
/// `&author=USERNAME`, only that user's posts.
async fn list_posts(db: RequestDb, Paged(page, query): Paged) -> Result<Response, Error> {
    if query.before.is_some() {
        return posts_before(db, page, query).await;
    }
    if let Some(author) = query.author.filter(|name| !name.is_empty()) {
        let posts = db
            .run(move |conn| models::posts_by_username(conn, &author, page).map(|p| (p, author)))
            .await?;
        return Ok(match posts {
            (Some((posts, unreadable)), author) => {
                let posts = posts.map(|post| PostWithAuthor {
                    post,
                    author: author.clone(),
                });
                let unreadable = log_unreadable(&unreadable);
                Json(PostsAnswer { posts, unreadable }).into_response()
            }
            (None, author) => {
                let message = format!("no user named {}", quote(&author));
                api_error(StatusCode::NOT_FOUND, "author", message)
            }
        });
    }
    let (posts, unreadable) = db.run(move |conn| models::posts_page(conn, page)).await?;
    let unreadable = log_unreadable(&unreadable);
    Ok(Json(PostsAnswer { posts, unreadable }).into_response())
}

/// `GET /api/users/{id}/posts?page=N`: `user.posts`, a page at a time.
async fn posts_of_user(
    db: RequestDb,
    Path(id): Path<i64>,
    Paged(page, _query): Paged,
) -> Result<Response, Error> {
    let posts = db
        .run(move |conn| match models::find_user(conn, id)? {
            Some(author) => models::posts_of(conn, &author, page).map(Some),
            None => Ok(None),
        })
        .await?;
    Ok(match posts {
        Some((posts, unreadable)) => {
            let unreadable = log_unreadable(&unreadable);
            Json(PostsAnswer { posts, unreadable }).into_response()
        }
        None => not_found("user", id),
    })
}

/// A page of posts, and how many rows of it could not be read (and were
/// logged), so a client is never silently shown less than there is.
#[derive(Debug, Serialize)]
struct PostsAnswer<P> {
    #[serde(flatten)]
    posts: P,
    unreadable: usize,
}

/// `GET /api/posts?before=ID&per_page=M`: the posts after post ID, by
/// keyset, with `next_before` to go on. A client starts at `GET /api/posts`
/// and hands back the last id it was given.
async fn posts_before(db: RequestDb, page: Page, query: ListQuery) -> Result<Response, Error> {
    if query.page.is_some() || query.author.is_some() {
        let message = "before goes without page or author";
        return Ok(api_error(StatusCode::BAD_REQUEST, "before", message));
    }
    let before = match whole_number("before", query.before.as_deref(), 1) {
        Ok(id) => id,
        Err((field, message)) => return Ok(api_error(StatusCode::BAD_REQUEST, field, message)),
    };
    let per_page = page.per_page;
    let (posts, unreadable) = db
        .run(move |conn| models::posts_before(conn, before, per_page))
        .await?;
    let unreadable = log_unreadable(&unreadable);
    Ok(Json(PostsAnswer { posts, unreadable }).into_response())
}

/// `GET /api/posts/{id}`.
async fn get_post(db: RequestDb, Path(id): Path<i64>) -> Result<Response, Error> {
    Ok(
        match db.run(move |conn| models::find_post(conn, id)).await? {
            Some(post) => Json(post).into_response(),
            None => not_found("post", id),
        },
    )
}

/// `PATCH /api/posts/{id}`'s body: the title, the body, or both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostPatch {
    title: Option<String>,
    body: Option<String>,
}

/// `PATCH /api/posts/{id}`: 200 with the post as it is now.
async fn update_post(
    db: RequestDb,
    CurrentUser(me): CurrentUser,
    Path(id): Path<i64>,
    Json(patch): Json<PostPatch>,
) -> Result<Response, Error> {
    if let Some(refusal) = refuse_unless_author(&db, me, id).await? {
        return Ok(refusal);
    }
    if let Some((field, problem)) = post_problem(patch.title.as_deref(), patch.body.as_deref()) {
        return Ok(api_error(StatusCode::BAD_REQUEST, field, problem));
    }
    if patch.title.is_none() && patch.body.is_none() {
        let message = "nothing to change: send title, body or both";
        return Ok(api_error(StatusCode::BAD_REQUEST, "request", message));
    }
    let changes = PostChanges {
        title: patch.title.map(|title| title.trim().to_owned()),
        body: patch.body,
    };
    let updated = db
        .write(move |conn| match models::update_post(conn, id, &changes)? {
            true => models::find_post(conn, id),
            false => Ok(None),
        })
        .await?;
    Ok(match updated {
        Some(post) => Json(post).into_response(),
        None => not_found("post", id),
    })
}

/// `DELETE /api/posts/{id}`: 204, or 404.
async fn delete_post(
    db: RequestDb,
    CurrentUser(me): CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, Error> {
    if let Some(refusal) = refuse_unless_author(&db, me, id).await? {
        return Ok(refusal);
    }
    Ok(
        match db.write(move |conn| models::delete_post(conn, id)).await? {
            true => StatusCode::NO_CONTENT.into_response(),
            false => not_found("post", id),
        },
    )
}

/// `None` when `me` wrote post `id`; else the answer: 401 without a
/// session, 404 for no such post, 403 for someone else's.
async fn refuse_unless_author(
    db: &RequestDb,
    me: Option<models::User>,
    id: i64,
) -> Result<Option<Response>, Error> {
    if me.is_none() {
        return Ok(Some(log_in_first())); // before saying whether the post exists
    }
    let post = db.run(move |conn| models::find_post(conn, id)).await?;
    Ok(match post {
        None => Some(not_found("post", id)),
        Some(post) => owner_only(me.as_ref(), "post", id, post.post.author_id),
    })
}
