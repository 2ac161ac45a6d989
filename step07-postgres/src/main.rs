//! The command line of step 7. With no command it runs the walkthrough.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use step07_postgres::backend::{Conn, Location};
use step07_postgres::backup::{self, Backup};
use step07_postgres::migrate::Source;
use step07_postgres::{Config, Error, config, create_app, db, walkthrough};
use step07_postgres::{draft, drift, migrate, print_schema, upkeep};

/// The step's migrations and schema.rs in the source tree, from the
/// workspace root: where `db new` and `db migrate` write, and what
/// `--from-source` reads.
const MIGRATIONS_FOLDER: &str = "step07-postgres/migrations";
const MIGRATIONS_POSTGRES_FOLDER: &str = "step07-postgres/migrations-postgres";
const SCHEMA_RS_FILE: &str = "step07-postgres/src/schema.rs";

/// Step 7: step 6's blog and migrations on SQLite or, given a postgres://
/// URL, on a PostgreSQL server.
///
/// With no command, runs a narrated walkthrough on a fresh demo database
/// (instance/step07-walkthrough.sqlite).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The database for `db` and `serve`: a SQLite path or sqlite: URL, or a
    /// postgres:// URL [default: instance/step07.sqlite]
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        hide_env_values = true,
        value_name = "PATH_OR_URL"
    )]
    database: Option<String>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrations: `flask db` in Rust.
    Db(DbArgs),
    /// Serve the app on 127.0.0.1 until Ctrl-C or SIGTERM. It refuses a
    /// database with pending migrations. It logs each request to stderr
    /// (RUST_LOG=warn quiets it; RUST_LOG=info,step07_postgres=debug adds each connection
    /// checked out and given back). Sessions are signed with SECRET_KEY (128 hex
    /// digits), or else with a key generated once into
    /// instance/step07-secret-key.
    Serve {
        /// The port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 5000)]
        port: u16,
        /// Apply pending migrations first (with a backup), then serve.
        #[arg(long)]
        migrate: bool,
    },
}

#[derive(Debug, clap::Args)]
struct DbArgs {
    /// Read the migrations (for the database's dialect) and schema.rs from
    /// step07-postgres/ under the current folder when the command runs, not
    /// the copies compiled in, so that an edit needs no rebuild.
    #[arg(long, global = true)]
    from_source: bool,

    #[command(subcommand)]
    command: Db,
}

