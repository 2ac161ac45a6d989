//! `import-csv`: load users from a CSV file, as often as you like.
//!
//! The file is checked completely before anything is written, and the writes
//! happen in one transaction: a bad file leaves the database as it was.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::quote;
use crate::{Error, db};

/// The only header the importer accepts.
pub const HEADER: [&str; 2] = ["name", "email"];
/// Longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest email accepted, in bytes (the limit of RFC 5321).
pub const MAX_EMAIL_BYTES: usize = 254;

/// What one run of `import-csv` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// A checked row of the file.
#[derive(Debug)]
struct Row {
    name: String,
    email: String,
}

/// Why a line of the file was rejected.
#[derive(Debug)]
struct BadLine {
    line: u64,
    reason: String,
}

// ANCHOR: import
/// Imports `path` into the database: new emails are inserted, known emails
/// get the file's name, identical rows are left alone.
pub fn import_csv(conn: &mut Connection, path: &Path) -> Result<Summary, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let rows = parse(&bytes).map_err(|bad| Error::BadCsv {
        path: path.to_path_buf(),
        line: bad.line,
        reason: bad.reason,
    })?;

    write_rows(conn, &rows).map_err(|err| match err.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy) => Error::Busy,
        _ => Error::Sqlite(err),
    })
}

/// Writes the checked rows in one transaction. IMMEDIATE takes the write lock
/// up front, waiting up to rusqlite's busy timeout (5 s) while another
/// program writes; a deferred one could fail halfway instead.
fn write_rows(conn: &mut Connection, rows: &[Row]) -> rusqlite::Result<Summary> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut summary = Summary::default();
    for row in rows {
        match db::name_for_email(&tx, &row.email)? {
            None => {
                db::insert_user(&tx, &row.name, &row.email)?;
                summary.inserted += 1;
            }
            Some(name) if name == row.name => summary.unchanged += 1,
            Some(_) => {
                db::rename_user(&tx, &row.email, &row.name)?;
                summary.updated += 1;
            }
        }
    }
    tx.commit()?;
    Ok(summary)
}
// ANCHOR_END: import

/// Reads and checks every line; the first problem found stops the import.
fn parse(bytes: &[u8]) -> Result<Vec<Row>, BadLine> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.byte_records();

    let header = match records.next() {
        Some(record) => text_fields(&record.map_err(csv_error)?)?,
        None => {
            return Err(bad(
                1,
                "the file is empty; expected the header `name,email`",
            ));
        }
    };
    let header: Vec<&str> = header
        .iter()
        .map(|field| field.trim_start_matches('\u{feff}').trim())
        .collect();
    if header != HEADER {
        let found = quote(&header.join(","));
        return Err(bad(
            1,
            format!("expected the header `name,email`, found {found}"),
        ));
    }

    let mut rows = Vec::new();
    let mut first_line_of: HashMap<String, u64> = HashMap::new();
    for record in records {
        let record = record.map_err(csv_error)?;
        let line = line_of(&record);
        let row = check_row(line, &text_fields(&record)?)?;
        if let Some(first) = first_line_of.insert(row.email.to_lowercase(), line) {
            let reason = format!(
                "email {} already appears on line {first}",
                quote(&row.email)
            );
            return Err(bad(line, reason));
        }
        rows.push(row);
    }
    Ok(rows)
}

fn check_row(line: u64, fields: &[String]) -> Result<Row, BadLine> {
    let [name, email] = fields else {
        let reason = format!("expected 2 fields (name,email), found {}", fields.len());
        return Err(bad(line, reason));
    };
    let (name, email) = (name.trim(), email.trim());
    if name.is_empty() {
        return Err(bad(line, "name is empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad(line, "name contains a control character"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(bad(
            line,
            format!("name is longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    if email.chars().any(char::is_control) {
        return Err(bad(line, "email contains a control character"));
    }
    if !is_valid_email(email) {
        let reason = format!("{} is not a valid email address", quote(email));
        return Err(bad(line, reason));
    }
    Ok(Row {
        name: name.to_owned(),
        email: email.to_owned(),
    })
}

// ANCHOR: is_valid_email
/// A documented, deliberately plain rule, not the whole of RFC 5322: at most
/// 254 bytes; one `@`; before it, up to 64 characters with no spaces, no
/// `"(),:;<>[\]`, and no dot at either end or twice in a row; after it, two
/// or more dot-separated labels of ASCII letters, digits and inner hyphens.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = (1..=64).contains(&local.chars().count())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"(),:;<>@[\\]".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    email.len() <= MAX_EMAIL_BYTES && local_ok && labels.len() >= 2 && labels.iter().all(label_ok)
}
// ANCHOR_END: is_valid_email

/// The fields of a record as text, or the line at fault if one is not UTF-8.
fn text_fields(record: &csv::ByteRecord) -> Result<Vec<String>, BadLine> {
    record
        .iter()
        .map(|field| {
            std::str::from_utf8(field)
                .map(str::to_owned)
                .map_err(|_| bad(line_of(record), "the text is not valid UTF-8"))
        })
        .collect()
}

fn line_of(record: &csv::ByteRecord) -> u64 {
    record.position().map_or(0, csv::Position::line)
}

fn csv_error(err: csv::Error) -> BadLine {
    let line = err.position().map_or(0, csv::Position::line);
    bad(line, err.to_string())
}

fn bad(line: u64, reason: impl Into<String>) -> BadLine {
    BadLine {
        line,
        reason: reason.into(),
    }
}
