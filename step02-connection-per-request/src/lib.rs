//! Step 2 of *Flask with databases, in Rust*: a web app that opens one
//! SQLite connection per request, and the same app on a connection pool.
//!
//! `src/main.rs` is the command line; these modules hold the code the book
//! walks through.

pub mod bench;
pub mod blocking;
pub mod db;
pub mod error;
pub mod pool;
pub mod routes;
pub mod store;
pub mod walkthrough;

pub use error::AppError;
pub use routes::{AppState, app};