#[derive(Debug, Subcommand)]
enum Db {
    /// Apply the pending migrations, in one transaction, after a backup.
    Upgrade {
        /// Stop after this version (see `db history`).
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Do not back the database up first.
        #[arg(long)]
        no_backup: bool,
    },
    /// Revert the newest applied migrations, in one transaction, after a backup.
    Downgrade {
        /// How many to revert (1 to 1000).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
        steps: u16,
        /// Do not back the database up first.
        #[arg(long)]
        no_backup: bool,
    },
    /// List every migration, applied or pending.
    History,
    /// Print the version the database is at.
    Current,
    /// Create an empty migration (up.sql and down.sql) to fill in by hand.
    New {
        /// What it does, in letters, digits and _ (`add_post_views`).
        name: String,
        /// The migrations folder to create it in.
        #[arg(long, default_value = MIGRATIONS_FOLDER)]
        dir: PathBuf,
    },
    /// Draft a migration from what schema.rs declares and the database
    /// lacks (or has and schema.rs does not): review it, then `db upgrade`.
    Migrate {
        /// What it does, in words: it names the migration's folder.
        #[arg(short, long)]
        message: String,
        /// The migrations folder to create it in [default: the database's
        /// dialect's, step07-postgres/migrations or migrations-postgres]
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Record the database as at VERSION, running nothing: older migrations
    /// applied, later or unknown ones forgotten (adopts a database step 5's
    /// init-db made: `db stamp 20260101000001`).
    Stamp {
        /// The version the database already matches.
        version: String,
    },
    /// Compare the database with the migrations and schema.rs, and check
    /// the file is sound; report drift and damage.
    Check,
    /// Reclaim the space deleted rows left, refresh the planner's statistics.
    Vacuum,
    /// Print schema.rs for the database as it is (diesel's print-schema).
    PrintSchema,
    /// Run one SQL statement and print its rows (or how many it changed).
    Sql {
        /// The statement, quoted for the shell: "SELECT * FROM user".
        statement: String,
    },
}

fn main() -> ExitCode {
    stepkit::exit(run(Cli::parse()))
}

fn run(cli: Cli) -> Result<(), Error> {
    // The walkthrough has a database of its own; only the commands read this.
    let database = || db::location(cli.database.as_deref());
    let out = &mut std::io::stdout().lock();
    match cli.command {
        None => walkthrough::run(out),
        Some(Command::Db(args)) => {
            let location = database()?;
            let code = Code::new(args.from_source, &location)?;
            db_command(args.command, &code, &location, out)
        }
        Some(Command::Serve { port, migrate }) => serve(database()?, port, migrate),
    }
}

/// What the `db` commands hold the database up to: the migrations for its
/// dialect and schema.rs, as compiled in or, with `--from-source`, as they
/// are now.
struct Code {
    migrations: Source,
    folder: &'static str,
    schema_rs: String,
    from_source: bool,
}

impl Code {
    fn new(from_source: bool, location: &Location) -> Result<Code, Error> {
        let folder = match location {
            Location::Sqlite(_) => MIGRATIONS_FOLDER,
            Location::Postgres(_) => MIGRATIONS_POSTGRES_FOLDER,
        };
        if !from_source {
            let (migrations, schema_rs) = (migrate::embedded(location), draft::SCHEMA_RS);
            let (migrations, schema_rs) = (Source::Embedded(migrations), schema_rs.to_owned());
            return Ok(Code {
                migrations,
                folder,
                schema_rs,
                from_source,
            });
        }
        let read = |path: &str| {
            let source = |source| Error::Read {
                path: path.into(),
                source,
            };
            std::fs::read_to_string(path).map_err(source)
        };
        let migrations = Source::folder(Path::new(folder))?;
        Ok(Code {
            migrations,
            folder,
            schema_rs: read(SCHEMA_RS_FILE)?,
            from_source,
        })
    }
}

/// Runs one `db` command at `location`: one function each.
fn db_command(
    command: Db,
    code: &Code,
    location: &Location,
    out: &mut impl Write,
) -> Result<(), Error> {
    let source = &code.migrations;
    match command {
        Db::Upgrade { to, no_backup } => {
            db_upgrade(location, source, to.as_deref(), no_backup, out)
        }
        Db::Downgrade { steps, no_backup } => {
            db_downgrade(location, source, steps.into(), no_backup, out)
        }
        Db::History => db_history(location, source, out),
        Db::Current => db_current(location, out),
        Db::New { name, dir } => db_new(&name, &dir, out),
        Db::Migrate { message, dir } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(code.folder));
            db_migrate(location, code, &message, &dir, out)
        }
        Db::Stamp { version } => db_stamp(location, source, &version, out),
        Db::Check => db_check(location, code, out),
        Db::Vacuum => db_vacuum(location, out),
        Db::PrintSchema => db_print_schema(location, out),
        Db::Sql { statement } => {
            step07_postgres::shell::run(&mut existing(location)?, &statement, out)
        }
    }
}

/// Opens a database that must exist already: only `upgrade` and `stamp`
/// may make one; the other commands read it.
fn existing(location: &Location) -> Result<Conn, Error> {
    if matches!(location, Location::Sqlite(path) if !path.exists()) {
        return Err(Error::NoDatabase {
            database: location.clone(),
        });
    }
    migrate::connect(location)
}

/// Waits until no other command is changing the database (PostgreSQL's
/// advisory lock; SQLite's write lock already lets one in at a time).
fn for_change(conn: Result<Conn, Error>) -> Result<Conn, Error> {
    let mut conn = conn?;
    migrate::take_turn(&mut conn)?;
    Ok(conn)
}

/// `db upgrade [--to VERSION]`: a backup if there is work, then the pending
/// migrations up to `to`, in one transaction.
fn db_upgrade(
    location: &Location,
    source: &Source,
    to: Option<&str>,
    no_backup: bool,
    out: &mut impl Write,
) -> Result<(), Error> {
    if let Some(version) = to {
        migrate::check_version(source, version)?; // a typo makes no file
    }
    let conn = &mut for_change(migrate::connect(location))?;
    let pending = migrate::pending(conn, source)? > 0;
    if migrate::current(conn)?.is_none() && !migrate::tables(conn)?.is_empty() {
        let first = migrate::first_version(source)?;
        let database = location.clone();
        return Err(Error::NotAdopted { database, first });
    }
    let copy = back_up_unless(no_backup || !pending, conn, location, out)?;
    let applied = migrate::upgrade(conn, source, to).map_err(|err| undone(err, copy, location))?;
    let none = match to {
        Some(to) if pending => format!("Nothing to apply up to {to}: the database is past it."),
        _ => "Nothing to apply: the database is up to date.".to_owned(),
    };
    report(out, "Applied", &applied, &none)
}

