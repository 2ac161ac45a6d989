//! Every way this step can fail, each with a message that names what is at
//! fault, and the two helpers that keep a user's text safe to print.

use std::path::PathBuf;

/// An error the command line prints as one line before exiting with status 1.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the database setting (from --database or DATABASE_URL) {0}")]
    DatabaseSetting(String),
    #[error("cannot create folder {path}: {}", explain(.source))]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("there is no database at {path} yet: `import-csv FILE` creates it")]
    NoDatabase { path: PathBuf },
    #[error("the database is busy: another program kept it locked for 5 s; nothing was imported")]
    Busy,
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

/// An I/O error in words a reader can act on; the system's own otherwise.
fn explain(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::AlreadyExists => "a file of that name is in the way".to_owned(),
        _ => err.to_string(),
    }
}

/// How much of a bad value an error message repeats.
const QUOTED_CHARS: usize = 40;

/// `text` in double quotes for an error message: escaped, and cut after
/// [`QUOTED_CHARS`] characters, so a 5 MB value makes a short message.
pub fn quote(text: &str) -> String {
    let shown: String = text.chars().take(QUOTED_CHARS).collect();
    let more = if text.chars().count() > QUOTED_CHARS {
        "..."
    } else {
        ""
    };
    format!("\"{}\"{more}", printable(&shown))
}

/// `text` with its control characters escaped (`\u{1b}`), so that printing
/// it can never send a terminal an escape sequence.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}
