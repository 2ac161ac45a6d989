//! Step 6 of *Flask with databases, in Rust*: step 5's blog, its schema now
//! made and evolved by migrations (Flask-Migrate's job) that keep the data:
//! upgrade, downgrade, history, stamp, a draft from the models, check,
//! vacuum, print-schema, a SQL shell, and a backup before each run.
//!
//! Read in this order; each file uses only the ones above it:
//!
//! 1. `timestamp.rs`: `post.created` as a date-time, not a string.
//! 2. `error.rs`: every way the step can fail, and what a client is told.
//! 3. `migrations/` and `schema.rs`: the tables, made change by change, and
//!    diesel's picture of them.
//! 4. `models.rs`: the rows as structs, how they relate, the queries, and
//!    the input rules a user or post must meet.
//! 5. `session.rs`: sessions kept in the database, which logging out or a
//!    password change ends.
//! 6. `migrate.rs`: the `db` commands' work: upgrade, downgrade, history,
//!    current, new and stamp.
//! 7. `backup.rs`: the copy made before a migration.
//! 8. `upkeep.rs`: `db vacuum`, and the check that the file is sound.
//! 9. `print_schema.rs`: `db print-schema`, `schema.rs` from the database.
//! 10. `draft.rs`: `db migrate -m`, a migration drafted from `schema.rs`.
//! 11. `drift.rs`: `db check`, the drift from the migrations and `schema.rs`,
//!     and any damage to the file.
//! 12. `shell.rs`: `db sql`, one statement run and its rows printed.
//! 13. `db.rs`: the pool and its pragmas, and the request's connection,
//!     checked out of the pool on first use.
//! 14. `auth.rs`: flaskr's `auth.py`: who is logged in, and the session.
//! 15. `api.rs`: the JSON API; its writes ask `auth.rs` who is logged in.
//! 16. `blog.rs`: flaskr's `blog.py`: the posts one may write, change and delete.
//! 17. `routes.rs`: the other pages, and the app that joins the blueprints.
//! 18. `config.rs`: the app factory, `create_app(config)`, and the secret key.
//! 19. `main.rs`: the command line: `db ...` and `serve`.
//!
//! `walkthrough.rs` is the narration `cargo run` prints.

pub mod api;
pub mod auth;
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
