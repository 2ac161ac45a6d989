//! `post.created` as a date-time, not a string.
//!
//! SQLite has no date type: `CURRENT_TIMESTAMP` stores UTC text such as
//! `2024-03-05 14:07:30`. Python's flaskr registers a converter for columns
//! declared `timestamp`; here the type itself knows how to leave and enter
//! the database, through diesel's `FromSql` and `ToSql` traits.
//!
//! PostgreSQL has a real `timestamp` type, sent as a binary number; diesel
//! already reads it into chrono's `NaiveDateTime`, so that side borrows
//! chrono's impls. The third pair lets [`Conn`](crate::backend::Conn) pick
//! the right one at run time.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{self, Text};
use diesel::sqlite::{Sqlite, SqliteValue};

use crate::backend::MultiBackend;

/// The text layout SQLite's `CURRENT_TIMESTAMP` writes, in chrono's syntax.
/// Reading also accepts a fraction of a second after the seconds.
pub const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// A moment in UTC, stored as `YYYY-MM-DD HH:MM:SS` text. For diesel it is
/// the Rust side of a `Timestamp` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = sql_types::Timestamp)]
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
}

/// The counterpart of Python's registered converter: any `Timestamp` column
/// is parsed on the way out of the database...
impl FromSql<sql_types::Timestamp, Sqlite> for Timestamp {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
        Ok(Timestamp::parse(&text)?)
    }
}

/// ... and written back in the very same text on the way in, so a database
/// shared with the Python original reads alike on both sides.
impl ToSql<sql_types::Timestamp, Sqlite> for Timestamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.to_sql_text());
        Ok(IsNull::No)
    }
}

// ANCHOR: timestamp_pg
/// PostgreSQL's `timestamp` holds no zone: this app stores UTC in it.
impl FromSql<sql_types::Timestamp, Pg> for Timestamp {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        let naive = <NaiveDateTime as FromSql<sql_types::Timestamp, Pg>>::from_sql(value)?;
        Ok(Timestamp(naive.and_utc()))
    }
}

impl ToSql<sql_types::Timestamp, Pg> for Timestamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        let naive = self.0.naive_utc();
        <NaiveDateTime as ToSql<sql_types::Timestamp, Pg>>::to_sql(&naive, &mut out.reborrow())
    }
}

/// On a [`Conn`](crate::backend::Conn), the backend it holds decides.
impl FromSql<sql_types::Timestamp, MultiBackend> for Timestamp {
    fn from_sql(value: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Timestamp, sql_types::Timestamp>()
    }
}

impl ToSql<sql_types::Timestamp, MultiBackend> for Timestamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((sql_types::Timestamp, self));
        Ok(IsNull::No)
    }
}
// ANCHOR_END: timestamp_pg

impl From<DateTime<Utc>> for Timestamp {
    /// Keeps microseconds at most, the precision Python's `datetime` has.
    fn from(moment: DateTime<Utc>) -> Timestamp {
        Timestamp(moment.trunc_subsecs(6))
    }
}

/// In JSON, a timestamp is RFC 3339 text in UTC: `2024-03-05T14:07:30Z`.
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        serializer.serialize_str(&text)
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
}
