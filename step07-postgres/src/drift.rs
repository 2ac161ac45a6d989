//! `db check`: what differs between the database and what this program was
//! compiled for, found by comparing it with a fresh copy made by the
//! migrations, and with `schema.rs`; and what `integrity_check` finds.

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::migration::{Migration, MigrationSource};
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::Error;
use crate::backend::{Conn, Location, MultiBackend};
use crate::draft::{declared, stored_as};
use crate::migrate::{
    all_migrations, applied, broken_references, tables, unknown_versions, upgrade,
};
use crate::print_schema::{Column, Table, found};

/// `db check`: what differs between the database and what this program
/// was compiled for. Versions: applied against embedded. Structure: an
/// empty database migrated from `source` (see [`migrated_afresh`]), compared
/// table by table with this one: columns, indexes, foreign keys and
/// constraints. And `schema.rs` against that fresh database. Empty means no
/// drift.
pub fn check(
    conn: &mut Conn,
    source: &impl MigrationSource<MultiBackend>,
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
    let found = Picture::of(conn)?;
    let expected = migrated_afresh(conn, source, schema_rs)?;
    for line in &expected.lines {
        if !found.lines.contains(line) {
            drift.push(format!("missing from the database: {line}"));
        }
    }
    for line in &found.lines {
        if !expected.lines.contains(line) {
            drift.push(format!("not in the migrations: {line}"));
        }
    }
    drift.extend(definition_drift(&expected.definitions, &found.definitions));
    let broken = broken_references(conn)?;
    if broken > 0 {
        let why = "PRAGMA foreign_key_check lists them";
        drift.push(format!(
            "data: {broken} row(s) point at rows that do not exist ({why})"
        ));
    }
    drift.extend(expected.schema_rs_drift);
    Ok(drift)
}

/// The picture of an empty database after every migration of `source`.
/// SQLite: a new in-memory database. PostgreSQL: a schema of its own in
/// the same database, made, migrated and dropped in one transaction, which
/// works because PostgreSQL's DDL is transactional.
fn migrated_afresh(
    conn: &mut Conn,
    source: &impl MigrationSource<MultiBackend>,
    schema_rs: &str,
) -> Result<Picture, Error> {
    let migrate_and_look = |fresh: &mut Conn| -> Result<Picture, Error> {
        upgrade(fresh, source, None)?;
        let mut picture = Picture::of(fresh)?;
        picture.schema_rs_drift = schema_rs_drift(fresh, schema_rs, "the migrations make")?;
        Ok(picture)
    };
    match conn {
        Conn::Sqlite(_) => {
            let mut fresh = SqliteConnection::establish(":memory:")
                .map(Conn::Sqlite)
                .map_err(|source| Error::Open {
                    database: Location::Sqlite(PathBuf::from(":memory:")),
                    source,
                })?;
            migrate_and_look(&mut fresh)
        }
        Conn::Postgres(_) => conn.transaction(|conn| {
            conn.batch_execute(
                "CREATE SCHEMA db_check_fresh; SET LOCAL search_path TO db_check_fresh",
            )?;
            let picture = migrate_and_look(conn)?;
            conn.batch_execute("DROP SCHEMA db_check_fresh CASCADE")?;
            Ok(picture)
        }),
    }
}

/// What `check` compares: one line per column, index, foreign key and
/// constraint of every table, and the definitions of triggers and views.
#[derive(Debug, Default)]
struct Picture {
    lines: Vec<String>,
    definitions: Vec<(String, String, String)>,
    schema_rs_drift: Vec<String>,
}

impl Picture {
    fn of(conn: &mut Conn) -> Result<Picture, Error> {
        Ok(Picture {
            lines: describe(conn)?,
            definitions: definitions(conn)?,
            schema_rs_drift: Vec::new(),
        })
    }
}

