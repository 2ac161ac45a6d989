//! The application factory: [`create_app`] builds the whole web app from a
//! [`Config`], as flaskr's `create_app(test_config=None)` does. Nothing is
//! global, so a test can build as many apps, on as many databases, as it
//! likes.

use std::path::{Path, PathBuf};

use axum::Router;
use axum_extra::extract::cookie::Key;

use crate::db::{self, Database};
use crate::{Error, routes};

// ANCHOR: config
/// What an app is built from: Flask's `app.config`, reduced to what this
/// step reads.
#[derive(Clone)]
pub struct Config {
    /// The SQLite file: Flask's `app.config["DATABASE"]`.
    pub database: PathBuf,
    /// True for a config from [`Config::testing`]: Flask's `TESTING`.
    pub testing: bool,
    /// The key that signs session cookies: Flask's `SECRET_KEY`.
    pub secret_key: Key,
}

impl Config {
    /// The config `serve` uses: the database at `database`, and the key
    /// from [`secret_key`].
    pub fn new(database: PathBuf, secret_key: Key) -> Config {
        Config {
            database,
            testing: false,
            secret_key,
        }
    }

    /// A config for a test, on a database the test owns (in a temporary
    /// folder, say) and has run `init_db` on: flaskr's `test_config`. Its
    /// key is new and random, so no test can forge another's cookies.
    pub fn testing(database: PathBuf) -> Config {
        Config {
            database,
            testing: true,
            secret_key: Key::generate(),
        }
    }
}

// ANCHOR: secret_key
/// Where `serve` keeps the key it generated, when `SECRET_KEY` is not set.
pub const SECRET_KEY_FILE: &str = "instance/step03-secret-key";

/// The secret key: from `SECRET_KEY`, else from [`SECRET_KEY_FILE`], which
/// the first start fills with a new random key (the kit's `session.rs`).
pub fn secret_key(from_env: Option<&str>) -> Result<Key, Error> {
    Ok(stepkit::session::secret_key(
        from_env,
        Path::new(SECRET_KEY_FILE),
    )?)
}
// ANCHOR_END: secret_key
// ANCHOR_END: config

// ANCHOR: create_app
/// Builds the app on the configured database, which must hold the tables
/// (`init-db`): a missing one is an error now, not a 500 on every request.
pub fn create_app(config: Config) -> Result<Router, Error> {
    db::check_initialized(&config.database)?;
    tracing::info!(testing = config.testing, "creating the app");
    routes::app(Database::new(config.database), config.secret_key)
}
// ANCHOR_END: create_app
