//! Step 6 of *Flask with databases, in Rust*: step 5's blog, its schema now
//! made and evolved by migrations (Flask-Migrate's job) that keep the data:
//! upgrade, downgrade, history, stamp, check, and a backup before each run.
//!
//! Read in this order; each file uses only the ones above it:
//!
//! 1. `error.rs`: every way the step can fail, and what a client is told.
//! 2. `timestamp.rs` and `password.rs`: `post.created` as a date-time, and
//!    passwords as argon2 hashes, as in step 3.
//! 3. `migrations/` and `schema.rs`: the tables, made change by change, and
//!    diesel's picture of them.
//! 4. `models.rs`: the rows as structs, how they relate, and the queries.
//! 5. `migrate.rs`: the `db` commands: upgrade, downgrade, history, current,
//!    new, stamp, check, and the backup.
//! 6. `db.rs`: the pool and its pragmas, and the request's connection,
//!    checked out of the pool on first use.
//! 7. `api.rs`: the JSON API, and the input rules the pages share.
//! 8. `auth.rs` and `blog.rs`: flaskr's blueprints: who is logged in, and
//!    the posts they may write, change and delete.
//! 9. `routes.rs`: the other pages, and the app that joins the blueprints.
//! 10. `config.rs`: the app factory, `create_app(config)`, and the secret key.
//! 11. `main.rs`: the command line: `db ...` and `serve`.
//!
//! `walkthrough.rs` is the narration `cargo run` prints.

pub mod api;
pub mod auth;
pub mod blog;
pub mod config;
pub mod db;
pub mod error;
pub mod migrate;
pub mod models;
pub mod password;
pub mod routes;
pub mod schema;
pub mod timestamp;
pub mod walkthrough;

pub use config::{Config, create_app};
pub use error::Error;
pub use timestamp::Timestamp;
