//! Flask-Migrate's `flask db ...`, on diesel_migrations: the migrations in
//! `migrations/`, embedded in the binary, and the commands that apply,
//! revert, list, stamp and check them. Each command takes the migrations
//! as a `MigrationSource`, so a test can hand it a folder of its own.

use std::io::Write;
use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::migration::{Migration, MigrationSource};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::Sqlite;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::Error;
use crate::schema::{post, user};

// ANCHOR: embedded
/// The migrations, read from `migrations/` when the program compiles
/// (`build.rs` makes cargo recompile when that folder changes).
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
// ANCHOR_END: embedded

type Migrations = Vec<Box<dyn Migration<Sqlite>>>;

/// Opens the database for a migration command, creating the file if needed.
/// Foreign keys stay off, SQLite's default: see [`upgrade`].
pub fn connect(path: &Path) -> Result<SqliteConnection, Error> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|source| Error::CreateDir {
            path: folder.to_path_buf(),
            source,
        })?;
    }
    let mut conn =
        SqliteConnection::establish(&path.to_string_lossy()).map_err(|source| Error::Open {
            path: path.to_path_buf(),
            source,
        })?;
    conn.batch_execute("PRAGMA busy_timeout = 5000")?;
    Ok(conn)
}

/// Every migration of `source`, oldest first.
pub fn all_migrations(source: &impl MigrationSource<Sqlite>) -> Result<Migrations, Error> {
    let mut migrations = source.migrations().map_err(Error::Migration)?;
    migrations.sort_by(|a, b| a.name().version().cmp(&b.name().version()));
    Ok(migrations)
}

/// The versions applied to the database, oldest first.
pub fn applied(conn: &mut SqliteConnection) -> Result<Vec<String>, Error> {
    let mut versions: Vec<String> = conn
        .applied_migrations()
        .map_err(Error::Migration)?
        .iter()
        .map(ToString::to_string)
        .collect();
    versions.sort();
    Ok(versions)
}

/// Fails unless `wanted` names exactly one migration of `source`: checked
/// before a command opens (and so perhaps creates) the database.
pub fn check_version(source: &impl MigrationSource<Sqlite>, wanted: &str) -> Result<(), Error> {
    find(&all_migrations(source)?, wanted).map(|_| ())
}

/// The migration `wanted` names: its version (`20260102000001`), its
/// folder's name, or the start of either.
fn find<'a>(migrations: &'a Migrations, wanted: &str) -> Result<&'a dyn Migration<Sqlite>, Error> {
    let matches = |m: &dyn Migration<Sqlite>| {
        m.name().version().to_string().starts_with(wanted)
            || m.name().to_string().starts_with(wanted)
    };
    if wanted.is_empty() {
        return Err(Error::UnknownVersion(wanted.to_owned()));
    }
    let mut found = migrations.iter().filter(|m| matches(m.as_ref()));
    match (found.next(), found.next()) {
        (Some(one), None) => Ok(one.as_ref()),
        (None, _) => Err(Error::UnknownVersion(wanted.to_owned())),
        (Some(_), Some(_)) => Err(Error::AmbiguousVersion(wanted.to_owned())),
    }
}

// ANCHOR: upgrade
/// `db upgrade [--to VERSION]`: applies the pending migrations, up to and
/// including `to`, all in one transaction: if any fails, or leaves a
/// foreign key pointing nowhere, none is applied. Returns their names.
///
/// Foreign keys are off while it runs: SQLite ignores `PRAGMA foreign_keys`
/// inside a transaction, and a table rebuild drops and recreates a table
/// that rows may point at. `PRAGMA foreign_key_check` then checks every
/// reference before the transaction commits.
pub fn upgrade(
    conn: &mut SqliteConnection,
    source: &impl MigrationSource<Sqlite>,
    to: Option<&str>,
) -> Result<Vec<String>, Error> {
    let migrations = all_migrations(source)?;
    let last = match to {
        Some(wanted) => Some(find(&migrations, wanted)?.name().version().to_string()),
        None => None,
    };
    conn.batch_execute("PRAGMA foreign_keys = OFF")?;
    conn.immediate_transaction(|conn| {
        let done = applied(conn)?;
        let broken_before = broken_references(conn)?;
        let mut names = Vec::new();
        for migration in &migrations {
            let version = migration.name().version().to_string();
            if last.as_ref().is_some_and(|last| version > *last) {
                break;
            }
            if !done.contains(&version) {
                conn.run_migration(migration.as_ref())
                    .map_err(|err| Error::MigrationFailed(migration.name().to_string(), err))?;
                names.push(migration.name().to_string());
            }
        }
        check_foreign_keys(conn, broken_before)?;
        Ok(names)
    })
}
// ANCHOR_END: upgrade

