//! Step 7 of *Flask with databases, in Rust*: step 6's blog and migrations on
//! a second database. A `postgres://` URL picks PostgreSQL, through one
//! diesel connection type for both; the migrations come in each dialect,
//! and a backup of a server is a `pg_dump`.
//!
//! Read in this order; each file uses only the ones above it:
//!
//! 1. `backend.rs`: a SQLite file or a PostgreSQL server, and one connection
//!    type for both.
//! 2. `timestamp.rs`: `post.created` as a date-time, not a string.
//! 3. `error.rs`: every way the step can fail, and what a client is told.
//! 4. `migrations/`, `migrations-postgres/` and `schema.rs`: the tables, made
//!    change by change in each dialect, and diesel's picture of them.
//! 5. `models.rs`: the rows as structs, how they relate, the queries, and
//!    the input rules a user or post must meet.
//! 6. `session.rs`: sessions kept in the database, which logging out or a
//!    password change ends.
//! 7. `migrate.rs`: the `db` commands' work: upgrade, downgrade, history,
//!    current, new and stamp.
//! 8. `backup.rs`: the copy made before a migration, or a `pg_dump`.
//! 9. `upkeep.rs`: `db vacuum`, and the check that a SQLite file is sound.
//! 10. `print_schema.rs`: `db print-schema`, `schema.rs` from the database.
//! 11. `draft.rs`: `db migrate -m`, a migration drafted from `schema.rs`.
//! 12. `drift.rs`: `db check`, the drift from the migrations and `schema.rs`,
//!     and any damage to the file.
//! 13. `shell.rs`: `db sql`, one statement run and its rows printed.
//! 14. `db.rs`: the pool and its pragmas, and the request's connection,
//!     checked out of the pool on first use.
//! 15. `auth.rs`: flaskr's `auth.py`: who is logged in, and the session.
//! 16. `api.rs`: the JSON API; its writes ask `auth.rs` who is logged in.
//! 17. `blog.rs`: flaskr's `blog.py`: the posts one may write, change and delete.
//! 18. `routes.rs`: the other pages, and the app that joins the blueprints.
//! 19. `config.rs`: the app factory, `create_app(config)`, and the secret key.
//! 20. `main.rs`: the command line: `db ...` and `serve`.
//!
//! `walkthrough.rs` is the narration `cargo run` prints.

pub mod api;
pub mod auth;
pub mod backend;
pub mod backup;
pub mod blog;
pub mod config;
pub mod db;
pub mod draft;
pub mod drift;
pub mod error;
pub mod migrate;
pub mod models;
pub mod print_schema;
pub mod routes;
pub mod schema;
pub mod session;
pub mod shell;
pub mod timestamp;
pub mod upkeep;
pub mod walkthrough;

pub use config::{Config, create_app};
pub use error::Error;
pub use timestamp::Timestamp;
