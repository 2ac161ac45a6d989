//! The kit: what every web step needs and no chapter teaches. For a Flask
//! app, Flask, Werkzeug and gunicorn do this part; here it is one small
//! crate, so that each step's own `src/` holds its lesson.
//!
//! Read in this order; each file uses only the ones above it:
//!
//! 1. `text.rs`: a user's text checked, and made safe and short for a
//!    message; and a command's one error line and exit status.
//! 2. `error.rs`: what can go wrong in the kit, in one line each.
//! 3. `setting.rs`: the database setting: `--database`, `DATABASE_URL`, or
//!    the instance folder's file, and the values refused.
//! 4. `file.rs`: the database file a server opened, and whether it is
//!    still the one on disk; a private backup, named only once complete.
//! 5. `logging.rs`: the log on stderr, and `RUST_LOG`.
//! 6. `layers.rs`: what every request passes through: the whole body read
//!    first (within a limit), a time limit, panic catching, only this
//!    server's host names, a request number, readable error bodies, and
//!    safety headers on every answer; and `render`, a page from a template.
//! 7. `serve.rs`: `serve`: 127.0.0.1, timeouts, a graceful stop on Ctrl-C
//!    and SIGTERM (gunicorn's part); and a request's client address, behind
//!    the proxy `TRUSTED_PROXY` names.
//! 8. `password.rs` (feature `sessions`): passwords as argon2 hashes, a
//!    few at a time, in memory that is reused.
//! 9. `session.rs` (feature `sessions`): the web half of a login: the
//!    secret key, the session cookie and the same-origin check.
//! 10. `throttle.rs` (feature `sessions`): a username, or a client address,
//!     that keeps failing to log in waits longer and longer.

pub mod error;
pub mod file;
pub mod layers;
pub mod logging;
#[cfg(feature = "sessions")]
pub mod password;
pub mod serve;
#[cfg(feature = "sessions")]
pub mod session;
pub mod setting;
pub mod text;
#[cfg(feature = "sessions")]
pub mod throttle;

pub use error::Error;
pub use layers::{layers, render};
pub use serve::serve;
pub use text::{exit, name_key, name_problem, normal_name, printable, quote, text_problem};
