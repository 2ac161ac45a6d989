//! Step 5 of *Flask with databases, in Rust*: step 4's models related (a
//! user's posts, a post's author), loaded without N+1 queries, counted and
//! averaged; and flaskr's blog on top, with logins and sessions.
//!
//! Read in this order; each file uses only the ones above it:
//!
//! 1. `error.rs`: every way the step can fail, and what a client is told.
//! 2. `timestamp.rs` and `password.rs`: `post.created` as a date-time, and
//!    passwords as argon2 hashes, as in step 3.
//! 3. `schema.sql` and `schema.rs`: the tables, and diesel's picture of them.
//! 4. `models.rs`: the rows as structs, how they relate, and the queries.
//! 5. `db.rs`: `init-db`, the pool and its pragmas, and the request's
//!    connection, checked out of the pool on first use.
//! 6. `api.rs`: the JSON API, and the input rules the pages share.
//! 7. `auth.rs` and `blog.rs`: flaskr's blueprints: who is logged in, and
//!    the posts they may write, change and delete.
//! 8. `routes.rs`: the other pages, and the app that joins the blueprints.
//! 9. `config.rs`: the app factory, `create_app(config)`, and the secret key.
//! 10. `main.rs`: the command line: `init-db` and `serve`.
//!
//! `walkthrough.rs` is the narration `cargo run` prints.

pub mod api;
pub mod auth;
pub mod blog;
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
