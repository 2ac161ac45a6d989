//! The command line of step 6. With no command it runs the walkthrough.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use step06_migrations::migrate::{self, Source};
use step06_migrations::{Config, Error, config, create_app, db, walkthrough};
use step06_migrations::{backup, draft, drift, print_schema, upkeep};

/// The step's migrations and schema.rs in the source tree, from the
/// workspace root: where `db new` and `db migrate` write, and what
/// `--from-source` reads.
const MIGRATIONS_FOLDER: &str = "step06-migrations/migrations";
const SCHEMA_RS_FILE: &str = "step06-migrations/src/schema.rs";

// ANCHOR: cli
/// Step 6: step 5's blog, its schema made and changed by migrations that
/// keep the data, as Flask-Migrate's `flask db` commands do.
///
/// With no command, runs a narrated walkthrough on a fresh demo database
/// (instance/step06-walkthrough.sqlite).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The database for `db` and `serve`: a path or a sqlite: URL
    /// [default: instance/step06.sqlite]
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
    /// (RUST_LOG=warn quiets it; RUST_LOG=info,step06_migrations=debug adds each connection
    /// checked out and given back). Sessions are signed with SECRET_KEY (128 hex
    /// digits), or else with a key generated once into
    /// instance/step06-secret-key.
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
    /// Read the migrations and schema.rs from step06-migrations/ under the
    /// current folder when the command runs, not the copies compiled in, so
    /// that an edit needs no rebuild.
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
        /// The migrations folder to create it in.
        #[arg(long, default_value = MIGRATIONS_FOLDER)]
        dir: PathBuf,
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
// ANCHOR_END: cli

fn main() -> ExitCode {
    stepkit::exit(run(Cli::parse()))
}

fn run(cli: Cli) -> Result<(), Error> {
    // The walkthrough has a database of its own; only the commands read this.
    let database = || stepkit::setting::sqlite_path(cli.database.as_deref(), db::DEFAULT_DATABASE);
    let out = &mut std::io::stdout().lock();
    match cli.command {
        None => walkthrough::run(out),
        Some(Command::Db(args)) => {
            let code = Code::new(args.from_source)?;
            db_command(args.command, &code, &database()?, out)
        }
        Some(Command::Serve { port, migrate }) => serve(database()?, port, migrate),
    }
}

/// What the `db` commands hold the database up to: the migrations and
/// schema.rs, as compiled in or, with `--from-source`, as they are now.
struct Code {
    migrations: Source,
    schema_rs: String,
    from_source: bool,
}

