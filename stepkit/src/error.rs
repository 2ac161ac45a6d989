//! What can go wrong in the kit. A step wraps it in its own error enum
//! (`#[error(transparent)] Kit(#[from] stepkit::Error)`), so the command
//! line prints it as the one line it is.

use std::path::PathBuf;

/// An error of the database setting, of another setting, of serving, of the secret key, or of
/// hashing a password.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the database setting (from --database or DATABASE_URL) {0}")]
    DatabaseSetting(String),
    #[error("{0}")]
    Setting(String),
    #[error("cannot start tokio: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("the secret key: {0}")]
    SecretKey(String),
    #[cfg(feature = "sessions")]
    #[error("cannot hash the password: {0}")]
    Password(argon2::password_hash::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}
