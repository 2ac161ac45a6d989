//! The application factory: [`create_app`] builds the whole web app from a
//! [`Config`], as flaskr's `create_app(test_config=None)` does. Nothing is
//! global, so a test can build as many apps, on as many databases, as it
//! likes.

use std::path::PathBuf;

use axum::Router;

use crate::db::{self, Database};
use crate::{Error, routes};

/// What an app is built from: Flask's `app.config`, reduced to what this
/// step reads.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite file: Flask's `app.config["DATABASE"]`.
    pub database: PathBuf,
    /// True for a config from [`Config::testing`]: Flask's `TESTING`.
    pub testing: bool,
}

impl Config {
    /// The config `serve` uses: the database at `database`.
    pub fn new(database: PathBuf) -> Config {
        Config {
            database,
            testing: false,
        }
    }

    /// A config for a test, on a database the test owns (in a temporary
    /// folder, say) and has run `init_db` on: flaskr's `test_config`.
    pub fn testing(database: PathBuf) -> Config {
        Config {
            database,
            testing: true,
        }
    }
}

/// Builds the app on the configured database, which must hold the tables
/// (`init-db`): a missing one is an error now, not a 500 on every request.
pub fn create_app(config: Config) -> Result<Router, Error> {
    db::check_initialized(&config.database)?;
    tracing::info!(testing = config.testing, "creating the app");
    routes::app(Database::new(config.database)?)
}
