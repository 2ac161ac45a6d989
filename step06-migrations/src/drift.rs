//! `db check`: what differs between the database and what this program was
//! compiled for, found by comparing it with a fresh copy made by the
//! migrations, and with `schema.rs`; and what `integrity_check` finds.

use std::path::PathBuf;

use diesel::migration::{Migration, MigrationSource};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

use crate::Error;
use crate::draft::{declared, stored_as};
use crate::migrate::{
    all_migrations, applied, broken_references, tables, unknown_versions, upgrade,
};
use crate::print_schema::{Table, found};

// ANCHOR: check
/// `db check`: what differs between the database and what this program
/// was compiled for. Versions: applied against embedded. Structure: a fresh
/// in-memory database migrated from `source`, compared table by table with
/// this one through `table_info`, `index_list` and `foreign_key_list`. And
/// `schema_rs` against that fresh database. Empty means no drift.
pub fn check(
    conn: &mut SqliteConnection,
    source: &impl MigrationSource<Sqlite>,
    schema_rs: &str,
) -> Result<Vec<String>, Error> {
    // A damaged file first: the rest of it may not even be readable.
    let damage = crate::upkeep::damage(conn);
    if !damage.is_empty() {
        return Ok(damage
            .into_iter()
            .map(|found| format!("integrity: {found}"))
            .collect());
    }
    let migrations = all_migrations(source)?;
    let done = applied(conn)?;
    let mut drift = Vec::new();
    for migration in &migrations {
        if !done.contains(&migration.name().version().to_string()) {
            drift.push(format!("migration {} is not applied", migration.name()));
        }
    }
    for version in unknown_versions(&migrations, &done) {
        drift.push(format!(
            "version {version} is applied but unknown to this program"
        ));
    }
    let mut fresh = SqliteConnection::establish(":memory:").map_err(|source| Error::Open {
        path: PathBuf::from(":memory:"),
        source,
    })?;
    upgrade(&mut fresh, source, None)?;
    let (expected, found) = (describe(&mut fresh)?, describe(conn)?);
    for line in &expected {
        if !found.contains(line) {
            drift.push(format!("missing from the database: {line}"));
        }
    }
    for line in &found {
        if !expected.contains(line) {
            drift.push(format!("not in the migrations: {line}"));
        }
    }
    drift.extend(definition_drift(&mut fresh, conn)?);
    let broken = broken_references(conn)?;
    if broken > 0 {
        let why = "PRAGMA foreign_key_check lists them";
        drift.push(format!(
            "data: {broken} row(s) point at rows that do not exist ({why})"
        ));
    }
    drift.extend(schema_rs_drift(&mut fresh, schema_rs)?);
    Ok(drift)
}
// ANCHOR_END: check

/// One line per column, index and foreign key of every table.
fn describe(conn: &mut SqliteConnection) -> Result<Vec<String>, Error> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text)]
        line: String,
    }
    let mut lines = Vec::new();
    for table in tables(conn)? {
        let queries = [
            "SELECT 'column ' || name || ' ' || type || (CASE WHEN \"notnull\" THEN ' not null' ELSE '' END)
                || coalesce(' default ' || dflt_value, '') || (CASE WHEN pk THEN ' primary key' ELSE '' END) AS line
             FROM pragma_table_info(?1) ORDER BY cid",
            "SELECT 'index ' || l.name || (CASE WHEN l.\"unique\" THEN ' unique' ELSE '' END) || ' on ('
                || (SELECT group_concat(name, ', ') FROM pragma_index_info(l.name)) || ')' AS line
             FROM pragma_index_list(?1) AS l ORDER BY l.name",
            "SELECT 'foreign key ' || \"from\" || ' -> ' || \"table\" || '(' || \"to\" || ')' AS line
             FROM pragma_foreign_key_list(?1) ORDER BY id",
        ];
        for sql in queries {
            let found: Vec<Line> = diesel::sql_query(sql).bind::<Text, _>(&table).load(conn)?;
            lines.extend(
                found
                    .into_iter()
                    .map(|l| format!("table {table}: {}", l.line)),
            );
        }
    }
    Ok(lines)
}

