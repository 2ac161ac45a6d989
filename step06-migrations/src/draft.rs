//! `db migrate -m MESSAGE`: Flask-Migrate's autogenerate. It reads the
//! tables `schema.rs` declares, compares them with the database, and drafts
//! a migration for what it can decide: a table or a column added or
//! dropped, a column's NULL rule changed. What it cannot decide, a rename
//! or a type change, it refuses, as Alembic's autogenerate cannot see a
//! rename either. `db check` reads `schema.rs` the same way.

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

use crate::Error;
use crate::migrate::{all_migrations, applied, pending, unknown_versions};
use crate::print_schema::{Column, Table, found};

/// `schema.rs` as this program was compiled with it.
pub const SCHEMA_RS: &str = include_str!("schema.rs");

// ANCHOR: declared
/// The tables a `schema.rs` declares: each `table!`'s name, key, and
/// `column -> Type,` lines. A line inside a `table!` that is none of these,
/// a type a draft does not know, or a key that is not a column of its own,
/// is refused by number rather than guessed at.
pub fn declared(schema_rs: &str) -> Result<Vec<Table>, Error> {
    enum Part {
        Outside,
        Header,
        Columns,
        Closing,
    }
    let (mut tables, mut part) = (Vec::<Table>::new(), Part::Outside);
    for (number, line) in schema_rs.lines().enumerate() {
        let line = line.split("//").next().unwrap_or_default().trim();
        let at = |why: String| Error::SchemaRs(number + 1, why);
        let hint = "a draft reads `name (key) {` and `column -> Type,` lines in `table!`";
        let unreadable = || at(format!("cannot read {}: {hint}", stepkit::quote(line)));
        if line.is_empty() || line.starts_with("use ") {
            continue;
        }
        part = match part {
            Part::Outside if line.ends_with("table! {") => Part::Header,
            Part::Outside => Part::Outside, // joinable!, use lines and the like
            Part::Header => {
                let header = line
                    .strip_suffix('{')
                    .and_then(|h| h.trim().split_once('('));
                let (name, key) = header.ok_or_else(unreadable)?;
                let key = key.trim().strip_suffix(')').ok_or_else(unreadable)?;
                let key = key.split(',').map(|k| k.trim().to_owned()).collect();
                let name = Some(name.trim())
                    .filter(|n| word(n))
                    .ok_or_else(unreadable)?;
                let (name, columns) = (name.to_owned(), Vec::new());
                tables.push(Table { name, key, columns });
                Part::Columns
            }
            Part::Columns if line == "}" => {
                let table = tables.last().expect("a header");
                key_problem(table).map_or(Ok(()), |why| Err(at(why)))?;
                Part::Closing
            }
            Part::Columns => {
                let column = declared_column(line).ok_or_else(unreadable)?;
                if !KNOWN_TYPES.contains(&column.sql_type.as_str()) {
                    let known = KNOWN_TYPES.join(", ");
                    let why = format!("{} is not a type a draft knows ({known})", column.sql_type);
                    return Err(at(why));
                }
                tables.last_mut().expect("a header").columns.push(column);
                Part::Columns
            }
            Part::Closing if line == "}" => Part::Outside,
            Part::Closing => return Err(unreadable()),
        };
    }
    Ok(tables)
}

/// The diesel types a draft can write SQL for.
const KNOWN_TYPES: [&str; 10] = [
    "BigInt",
    "Integer",
    "SmallInt",
    "Text",
    "Bool",
    "Timestamp",
    "Date",
    "Double",
    "Float",
    "Binary",
];

/// What is wrong with a table's key, if anything: it must name columns of
/// the table, none of them `Nullable`, and the table must have columns.
fn key_problem(table: &Table) -> Option<String> {
    let name = &table.name;
    if table.columns.is_empty() {
        return Some(format!("table {name} has no columns"));
    }
    for key in &table.key {
        match table.columns.iter().find(|c| &c.name == key) {
            None => {
                return Some(format!(
                    "the key {key} of table {name} is none of its columns"
                ));
            }
            Some(column) if column.nullable => {
                return Some(format!(
                    "the key {key} of table {name} is Nullable, which a key cannot be"
                ));
            }
            Some(_) => {}
        }
    }
    None
}