/// `db downgrade [--steps N]`: a backup, then the newest `steps` migrations
/// reverted, in one transaction.
fn db_downgrade(
    location: &Location,
    source: &Source,
    steps: usize,
    no_backup: bool,
    out: &mut impl Write,
) -> Result<(), Error> {
    let conn = &mut for_change(existing(location))?;
    let applied = migrate::current(conn)?.is_some();
    let copy = back_up_unless(no_backup || !applied, conn, location, out)?;
    let reverted =
        migrate::downgrade(conn, source, steps).map_err(|err| undone(err, copy, location))?;
    let none = "Nothing to revert: no migration is applied.";
    report(out, "Reverted", &reverted, none)
}

/// `db history`: every migration, applied or pending.
fn db_history(location: &Location, source: &Source, out: &mut impl Write) -> Result<(), Error> {
    migrate::history(&mut existing(location)?, source, out)
}

/// `db current`: the version the database is at.
fn db_current(location: &Location, out: &mut impl Write) -> Result<(), Error> {
    let version = migrate::current(&mut existing(location)?)?;
    let shown = version.as_deref().unwrap_or("none (no migration applied)");
    Ok(writeln!(out, "{shown}")?)
}

/// The time as a version (`YYYY-MM-DD-HHMMSS`), a second later for each
/// migration in `dir` that has it already: two made in one second would
/// otherwise share a version, and diesel would run only one of them.
fn free_version(dir: &Path) -> String {
    let names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    let mut time = chrono::Utc::now();
    loop {
        let version = time.format("%Y-%m-%d-%H%M%S").to_string();
        if !names
            .iter()
            .any(|name| name.starts_with(&format!("{version}_")))
        {
            return version;
        }
        time += chrono::Duration::seconds(1);
    }
}

/// `db new NAME`: an empty pair of files to fill in by hand.
fn db_new(name: &str, dir: &Path, out: &mut impl Write) -> Result<(), Error> {
    let now = free_version(dir);
    let empty = ["-- the change\n", "-- how to undo it\n"];
    let created = migrate::new_migration(dir, name, &now, empty)?;
    let next = "write the change, rebuild (the binary embeds its migrations), then `db upgrade`";
    Ok(writeln!(
        out,
        "Created {}/up.sql and down.sql: {next}.",
        created.display()
    )?)
}

/// `db migrate -m MESSAGE`: a draft of the migration from the database to
/// schema.rs, in a new folder named after the time and the message.
fn db_migrate(
    location: &Location,
    code: &Code,
    message: &str,
    dir: &Path,
    out: &mut impl Write,
) -> Result<(), Error> {
    let name = folder_name(message)?;
    let conn = &mut existing(location)?;
    let Some(draft) = draft::draft(conn, &code.migrations, &code.schema_rs, message)? else {
        let which = match code.from_source {
            true => "schema.rs",
            false => {
                "schema.rs as compiled in (after an edit, a rebuild or --from-source reads it)"
            }
        };
        return Ok(writeln!(
            out,
            "Nothing to draft: the database matches {which}."
        )?);
    };
    let now = free_version(dir);
    let created = migrate::new_migration(dir, &name, &now, [&draft.up, &draft.down])?;
    writeln!(out, "Drafted {}:", created.display())?;
    for change in &draft.changes {
        writeln!(out, "  {change}")?;
    }
    Ok(writeln!(
        out,
        "It is a draft: read up.sql and down.sql before `db upgrade`."
    )?)
}

/// `add user bio` → `add_user_bio`: the message as a folder name.
fn folder_name(message: &str) -> Result<String, Error> {
    let words: Vec<String> = message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    match words.join("_") {
        name if name.is_empty() => Err(Error::Message(stepkit::quote(message))),
        name => Ok(name.chars().take(60).collect()),
    }
}

/// `db stamp VERSION`: records migrations as applied, running nothing.
fn db_stamp(
    location: &Location,
    source: &Source,
    version: &str,
    out: &mut impl Write,
) -> Result<(), Error> {
    migrate::check_version(source, version)?; // a typo makes no file
    let (stamped, forgotten) =
        migrate::stamp(&mut for_change(existing(location))?, source, version)?;
    let none = "Nothing to stamp: those are applied already.";
    if !stamped.is_empty() || forgotten.is_empty() {
        report(out, "Stamped", &stamped, none)?;
    }
    for version in forgotten {
        let version = stepkit::printable(&version);
        writeln!(out, "Forgot {version}: it is no longer recorded as applied")?;
    }
    Ok(())
}

