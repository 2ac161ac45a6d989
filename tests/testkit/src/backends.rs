//! A fresh database per test on each backend the diesel steps support: a
//! SQLite file always, and a PostgreSQL database when a server is given.
//!
//! `TEST_POSTGRES_URL` names a server and a role that may create databases
//! (`.ci/run` starts one and sets it). Each test gets a database of its own,
//! created on that server and dropped when the test ends. Without the
//! variable, PostgreSQL is skipped and the test binary says so in one line;
//! with `POSTGRES_TEST=required` (set by `.ci/run`) a skip is a failure.

use std::io::Write;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use tempfile::TempDir;

/// Where the tests find a PostgreSQL server, as a `postgres://` URL.
pub const SERVER_VAR: &str = "TEST_POSTGRES_URL";

/// One test's database.
pub enum TestDatabase {
    /// `test.sqlite` in a temporary folder.
    Sqlite(TempDir),
    /// A database of the test's own on the PostgreSQL server.
    Postgres(PgDatabase),
}

impl TestDatabase {
    /// A fresh SQLite file, and then, if a server is given, a fresh
    /// PostgreSQL database: run the test's body once on each.
    pub fn each() -> Vec<TestDatabase> {
        match PgDatabase::create() {
            Some(postgres) => vec![TestDatabase::sqlite(), TestDatabase::Postgres(postgres)],
            None => vec![TestDatabase::sqlite()],
        }
    }

    /// A fresh SQLite file only, for what only SQLite can show.
    pub fn sqlite() -> TestDatabase {
        TestDatabase::Sqlite(TempDir::new().expect("a temporary folder"))
    }

    /// Another fresh database on the same backend as this one.
    pub fn fresh_like(&self) -> TestDatabase {
        match self {
            TestDatabase::Sqlite(_) => TestDatabase::sqlite(),
            TestDatabase::Postgres(_) => {
                TestDatabase::Postgres(PgDatabase::create().expect("the server used before"))
            }
        }
    }

    /// What to pass as `--database` or `DATABASE_URL`: a path or a URL.
    pub fn setting(&self) -> String {
        match self {
            TestDatabase::Sqlite(dir) => dir.path().join("test.sqlite").display().to_string(),
            TestDatabase::Postgres(database) => database.url.clone(),
        }
    }

    /// "SQLite" or "PostgreSQL", for a failing test's message.
    pub fn backend(&self) -> &'static str {
        match self {
            TestDatabase::Sqlite(_) => "SQLite",
            TestDatabase::Postgres(_) => "PostgreSQL",
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, TestDatabase::Postgres(_))
    }
}

/// A database created for one test, dropped with it.
pub struct PgDatabase {
    server: String,
    name: String,
    url: String,
}

impl PgDatabase {
    /// Creates a database with a name no other test uses, or returns `None`
    /// (after saying so once) when no server is given.
    pub fn create() -> Option<PgDatabase> {
        let Ok(server) = std::env::var(SERVER_VAR) else {
            skipped();
            return None;
        };
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let number = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("test_{}_{number}", std::process::id());
        admin(&server)
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|err| panic!("cannot create database {name}: {err}"));
        let url = with_database(&server, &name);
        Some(PgDatabase { server, name, url })
    }

    /// The database's URL, with the server's credentials.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of a role made for this database that may only read and
    /// write the rows of the tables it holds now, as an app's role should in
    /// production: SELECT, INSERT, UPDATE and DELETE, and no CREATE
    /// anywhere. Dropped with the database.
    pub fn app_role_url(&self) -> String {
        let role = format!("{}_app", self.name);
        admin(&self.server)
            .batch_execute(&format!(
                "CREATE ROLE {role} LOGIN PASSWORD 'app'; GRANT CONNECT ON DATABASE {} TO {role}",
                self.name
            ))
            .unwrap_or_else(|err| panic!("cannot create role {role}: {err}"));
        let mut conn = PgConnection::establish(&self.url)
            .unwrap_or_else(|err| panic!("cannot connect to {}: {err}", self.name));
        conn.batch_execute(&format!(
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC;
             GRANT USAGE ON SCHEMA public TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
             GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"
        ))
        .unwrap_or_else(|err| panic!("cannot grant {role} its rights: {err}"));
        let at = self.url.find('@').expect("the server URL has credentials");
        let scheme_end = self.url.find("://").expect("a URL") + 3;
        format!("{}{role}:app{}", &self.url[..scheme_end], &self.url[at..])
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(err) = admin(&self.server).batch_execute(&sql) {
            eprintln!("cannot drop database {}: {err}", self.name);
        }
        let role = format!("DROP ROLE IF EXISTS {}_app", self.name);
        if let Err(err) = admin(&self.server).batch_execute(&role) {
            eprintln!("cannot drop role {}_app: {err}", self.name);
        }
    }
}

/// A connection to the server's own database, to create and drop others.
fn admin(server: &str) -> PgConnection {
    PgConnection::establish(server)
        .unwrap_or_else(|err| panic!("cannot connect to {SERVER_VAR}: {err}"))
}

/// `server` with its database name replaced by `name`.
fn with_database(server: &str, name: &str) -> String {
    let (base, options) = match server.split_once('?') {
        Some((base, options)) => (base, format!("?{options}")),
        None => (server, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |at| at + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{base}/{name}{options}")
}

/// Says once per test binary that PostgreSQL was skipped, past the test
/// harness's capture; fails instead when PostgreSQL is required.
fn skipped() {
    if std::env::var("POSTGRES_TEST").as_deref() == Ok("required") {
        panic!("POSTGRES_TEST=required, but {SERVER_VAR} is not set");
    }
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        let line = format!("PostgreSQL skipped: set {SERVER_VAR} to run these tests on it too");
        let _ = writeln!(std::io::stderr(), "{line}");
    });
}
