//! Flask-Migrate's `flask db ...`, on diesel_migrations: the migrations in
//! `migrations/` (and `migrations-postgres/`), embedded in the binary, and
//! the commands that apply, revert, list, stamp and check them. Each command
//! takes the migrations as a `MigrationSource`, so a test can hand it a
//! folder of its own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use diesel::connection::SimpleConnection;
use diesel::migration::{Migration, MigrationSource};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::Error;
use crate::backend::{Conn, Location, MultiBackend, UrlParts};
use crate::schema::{post, user};

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
    if let Conn::Sqlite(sqlite) = &mut conn {
        sqlite.batch_execute("PRAGMA busy_timeout = 5000")?;
    }
    Ok(conn)
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
pub fn current(conn: &mut Conn) -> Result<Option<String>, Error> {
    Ok(applied(conn)?.pop())
}

/// How many migrations of `source` the database has not had yet.
pub fn pending(
    conn: &mut Conn,
    source: &impl MigrationSource<MultiBackend>,
) -> Result<usize, Error> {
    let done = applied(conn)?;
    let migrations = all_migrations(source)?;
    Ok(migrations
        .iter()
        .filter(|m| !done.contains(&m.name().version().to_string()))
        .count())
}

/// `db stamp VERSION`: records `version` and every older migration as
/// applied, running nothing, as `flask db stamp` does. It adopts a database
/// made before there were migrations, such as one step 5's `init-db` made.
pub fn stamp(
    conn: &mut Conn,
    source: &impl MigrationSource<MultiBackend>,
    version: &str,
) -> Result<Vec<String>, Error> {
    let migrations = all_migrations(source)?;
    let last = find(&migrations, version)?.name().version().to_string();
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
        Ok(stamped)
    })
}

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
/// What [`backup`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backup {
    /// The copy, in this file.
    Made(PathBuf),
    /// Nothing to copy: the database holds no rows yet.
    Empty,
    /// No copy was made, for this reason.
    Skipped(String),
}

/// Copies the database before a migration changes it. SQLite: into
/// `<file>.backup-<version>` next to it (or `.backup-<version>.2`, and so
/// on, beside an older one), with `VACUUM INTO`, which writes a consistent
/// copy while the database stays open. PostgreSQL: `pg_dump` writes the
/// same into `instance/<database>.backup-<version>.sql`, if it is installed.
pub fn backup(conn: &mut Conn, location: &Location) -> Result<Backup, Error> {
    if row_count(conn)? == 0 {
        return Ok(Backup::Empty);
    }
    let version = current(conn)?.unwrap_or_else(|| "none".to_owned());
    let base = match location {
        Location::Sqlite(path) => format!("{}.backup-{version}", path.display()),
        Location::Postgres(_) => {
            // The name becomes a file name: nothing in it may lead elsewhere.
            let name =
                database_name(conn)?.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_");
            format!("instance/{name}.backup-{version}")
        }
    };
    // An older backup may be the only copy of something: never overwrite one.
    let extension = if matches!(location, Location::Postgres(_)) {
        ".sql"
    } else {
        ""
    };
    let copy = (1..)
        .map(|n| match n {
            1 => PathBuf::from(format!("{base}{extension}")),
            n => PathBuf::from(format!("{base}.{n}{extension}")),
        })
        .find(|candidate| !candidate.exists())
        .unwrap_or_default();
    match location {
        Location::Sqlite(_) => {
            diesel::sql_query("VACUUM INTO ?")
                .bind::<Text, _>(copy.to_string_lossy())
                .execute(conn)?;
            Ok(Backup::Made(copy))
        }
        Location::Postgres(url) => pg_dump(url, &copy),
    }
}
// ANCHOR_END: backup

