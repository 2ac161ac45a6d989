//! The application factory: [`create_app`] builds the whole web app from a
//! [`Config`], as flaskr's `create_app(test_config=None)` does. Nothing is
//! global, so a test can build as many apps, on as many databases, as it
//! likes.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use tempfile::TempDir;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::db::{self, Database};
use crate::{Error, routes};

// ANCHOR: config
/// What an app is built from: Flask's `app.config`, reduced to what this
/// step reads.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite file: Flask's `app.config["DATABASE"]`.
    pub database: PathBuf,
    /// True for a config from [`Config::testing`]: Flask's `TESTING`.
    pub testing: bool,
    /// The folder a testing database lives in, deleted with the last clone.
    temporary: Option<Arc<TempDir>>,
}

impl Config {
    /// The config `serve` uses: the database at `database`.
    pub fn new(database: PathBuf) -> Config {
        Config {
            database,
            testing: false,
            temporary: None,
        }
    }

    /// A config for tests: a fresh database with empty tables, in a
    /// temporary folder that lives as long as this config or the app built
    /// from it.
    pub fn testing() -> Result<Config, Error> {
        let folder = TempDir::new().map_err(Error::TempDir)?;
        let database = folder.path().join("test.sqlite");
        db::init_db(&database)?;
        Ok(Config {
            database,
            testing: true,
            temporary: Some(Arc::new(folder)),
        })
    }
}
// ANCHOR_END: config

// ANCHOR: create_app
/// Builds the app: its pages, its templates, and the database registered
/// through [`db::init_app`]. Fails if the database has no tables yet.
pub fn create_app(config: Config) -> Result<Router, Error> {
    db::check_initialized(&config.database)?;
    tracing::info!(database = %config.database.display(), testing = config.testing, "creating the app");
    let state = routes::AppState::new(routes::templates()?);
    let database = Database::new(config.database, config.temporary);
    let app = db::init_app(routes::router(), database)
        .with_state(state)
        .layer(CatchPanicLayer::new())
        .layer(TraceLayer::new_for_http());
    Ok(app)
}
// ANCHOR_END: create_app
