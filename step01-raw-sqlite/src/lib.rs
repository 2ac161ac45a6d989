//! Step 1 of *Flask with databases, in Rust*: talking to SQLite with plain SQL.
//!
//! `src/main.rs` is the command line; these modules hold the code the book
//! walks through.

pub mod db;
pub mod error;
pub mod import;
pub mod walkthrough;

pub use error::Error;
