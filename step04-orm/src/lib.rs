//! Step 4 of *Flask with databases, in Rust*: step 3's blog tables through
//! diesel, the ORM playing SQLAlchemy's part: models, Flask-SQLAlchemy's
//! CRUD, a JSON API, pages and pagination, on a pool of connections.
//!
//! Read in this order; each file uses only the ones above it:
//!
//! 1. `error.rs`: every way the step can fail, and what a client is told.
//! 2. `timestamp.rs` and `password.rs`: `post.created` as a date-time, and
//!    passwords as argon2 hashes, as in step 3.
//! 3. `schema.sql` and `schema.rs`: the tables, and diesel's picture of them.
//! 4. `models.rs`: the rows as structs, and the queries, built by diesel.
//! 5. `db.rs`: `init-db`, the pool and its pragmas, and the request's
//!    connection, checked out of the pool on first use.
//! 6. `routes.rs`: the pages and the JSON API, two blueprints.
//! 7. `config.rs`: the app factory, `create_app(config)`.
//! 8. `main.rs`: the command line: `init-db` and `serve`.
//!
//! `walkthrough.rs` is the narration `cargo run` prints.

pub mod api;
pub mod config;
pub mod db;
pub mod error;
pub mod models;
pub mod password;
pub mod routes;
pub mod schema;
pub mod timestamp;
pub mod walkthrough;

pub use config::{Config, create_app};
pub use error::Error;
pub use timestamp::Timestamp;