/// A Rust name, as a table or column is named in `schema.rs`.
fn word(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `name -> Type,` or `name -> Nullable<Type>,`.
fn declared_column(line: &str) -> Option<Column> {
    let (name, rust) = line.strip_suffix(',').unwrap_or(line).split_once("->")?;
    let name = name.trim().trim_start_matches("r#");
    let (nullable, rust) = match rust.trim().strip_prefix("Nullable<") {
        Some(inner) => (true, inner.strip_suffix('>')?),
        None => (false, rust.trim()),
    };
    let sql_type = rust.rsplit("::").next()?.trim();
    (word(name) && word(sql_type)).then(|| Column {
        name: name.to_owned(),
        sql_type: sql_type.to_owned(),
        nullable,
        declared_as: String::new(),
        default: None,
    })
}
// ANCHOR_END: declared

/// A drafted migration: its two files and a line for each change.
#[derive(Debug)]
pub struct Draft {
    pub up: String,
    pub down: String,
    pub changes: Vec<String>,
}

// ANCHOR: draft
/// The draft that takes the database to what `schema_rs` declares, or
/// `None` when they already agree. The database must be at the latest
/// migration of `source`, so that the draft follows it. The draft is tried
/// on a copy of the database's schema, up and then down, before it is
/// returned: one SQLite would refuse is refused here.
pub fn draft(
    conn: &mut SqliteConnection,
    source: &impl MigrationSource<Sqlite>,
    schema_rs: &str,
    message: &str,
) -> Result<Option<Draft>, Error> {
    let behind = pending(conn, source)?;
    if behind > 0 {
        return Err(Error::DraftBehind(behind));
    }
    let unknown = unknown_versions(&all_migrations(source)?, &applied(conn)?);
    if let Some(version) = unknown.into_iter().next() {
        return Err(Error::UnknownApplied(version));
    }
    let wanted = declared(schema_rs)?;
    // An empty or wrong file would otherwise draft the drop of every table.
    if wanted.is_empty() {
        let why = "schema.rs declares no table, and a draft would drop them all".to_owned();
        return Err(Error::CannotDraft(why));
    }
    let steps = steps(conn, &wanted)?;
    if steps.is_empty() {
        return Ok(None);
    }
    let review = format!(
        "-- Drafted by `db migrate -m {}` from schema.rs: review it before `db upgrade`.\n",
        stepkit::quote(message)
    );
    let up: String = steps.iter().map(|s| s.up.as_str()).collect();
    let down: String = steps.iter().rev().map(|s| s.down.as_str()).collect();
    let draft = Draft {
        up: format!("{review}{up}"),
        down: format!("{review}{down}"),
        changes: steps.into_iter().map(|s| s.change).collect(),
    };
    try_out(conn, &wanted, &draft)?;
    Ok(Some(draft))
}
// ANCHOR_END: draft

/// One change: what it is, in words, and its SQL each way.
struct Step {
    change: String,
    up: String,
    down: String,
}

/// The changes from the database's tables to the `wanted` ones: new tables
/// first, then changed ones, then dropped ones.
fn steps(conn: &mut SqliteConnection, wanted: &[Table]) -> Result<Vec<Step>, Error> {
    let have = found(conn)?;
    let missing_from = |tables: &[Table], name: &str| !tables.iter().any(|t| t.name == name);
    let added: Vec<&Table> = wanted
        .iter()
        .filter(|t| missing_from(&have, &t.name))
        .collect();
    let gone: Vec<&Table> = have
        .iter()
        .filter(|t| missing_from(wanted, &t.name))
        .collect();
    if let (Some(new), Some(old)) = (added.first(), gone.first()) {
        let (new, old) = (&new.name, &old.name);
        let why = format!("table {new} is new and table {old} is gone, which may be a rename");
        return Err(Error::CannotDraft(why));
    }
    let mut steps = Vec::new();
    for table in added {
        steps.push(create_table(table)?);
    }
    for table in wanted {
        if let Some(now) = have.iter().find(|t| t.name == table.name) {
            steps.extend(table_steps(conn, now, table)?);
        }
    }
    for table in gone {
        let down = statements(definitions(conn, &table.name)?);
        let name = &table.name;
        steps.push(Step {
            change: format!("drop table {name}"),
            up: format!("DROP TABLE {};\n", quoted(name)),
            down: format!("-- The table comes back empty: its rows are not kept.\n{down}"),
        });
    }
    Ok(steps)
}

/// `CREATE TABLE` for a table only `schema.rs` has, and its `DROP`.
fn create_table(table: &Table) -> Result<Step, Error> {
    let name = &table.name;
    let mut lines = Vec::new();
    for column in &table.columns {
        let sql = sql_type(name, column)?;
        let key = table.key == [column.name.clone()];
        // SQLite lets a key other than an INTEGER one hold NULL unless told.
        let rule = match (key, column.nullable) {
            (true, _) if sql != "INTEGER" => " NOT NULL PRIMARY KEY",
            (true, _) => " PRIMARY KEY",
            (false, true) => "",
            (false, false) => " NOT NULL",
        };
        let in_key = table.key.len() > 1 && table.key.contains(&column.name);
        let rule = if in_key { " NOT NULL" } else { rule };
        lines.push(format!("    {} {sql}{rule}", quoted(&column.name)));
    }
    if table.key.len() > 1 {
        let key: Vec<String> = table.key.iter().map(|k| quoted(k)).collect();
        lines.push(format!("    PRIMARY KEY ({})", key.join(", ")));
    }
    Ok(Step {
        change: format!("add table {name}"),
        up: format!(
            "CREATE TABLE {} (\n{}\n);\n",
            quoted(name),
            lines.join(",\n")
        ),
        down: format!("DROP TABLE {};\n", quoted(name)),
    })
}

/// The changes to one table both sides have: its columns added, dropped,
/// or made to allow NULL or not.
fn table_steps(
    conn: &mut SqliteConnection,
    now: &Table,
    wanted: &Table,
) -> Result<Vec<Step>, Error> {
    let name = &now.name;
    if now.key != wanted.key {
        let why = format!("the primary key of {name} changes");
        return Err(Error::CannotDraft(why));
    }
    let find =
        |table: &Table, column: &str| table.columns.iter().find(|c| c.name == column).cloned();
    let added: Vec<&Column> = wanted
        .columns
        .iter()
        .filter(|c| find(now, &c.name).is_none())
        .collect();
    let gone: Vec<&Column> = now
        .columns
        .iter()
        .filter(|c| find(wanted, &c.name).is_none())
        .collect();
    if let (Some(new), Some(old)) = (added.first(), gone.first()) {
        let (new, old) = (&new.name, &old.name);
        let why =
            format!("column {name}.{new} is new and {name}.{old} is gone, which may be a rename");
        return Err(Error::CannotDraft(why));
    }
    let mut steps = Vec::new();
    let mut create = table_sql(conn, name)?;
    let original = create.clone();
    let mut rules = Vec::new();
    for column in &wanted.columns {
        let Some(was) = find(now, &column.name) else {
            continue;
        };
        let at = format!("{name}.{}", column.name);
        if stored_as(&was.sql_type) != stored_as(&column.sql_type) {
            let (from, to) = (&was.sql_type, &column.sql_type);
            let why = format!("column {at} changes type from {from} to {to}");
            return Err(Error::CannotDraft(why));
        }
        if was.nullable != column.nullable {
            create = with_null_rule(&create, &column.name, column.nullable).ok_or_else(|| {
                Error::CannotDraft(format!("cannot find {at} in its CREATE TABLE"))
            })?;
            let rule = if column.nullable {
                "allow NULL"
            } else {
                "NOT NULL"
            };
            rules.push(format!("{at} {rule}"));
        }
    }
    if !rules.is_empty() {
        let kept: Vec<&str> = now.columns.iter().map(|c| c.name.as_str()).collect();
        // The way that adds a NOT NULL fails on a row holding NULL there.
        let warn =
            "-- A row holding NULL where NOT NULL comes back fails this: give it a value first.\n";
        let (tightens, loosens) = (
            rules.iter().any(|r| r.ends_with("NOT NULL")),
            rules.iter().any(|r| r.ends_with("allow NULL")),
        );
        let up = format!(
            "{}{}",
            if tightens { warn } else { "" },
            rebuild(conn, name, &create, &kept)?
        );
        let down = format!(
            "{}{}",
            if loosens { warn } else { "" },
            rebuild(conn, name, &original, &kept)?
        );
        steps.push(Step {
            change: rules.join(", "),
            up,
            down,
        });
    }
    for column in added {
        if !column.nullable {
            let why = format!(
                "new column {name}.{} is NOT NULL, so the rows {name} has need a value \
                 that a draft cannot choose (or declare it Nullable)",
                column.name
            );
            return Err(Error::CannotDraft(why));
        }
        let sql = sql_type(name, column)?;
        let change = format!("add column {name}.{}", column.name);
        let (table, column) = (quoted(name), quoted(&column.name));
        steps.push(Step {
            change,
            up: format!("ALTER TABLE {table} ADD COLUMN {column} {sql};\n"),
            down: format!("ALTER TABLE {table} DROP COLUMN {column};\n"),
        });
    }
    for column in gone {
        // Made again as it was, in its place among the others; its values
        // are gone, and become its default (or NULL).
        let kept: Vec<&str> = now.columns.iter().map(|c| c.name.as_str()).collect();
        let kept: Vec<&str> = kept.into_iter().filter(|c| *c != column.name).collect();
        let lost = match (column.nullable, &column.default) {
            (false, None) => {
                "its values are lost; it is NOT NULL without a default, so choose them, or this fails on a table with rows"
            }
            _ => "its values are lost, and it holds its default (or NULL)",
        };
        steps.push(Step {
            change: format!("drop column {name}.{}", column.name),
            up: format!(
                "ALTER TABLE {} DROP COLUMN {};\n",
                quoted(name),
                quoted(&column.name)
            ),
            down: format!(
                "-- The column comes back: {lost}.\n{}",
                rebuild(conn, name, &original, &kept)?
            ),
        });
    }
    Ok(steps)
}

/// The SQL type to declare for a `schema.rs` type.
fn sql_type(table: &str, column: &Column) -> Result<&'static str, Error> {
    Ok(match column.sql_type.as_str() {
        "BigInt" | "Integer" | "SmallInt" => "INTEGER",
        "Text" => "TEXT",
        "Bool" => "BOOLEAN",
        "Timestamp" => "TIMESTAMP",
        "Date" => "DATE",
        "Double" | "Float" => "REAL",
        "Binary" => "BLOB",
        other => {
            let why = format!(
                "{table}.{} has type {other}, which a draft does not know",
                column.name
            );
            return Err(Error::CannotDraft(why));
        }
    })
}

