//! `post.created` as a date-time, not a string.
//!
//! SQLite has no date type: `CURRENT_TIMESTAMP` stores UTC text such as
//! `2024-03-05 14:07:30`. Python's flaskr registers a converter for columns
//! declared `timestamp`; here the type itself knows how to leave and enter
//! the database, through rusqlite's `FromSql` and `ToSql` traits.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// The text layout SQLite's `CURRENT_TIMESTAMP` writes, in chrono's syntax.
/// Reading also accepts a fraction of a second after the seconds.
pub const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

// ANCHOR: timestamp
/// A moment in UTC, stored as `YYYY-MM-DD HH:MM:SS` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// Reads SQLite's text form, such as `2024-03-05 14:07:30`.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        let layout = format!("{FORMAT}%.f");
        NaiveDateTime::parse_from_str(text, &layout)
            .map(|naive| Timestamp(naive.and_utc()))
            .map_err(|err| TimestampError::Malformed {
                // At most 40 characters: a bad value never makes a long message.
                start: text.chars().take(40).collect(),
                cut: text.chars().count() > 40,
                reason: err.to_string(),
            })
    }

    /// The text this type stores: whole seconds as SQLite writes them, with
    /// a fraction only if the value has one.
    pub fn to_sql_text(&self) -> String {
        self.0.format(&format!("{FORMAT}%.f")).to_string()
    }

    /// Reads the value of a column, whatever SQLite stored in it.
    pub fn from_value(value: ValueRef<'_>) -> Result<Timestamp, TimestampError> {
        match value {
            ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => Timestamp::parse(text),
                Err(_) => Err(TimestampError::NotText("text that is not UTF-8")),
            },
            ValueRef::Null => Err(TimestampError::NotText("NULL")),
            ValueRef::Integer(_) => Err(TimestampError::NotText("an integer")),
            ValueRef::Real(_) => Err(TimestampError::NotText("a real number")),
            ValueRef::Blob(_) => Err(TimestampError::NotText("a blob")),
        }
    }
}

/// The counterpart of Python's registered converter: any column read as a
/// `Timestamp` is parsed on the way out of the database...
impl FromSql for Timestamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Timestamp::from_value(value).map_err(|err| FromSqlError::Other(Box::new(err)))
    }
}

/// ... and written back in the very same text on the way in, so a database
/// shared with the Python original reads alike on both sides.
impl ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_sql_text()))
    }
}
// ANCHOR_END: timestamp

impl From<DateTime<Utc>> for Timestamp {
    /// Keeps microseconds at most, the precision Python's `datetime` has.
    fn from(moment: DateTime<Utc>) -> Timestamp {
        Timestamp(moment.trunc_subsecs(6))
    }
}

impl fmt::Display for Timestamp {
    /// The stored text followed by ` UTC`, for people.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} UTC", self.to_sql_text())
    }
}

/// Why a stored value is not a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// `{start:?}` escapes what a terminal would run (`"\u{1b}"`).
    #[error("{start:?}{} is not YYYY-MM-DD HH:MM:SS ({reason})", if *.cut { "..." } else { "" })]
    Malformed {
        start: String,
        cut: bool,
        reason: String,
    },
    #[error("expected YYYY-MM-DD HH:MM:SS text, found {0}")]
    NotText(&'static str),
}
