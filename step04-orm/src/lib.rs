//! Step 4 of *Flask with databases, in Rust*: step 3's blog tables, login
//! and sessions through diesel, the ORM playing SQLAlchemy's part: models,
//! Flask-SQLAlchemy's CRUD, a JSON API, pages and pagination, on a pool of
//! connections.
//!
//! Read in this order; each file uses only the ones above it:
//!
//! 1. `timestamp.rs`: `post.created` as a date-time, not a string.
//! 2. `error.rs`: every way the step can fail, and what a client is told.
//! 3. `schema.sql` and `schema.rs`: the tables, and diesel's picture of them.
//! 4. `models.rs`: the rows as structs, the queries built by diesel, and
//!    the input rules a user or post must meet.
//! 5. `session.rs`: step 3's sessions kept in the database, as diesel
//!    queries; a password change ends them too.
//! 6. `db.rs`: `init-db`, the pool and its pragmas, and the request's
//!    connection, checked out of the pool on first use.
//! 7. `auth.rs`: flaskr's `auth.py`, as in step 3, on the models.
//! 8. `api.rs`: the JSON API, a blueprint mounted at `/api`.
//! 9. `routes.rs`: the pages, and the app that joins them with the
//!    blueprints.
//! 10. `config.rs`: the app factory, `create_app(config)`, and the secret key.
//! 11. `main.rs`: the command line: `init-db` and `serve`.
//!
//! `walkthrough.rs` is the narration `cargo run` prints.

pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod models;
pub mod routes;
pub mod schema;
pub mod session;
pub mod timestamp;
pub mod walkthrough;

pub use config::{Config, create_app};
pub use error::Error;
pub use timestamp::Timestamp;