/// The type SQLite stores a diesel type as, in diesel's words: every
/// integer type is the same `BigInt` to it, every float `Double`.
pub fn stored_as(sql_type: &str) -> &str {
    match sql_type {
        "Integer" | "SmallInt" => "BigInt",
        "Float" => "Double",
        other => other,
    }
}

/// SQLite cannot change a column's NULL rule in place: the table is made
/// anew from `create`, its `kept` columns copied across, the old one
/// dropped, the new one renamed, its indexes and triggers made again.
fn rebuild(
    conn: &mut SqliteConnection,
    table: &str,
    create: &str,
    kept: &[&str],
) -> Result<String, Error> {
    let (new, old) = (quoted(&format!("{table}_rebuilt")), quoted(table));
    let start = create.find('(').unwrap_or(create.len());
    let columns: Vec<String> = kept.iter().map(|c| quoted(c)).collect();
    let columns = columns.join(", ");
    let others = statements(definitions(conn, table)?.split_off(1));
    // AUTOINCREMENT's counter goes with the old table: it is kept, so that
    // the ids of deleted rows are never handed out again.
    let counted = tokens(create)
        .iter()
        .any(|t| t.text.eq_ignore_ascii_case("AUTOINCREMENT"));
    let name = table.replace('\'', "''");
    let (keep, restore) = match counted {
        false => (String::new(), String::new()),
        true => (
            format!(
                "CREATE TEMP TABLE kept_sequence AS SELECT seq FROM sqlite_sequence WHERE name = '{name}';\n"
            ),
            format!(
                "DELETE FROM sqlite_sequence WHERE name = '{name}';\n\
                 INSERT INTO sqlite_sequence (name, seq) SELECT '{name}', seq FROM kept_sequence;\n\
                 DROP TABLE kept_sequence;\n"
            ),
        ),
    };
    Ok(format!(
        "-- SQLite cannot change this in place: {old} is made anew and its rows copied.\n\
         CREATE TABLE {new} {};\n\
         INSERT INTO {new} ({columns}) SELECT {columns} FROM {old};\n\
         {keep}DROP TABLE {old};\n\
         ALTER TABLE {new} RENAME TO {old};\n{others}{restore}",
        &create[start..]
    ))
}

