//! Flask-Migrate's `flask db ...`, on diesel_migrations: the migrations in
//! `migrations/` (and `migrations-postgres/`), embedded in the binary, and
//! the commands that apply, revert, list and stamp them (`backup.rs` copies
//! the database first, `drift.rs` checks it). Each command takes the
//! migrations as a `MigrationSource`, so a test can hand it a folder of its
//! own.

use std::io::Write;
use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::migration::{Migration, MigrationSource};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_migrations::{
    EmbeddedMigrations, FileBasedMigrations, MigrationHarness, embed_migrations,
};

use crate::Error;
use crate::backend::{Conn, Location, MultiBackend};

// ANCHOR: embedded
/// The migrations, read from `migrations/` when the program compiles
/// (`build.rs` makes cargo recompile when that folder changes).
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The same versions in PostgreSQL's dialect, where the SQL differs.
pub const MIGRATIONS_POSTGRES: EmbeddedMigrations = embed_migrations!("migrations-postgres");

/// The migrations written for the database at `location`.
pub fn embedded(location: &Location) -> &'static EmbeddedMigrations {
    match location {
        Location::Sqlite(_) => &MIGRATIONS,
        Location::Postgres(_) => &MIGRATIONS_POSTGRES,
    }
}
// ANCHOR_END: embedded

type Migrations = Vec<Box<dyn Migration<MultiBackend>>>;

/// Where the `db` commands take the migrations from: the ones compiled in,
/// or a folder read when the command runs (`db --from-source ...`), which
/// needs no rebuild after an edit.
pub enum Source {
    Embedded(&'static EmbeddedMigrations),
    Folder(FileBasedMigrations),
}

impl Source {
    pub fn folder(path: &Path) -> Result<Source, Error> {
        let found = FileBasedMigrations::from_path(path);
        Ok(Source::Folder(found.map_err(|err| {
            Error::Migration(format!("{}: {err}", path.display()).into())
        })?))
    }
}

impl MigrationSource<MultiBackend> for Source {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<MultiBackend>>>> {
        match self {
            Source::Embedded(embedded) => embedded.migrations(),
            Source::Folder(folder) => folder.migrations(),
        }
    }
}

/// diesel's own table of applied versions, which `stamp` writes to.
mod versions {
    diesel::table! {
        __diesel_schema_migrations (version) {
            version -> Text,
        }
    }
}

// ANCHOR: connect
/// Opens the database for a command, creating a SQLite file (and its
/// folder) if needed. Foreign keys stay off, SQLite's default: see [`upgrade`].
pub fn connect(location: &Location) -> Result<Conn, Error> {
    let opened = match location {
        Location::Sqlite(path) => {
            if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(folder).map_err(|source| Error::CreateDir {
                    path: folder.to_path_buf(),
                    source,
                })?;
            }
            SqliteConnection::establish(&path.to_string_lossy()).map(Conn::Sqlite)
        }
        Location::Postgres(url) => PgConnection::establish(url).map(Conn::Postgres),
    };
    let mut conn = opened.map_err(|source| Error::Open {
        database: location.clone(),
        source,
    })?;
    if let (Conn::Sqlite(sqlite), Location::Sqlite(path)) = (&mut conn, location) {
        sqlite.batch_execute("PRAGMA busy_timeout = 5000")?;
        not_a_database(sqlite, path)?;
    }
    Ok(conn)
}

/// Fails in words when the file is not a database at all: the first read of
/// the file says so, and otherwise every command would report it as "cannot
/// read the migrations".
fn not_a_database(conn: &mut SqliteConnection, path: &Path) -> Result<(), Error> {
    match conn.batch_execute("SELECT count(*) FROM sqlite_schema") {
        Err(err) if err.to_string().contains("file is not a database") => {
            let path = path.to_path_buf();
            Err(Error::NotADatabase { path })
        }
        other => Ok(other?),
    }
}
// ANCHOR_END: connect

/// Every migration of `source`, oldest first.
pub fn all_migrations(source: &impl MigrationSource<MultiBackend>) -> Result<Migrations, Error> {
    let mut migrations = source.migrations().map_err(Error::Migration)?;
    migrations.sort_by(|a, b| a.name().version().cmp(&b.name().version()));
    Ok(migrations)
}

/// The versions applied to the database, oldest first.
pub fn applied(conn: &mut Conn) -> Result<Vec<String>, Error> {
    let mut versions: Vec<String> = conn
        .applied_migrations()
        .map_err(Error::Migration)?
        .iter()
        .map(ToString::to_string)
        .collect();
    versions.sort();
    Ok(versions)
}

