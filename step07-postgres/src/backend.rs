//! Which database: a SQLite file or a PostgreSQL server, and one diesel
//! connection type that runs the same queries on either.

use std::fmt;
use std::path::PathBuf;

use diesel::prelude::*;

// ANCHOR: location
/// The database a setting names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file, created on first use.
    Sqlite(PathBuf),
    /// A `postgres://` URL, handed to libpq as it is.
    Postgres(String),
}

/// One connection, to either database. The derive makes `Conn` a diesel
/// connection of its own: a query built once runs on whichever backend it
/// holds, in that backend's dialect.
#[derive(diesel::MultiConnection)]
pub enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}
// ANCHOR_END: location

/// For messages: the file's path, or the URL without its password and
/// options, so that credentials are never printed.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => {
                let parts = UrlParts::of(url);
                let options = if parts.options.is_some() { "?..." } else { "" };
                let user = parts
                    .user
                    .map(|user| format!("{user}@"))
                    .unwrap_or_default();
                let server = control_escaped(&format!("{user}{}", parts.server));
                write!(f, "{}://{server}{options}", parts.scheme)
            }
        }
    }
}

impl Location {
    /// `text` (a message from libpq, say) with this URL's password masked
    /// (in the user part, or as a `password=` option) and control
    /// characters escaped, safe to print.
    pub fn hide_password(&self, text: &str) -> String {
        let mut masked = text.to_owned();
        if let Location::Postgres(url) = self {
            let parts = UrlParts::of(url);
            let option = parts.options.into_iter().flat_map(|o| o.split('&'));
            let option = option.filter_map(|pair| pair.strip_prefix("password="));
            for secret in parts.password.into_iter().chain(option) {
                if !secret.is_empty() {
                    masked = masked.replace(secret, "***");
                }
            }
        }
        control_escaped(&masked)
    }
}

/// The pieces of a `postgres://user:password@host:port/database?options`
/// URL, found the way libpq finds them: the user part runs to the first
/// `@`, if one comes before any `/`. It expects a URL that
/// [`check_postgres_url`] passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub scheme: &'a str,
    pub user: Option<&'a str>,
    pub password: Option<&'a str>,
    /// `host:port/database`.
    pub server: &'a str,
    pub options: Option<&'a str>,
}

impl<'a> UrlParts<'a> {
    pub fn of(url: &'a str) -> UrlParts<'a> {
        let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
        let (user_info, rest) = match rest.find(['@', '/']) {
            Some(at) if rest[at..].starts_with('@') => (Some(&rest[..at]), &rest[at + 1..]),
            _ => (None, rest),
        };
        let (server, options) = match rest.split_once('?') {
            Some((server, options)) => (server, Some(options)),
            None => (rest, None),
        };
        let (user, password) = match user_info.map(|info| info.split_once(':')) {
            Some(Some((user, password))) => (Some(user), Some(password)),
            Some(None) => (user_info, None),
            None => (None, None),
        };
        UrlParts {
            scheme,
            user,
            password,
            server,
            options,
        }
    }
}

/// Why a `postgres://` URL would be misread, if it would: libpq ends the
/// user part at the first `@` or `/`, so a password holding either must
/// have it percent-encoded, or libpq takes part of the password for the
/// host and may print it. The reason never repeats the URL.
pub fn check_postgres_url(url: &str) -> Option<&'static str> {
    let Some((_, rest)) = url.split_once("://") else {
        return Some(
            "is a postgres: URL without `//`; write postgres://user:password@host/database",
        );
    };
    let parts = UrlParts::of(url);
    let host = parts.server.split(['/', '?']).next().unwrap_or_default();
    let before_options = rest.split('?').next().unwrap_or_default();
    let stray_at = host.contains('@') || (parts.user.is_none() && before_options.contains('@'));
    if stray_at {
        return Some(
            "has a `@` or `/` in its user name or password; percent-encode them (`%40`, `%2F`)",
        );
    }
    let user_info = [parts.user, parts.password].into_iter().flatten();
    let bad_escape = user_info
        .flat_map(|part| part.split('%').skip(1))
        .any(|after| after.len() < 2 || !after.chars().take(2).all(|c| c.is_ascii_hexdigit()));
    if bad_escape {
        return Some(
            "has a `%` that starts no `%XX` escape in its user name or password; write it `%25`",
        );
    }
    None
}

/// `text` with control characters escaped (`\u{1b}`), so that printing it
/// can never send a terminal an escape sequence.
fn control_escaped(text: &str) -> String {
    let escape = |c: char| match c.is_control() {
        true => c.escape_default().to_string(),
        false => c.to_string(),
    };
    text.chars().map(escape).collect()
}