/// The `CREATE TABLE` statement SQLite keeps for `table`.
fn table_sql(conn: &mut SqliteConnection, table: &str) -> Result<String, Error> {
    Ok(definitions(conn, table)?.remove(0))
}

/// What makes `table`: its `CREATE TABLE` first, then its indexes and
/// triggers.
fn definitions(conn: &mut SqliteConnection, table: &str) -> Result<Vec<String>, Error> {
    #[derive(QueryableByName)]
    struct Sql {
        #[diesel(sql_type = Text)]
        sql: String,
    }
    let found: Vec<Sql> = diesel::sql_query(
        "SELECT sql FROM sqlite_schema WHERE tbl_name = ? AND sql IS NOT NULL
         ORDER BY type <> 'table', type, name",
    )
    .bind::<Text, _>(table)
    .load(conn)?;
    Ok(found.into_iter().map(|s| s.sql).collect())
}

/// A name as SQL quotes it: `"user"`.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Statements as a migration's lines, each ending in `;`.
fn statements(sql: Vec<String>) -> String {
    sql.into_iter().map(|s| format!("{s};\n")).collect()
}

/// `create` with `column`'s `NOT NULL` taken out (`nullable`) or added.
/// `None` when the column is not found among the table's definitions.
fn with_null_rule(create: &str, column: &str, nullable: bool) -> Option<String> {
    let tokens = tokens(create);
    let mut depth = 0;
    let mut part_start = None;
    for (i, token) in tokens.iter().enumerate() {
        match token.text.as_str() {
            "(" => depth += 1,
            ")" => depth -= 1,
            _ => {}
        }
        let starts_part = depth == 1
            && matches!(tokens.get(i.wrapping_sub(1)), Some(t) if t.text == "(" || t.text == ",")
            && token.text != "(";
        if starts_part && part_start.is_none() && token.text.eq_ignore_ascii_case(column) {
            part_start = Some(i);
        }
        let Some(first) = part_start else { continue };
        let ends_part = (depth == 1 && token.text == ",") || depth == 0;
        if !ends_part {
            continue;
        }
        let part = &tokens[first..i];
        if nullable {
            let not = part.windows(2).find(|pair| {
                pair[0].text.eq_ignore_ascii_case("NOT")
                    && pair[1].text.eq_ignore_ascii_case("NULL")
            })?;
            let (before, after) = (&create[..not[0].start], &create[not[1].end..]);
            let after = after.trim_start_matches(' ');
            // `slug TEXT NOT NULL DEFAULT ''` becomes `slug TEXT DEFAULT ''`,
            // and `body TEXT NOT NULL,` becomes `body TEXT,`.
            let space = if after.starts_with([',', ')', '\n']) {
                ""
            } else {
                " "
            };
            return Some(format!("{}{space}{after}", before.trim_end_matches(' ')));
        }
        let last = part.last()?;
        return Some(format!(
            "{} NOT NULL{}",
            &create[..last.end],
            &create[last.end..]
        ));
    }
    None
}

