//! Every way this step can fail, each with a message that names what is at fault.

use std::path::PathBuf;

/// An error the command line prints as one line before exiting with status 1.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the database setting `{0}` names no file (from --database or DATABASE_URL)")]
    NoDatabasePath(String),
    #[error(
        "the database setting is a `{0}:` URL, but this step needs a SQLite file: a path or a sqlite: URL (from --database or DATABASE_URL)"
    )]
    NotSqlite(String),
    #[error("cannot create folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {reason}; nothing was imported")]
    BadCsv {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}
