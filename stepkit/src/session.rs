//! The web half of a login, which Flask gives an app: the secret key, the
//! session cookie with its flags, and the check that a form was posted
//! from this site. What the session holds and where it is kept is the
//! step's own lesson.

use std::path::Path;
use std::sync::OnceLock;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, Key, SameSite};
use sha2::{Digest, Sha256};

use crate::Error;

/// The name of the session cookie, as Flask names its own.
pub const SESSION_COOKIE: &str = "session";
/// How long a session lasts after logging in, in days, as Flask's
/// permanent sessions do; the cookie's `Max-Age` says the same.
pub const SESSION_DAYS: i64 = 31;
/// The key's length in bytes; `SECRET_KEY` holds twice as many hex digits.
const KEY_BYTES: usize = 64;
/// A random 64-byte key holds about 57 different byte values, and fewer
/// than 40 about never; fewer than this many means a key typed by hand or
/// repeated, not generated.
const MIN_DISTINCT_BYTES: usize = 40;

// ANCHOR: secret_key
/// The secret key: from `SECRET_KEY` (128 hex digits, 64 bytes) if set;
/// else from `file`, which the first start fills with a new random key.
/// Never a constant in the code: a key anyone can read signs cookies anyone
/// can forge.
pub fn secret_key(from_env: Option<&str>, file: &Path) -> Result<Key, Error> {
    if let Some(hex) = from_env {
        return key_from_hex(hex.trim()).map_err(|why| {
            let hint = "make one with: python3 -c 'import secrets; print(secrets.token_hex(64))'";
            Error::SecretKey(format!("SECRET_KEY {why}; {hint}"))
        });
    }
    let shown = file.display();
    match std::fs::read_to_string(file) {
        Ok(text) => key_from_hex(text.trim())
            .map_err(|why| Error::SecretKey(format!("the key in {shown} {why}"))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = Key::generate();
            write_private(file, &(hex(key.master()) + "\n"))
                .map_err(|err| Error::SecretKey(format!("cannot write {shown}: {err}")))?;
            tracing::info!("generated a new secret key in {shown}");
            Ok(key)
        }
        Err(err) => Err(Error::SecretKey(format!("cannot read {shown}: {err}"))),
    }
}
// ANCHOR_END: secret_key

/// The key that `hex` spells, or why it spells none.
fn key_from_hex(hex: &str) -> Result<Key, &'static str> {
    if hex.len() != 2 * KEY_BYTES || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("is not 128 hex digits (64 bytes)");
    }
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).expect("hex digits, checked"))
        .collect();
    let mut distinct = bytes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < MIN_DISTINCT_BYTES {
        return Err("is not random: it repeats too few byte values");
    }
    Key::try_from(bytes.as_slice()).map_err(|_| "is not 128 hex digits (64 bytes)")
}

/// Writes `text` to `path`, which must not exist yet, readable only by its
/// owner: a key other users of the machine could read would let them forge
/// any login. The text goes to a temporary file first, which takes the real
/// name only when it is complete, so a full disk leaves no half-written key.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)?;
    }
    let partial = path.with_extension("partial");
    let _ = std::fs::remove_file(&partial); // left by a start that was killed
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&partial).and_then(|mut file| {
        std::io::Write::write_all(&mut file, text.as_bytes())?;
        file.sync_all()
    });
    // A hard link, unlike a rename, never replaces a file that is there.
    let placed = written.and_then(|()| std::fs::hard_link(&partial, path));
    let _ = std::fs::remove_file(&partial);
    placed
}

// ANCHOR: cookie
/// The session cookie holding `value`: sent back on every path, never
/// readable by the page's scripts (`HttpOnly`), left off requests that
/// other sites start, but for plain links (`SameSite=Lax`), and kept by
/// the browser for [`SESSION_DAYS`] (`Max-Age`). With
/// `SESSION_COOKIE_SECURE=1` it is also `Secure`: sent over HTTPS only.
pub fn session_cookie(value: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::days(SESSION_DAYS))
        .secure(secure_cookies())
        .build()
}

/// `SESSION_COOKIE_SECURE`, Flask's setting of that name: turn it on where
/// the app is served over HTTPS (behind a proxy that terminates TLS), and
/// never on plain HTTP, where the browser would then drop the cookie.
fn secure_cookies() -> bool {
    static SECURE: OnceLock<bool> = OnceLock::new();
    *SECURE.get_or_init(|| {
        let value = std::env::var("SESSION_COOKIE_SECURE").unwrap_or_default();
        matches!(value.to_ascii_lowercase().as_str(), "1" | "true" | "yes")
    })
}

/// What a response removes to end the session cookie.
pub fn no_session_cookie() -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE).path("/").build()
}
// ANCHOR_END: cookie

// ANCHOR: token
/// A new session token for the cookie: 32 random bytes from the operating
/// system, as 64 hex digits.
pub fn new_token() -> String {
    let mut bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex(&bytes)
}

/// The SHA-256 of a token, in hex: what a session table keeps instead of
/// the token, so that a copy of the database lets no one log in.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
// ANCHOR_END: token

// ANCHOR: same_origin
/// Refuses a form posted from another site: a request that changes
/// something (anything but GET and HEAD) whose browser says it comes from
/// elsewhere. The session cookie's `SameSite=Lax` already keeps it off such
/// requests in current browsers; this check does not rely on that alone.
pub async fn same_origin(request: Request, next: Next) -> Response {
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes && is_cross_site(request.headers()) {
        tracing::warn!("refused a request from another site");
        let refusal = "This request came from another site, so it was refused.";
        return (StatusCode::FORBIDDEN, refusal).into_response();
    }
    next.run(request).await
}

/// True when the browser says so (`Sec-Fetch-Site: cross-site`, or
/// `same-site`: a sibling subdomain is another site's code too), or when the
/// `Origin` it sends is not this server's scheme (`https` when
/// `SESSION_COOKIE_SECURE=1`, else `http`) and `Host`. An `Origin` that is
/// not plain ASCII text counts as another site, never as none.
fn is_cross_site(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).map(|value| value.to_str().ok());
    if matches!(
        text("sec-fetch-site"),
        Some(Some("cross-site" | "same-site"))
    ) {
        return true;
    }
    match text("origin") {
        None => false,
        Some(None) => true,
        Some(Some(origin)) => {
            // Served over HTTPS (`SESSION_COOKIE_SECURE=1`), a page over
            // plain HTTP on the same name is another origin, and anyone on
            // the network can write one.
            let host = text("host").flatten().unwrap_or_default();
            let scheme = if secure_cookies() { "https" } else { "http" };
            host.is_empty() || origin != format!("{scheme}://{host}")
        }
    }
}
// ANCHOR_END: same_origin
