//! Step 2 of *Flask with databases, in Rust*: a web app that gives each
//! request its own SQLite connection, opened on first use and always closed,
//! with a connection pool beside it for comparison.
//!
//! Read in this order; each file uses only the ones above it:
//!
//! 1. `error.rs`: every way the step can fail, and what a client is told.
//! 2. `db.rs`: where the database lives, its queries (step 1's, nearly), and
//!    the request's connection: Flask's `get_db` and `close_db`.
//! 3. `pool.rs`: the other design, a sqlx pool, with its own two handlers.
//! 4. `routes.rs`: the pages and the JSON read, and the app that joins them.
//! 5. `blocking.rs`: a scene that shows why SQLite goes to `spawn_blocking`.
//! 6. `main.rs`: the command line and `serve`.
//!
//! `walkthrough.rs` is the narration `cargo run` prints.

pub mod blocking;
pub mod db;
pub mod error;
pub mod pool;
pub mod routes;
pub mod walkthrough;

pub use error::Error;
