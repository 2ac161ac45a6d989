//! The application factory: [`create_app`] builds the whole web app from a
//! [`Config`], as flaskr's `create_app(test_config=None)` does. Nothing is
//! global, so a test can build as many apps, on as many databases, as it
//! likes.

use std::path::Path;

use axum::Router;
use axum_extra::extract::cookie::Key;

use crate::backend::Location;
use crate::db::{self, Database};
use crate::{Error, routes};

/// What an app is built from: Flask's `app.config`, reduced to what this
/// step reads.
#[derive(Clone)]
pub struct Config {
    /// The database: Flask's `app.config["DATABASE"]`.
    pub database: Location,
    /// True for a config from [`Config::testing`]: Flask's `TESTING`.
    pub testing: bool,
    /// The key that signs session cookies: Flask's `SECRET_KEY`.
    pub secret_key: Key,
}

impl Config {
    /// The config `serve` uses: the database at `database`, and the key
    /// from [`secret_key`].
    pub fn new(database: Location, secret_key: Key) -> Config {
        Config {
            database,
            testing: false,
            secret_key,
        }
    }

    /// A config for a test, on a database the test owns (in a temporary
    /// folder, say) and has run `init_db` on: flaskr's `test_config`. Its
    /// key is new and random, so no test can forge another's cookies.
    pub fn testing(database: Location) -> Config {
        Config {
            database,
            testing: true,
            secret_key: Key::generate(),
        }
    }
}

// ANCHOR: secret_key
/// Where `serve` keeps the key it generated, when `SECRET_KEY` is not set.
pub const SECRET_KEY_FILE: &str = "instance/step05-secret-key";

/// The secret key: from `SECRET_KEY` (128 hex digits, 64 bytes) if set;
/// else from [`SECRET_KEY_FILE`], which the first start fills with a new
/// random key. Never a constant in the code: a key anyone can read signs
/// cookies anyone can forge.
pub fn secret_key(from_env: Option<&str>) -> Result<Key, Error> {
    if let Some(hex) = from_env {
        return key_from_hex(hex.trim()).ok_or_else(|| {
            let hint = "make one with: python3 -c 'import secrets; print(secrets.token_hex(64))'";
            Error::SecretKey(format!(
                "SECRET_KEY must be 128 hex digits (64 bytes); {hint}"
            ))
        });
    }
    let path = Path::new(SECRET_KEY_FILE);
    match std::fs::read_to_string(path) {
        Ok(text) => key_from_hex(text.trim()).ok_or_else(|| {
            Error::SecretKey(format!("{} does not hold 128 hex digits", path.display()))
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = Key::generate();
            let hex: String = key
                .master()
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect();
            if let Some(folder) = path.parent() {
                std::fs::create_dir_all(folder)?;
            }
            write_private(path, &(hex + "\n"))?;
            tracing::info!("generated a new secret key in {}", path.display());
            Ok(key)
        }
        Err(err) => Err(Error::SecretKey(format!(
            "cannot read {}: {err}",
            path.display()
        ))),
    }
}

/// Writes `text` to a new file only its owner may read: a key other users
/// of the machine could read would let them forge any login.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, text.as_bytes())
}

fn key_from_hex(hex: &str) -> Option<Key> {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    Key::try_from(bytes.as_slice())
        .ok()
        .filter(|_| bytes.len() == 64)
}
// ANCHOR_END: secret_key

/// Builds the app on the configured database, which must hold the tables
/// (`init-db`): a missing one is an error now, not a 500 on every request.
pub fn create_app(config: Config) -> Result<Router, Error> {
    db::check_initialized(&config.database)?;
    tracing::info!(testing = config.testing, "creating the app");
    routes::app(Database::new(config.database)?, config.secret_key)
}