/// One line per column, index and foreign key of every table (and, on
/// PostgreSQL, per constraint), from the database's catalogue.
fn describe(conn: &mut Conn) -> Result<Vec<String>, Error> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text)]
        line: String,
    }
    let queries: &[&str] = match conn {
        Conn::Sqlite(_) => &[
            "SELECT 'column ' || name || ' ' || type || (CASE WHEN \"notnull\" THEN ' not null' ELSE '' END)
                || coalesce(' default ' || dflt_value, '') || (CASE WHEN pk THEN ' primary key' ELSE '' END) AS line
             FROM pragma_table_info(?1) ORDER BY cid",
            "SELECT 'index ' || l.name || (CASE WHEN l.\"unique\" THEN ' unique' ELSE '' END) || ' on ('
                || (SELECT group_concat(name, ', ') FROM pragma_index_info(l.name)) || ')' AS line
             FROM pragma_index_list(?1) AS l ORDER BY l.name",
            "SELECT 'foreign key ' || \"from\" || ' -> ' || \"table\" || '(' || \"to\" || ')' AS line
             FROM pragma_foreign_key_list(?1) ORDER BY id",
        ],
        Conn::Postgres(_) => &[
            "SELECT 'column ' || column_name || ' ' || data_type || (CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END)
                || coalesce(' default ' || column_default, '') || (CASE WHEN is_identity = 'YES' THEN ' identity' ELSE '' END) AS line
             FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1
             ORDER BY ordinal_position",
            "SELECT 'index ' || indexname || ': ' || replace(indexdef, ' ON ' || quote_ident(schemaname) || '.', ' ON ') AS line
             FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 ORDER BY indexname",
            "SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid) AS line
             FROM pg_constraint WHERE conrelid = (quote_ident(current_schema()) || '.' || quote_ident($1))::regclass
             ORDER BY conname",
        ],
    };
    let mut lines = Vec::new();
    for table in tables(conn)? {
        for sql in queries {
            let found: Vec<Line> = diesel::sql_query(*sql).bind::<Text, _>(&table).load(conn)?;
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
/// statement as the database keeps it, without comments, quotes or spacing,
/// so a CHECK, a collation, `AUTOINCREMENT` or `ON DELETE` that differs
/// shows. (On PostgreSQL, triggers and views: the rest is in [`describe`].)
fn definitions(conn: &mut Conn) -> Result<Vec<(String, String, String)>, Error> {
    #[derive(QueryableByName)]
    struct Definition {
        #[diesel(sql_type = Text)]
        kind: String,
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        sql: String,
    }
    let sql = match conn {
        Conn::Sqlite(_) => {
            "SELECT type AS kind, name, sql FROM sqlite_schema WHERE sql IS NOT NULL
             AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' ORDER BY name"
        }
        Conn::Postgres(_) => {
            "SELECT 'view' AS kind, viewname AS name, definition AS sql FROM pg_views
             WHERE schemaname = current_schema()
             UNION ALL
             SELECT 'trigger', t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger AS t
             JOIN pg_class AS c ON c.oid = t.tgrelid
             WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace
             ORDER BY name"
        }
    };
    let found: Vec<Definition> = diesel::sql_query(sql).load(conn)?;
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
    expected: &[(String, String, String)],
    found: &[(String, String, String)],
) -> Vec<String> {
    let mut drift = Vec::new();
    for (name, kind, sql) in expected {
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
    for (name, kind, _) in found {
        let unexpected = !expected.iter().any(|(other, _, _)| other == name);
        if unexpected && (kind == "trigger" || kind == "view") {
            drift.push(format!("not in the migrations: {kind} {name}"));
        }
    }
    drift
}

/// Where `schema_rs` and the tables `conn` holds disagree about a table's
/// columns: their names, order, types or NULL rules. `they` says whose
/// tables they are, for the message.
pub fn schema_rs_drift(conn: &mut Conn, schema_rs: &str, they: &str) -> Result<Vec<String>, Error> {
    let postgres = matches!(conn, Conn::Postgres(_));
    let made = found(conn)?;
    let mut drift = Vec::new();
    for table in declared(schema_rs)? {
        let has = made.iter().find(|t| t.name == table.name);
        let has = has.map_or("no such table".to_owned(), |t| columns(t, postgres));
        let (name, declared) = (&table.name, columns(&table, postgres));
        if has != declared {
            drift.push(format!(
                "schema.rs declares {name}({declared}) but {they} {name}({has})"
            ));
        }
    }
    Ok(drift)
}

/// `id BigInt, bio Nullable<Text>`: a table's columns as `schema.rs` writes
/// them, each type as the database stores it.
fn columns(table: &Table, postgres: bool) -> String {
    let column = |c: &Column| {
        let rust = stored_as(&c.sql_type, postgres);
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