impl Code {
    fn new(from_source: bool) -> Result<Code, Error> {
        if !from_source {
            let schema_rs = draft::SCHEMA_RS.to_owned();
            let migrations = Source::Embedded;
            return Ok(Code {
                migrations,
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
        let migrations = Source::folder(Path::new(MIGRATIONS_FOLDER))?;
        let schema_rs = read(SCHEMA_RS_FILE)?;
        Ok(Code {
            migrations,
            schema_rs,
            from_source,
        })
    }
}

/// Runs one `db` command on the database at `path`: one function each.
fn db_command(command: Db, code: &Code, path: &Path, out: &mut impl Write) -> Result<(), Error> {
    let source = &code.migrations;
    match command {
        Db::Upgrade { to, no_backup } => db_upgrade(path, source, to.as_deref(), no_backup, out),
        Db::Downgrade { steps, no_backup } => {
            db_downgrade(path, source, steps.into(), no_backup, out)
        }
        Db::History => db_history(path, source, out),
        Db::Current => db_current(path, out),
        Db::New { name, dir } => db_new(&name, &dir, out),
        Db::Migrate { message, dir } => db_migrate(path, code, &message, &dir, out),
        Db::Stamp { version } => db_stamp(path, source, &version, out),
        Db::Check => db_check(path, code, out),
        Db::Vacuum => db_vacuum(path, out),
        Db::PrintSchema => db_print_schema(path, out),
        Db::Sql { statement } => {
            step06_migrations::shell::run(&mut existing(path)?, &statement, out)
        }
    }
}

/// Opens a database that must exist already: only `upgrade` and `stamp`
/// may make one; the other commands read it.
fn existing(path: &Path) -> Result<diesel::SqliteConnection, Error> {
    if !path.exists() {
        return Err(Error::NoDatabase {
            path: path.to_path_buf(),
        });
    }
    migrate::connect(path)
}

/// `db upgrade [--to VERSION]`: a backup if there is work, then the pending
/// migrations up to `to`, in one transaction.
fn db_upgrade(
    path: &Path,
    source: &Source,
    to: Option<&str>,
    no_backup: bool,
    out: &mut impl Write,
) -> Result<(), Error> {
    if let Some(version) = to {
        migrate::check_version(source, version)?; // a typo makes no file
    }
    let conn = &mut migrate::connect(path)?;
    let pending = migrate::pending(conn, source)? > 0;
    if migrate::current(conn)?.is_none() && !migrate::tables(conn)?.is_empty() {
        let first = migrate::first_version(source)?;
        let path = path.to_path_buf();
        return Err(Error::NotAdopted { path, first });
    }
    let copy = back_up_unless(no_backup || !pending, conn, path, out)?;
    let applied = migrate::upgrade(conn, source, to).map_err(|err| undone(err, copy, path))?;
    let none = match to {
        Some(to) if pending => format!("Nothing to apply up to {to}: the database is past it."),
        _ => "Nothing to apply: the database is up to date.".to_owned(),
    };
    report(out, "Applied", &applied, &none)
}

/// `db downgrade [--steps N]`: a backup, then the newest `steps` migrations
/// reverted, in one transaction.
fn db_downgrade(
    path: &Path,
    source: &Source,
    steps: usize,
    no_backup: bool,
    out: &mut impl Write,
) -> Result<(), Error> {
    let conn = &mut existing(path)?;
    let applied = migrate::current(conn)?.is_some();
    let copy = back_up_unless(no_backup || !applied, conn, path, out)?;
    let reverted =
        migrate::downgrade(conn, source, steps).map_err(|err| undone(err, copy, path))?;
    let none = "Nothing to revert: no migration is applied.";
    report(out, "Reverted", &reverted, none)
}

/// `db history`: every migration, applied or pending.
fn db_history(path: &Path, source: &Source, out: &mut impl Write) -> Result<(), Error> {
    migrate::history(&mut existing(path)?, source, out)
}

/// `db current`: the version the database is at.
fn db_current(path: &Path, out: &mut impl Write) -> Result<(), Error> {
    let version = migrate::current(&mut existing(path)?)?;
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

// ANCHOR: db_migrate
/// `db migrate -m MESSAGE`: a draft of the migration from the database to
/// schema.rs, in a new folder named after the time and the message.
fn db_migrate(
    path: &Path,
    code: &Code,
    message: &str,
    dir: &Path,
    out: &mut impl Write,
) -> Result<(), Error> {
    let name = folder_name(message)?;
    let conn = &mut existing(path)?;
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
// ANCHOR_END: db_migrate

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
    path: &Path,
    source: &Source,
    version: &str,
    out: &mut impl Write,
) -> Result<(), Error> {
    migrate::check_version(source, version)?; // a typo makes no file
    let (stamped, forgotten) = migrate::stamp(&mut existing(path)?, source, version)?;
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
fn db_print_schema(path: &Path, out: &mut impl Write) -> Result<(), Error> {
    let schema = print_schema::print_schema(&mut existing(path)?)?;
    writeln!(
        out,
        "// `db print-schema` of {}: review it before it replaces src/schema.rs.\n",
        path.display()
    )?;
    Ok(write!(out, "{schema}")?)
}

/// `db vacuum`: the upkeep, and what it freed.
fn db_vacuum(path: &Path, out: &mut impl Write) -> Result<(), Error> {
    let (before, after) = upkeep::vacuum(&mut existing(path)?)?;
    let freed = match before.bytes - after.bytes {
        freed if freed >= 0 => format!("{freed} bytes freed"),
        grew => format!("it grew by {} bytes (ANALYZE's statistics)", -grew),
    };
    writeln!(
        out,
        "Vacuumed {}: {} pages ({} bytes) before, {} ({} bytes) after; {freed}.",
        path.display(),
        before.pages,
        before.bytes,
        after.pages,
        after.bytes
    )?;
    Ok(())
}

/// `db check`: the drift between the database and the migrations, one line
/// each; drift is a failure, so that a script can stop on it.
fn db_check(path: &Path, code: &Code, out: &mut impl Write) -> Result<(), Error> {
    let drift = drift::check(&mut existing(path)?, &code.migrations, &code.schema_rs)?;
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

/// Writes the backup next to the database, unless told not to, says where,
/// and returns its name.
fn back_up_unless(
    skip: bool,
    conn: &mut diesel::SqliteConnection,
    path: &Path,
    out: &mut impl Write,
) -> Result<Option<PathBuf>, Error> {
    if skip {
        return Ok(None);
    }
    let copy = backup::make(conn, path)?;
    if let Some(copy) = &copy {
        writeln!(out, "Backed up {} to {}", path.display(), copy.display())?;
    }
    Ok(copy)
}

/// A migration that could not start because another program held the write
/// lock, or that was refused for a version this program does not know,
/// changed nothing: it is said so, and the backup made for it, the database
/// as it still is, goes, so that retries leave no pile of copies.
fn undone(err: Error, copy: Option<PathBuf>, path: &Path) -> Error {
    match err {
        // Refused before anything ran: the backup is the database as it is.
        Error::UnknownApplied(_) => {
            if let Some(copy) = copy {
                let _ = std::fs::remove_file(copy);
            }
            err
        }
        Error::Diesel(diesel::result::Error::DatabaseError(_, info))
            if info.message().contains("database is locked") =>
        {
            if let Some(copy) = copy {
                let _ = std::fs::remove_file(copy);
            }
            let path = path.to_path_buf();
            Error::Busy { path }
        }
        other => other,
    }
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
fn serve(path: PathBuf, port: u16, migrate_first: bool) -> Result<(), Error> {
    stepkit::logging::init("step06_migrations");
    if migrate_first {
        let stdout = &mut std::io::stdout().lock();
        db_upgrade(&path, &Source::Embedded, None, false, stdout)?;
    }
    db::check_migrated(&path)?; // before a key is made for a database that cannot serve
    let key = config::secret_key(std::env::var("SECRET_KEY").ok().as_deref())?;
    let app = create_app(Config::new(path.clone(), key))?; // SQLite, before tokio starts
    stepkit::serve::runtime()?.block_on(stepkit::serve(app, port, path.display()))?;
    Ok(())
}
