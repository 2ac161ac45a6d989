//! Slowing down password guessing, per account and per client address.
//! After [`FREE_FAILURES`] wrong passwords in a row for one username, the
//! next failure starts a wait, during which its attempts are refused (429,
//! with `Retry-After`); each failure after a wait doubles it, from one
//! second up to [`LONGEST_WAIT`].
//! Attempts are counted when they start, so a burst sent at once gets no
//! more guesses. A refused attempt is answered before any hash is computed,
//! so guessing costs the server nothing more. A right password ends the
//! count.
//!
//! A guesser who tries one password on many names meets the same rule per
//! client address, after [`FREE_FAILURES_PER_ADDRESS`], when the server
//! knows the address: when `TRUSTED_PROXY` names the proxy in front of it
//! (see [`client_address`](crate::serve::client_address)). A right password
//! takes one failure off its address's count, not all of them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Wrong passwords in a row a username gets before attempts slow down.
pub const FREE_FAILURES: u32 = 5;
/// Wrong passwords a client address gets, whatever the names, before its
/// attempts slow down: more than a username's, since a household or an
/// office shares one address.
pub const FREE_FAILURES_PER_ADDRESS: u32 = 20;
/// The longest wait between attempts for one username or address.
pub const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);
/// How many usernames and addresses the throttle remembers at most (some
/// tens of MiB at worst). Past that, those with no failure for
/// [`LONGEST_WAIT`] are forgotten, and no other: a spray of new names can
/// neither wipe a count nor be heard uncounted. While every one remembered
/// failed recently, a name or address the throttle cannot count is refused
/// for [`FULL_WAIT`], and the log says so.
const REMEMBERED: usize = 100_000;
/// How often a full throttle looks for failures old enough to forget.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// How long a login the full throttle cannot count waits.
pub const FULL_WAIT: Duration = Duration::from_secs(60);
/// The most of a username's key the throttle keeps, in bytes: no name is
/// longer, and a long one must not take more memory.
const KEY_BYTES: usize = 400;

// ANCHOR: throttle
/// The failed logins of one app, per username and per client address. The
/// kit's layers give each request the app's throttle and the request's
/// address; a login handler takes it as an extractor.
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    table: Arc<Mutex<Table>>,
    client: Option<IpAddr>,
}

/// The failures remembered, and when the old ones were last swept out.
#[derive(Debug, Default)]
struct Table {
    failures: HashMap<Counted, Failures>,
    swept: Option<Instant>,
}

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Counted {
    Username(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    wait_until: Instant,
    last: Instant,
}

/// A refused attempt: how long until the next one is heard, and whether
/// the username or the client's address must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooSoon(pub Duration, pub Waiting);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    Username,
    Address,
    /// The throttle is full of recent failures: see [`FULL_WAIT`].
    Everyone,
}

impl Throttle {
    /// Counts an attempt to log in as `username` (and from this request's
    /// address, if known), or refuses it while either must wait. Each
    /// attempt counts as a failure until [`succeeded`](Throttle::succeeded)
    /// says otherwise, so that guesses sent all at once are counted before
    /// any is checked: of a burst for one name, six are heard (the five free
    /// failures and the one that starts the wait) and the seventh waits.
    pub fn attempt(&self, username: &str) -> Result<(), TooSoon> {
        let counted = self.counted(username); // before the lock: a key takes work
        let now = Instant::now();
        let mut table = self.lock();
        // Full: sweep out the old failures, at most once a second, since a
        // sweep reads them all.
        if table.failures.len() >= REMEMBERED
            && table.swept.is_none_or(|at| at + SWEEP_EVERY <= now)
        {
            table
                .failures
                .retain(|_, failed| failed.last + LONGEST_WAIT > now);
            table.swept = Some(now);
            if table.failures.len() >= REMEMBERED {
                tracing::warn!(
                    "the login throttle is full of recent failures: it refuses the logins it cannot count"
                );
            }
        }
        let failures = &mut table.failures;
        for (what, _) in &counted {
            if let Some(failed) = failures.get(what).filter(|f| f.wait_until > now) {
                return Err(TooSoon(failed.wait_until - now, what.waiting()));
            }
        }
        let uncounted =
            |what: &Counted| failures.len() >= REMEMBERED && !failures.contains_key(what);
        if counted.iter().any(|(what, _)| uncounted(what)) {
            return Err(TooSoon(FULL_WAIT, Waiting::Everyone));
        }
        for (what, free) in counted {
            let failed = failures.entry(what).or_insert(Failures {
                count: 0,
                wait_until: now,
                last: now,
            });
            failed.count += 1;
            failed.last = now;
            if let Some(over) = failed.count.checked_sub(free + 1) {
                let wait = Duration::from_secs(1u64 << over.min(20)).min(LONGEST_WAIT);
                failed.wait_until = now + wait;
            }
        }
        Ok(())
    }

    /// A right password: `username` starts again from nothing, and its
    /// address has one failure fewer (the attempt that just succeeded).
    pub fn succeeded(&self, username: &str) {
        let failures = &mut self.lock().failures;
        failures.remove(&Counted::Username(key(username)));
        if let Some(address) = self.client
            && let Some(failed) = failures.get_mut(&Counted::address(address))
        {
            failed.count = failed.count.saturating_sub(1);
        }
    }

    /// The username, and the address if known, each with its free failures.
    fn counted(&self, username: &str) -> Vec<(Counted, u32)> {
        let name = (Counted::Username(key(username)), FREE_FAILURES);
        let address = self
            .client
            .map(|address| (Counted::address(address), FREE_FAILURES_PER_ADDRESS));
        std::iter::once(name).chain(address).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
// ANCHOR_END: throttle

impl Counted {
    /// An IPv6 client holds a whole /64 as a rule, so its failures count
    /// per /64: rotating through it is no way out.
    fn address(address: IpAddr) -> Counted {
        match address.to_canonical() {
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                Counted::Address(IpAddr::V6(prefix.into()))
            }
            v4 => Counted::Address(v4),
        }
    }

    fn waiting(&self) -> Waiting {
        match self {
            Counted::Username(_) => Waiting::Username,
            Counted::Address(_) => Waiting::Address,
        }
    }
}

/// Names count as one however they are written, as the login finds them;
/// a name longer than any allowed is cut, so it counts with those it
/// starts like.
fn key(username: &str) -> String {
    let mut key = crate::text::name_key(username);
    let mut end = key.len().min(KEY_BYTES);
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    key.truncate(end);
    key
}

/// 429 Too Many Requests, saying when to try again; the kit's error layer
/// words it as a page or as JSON.
impl IntoResponse for TooSoon {
    fn into_response(self) -> Response {
        let seconds = self.0.as_secs_f64().ceil().max(1.0) as u64;
        let whose = match self.1 {
            Waiting::Username => "for this user",
            Waiting::Address => "from your address",
            Waiting::Everyone => "here lately",
        };
        let message = format!("Too many failed logins {whose}; try again in {seconds} s.");
        let retry = [(header::RETRY_AFTER, seconds.to_string())];
        (StatusCode::TOO_MANY_REQUESTS, retry, message).into_response()
    }
}

/// A handler takes the app's throttle by naming it: `throttle: Throttle`.
impl<S: Send + Sync> FromRequestParts<S> for Throttle {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let app = parts.extensions.get::<Throttle>().cloned();
        Ok(Throttle {
            client: crate::serve::client_address(parts),
            ..app.unwrap_or_default()
        })
    }
}
