//! The pages. This step has one: the index, every post newest first.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use minijinja::{Environment, context};
use serde::Serialize;

use crate::Error;
use crate::db::RequestDb;
use crate::store::{self, Post};

/// What every handler can reach: the compiled templates.
#[derive(Debug, Clone)]
pub struct AppState {
    templates: Arc<Environment<'static>>,
}

impl AppState {
    /// The state of an app that renders with `templates`.
    pub fn new(templates: Environment<'static>) -> AppState {
        AppState {
            templates: Arc::new(templates),
        }
    }
}

// ANCHOR: templates
/// The templates, compiled into the binary. A name ending in `.html` turns
/// on HTML escaping, so a `<` in a post's title arrives as `&lt;`.
pub fn templates() -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_template("base.html", include_str!("../templates/base.html"))?;
    env.add_template("index.html", include_str!("../templates/index.html"))?;
    Ok(env)
}
// ANCHOR_END: templates

/// The app's routes, before the database and the state are added.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(index))
}

// ANCHOR: index
/// `GET /`: every post with its author, newest first. The query runs on
/// this request's connection, opened on first use and closed afterwards.
async fn index(State(state): State<AppState>, db: RequestDb) -> Result<Html<String>, Error> {
    let posts = db.run(store::posts_newest_first).await?;
    let posts: Vec<PostView> = posts.iter().map(PostView::from).collect();
    let page = state.templates.get_template("index.html")?;
    Ok(Html(page.render(context! { posts })?))
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