/// Every table, index, trigger and view, by name: its kind and its `CREATE`
/// statement as SQLite keeps it, without comments, quotes or spacing, so a
/// CHECK, a collation, `AUTOINCREMENT` or `ON DELETE` that differs shows.
fn definitions(conn: &mut SqliteConnection) -> Result<Vec<(String, String, String)>, Error> {
    #[derive(QueryableByName)]
    struct Definition {
        #[diesel(sql_type = Text)]
        kind: String,
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        sql: String,
    }
    let found: Vec<Definition> = diesel::sql_query(
        "SELECT type AS kind, name, sql FROM sqlite_schema WHERE sql IS NOT NULL
         AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' ORDER BY name",
    )
    .load(conn)?;
    let plain = |sql: &str| -> String {
        let without_comments: Vec<&str> = sql
            .lines()
            .map(|line| line.split("--").next().unwrap_or_default())
            .collect();
        let spaced = without_comments.join(" ").replace('"', "");
        let words: Vec<&str> = spaced.split_whitespace().collect();
        // `NOT NULL )` and `NOT NULL)` are one definition: a DROP COLUMN or
        // a removed comment leaves the space out.
        words
            .join(" ")
            .replace(" )", ")")
            .replace("( ", "(")
            .replace(" ,", ",")
    };
    Ok(found
        .into_iter()
        .map(|d| (d.name, d.kind, plain(&d.sql)))
        .collect())
}

/// The objects whose definitions differ, or that only one side has.
fn definition_drift(
    fresh: &mut SqliteConnection,
    conn: &mut SqliteConnection,
) -> Result<Vec<String>, Error> {
    let (expected, found) = (definitions(fresh)?, definitions(conn)?);
    let mut drift = Vec::new();
    for (name, kind, sql) in &expected {
        match found.iter().find(|(other, _, _)| other == name) {
            Some((_, _, other_sql)) if other_sql != sql => {
                drift.push(format!("definition differs: {kind} {name}"))
            }
            Some(_) => {}
            None if kind == "trigger" || kind == "view" => {
                drift.push(format!("missing from the database: {kind} {name}"))
            }
            None => {} // a table or index: its column and index lines say so
        }
    }
    for (name, kind, _) in &found {
        let unexpected = !expected.iter().any(|(other, _, _)| other == name);
        if unexpected && (kind == "trigger" || kind == "view") {
            drift.push(format!("not in the migrations: {kind} {name}"));
        }
    }
    Ok(drift)
}

/// Where `schema.rs` and the migrated tables disagree about a table's
/// columns: their names, order, types or NULL rules.
fn schema_rs_drift(fresh: &mut SqliteConnection, schema_rs: &str) -> Result<Vec<String>, Error> {
    let migrated = found(fresh)?;
    let mut drift = Vec::new();
    for table in declared(schema_rs)? {
        let made = migrated.iter().find(|t| t.name == table.name);
        let made = made.map_or("no such table".to_owned(), columns);
        if made != columns(&table) {
            let (name, declared) = (&table.name, columns(&table));
            drift.push(format!(
                "schema.rs declares {name}({declared}) but the migrations make {name}({made})"
            ));
        }
    }
    Ok(drift)
}

/// `id BigInt, bio Nullable<Text>`: a table's columns as `schema.rs` writes
/// them, each type as SQLite stores it.
fn columns(table: &Table) -> String {
    let column = |c: &crate::print_schema::Column| {
        let rust = stored_as(&c.sql_type);
        match c.nullable {
            true => format!("{} Nullable<{rust}>", c.name),
            false => format!("{} {rust}", c.name),
        }
    };
    table
        .columns
        .iter()
        .map(column)
        .collect::<Vec<_>>()
        .join(", ")
}
