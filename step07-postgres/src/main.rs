//! The command line of step 7. With no command it runs the walkthrough.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use step07_postgres::backend::{Conn, Location};
use step07_postgres::migrate::{self, Backup};
use step07_postgres::{Config, Error, config, create_app, db, walkthrough};

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
    #[command(subcommand)]
    Db(Db),
    /// Serve the app on 127.0.0.1 until Ctrl-C or SIGTERM. It refuses a
    /// database with pending migrations. It logs each request to stderr
    /// (RUST_LOG=warn quiets it). Sessions are signed with SECRET_KEY (128 hex
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
        #[arg(long, default_value = "step07-postgres/migrations")]
        dir: PathBuf,
    },
    /// Record VERSION and all older migrations as applied, running nothing
    /// (adopts a database step 5's init-db made: `db stamp 20260101000001`).
    Stamp {
        /// The version the database already matches.
        version: String,
    },
    /// Compare the database with the migrations and schema.rs; report drift.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `| head -1`: the reader has gone, which is no failure of ours.
        Err(Error::Output(err) | Error::Kit(stepkit::Error::Output(err)))
            if err.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    // The walkthrough has a database of its own; only the commands read this.
    let database = || db::location(cli.database.as_deref());
    let out = &mut std::io::stdout().lock();
    match cli.command {
        None => walkthrough::run(out),
        Some(Command::Db(command)) => db_command(command, &database()?, out),
        Some(Command::Serve { port, migrate }) => serve(database()?, port, migrate),
    }
}

/// Runs one `db` command on the database at `path`.
fn db_command(command: Db, location: &Location, out: &mut impl Write) -> Result<(), Error> {
    let migrations = migrate::embedded(location);
    if let Db::New { name, dir } = &command {
        let now = chrono::Utc::now().format("%Y-%m-%d-%H%M%S").to_string();
        let created = migrate::new_migration(dir, name, &now)?;
        let next =
            "write the change, rebuild (the binary embeds its migrations), then `db upgrade`";
        writeln!(
            out,
            "Created {}/up.sql and down.sql: {next}.",
            created.display()
        )?;
        return Ok(());
    }
    if let Db::Upgrade {
        to: Some(version), ..
    }
    | Db::Stamp { version } = &command
    {
        migrate::check_version(migrations, version)?; // a typo makes no file
    }
    // Only upgrade and stamp may make a database; the others read one.
    let makes = matches!(command, Db::Upgrade { .. } | Db::Stamp { .. });
    if !makes && matches!(location, Location::Sqlite(path) if !path.exists()) {
        return Err(Error::NoDatabase {
            database: location.clone(),
        });
    }
    let conn = &mut migrate::connect(location)?;
    if matches!(
        command,
        Db::Upgrade { .. } | Db::Downgrade { .. } | Db::Stamp { .. }
    ) {
        migrate::take_turn(conn)?;
    }
    match command {
        Db::Upgrade { to, no_backup } => {
            let pending = migrate::pending(conn, migrations)? > 0;
            back_up_unless(no_backup || !pending, conn, location, out)?;
            let applied = migrate::upgrade(conn, migrations, to.as_deref())?;
            let none = match &to {
                Some(to) if pending => {
                    format!("Nothing to apply up to {to}: the database is past it.")
                }
                _ => "Nothing to apply: the database is up to date.".to_owned(),
            };
            report(out, "Applied", &applied, &none)
        }
        Db::Downgrade { steps, no_backup } => {
            let applied = migrate::current(conn)?.is_some();
            back_up_unless(no_backup || !applied, conn, location, out)?;
            let reverted = migrate::downgrade(conn, migrations, steps.into())?;
            report(
                out,
                "Reverted",
                &reverted,
                "Nothing to revert: no migration is applied.",
            )
        }
        Db::History => migrate::history(conn, migrations, out),
        Db::Current => {
            let version = migrate::current(conn)?;
            writeln!(
                out,
                "{}",
                version.as_deref().unwrap_or("none (no migration applied)")
            )?;
            Ok(())
        }
        Db::Stamp { version } => {
            let stamped = migrate::stamp(conn, migrations, &version)?;
            report(
                out,
                "Stamped",
                &stamped,
                "Nothing to stamp: those are applied already.",
            )
        }
        Db::Check => {
            let drift = migrate::check(conn, migrations)?;
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
        Db::New { .. } => Ok(()),
    }
}

/// Writes the backup next to the database, unless told not to, and says where.
fn back_up_unless(
    skip: bool,
    conn: &mut Conn,
    location: &Location,
    out: &mut impl Write,
) -> Result<(), Error> {
    if skip {
        return Ok(());
    }
    match migrate::backup(conn, location)? {
        Backup::Made(copy) => writeln!(out, "Backed up {location} to {}", copy.display())?,
        Backup::Skipped(why) => writeln!(out, "Did not back up {location}: {why}.")?,
        Backup::Empty => {}
    }
    Ok(())
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
        db_command(
            Db::Upgrade {
                to: None,
                no_backup: false,
            },
            &location,
            &mut std::io::stdout().lock(),
        )?;
    }
    db::check_migrated(&location)?; // before a key is made for a database that cannot serve
    let key = config::secret_key(std::env::var("SECRET_KEY").ok().as_deref())?;
    let app = create_app(Config::new(location.clone(), key))?; // blocking, before tokio starts
    stepkit::serve::runtime()?.block_on(stepkit::serve(app, port, &location))?;
    Ok(())
}
