//! Slowing down password guessing, per account. After [`FREE_FAILURES`]
//! wrong passwords in a row for one username, each further attempt for it
//! is refused (429, with `Retry-After`) for a wait that doubles with every
//! failure, from one second up to [`LONGEST_WAIT`]. Attempts are counted
//! when they start, so a burst sent at once gets no more guesses. A refused attempt is
//! answered before any hash is computed, so guessing costs the server
//! nothing more. A right password ends the count.
//!
//! Per client address is the proxy's job here: the server listens on
//! 127.0.0.1 only, so every client it sees is the proxy in front of it,
//! which knows the real addresses (nginx's `limit_req`, say).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Wrong passwords in a row a username gets before attempts slow down.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait between attempts for one username.
pub const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);
/// How many usernames the throttle remembers at most; past that, those
/// whose wait is long over are forgotten, and if all are recent, all are:
/// spraying names cannot fill memory.
const REMEMBERED: usize = 10_000;

// ANCHOR: throttle
/// The failed logins of one app, per username. The kit's layers give each
/// request the app's throttle; a login handler takes it as an extractor.
#[derive(Debug, Clone, Default)]
pub struct Throttle(Arc<Mutex<HashMap<String, Failures>>>);

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    wait_until: Instant,
}

/// A refused attempt: how long until the next one is heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooSoon(pub Duration);

impl Throttle {
    /// Counts an attempt to log in as `username`, or refuses it while the
    /// name must wait. Each attempt counts as a failure until
    /// [`succeeded`](Throttle::succeeded) says otherwise, so that guesses
    /// sent all at once are counted before any is checked: the sixth of a
    /// burst already waits.
    pub fn attempt(&self, username: &str) -> Result<(), TooSoon> {
        let now = Instant::now();
        let mut failures = self.lock();
        if failures.len() >= REMEMBERED {
            failures.retain(|_, failed| failed.wait_until + LONGEST_WAIT > now);
        }
        if failures.len() >= REMEMBERED {
            failures.clear(); // a spray of names, all recent: forget, not grow
        }
        let failed = failures.entry(key(username)).or_insert(Failures {
            count: 0,
            wait_until: now,
        });
        if failed.wait_until > now {
            return Err(TooSoon(failed.wait_until - now));
        }
        failed.count += 1;
        if let Some(over) = failed.count.checked_sub(FREE_FAILURES + 1) {
            let wait = Duration::from_secs(1u64 << over.min(20)).min(LONGEST_WAIT);
            failed.wait_until = now + wait;
        }
        Ok(())
    }

    /// A right password: `username` starts again from nothing.
    pub fn succeeded(&self, username: &str) {
        self.lock().remove(&key(username));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
// ANCHOR_END: throttle

/// Names count as one however they are capitalised, as a guesser would try.
fn key(username: &str) -> String {
    username.trim().to_lowercase()
}

/// 429 Too Many Requests, saying when to try again; the kit's error layer
/// words it as a page or as JSON.
impl IntoResponse for TooSoon {
    fn into_response(self) -> Response {
        let seconds = self.0.as_secs_f64().ceil().max(1.0) as u64;
        let message = format!("Too many failed logins for this user; try again in {seconds} s.");
        let retry = [(header::RETRY_AFTER, seconds.to_string())];
        (StatusCode::TOO_MANY_REQUESTS, retry, message).into_response()
    }
}

/// A handler takes the app's throttle by naming it: `throttle: Throttle`.
impl<S: Send + Sync> FromRequestParts<S> for Throttle {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Throttle>()
            .cloned()
            .unwrap_or_default())
    }
}