/// The oldest migration's version: the one a database made before there
/// were migrations matches, if any does.
pub fn first_version(source: &impl MigrationSource<MultiBackend>) -> Result<String, Error> {
    let migrations = all_migrations(source)?;
    let first = migrations.first().map(|m| m.name().version().to_string());
    Ok(first.unwrap_or_default())
}

/// The versions recorded as applied, read without creating anything (none
/// when diesel's table of versions does not exist yet), where [`applied`]
/// creates that table first. `serve` reads them this way, so that serving
/// needs only the rights the app's own queries need.
pub fn recorded(conn: &mut Conn) -> Result<Vec<String>, Error> {
    let table = match conn {
        Conn::Sqlite(_) => {
            "SELECT name FROM sqlite_schema WHERE name = '__diesel_schema_migrations'"
        }
        Conn::Postgres(_) => {
            "SELECT tablename AS name FROM pg_tables
             WHERE schemaname = current_schema() AND tablename = '__diesel_schema_migrations'"
        }
    };
    if diesel::sql_query(table).load::<Name>(conn)?.is_empty() {
        return Ok(Vec::new());
    }
    use versions::__diesel_schema_migrations as applied_versions;
    let mut versions: Vec<String> = applied_versions::table
        .select(applied_versions::version)
        .load(conn)?;
    versions.sort();
    Ok(versions)
}

/// Fails unless `wanted` names exactly one migration of `source`: checked
/// before a command opens (and so perhaps creates) the database.
pub fn check_version(
    source: &impl MigrationSource<MultiBackend>,
    wanted: &str,
) -> Result<(), Error> {
    find(&all_migrations(source)?, wanted).map(|_| ())
}

