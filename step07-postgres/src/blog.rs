//! flaskr's `blog.py`: the index of posts, and writing, changing and
//! deleting one's own posts. Who may do what is decided here: a visitor who
//! is not logged in is sent to log in, and only a post's author may change
//! or delete it.

use std::sync::Arc;

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::Key;
use minijinja::{Environment, context};
use serde::{Deserialize, Serialize};
use stepkit::render;

use crate::Error;
use crate::api::{Paged, log_unreadable};
use crate::auth::{CurrentUser, LoggedIn};
use crate::db::RequestDb;
use crate::models::{self, NewPost, PostChanges, PostWithAuthor, User, post_problem};

/// The blog blueprint.
pub fn router<S>() -> Router<S>
where
    Arc<Environment<'static>>: FromRef<S>,
    Key: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/", get(index))
        .route("/create", get(create_form).post(create))
        .route("/{id}/update", get(update_form).post(update))
        .route("/{id}/delete", post(delete))
}

/// `GET /?page=N`: the posts with their authors, newest first, a page at a
/// time; the logged-in user's own posts carry an edit link.
async fn index(
    State(templates): State<Arc<Environment<'static>>>,
    db: RequestDb,
    CurrentUser(user): CurrentUser,
    Paged(page, _query): Paged,
) -> Result<Response, Error> {
    let (posts, unreadable) = db.run(move |conn| models::posts_page(conn, page)).await?;
    let unreadable = log_unreadable(&unreadable);
    let posts = posts.map(|post| PostView::from(&post));
    Ok(render(
        &templates,
        "index.html",
        context! { user, posts, unreadable },
    )?
    .into_response())
}

/// A post as the template sees it, its date already formatted.
#[derive(Debug, Serialize)]
struct PostView {
    id: i64,
    author_id: i64,
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
            id: row.post.id,
            author_id: row.post.author_id,
            title: row.post.title.clone(),
            body: row.post.body.clone(),
            author: row.author.clone(),
            created_date: row.post.created.0.format("%Y-%m-%d").to_string(),
            created_iso: row.post.created.0.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    }
}

/// The create and update forms' fields; a missing one arrives empty.
#[derive(Debug, Default, Deserialize)]
pub struct PostForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
}

/// What is wrong with a post form, in flaskr's words where it has them.
fn form_problem(form: &PostForm) -> Option<String> {
    if form.title.trim().is_empty() {
        return Some("Title is required.".to_owned());
    }
    let body = (!form.body.is_empty()).then_some(form.body.as_str());
    post_problem(Some(&form.title), body).map(|(_, problem)| problem)
}

async fn create_form(
    State(templates): State<Arc<Environment<'static>>>,
    LoggedIn(user): LoggedIn,
) -> Result<Response, Error> {
    let values = context! { user, title => "", body => "" };
    Ok(render(&templates, "create.html", values)?.into_response())
}

/// `POST /create`: for a logged-in user only (`LoggedIn`); saves the post
/// and goes to the index, or shows the form again with the problem.
async fn create(
    State(templates): State<Arc<Environment<'static>>>,
    db: RequestDb,
    LoggedIn(user): LoggedIn,
    Form(form): Form<PostForm>,
) -> Result<Response, Error> {
    if let Some(error) = form_problem(&form) {
        let values = context! { user, title => form.title, body => form.body, error };
        let page = render(&templates, "create.html", values)?;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    db.write(move |conn| {
        let new_post = NewPost {
            author_id: user.id,
            title: form.title.trim(),
            body: &form.body,
        };
        models::create_post(conn, &new_post)
    })
    .await?;
    Ok(Redirect::to("/").into_response())
}

/// flaskr's `get_post(id)`: the post, if it exists (404 otherwise) and the
/// logged-in user wrote it (403 otherwise).
async fn own_post(
    db: &RequestDb,
    id: i64,
    user: &User,
) -> Result<Result<PostWithAuthor, Response>, Error> {
    let found = db.run(move |conn| models::find_post(conn, id)).await?;
    Ok(match found {
        None => Err((StatusCode::NOT_FOUND, format!("There is no post {id}.")).into_response()),
        Some(post) if post.post.author_id != user.id => {
            let refusal = "Only the author of a post may change or delete it.";
            Err((StatusCode::FORBIDDEN, refusal).into_response())
        }
        Some(post) => Ok(post),
    })
}

async fn update_form(
    State(templates): State<Arc<Environment<'static>>>,
    db: RequestDb,
    LoggedIn(user): LoggedIn,
    Path(id): Path<i64>,
) -> Result<Response, Error> {
    let post = match own_post(&db, id, &user).await? {
        Ok(post) => post.post,
        Err(refusal) => return Ok(refusal),
    };
    let values = context! { user, id, title => post.title, body => post.body };
    Ok(render(&templates, "update.html", values)?.into_response())
}

/// `POST /{id}/update`: the author changes the title and body.
async fn update(
    State(templates): State<Arc<Environment<'static>>>,
    db: RequestDb,
    LoggedIn(user): LoggedIn,
    Path(id): Path<i64>,
    Form(form): Form<PostForm>,
) -> Result<Response, Error> {
    if let Err(refusal) = own_post(&db, id, &user).await? {
        return Ok(refusal);
    }
    if let Some(error) = form_problem(&form) {
        let values = context! { user, id, title => form.title, body => form.body, error };
        let page = render(&templates, "update.html", values)?;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let changes = PostChanges {
        title: Some(form.title.trim().to_owned()),
        body: Some(form.body),
    };
    db.write(move |conn| models::update_post(conn, id, &changes))
        .await?;
    Ok(Redirect::to("/").into_response())
}

/// `POST /{id}/delete`: the author deletes the post.
async fn delete(
    db: RequestDb,
    LoggedIn(user): LoggedIn,
    Path(id): Path<i64>,
) -> Result<Response, Error> {
    if let Err(refusal) = own_post(&db, id, &user).await? {
        return Ok(refusal);
    }
    db.write(move |conn| models::delete_post(conn, id)).await?;
    Ok(Redirect::to("/").into_response())
}