/// Runs `pg_dump` into `copy`; a missing `pg_dump` skips the backup. The
/// password goes in `PGPASSWORD`, which other users cannot read, not on
/// the command line, which `ps` shows them.
fn pg_dump(url: &str, copy: &Path) -> Result<Backup, Error> {
    let parts = UrlParts::of(url);
    let options: Vec<&str> = parts.options.map_or(Vec::new(), |o| o.split('&').collect());
    let (secret, kept): (Vec<&str>, Vec<&str>) = options
        .iter()
        .partition(|pair| pair.starts_with("password="));
    let in_options = secret.first().map(|pair| &pair["password=".len()..]);
    let password = parts.password.or(in_options).map(percent_decoded);
    let user = parts
        .user
        .map(|user| format!("{user}@"))
        .unwrap_or_default();
    let options = match kept.is_empty() {
        true => String::new(),
        false => format!("?{}", kept.join("&")),
    };
    let url = format!("{}://{user}{}{options}", parts.scheme, parts.server);
    if let Some(folder) = copy.parent() {
        std::fs::create_dir_all(folder).map_err(|source| Error::CreateDir {
            path: folder.to_path_buf(),
            source,
        })?;
    }
    let mut command = Command::new("pg_dump");
    command
        .args(["--no-password", "--file"])
        .arg(copy)
        .arg("--dbname")
        .arg(url)
        .stdin(Stdio::null());
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    let run = command.output();
    match run {
        Ok(done) if done.status.success() => Ok(Backup::Made(copy.to_path_buf())),
        Ok(done) => {
            let said = String::from_utf8_lossy(&done.stderr);
            let first = said.lines().next().unwrap_or("it failed").to_owned();
            Err(Error::Dump(stepkit::printable(&first)))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Backup::Skipped(
            "pg_dump is not on the PATH (it comes with PostgreSQL's client tools)".to_owned(),
        )),
        Err(err) => Err(Error::Dump(err.to_string())),
    }
}

/// `text` with its `%XX` escapes decoded: the password as libpq reads it.
pub fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                at += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// One text column, for the catalogue queries below.
#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// The name of the database `conn` is connected to (PostgreSQL).
fn database_name(conn: &mut Conn) -> Result<String, Error> {
    let found: Name = diesel::sql_query("SELECT current_database() AS name").get_result(conn)?;
    Ok(found.name)
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

/// `db check`: what differs between the database and what this program
/// was compiled for. Versions: applied against embedded. Structure: an
/// empty database migrated from `source` (see [`migrated_afresh`]), compared
/// table by table with this one: columns, indexes, foreign keys and
/// constraints. And `schema.rs` against that fresh database. Empty means no
/// drift.
pub fn check(
    conn: &mut Conn,
    source: &impl MigrationSource<MultiBackend>,
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
    let found = Picture::of(conn)?;
    let expected = migrated_afresh(conn, source)?;
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
) -> Result<Picture, Error> {
    let migrate_and_look = |fresh: &mut Conn| -> Result<Picture, Error> {
        upgrade(fresh, source, None)?;
        let mut picture = Picture::of(fresh)?;
        picture.schema_rs_drift = schema_rs_drift(fresh)?;
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

/// Where `schema.rs` and the migrated tables disagree about columns.
fn schema_rs_drift(fresh: &mut Conn) -> Result<Vec<String>, Error> {
    let declared = [
        (
            "user",
            diesel::debug_query::<diesel::sqlite::Sqlite, _>(
                &user::table.select(user::all_columns),
            )
            .to_string(),
        ),
        (
            "post",
            diesel::debug_query::<diesel::sqlite::Sqlite, _>(
                &post::table.select(post::all_columns),
            )
            .to_string(),
        ),
    ];
    let columns = match fresh {
        Conn::Sqlite(_) => "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
        Conn::Postgres(_) => {
            "SELECT column_name AS name FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    let mut drift = Vec::new();
    for (table, select) in declared {
        let migrated: Vec<String> = diesel::sql_query(columns)
            .bind::<Text, _>(table)
            .load::<Name>(fresh)?
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
