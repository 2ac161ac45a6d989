//! Step 3 of *Flask with databases, in Rust*: flaskr's schema and its
//! `init-db` command, the application factory, typed timestamps, hashed
//! passwords, and flaskr's login with sessions kept in the database, on
//! step 2's request-scoped connection.
//!
//! Read in this order; each file uses only the ones above it:
//!
//! 1. `timestamp.rs`: `post.created` as a date-time, not a string.
//! 2. `error.rs`: every way the step can fail, and what a client is told.
//! 3. `schema.sql` and `db.rs`: the tables, `init-db`, the queries, and the
//!    request's connection (step 2's `get_db` and `close_db`).
//! 4. `session.rs`: sessions kept in the database, which logging out or
//!    `init-db` ends.
//! 5. `auth.rs`: flaskr's `auth.py`: register, log in, log out, who is
//!    logged in, and `login_required`.
//! 6. `routes.rs`: the index of posts, the users page and a JSON read.
//! 7. `config.rs`: the app factory, `create_app(config)`, and the secret key.
//! 8. `main.rs`: the command line: `init-db` and `serve`.
//!
//! `walkthrough.rs` is the narration `cargo run` prints.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod routes;
pub mod session;
pub mod timestamp;
pub mod walkthrough;

pub use config::{Config, create_app};
pub use error::Error;
pub use timestamp::Timestamp;
