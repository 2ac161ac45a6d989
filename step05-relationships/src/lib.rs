//! Step 5 of *Flask with databases, in Rust*: step 4's models related (a
//! user's posts, a post's author), loaded without N+1 queries, counted and
//! averaged; and flaskr's blog on top, with logins and sessions.
//!
//! Read in this order; each file uses only the ones above it:
//!
//! 1. `timestamp.rs`: `post.created` as a date-time, not a string.
//! 2. `error.rs`: every way the step can fail, and what a client is told.
//! 3. `schema.sql` and `schema.rs`: the tables, and diesel's picture of them.
//! 4. `models.rs`: the rows as structs, how they relate, the queries, and
//!    the input rules a user or post must meet.
//! 5. `session.rs`: sessions kept in the database, which logging out,
//!    a password change or `init-db` ends.
//! 6. `db.rs`: `init-db`, the pool and its pragmas, and the request's
//!    connection, checked out of the pool on first use.
//! 7. `auth.rs`: flaskr's `auth.py`: who is logged in, and the session.
//! 8. `api.rs`: the JSON API; its writes ask `auth.rs` who is logged in.
//! 9. `blog.rs`: flaskr's `blog.py`: the posts one may write, change and delete.
//! 10. `routes.rs`: the other pages, and the app that joins the blueprints.
//! 11. `config.rs`: the app factory, `create_app(config)`, and the secret key.
//! 12. `main.rs`: the command line: `init-db` and `serve`.
//!
//! `walkthrough.rs` is the narration `cargo run` prints.

pub mod api;
pub mod auth;
pub mod blog;
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