/// `db print-schema`: diesel's picture of the database, on stdout.
fn db_print_schema(location: &Location, out: &mut impl Write) -> Result<(), Error> {
    let schema = print_schema::print_schema(&mut existing(location)?)?;
    writeln!(
        out,
        "// `db print-schema` of {location}: review it before it replaces src/schema.rs.\n"
    )?;
    Ok(write!(out, "{schema}")?)
}

/// `db vacuum`: the upkeep, and what it freed.
fn db_vacuum(location: &Location, out: &mut impl Write) -> Result<(), Error> {
    let (before, after) = upkeep::vacuum(&mut existing(location)?)?;
    let freed = match before.bytes - after.bytes {
        freed if freed >= 0 => format!("{freed} bytes freed"),
        grew => format!("it grew by {} bytes (ANALYZE's statistics)", -grew),
    };
    writeln!(
        out,
        "Vacuumed {location}: {} pages ({} bytes) before, {} ({} bytes) after; {freed}.",
        before.pages, before.bytes, after.pages, after.bytes
    )?;
    Ok(())
}

/// `db check`: the drift between the database and the migrations, one line
/// each; drift is a failure, so that a script can stop on it.
fn db_check(location: &Location, code: &Code, out: &mut impl Write) -> Result<(), Error> {
    let drift = drift::check(&mut existing(location)?, &code.migrations, &code.schema_rs)?;
    for line in &drift {
        writeln!(out, "drift: {line}")?;
    }
    match drift.len() {
        0 => Ok(writeln!(
            out,
            "No drift: the database matches the migrations and schema.rs."
        )?),
        count => Err(Error::Drift(count)),
    }
}

/// Writes the backup next to the database, unless told not to, and says where.
fn back_up_unless(
    skip: bool,
    conn: &mut Conn,
    location: &Location,
    out: &mut impl Write,
) -> Result<Option<PathBuf>, Error> {
    if skip {
        return Ok(None);
    }
    match backup::make(conn, location)? {
        Backup::Made(copy) => {
            writeln!(out, "Backed up {location} to {}", copy.display())?;
            Ok(Some(copy))
        }
        Backup::Skipped(why) => {
            writeln!(out, "Did not back up {location}: {why}.")?;
            Ok(None)
        }
        Backup::Empty => Ok(None),
    }
}

/// A migration that could not start because another program held the write
/// lock, or that was refused for a version this program does not know,
/// changed nothing: it is said so, and the backup made for it, the database
/// as it still is, goes, so that retries leave no pile of copies.
fn undone(err: Error, copy: Option<PathBuf>, location: &Location) -> Error {
    let locked = |said: &str| said.contains("database is locked") || said.contains("lock timeout");
    let busy = match &err {
        Error::Diesel(diesel::result::Error::DatabaseError(_, info)) => locked(info.message()),
        // The first write of a migration is where the lock is asked for.
        Error::MigrationFailed(_, source) => locked(&source.to_string()),
        _ => false,
    };
    // Refused before anything ran: the backup is the database as it is.
    let refused = matches!(err, Error::UnknownApplied(_));
    if refused && let Some(copy) = &copy {
        let _ = std::fs::remove_file(copy);
    }
    if !busy {
        return err;
    }
    if let Some(copy) = copy {
        let _ = std::fs::remove_file(copy);
    }
    let database = location.clone();
    Error::Busy { database }
}

/// One line per migration applied, reverted or stamped, or `none`.
fn report(out: &mut impl Write, verb: &str, names: &[String], none: &str) -> Result<(), Error> {
    if names.is_empty() {
        writeln!(out, "{none}")?;
    }
    for name in names {
        writeln!(out, "{verb} {name}")?;
    }
    Ok(())
}

/// Builds the app from its config and serves it until Ctrl-C or SIGTERM; with
/// `--migrate`, upgrades the database first.
fn serve(location: Location, port: u16, migrate_first: bool) -> Result<(), Error> {
    stepkit::logging::init("step07_postgres");
    if migrate_first {
        let (stdout, source) = (&mut std::io::stdout().lock(), migrate::embedded(&location));
        db_upgrade(&location, &Source::Embedded(source), None, false, stdout)?;
    }
    db::check_migrated(&location)?; // before a key is made for a database that cannot serve
    let key = config::secret_key(std::env::var("SECRET_KEY").ok().as_deref())?;
    let app = create_app(Config::new(location.clone(), key))?; // blocking, before tokio starts
    stepkit::serve::runtime()?.block_on(stepkit::serve(app, port, &location))?;
    Ok(())
}
