//! Step 4 of *Flask with databases, in Rust*: step 3's blog tables through
//! diesel, the ORM playing SQLAlchemy's part: models, Flask-SQLAlchemy's
//! CRUD, a JSON API, pages and pagination, on a pool of connections.
//!
//! Read in this order; each file uses only the ones above it:
//!
//! 1. `backend.rs`: a SQLite file or a PostgreSQL server, and one connection
//!    type for both.
//! 2. `timestamp.rs`: `post.created` as a date-time, not a string.
//! 3. `error.rs`: every way the step can fail, and what a client is told.
//! 4. `password.rs`: passwords as argon2 hashes, as in step 3.
//! 5. `schema.sql`, `schema.postgres.sql` and `schema.rs`: the tables in
//!    each dialect, and diesel's picture of them.
//! 6. `models.rs`: the rows as structs, the queries built by diesel, and
//!    the input rules a user or post must meet.
//! 7. `db.rs`: `init-db`, the pool and its pragmas, and the request's
//!    connection, checked out of the pool on first use.
//! 8. `api.rs`: the JSON API, a blueprint mounted at `/api`.
//! 9. `routes.rs`: the pages, and the app that joins them with the API.
//! 10. `config.rs`: the app factory, `create_app(config)`.
//! 11. `main.rs`: the command line: `init-db` and `serve`.
//!
//! `walkthrough.rs` is the narration `cargo run` prints.

pub mod api;
pub mod backend;
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