/// How many rows point at a row that does not exist.
pub fn broken_references(conn: &mut SqliteConnection) -> Result<i64, Error> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let sql = "SELECT count(*) AS count FROM pragma_foreign_key_check";
    Ok(diesel::sql_query(sql).get_result::<Count>(conn)?.count)
}

/// Fails if the migrations left more rows pointing nowhere than there were
/// before them (those `db check` reports; they are not the migrations' doing).
fn check_foreign_keys(conn: &mut SqliteConnection, before: i64) -> Result<(), Error> {
    match broken_references(conn)? - before {
        new if new > 0 => Err(Error::ForeignKeys(new)),
        _ => Ok(()),
    }
}

/// `db downgrade [--steps N]`: reverts the last `steps` applied migrations,
/// newest first, in one transaction. Returns their names.
pub fn downgrade(
    conn: &mut SqliteConnection,
    source: &impl MigrationSource<Sqlite>,
    steps: usize,
) -> Result<Vec<String>, Error> {
    let migrations = all_migrations(source)?;
    conn.batch_execute("PRAGMA foreign_keys = OFF")?;
    conn.immediate_transaction(|conn| {
        let done = applied(conn)?;
        let broken_before = broken_references(conn)?;
        let mut names = Vec::new();
        for version in done.iter().rev().take(steps) {
            let migration = find(&migrations, version)?;
            conn.revert_migration(migration)
                .map_err(|err| Error::MigrationFailed(migration.name().to_string(), err))?;
            names.push(migration.name().to_string());
        }
        check_foreign_keys(conn, broken_before)?;
        Ok(names)
    })
}

/// `db history`: every migration, applied or pending, oldest first; then
/// any applied version this program does not know.
pub fn history(
    conn: &mut SqliteConnection,
    source: &impl MigrationSource<Sqlite>,
    out: &mut impl Write,
) -> Result<(), Error> {
    let migrations = all_migrations(source)?;
    let done = applied(conn)?;
    for migration in &migrations {
        let state = match done.contains(&migration.name().version().to_string()) {
            true => "applied",
            false => "pending",
        };
        writeln!(out, "{state:<8} {}", migration.name())?;
    }
    for version in unknown_versions(&migrations, &done) {
        writeln!(
            out,
            "unknown  {version} (applied, but not among this program's migrations)"
        )?;
    }
    Ok(())
}

fn unknown_versions(migrations: &Migrations, done: &[String]) -> Vec<String> {
    let known: Vec<String> = migrations
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    done.iter()
        .filter(|v| !known.contains(v))
        .cloned()
        .collect()
}

/// `db current`: the newest version applied, if any.
pub fn current(conn: &mut SqliteConnection) -> Result<Option<String>, Error> {
    Ok(applied(conn)?.pop())
}

/// How many migrations of `source` the database has not had yet.
pub fn pending(
    conn: &mut SqliteConnection,
    source: &impl MigrationSource<Sqlite>,
) -> Result<usize, Error> {
    let done = applied(conn)?;
    let migrations = all_migrations(source)?;
    Ok(migrations
        .iter()
        .filter(|m| !done.contains(&m.name().version().to_string()))
        .count())
}

// ANCHOR: stamp
/// `db stamp VERSION`: records `version` and every older migration as
/// applied, running nothing, as `flask db stamp` does. It adopts a database
/// made before there were migrations, such as one step 5's `init-db` made.
pub fn stamp(
    conn: &mut SqliteConnection,
    source: &impl MigrationSource<Sqlite>,
    version: &str,
) -> Result<Vec<String>, Error> {
    let migrations = all_migrations(source)?;
    let last = find(&migrations, version)?.name().version().to_string();
    conn.immediate_transaction(|conn| {
        let done = applied(conn)?; // also creates diesel's table of versions
        let mut stamped = Vec::new();
        for migration in &migrations {
            let version = migration.name().version().to_string();
            if version <= last && !done.contains(&version) {
                diesel::sql_query("INSERT INTO __diesel_schema_migrations (version) VALUES (?)")
                    .bind::<Text, _>(&version)
                    .execute(conn)?;
                stamped.push(migration.name().to_string());
            }
        }
        Ok(stamped)
    })
}
// ANCHOR_END: stamp