/// The migration `wanted` names: its version (`20260102000001`), its
/// folder's name, or the start of either.
fn find<'a>(
    migrations: &'a Migrations,
    wanted: &str,
) -> Result<&'a dyn Migration<MultiBackend>, Error> {
    let matches = |m: &dyn Migration<MultiBackend>| {
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

/// `db upgrade [--to VERSION]`: applies the pending migrations, up to and
/// including `to`, all in one transaction: if any fails, or leaves a
/// foreign key pointing nowhere, none is applied. Returns their names.
///
/// On SQLite, foreign keys are off while it runs: SQLite ignores `PRAGMA
/// foreign_keys` inside a transaction, and a table rebuild drops and
/// recreates a table that rows may point at. `PRAGMA foreign_key_check` then
/// checks every reference before the transaction commits. PostgreSQL checks
/// each reference as it goes, and its `ALTER TABLE` is transactional too.
///
/// The transaction takes SQLite's write lock at its first change, waiting
/// up to the busy timeout for it; if another connection wrote in between,
/// the upgrade fails with "database is locked" and changes nothing. Run
/// migrations with the app stopped.
pub fn upgrade(
    conn: &mut Conn,
    source: &impl MigrationSource<MultiBackend>,
    to: Option<&str>,
) -> Result<Vec<String>, Error> {
    let migrations = all_migrations(source)?;
    let last = match to {
        Some(wanted) => Some(find(&migrations, wanted)?.name().version().to_string()),
        None => None,
    };
    foreign_keys_off(conn)?;
    conn.transaction(|conn| {
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

/// Makes commands that change the database take turns. On PostgreSQL, a
/// session-level advisory lock, held until the connection closes: a second
/// `db upgrade` waits for the first, then finds nothing left to do. On
/// SQLite the write lock already does this ("database is locked").
pub fn take_turn(conn: &mut Conn) -> Result<(), Error> {
    if let Conn::Postgres(postgres) = conn {
        postgres.batch_execute("SELECT pg_advisory_lock(20260101)")?;
    }
    Ok(())
}

/// SQLite: lets a migration rebuild a table that rows point at.
fn foreign_keys_off(conn: &mut Conn) -> Result<(), Error> {
    if let Conn::Sqlite(sqlite) = conn {
        sqlite.batch_execute("PRAGMA foreign_keys = OFF")?;
    }
    Ok(())
}

/// How many rows point at a row that does not exist. PostgreSQL refuses
/// such a row when it is written, so there it is always 0.
pub fn broken_references(conn: &mut Conn) -> Result<i64, Error> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let sql = match conn {
        Conn::Sqlite(_) => "SELECT count(*) AS count FROM pragma_foreign_key_check",
        Conn::Postgres(_) => return Ok(0),
    };
    Ok(diesel::sql_query(sql).get_result::<Count>(conn)?.count)
}

/// Fails if the migrations left more rows pointing nowhere than there were
/// before them (those `db check` reports; they are not the migrations' doing).
fn check_foreign_keys(conn: &mut Conn, before: i64) -> Result<(), Error> {
    match broken_references(conn)? - before {
        new if new > 0 => Err(Error::ForeignKeys(new)),
        _ => Ok(()),
    }
}

/// `db downgrade [--steps N]`: reverts the last `steps` applied migrations,
/// newest first, in one transaction. Returns their names.
pub fn downgrade(
    conn: &mut Conn,
    source: &impl MigrationSource<MultiBackend>,
    steps: usize,
) -> Result<Vec<String>, Error> {
    let migrations = all_migrations(source)?;
    foreign_keys_off(conn)?;
    conn.transaction(|conn| {
        let done = applied(conn)?;
        let broken_before = broken_references(conn)?;
        let mut names = Vec::new();
        for version in done.iter().rev().take(steps) {
            let migration =
                find(&migrations, version).map_err(|_| Error::UnknownApplied(version.clone()))?;
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
    conn: &mut Conn,
    source: &impl MigrationSource<MultiBackend>,
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

pub fn unknown_versions(migrations: &Migrations, done: &[String]) -> Vec<String> {
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
pub fn current(conn: &mut Conn) -> Result<Option<String>, Error> {
    Ok(applied(conn)?.pop())
}

/// How many migrations of `source` the database has not had yet.
pub fn pending(
    conn: &mut Conn,
    source: &impl MigrationSource<MultiBackend>,
) -> Result<usize, Error> {
    let done = recorded(conn)?;
    let migrations = all_migrations(source)?;
    Ok(migrations
        .iter()
        .filter(|m| !done.contains(&m.name().version().to_string()))
        .count())
}

/// `db stamp VERSION`: records the database as being at `version` exactly,
/// running nothing, as `flask db stamp` does: `version` and every older
/// migration are recorded as applied, and any later or unknown version is
/// forgotten. It adopts a database made before there were migrations, such
/// as one step 5's `init-db` made, and is the way out when a version this
/// program does not know is recorded. Returns the names stamped and the
/// versions forgotten.
pub fn stamp(
    conn: &mut Conn,
    source: &impl MigrationSource<MultiBackend>,
    version: &str,
) -> Result<(Vec<String>, Vec<String>), Error> {
    let migrations = all_migrations(source)?;
    let last = find(&migrations, version)?.name().version().to_string();
    let known: Vec<String> = migrations
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    conn.transaction(|conn| {
        let done = applied(conn)?; // also creates diesel's table of versions
        let mut stamped = Vec::new();
        for migration in &migrations {
            let version = migration.name().version().to_string();
            if version <= last && !done.contains(&version) {
                use versions::__diesel_schema_migrations as applied_versions;
                diesel::insert_into(applied_versions::table)
                    .values(applied_versions::version.eq(&version))
                    .execute(conn)?;
                stamped.push(migration.name().to_string());
            }
        }
        let mut forgotten = Vec::new();
        for version in done {
            if version > last || !known.contains(&version) {
                use versions::__diesel_schema_migrations as applied_versions;
                let row = applied_versions::table.filter(applied_versions::version.eq(&version));
                diesel::delete(row).execute(conn)?;
                forgotten.push(version);
            }
        }
        Ok((stamped, forgotten))
    })
}

/// A new migration, `up.sql` and `down.sql`, in a folder named after `now`
/// (`YYYY-MM-DD-HHMMSS`) and `name`: `db new` writes them empty, `db
/// migrate` writes a draft.
pub fn new_migration(
    folder: &Path,
    name: &str,
    now: &str,
    [up, down]: [&str; 2],
) -> Result<PathBuf, Error> {
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
    for (file, text) in [("up.sql", up), ("down.sql", down)] {
        std::fs::write(dir.join(file), text)?;
    }
    Ok(dir)
}

/// One text column, for the catalogue queries.
#[derive(QueryableByName)]
pub struct Name {
    #[diesel(sql_type = Text)]
    pub name: String,
}

/// Rows in the user tables (not the database's or diesel's own).
pub fn row_count(conn: &mut Conn) -> Result<i64, Error> {
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

/// The tables of the app, as the database's catalogue lists them.
pub fn tables(conn: &mut Conn) -> Result<Vec<String>, Error> {
    let sql = match conn {
        Conn::Sqlite(_) => {
            "SELECT name FROM sqlite_schema WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' ORDER BY name"
        }
        Conn::Postgres(_) => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()
             AND tablename <> '__diesel_schema_migrations' ORDER BY tablename"
        }
    };
    let names: Vec<Name> = diesel::sql_query(sql).load(conn)?;
    Ok(names.into_iter().map(|n| n.name).collect())
}
