//! `import-csv`: load users from a CSV file, as often as you like.
//!
//! The file is checked completely before anything is written, and the writes
//! happen in one transaction: a bad file leaves the database as it was.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::Connection;

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

    let tx = conn.transaction()?;
    let mut summary = Summary::default();
    for row in &rows {
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
        let found = header.join(",");
        return Err(bad(
            1,
            format!("expected the header `name,email`, found `{found}`"),
        ));
    }

    let mut rows = Vec::new();
    let mut first_line_of: HashMap<String, u64> = HashMap::new();
    for record in records {
        let record = record.map_err(csv_error)?;
        let line = line_of(&record);
        let row = check_row(line, &text_fields(&record)?)?;
        if let Some(first) = first_line_of.insert(row.email.clone(), line) {
            let reason = format!("email `{}` already appears on line {first}", row.email);
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
    if !is_valid_email(email) {
        return Err(bad(line, format!("`{email}` is not a valid email address")));
    }
    Ok(Row {
        name: name.to_owned(),
        email: email.to_owned(),
    })
}

/// A deliberately small check: something before one `@`, a dotted domain
/// after it, no spaces, and no longer than an email can be.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= MAX_EMAIL_BYTES
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

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