/// `db new NAME`: an empty `up.sql` and `down.sql` in a folder named after
/// `now` (`YYYY-MM-DD-HHMMSS`) and `name`, as `flask db migrate -m` makes a
/// revision file; diesel does not write the SQL from the models.
pub fn new_migration(folder: &Path, name: &str, now: &str) -> Result<PathBuf, Error> {
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(Error::MigrationName(stepkit::quote(name)));
    }
    let dir = folder.join(format!("{now}_{name}"));
    std::fs::create_dir_all(folder).map_err(|source| Error::CreateDir {
        path: folder.to_path_buf(),
        source,
    })?;
    // `create_dir`, not `create_dir_all`: an existing migration is never emptied.
    std::fs::create_dir(&dir).map_err(|source| Error::CreateDir {
        path: dir.clone(),
        source,
    })?;
    for (file, what) in [("up.sql", "the change"), ("down.sql", "how to undo it")] {
        std::fs::write(dir.join(file), format!("-- {what}\n"))?;
    }
    Ok(dir)
}

// ANCHOR: backup
/// Copies the database into `<file>.backup-<version>` next to it (or
/// `.backup-<version>.2`, and so on, beside an older one), with `VACUUM
/// INTO`, which writes a consistent copy while the database stays open.
/// Returns `None` for a database that holds no rows yet.
pub fn backup(conn: &mut SqliteConnection, path: &Path) -> Result<Option<PathBuf>, Error> {
    if row_count(conn)? == 0 {
        return Ok(None);
    }
    let version = current(conn)?.unwrap_or_else(|| "none".to_owned());
    let name = |n: u32| match n {
        1 => format!("{}.backup-{version}", path.display()),
        n => format!("{}.backup-{version}.{n}", path.display()),
    };
    // An older backup may be the only copy of something: never overwrite one.
    let copy = (1..)
        .map(|n| PathBuf::from(name(n)))
        .find(|candidate| !candidate.exists())
        .unwrap_or_default();
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(copy.to_string_lossy())
        .execute(conn)?;
    Ok(Some(copy))
}
// ANCHOR_END: backup

/// Rows in the user tables (not SQLite's or diesel's own).
pub fn row_count(conn: &mut SqliteConnection) -> Result<i64, Error> {
    let mut total = 0;
    for table in tables(conn)? {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            count: i64,
        }
        let sql = format!("SELECT count(*) AS count FROM \"{table}\"");
        total += diesel::sql_query(sql).get_result::<Count>(conn)?.count;
    }
    Ok(total)
}

/// The tables of the app, as SQLite's catalogue lists them.
pub fn tables(conn: &mut SqliteConnection) -> Result<Vec<String>, Error> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let names: Vec<Name> = diesel::sql_query(
        "SELECT name FROM sqlite_schema WHERE type = 'table'
         AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' ORDER BY name",
    )
    .load(conn)?;
    Ok(names.into_iter().map(|n| n.name).collect())
}

// ANCHOR: check
/// `db check`: what differs between the database and what this program
/// was compiled for. Versions: applied against embedded. Structure: a fresh
/// in-memory database migrated from `source`, compared table by table with
/// this one through `table_info`, `index_list` and `foreign_key_list`. And
/// `schema.rs` against that fresh database. Empty means no drift.
pub fn check(
    conn: &mut SqliteConnection,
    source: &impl MigrationSource<Sqlite>,
) -> Result<Vec<String>, Error> {
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
    drift.extend(schema_rs_drift(&mut fresh)?);
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
        without_comments
            .join(" ")
            .replace('"', "")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
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

/// Where `schema.rs` and the migrated tables disagree about columns.
fn schema_rs_drift(fresh: &mut SqliteConnection) -> Result<Vec<String>, Error> {
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let declared = [
        (
            "user",
            diesel::debug_query::<Sqlite, _>(&user::table.select(user::all_columns)).to_string(),
        ),
        (
            "post",
            diesel::debug_query::<Sqlite, _>(&post::table.select(post::all_columns)).to_string(),
        ),
    ];
    let mut drift = Vec::new();
    for (table, select) in declared {
        let migrated: Vec<String> =
            diesel::sql_query("SELECT name FROM pragma_table_info(?) ORDER BY cid")
                .bind::<Text, _>(table)
                .load::<Column>(fresh)?
                .into_iter()
                .map(|column| column.name)
                .collect();
        let in_schema_rs: Vec<String> = select
            .split(" FROM ")
            .next()
            .unwrap_or_default()
            .trim_start_matches("SELECT ")
            .split(", ")
            .map(|column| {
                column
                    .rsplit('.')
                    .next()
                    .unwrap_or_default()
                    .trim_matches('`')
                    .to_owned()
            })
            .collect();
        if migrated != in_schema_rs {
            drift.push(format!(
                "schema.rs declares {table}({}) but the migrations make {table}({})",
                in_schema_rs.join(", "),
                migrated.join(", ")
            ));
        }
    }
    Ok(drift)
}