/// A token of SQL text and where it is: a word (a quoted name without its
/// quotes) or one other character. Comments, string literals and spaces
/// are left out, so a comma or `NOT` inside them is not one.
pub struct Token {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

pub fn tokens(sql: &str) -> Vec<Token> {
    let bytes = sql.as_bytes();
    let (mut found, mut at) = (Vec::new(), 0);
    let until = |from: usize, stop: &str| sql[from..].find(stop).map_or(sql.len(), |i| from + i);
    while at < bytes.len() {
        let c = bytes[at];
        let start = at;
        at = match c {
            b'-' if bytes.get(at + 1) == Some(&b'-') => until(at, "\n"),
            b'/' if bytes.get(at + 1) == Some(&b'*') => (until(at + 2, "*/") + 2).min(sql.len()),
            b'\'' => (until(at + 1, "'") + 1).min(sql.len()),
            b'"' | b'`' | b'[' => {
                let close = match c {
                    b'[' => "]",
                    b'"' => "\"",
                    _ => "`",
                };
                let end = until(at + 1, close);
                found.push(Token {
                    text: sql[at + 1..end].to_owned(),
                    start,
                    end: (end + 1).min(sql.len()),
                });
                (end + 1).min(sql.len())
            }
            c if c.is_ascii_whitespace() => at + 1,
            c if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 => {
                let end = sql[at..]
                    .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                    .map_or(sql.len(), |i| at + i);
                found.push(Token {
                    text: sql[at..end].to_owned(),
                    start,
                    end,
                });
                end
            }
            _ => {
                found.push(Token {
                    text: (c as char).to_string(),
                    start,
                    end: at + 1,
                });
                at + 1
            }
        };
    }
    found
}

/// Runs the draft on an empty copy of the database's schema: `up` must
/// give what `schema.rs` declares, and `down` what the database has now.
fn try_out(conn: &mut SqliteConnection, wanted: &[Table], draft: &Draft) -> Result<(), Error> {
    #[derive(QueryableByName)]
    struct Sql {
        #[diesel(sql_type = Text)]
        sql: String,
    }
    let schema: Vec<Sql> = diesel::sql_query(
        "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'
         ORDER BY type <> 'table', rowid",
    )
    .load(conn)?;
    let mut copy = SqliteConnection::establish(":memory:")
        .map_err(|err| Error::DraftFails(err.to_string()))?;
    copy.batch_execute("PRAGMA foreign_keys = OFF")?; // as the migrations run
    for statement in schema {
        copy.batch_execute(&statement.sql)?;
    }
    let fails = |err: diesel::result::Error| Error::DraftFails(err.to_string());
    let short = |what: &str| Error::DraftFails(format!("{what} does not do all it should"));
    copy.batch_execute(&draft.up).map_err(fails)?;
    if !steps(&mut copy, wanted).is_ok_and(|left| left.is_empty()) {
        return Err(short("up.sql"));
    }
    copy.batch_execute(&draft.down).map_err(fails)?;
    let before = found(conn)?;
    if !steps(&mut copy, &before).is_ok_and(|left| left.is_empty()) {
        return Err(short("down.sql"));
    }
    Ok(())
}
