//! Step 3 of *Flask with databases, in Rust*: flaskr's schema and its
//! `init-db` command, the application factory, typed timestamps and hashed
//! passwords.
//!
//! `src/main.rs` is the command line; these modules hold the code the book
//! walks through.

pub mod config;
pub mod db;
pub mod error;
pub mod password;
pub mod routes;
pub mod store;
pub mod timestamp;
pub mod walkthrough;

pub use config::{Config, create_app};
pub use error::Error;
pub use timestamp::Timestamp;
