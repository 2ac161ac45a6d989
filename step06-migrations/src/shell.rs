//! `db sql STATEMENT`: one SQL statement, run on the database, its rows
//! printed, so that the book needs no `sqlite3` program to look at the data
//! or to break it on purpose.

use std::io::Write;

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::Error;
use crate::draft::tokens;

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

// ANCHOR: sql
/// A query, which is what SQLite accepts as a view, prints its column
/// names, then each row with its values as SQL literals (`'ann'`, `NULL`,
/// `3`), then the count. Any other statement runs once, and says how many
/// rows it changed. Either way it is one statement: SQLite would run the
/// first of two and drop the second without a word.
pub fn run(
    conn: &mut SqliteConnection,
    statement: &str,
    out: &mut impl Write,
) -> Result<(), Error> {
    let words = tokens(statement);
    let end = words
        .iter()
        .position(|t| t.text == ";")
        .unwrap_or(words.len());
    if words[end..].iter().any(|t| t.text != ";") {
        return Err(Error::OneStatement);
    }
    if end == 0 {
        return Err(Error::NoStatement);
    }
    let view = format!("CREATE TEMP VIEW db_sql_result AS {statement}");
    if diesel::sql_query(view).execute(conn).is_err() {
        let changed = diesel::sql_query(statement).execute(conn)?;
        return Ok(writeln!(out, "{changed} row(s) changed")?);
    }
    let names: Vec<Line> =
        diesel::sql_query("SELECT name AS line FROM pragma_table_info('db_sql_result')")
            .load(conn)?;
    let names: Vec<String> = names.into_iter().map(|n| n.line).collect();
    let values: Vec<String> = names
        .iter()
        .map(|n| format!("quote(\"{}\")", n.replace('"', "\"\"")))
        .collect();
    let select = format!(
        "SELECT {} AS line FROM db_sql_result",
        values.join(" || ' | ' || ")
    );
    let rows: Vec<Line> = diesel::sql_query(select).load(conn)?;
    writeln!(out, "{}", stepkit::printable(&names.join(" | ")))?;
    for row in &rows {
        writeln!(out, "{}", stepkit::printable(&row.line))?;
    }
    Ok(writeln!(out, "({} row(s))", rows.len())?)
}
// ANCHOR_END: sql
