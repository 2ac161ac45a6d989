//! `db sql STATEMENT`: one SQL statement, run on the database, its rows
//! printed, so that the book needs no `sqlite3` program to look at the data
//! or to break it on purpose.

use std::io::Write;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Text};
use diesel::sqlite::SqliteConnection;

use crate::Error;
use crate::draft::{Token, tokens};

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Binary)]
    line: Vec<u8>,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Plan {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    parent: i64,
    #[diesel(sql_type = Text)]
    detail: String,
}

// ANCHOR: sql
/// A query, which is what SQLite accepts as a view, prints its column
/// names, then each row as it comes with its values as SQL literals
/// (`'ann'`, `NULL`, `3`; a control character escaped, `\n`), then the
/// count. `PRAGMA name` and `EXPLAIN QUERY PLAN` print their rows too. Any
/// other statement runs once, and says how many rows it changed. It is one
/// statement: SQLite would run the first of two and drop the second without
/// a word.
pub fn run(
    conn: &mut SqliteConnection,
    statement: &str,
    out: &mut impl Write,
) -> Result<(), Error> {
    let words = one_statement(statement)?;
    let first = |word: &str| words[0].text.eq_ignore_ascii_case(word);
    if first("EXPLAIN") {
        return explain(conn, &words, statement, out);
    }
    let query = pragma_as_query(&words, statement).unwrap_or_else(|| statement.to_owned());
    let view = format!("CREATE TEMP VIEW db_sql_result AS {query}");
    if diesel::sql_query(view).execute(conn).is_err() {
        if words
            .iter()
            .any(|t| t.text.eq_ignore_ascii_case("RETURNING"))
        {
            return Err(Error::Returning);
        }
        let changed = diesel::sql_query(statement).execute(conn)?;
        let changes = ["INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"];
        return Ok(match changes.iter().any(|word| first(word)) {
            true => writeln!(out, "{changed} row(s) changed"),
            false => writeln!(out, "Done."),
        }?);
    }
    let names: Vec<Name> =
        diesel::sql_query("SELECT name FROM pragma_table_info('db_sql_result')").load(conn)?;
    let names: Vec<String> = names.into_iter().map(|n| n.name).collect();
    writeln!(out, "{}", stepkit::printable(&names.join(" | ")))?;
    let select = format!("SELECT {} AS line FROM db_sql_result", literals(&names));
    let mut count = 0;
    for row in
        diesel::sql_query(select).load_iter::<Line, diesel::connection::DefaultLoadingMode>(conn)?
    {
        writeln!(
            out,
            "{}",
            stepkit::printable(&String::from_utf8_lossy(&row?.line))
        )?;
        count += 1;
    }
    Ok(writeln!(out, "({count} row(s))")?)
}
// ANCHOR_END: sql

/// The statement's tokens, if it is exactly one statement.
fn one_statement(statement: &str) -> Result<Vec<Token>, Error> {
    let mut words = tokens(statement);
    let end = words
        .iter()
        .position(|t| t.text == ";")
        .unwrap_or(words.len());
    if words[end..].iter().any(|t| t.text != ";") {
        return Err(Error::OneStatement);
    }
    words.truncate(end);
    match words.is_empty() {
        true => Err(Error::NoStatement),
        false => Ok(words),
    }
}

/// Each column as a SQL literal, joined with ` | `: `quote()`, except for
/// text holding a NUL, which `quote()` would cut short there.
fn literals(names: &[String]) -> String {
    let literal = |name: &String| {
        let c = format!("\"{}\"", name.replace('"', "\"\""));
        format!(
            "(CASE WHEN typeof({c}) = 'text' AND instr({c}, char(0)) > 0 \
             THEN 'CAST(X''' || hex({c}) || ''' AS TEXT)' ELSE quote({c}) END)"
        )
    };
    let all: Vec<String> = names.iter().map(literal).collect();
    all.join(" || ' | ' || ")
}

/// `PRAGMA name` or `PRAGMA name(argument)`, which reads a setting, as the
/// query that reads it as rows: `SELECT * FROM pragma_name(argument)`. A
/// pragma that sets something (`PRAGMA name = value`) stays a statement.
fn pragma_as_query(words: &[Token], statement: &str) -> Option<String> {
    let [pragma, name, rest @ ..] = words else {
        return None;
    };
    let plain = name
        .text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !pragma.text.eq_ignore_ascii_case("PRAGMA") || !plain {
        return None;
    }
    let argument = match rest {
        [] => String::new(),
        // A string literal is no token: it is all there is between them.
        [open, close] if open.text == "(" && close.text == ")" => {
            statement[open.end..close.start].to_owned()
        }
        // `PRAGMA table_info(post)` names the table bare; the function
        // takes it as text.
        [open, word, close] if open.text == "(" && close.text == ")" => {
            let bare = statement[word.start..word.end] == word.text;
            match bare {
                true => format!("'{}'", word.text.replace('\'', "''")),
                false => statement[word.start..word.end].to_owned(),
            }
        }
        _ => return None,
    };
    Some(format!("SELECT * FROM pragma_{}({argument})", name.text))
}

/// `EXPLAIN QUERY PLAN ...`: SQLite's plan for a query, a step a line.
/// Plain `EXPLAIN`'s bytecode is refused.
fn explain(
    conn: &mut SqliteConnection,
    words: &[Token],
    statement: &str,
    out: &mut impl Write,
) -> Result<(), Error> {
    let is = |at: usize, word: &str| {
        words
            .get(at)
            .is_some_and(|t| t.text.eq_ignore_ascii_case(word))
    };
    if !(is(1, "QUERY") && is(2, "PLAN")) {
        return Err(Error::Explain);
    }
    let plan: Vec<Plan> = diesel::sql_query(statement).load(conn)?;
    writeln!(out, "id | parent | detail")?;
    for step in &plan {
        let detail = stepkit::printable(&step.detail);
        writeln!(out, "{} | {} | {detail}", step.id, step.parent)?;
    }
    Ok(writeln!(out, "({} row(s))", plan.len())?)
}
