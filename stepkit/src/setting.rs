//! The database setting. One value means one database to every command:
//! `--database`, else `DATABASE_URL`, else a file in the instance folder,
//! as Flask-SQLAlchemy reads `SQLALCHEMY_DATABASE_URI` and flaskr keeps
//! `instance/flaskr.sqlite`.

use std::path::PathBuf;

use crate::Error;
use crate::text::quote;

// ANCHOR: sqlite_path
/// The SQLite file that the setting names; `default` when there is none.
///
/// A plain path is taken as it is. A URL in sqlx's form is read too:
/// `sqlite:data/app.sqlite` and `sqlite://data/app.sqlite` are relative,
/// `sqlite:///tmp/app.sqlite` is absolute (SQLAlchemy reads `sqlite:///` as
/// relative: mind the difference). Anything a step could not honour
/// exactly is refused: other schemes (`postgres://`, `file:`), options such
/// as `?mode=ro`, SQLite's `file:` names, and in-memory databases, which
/// vanish with the command.
pub fn sqlite_path(setting: Option<&str>, default: &str) -> Result<PathBuf, Error> {
    let Some(value) = setting else {
        return Ok(PathBuf::from(default));
    };
    let refuse = |why: &str| Err(Error::DatabaseSetting(format!("{} {why}", quote(value))));
    let path = match url_scheme(value) {
        None => value,
        Some(scheme) if scheme.eq_ignore_ascii_case("sqlite") => {
            let rest = &value[scheme.len() + 1..];
            if rest.contains('?') {
                return refuse(
                    "carries options (?...), which this step does not honour; give a plain path",
                );
            }
            rest.strip_prefix("//").unwrap_or(rest)
        }
        // The value may hold a password, so only its scheme is repeated.
        Some(scheme) => {
            return Err(Error::DatabaseSetting(format!(
                "is a `{scheme}:` URL, but this step needs a SQLite file: a path or a sqlite: URL"
            )));
        }
    };
    if path.trim().is_empty() {
        return refuse("names no file");
    }
    // SQLite reads `file:...` as a URI of its own, with `%3A` for `:`, so a
    // name of that shape could mean another file, or none at all.
    if url_scheme(path).is_some_and(|scheme| scheme.eq_ignore_ascii_case("file")) {
        return refuse("is a SQLite file: URI, which this step does not read; give a plain path");
    }
    if path.contains(":memory:") {
        return refuse("is an in-memory database, which would be gone when the command ends");
    }
    Ok(PathBuf::from(path))
}
// ANCHOR_END: sqlite_path

/// The scheme of a URL (`sqlite` in `sqlite://app.db`), or `None` for a plain
/// path. A scheme is two characters or more, so `C:\data\app.db` is a path.
pub fn url_scheme(value: &str) -> Option<&str> {
    let (scheme, _) = value.split_once(':')?;
    let is_scheme = scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    is_scheme.then_some(scheme)
}
