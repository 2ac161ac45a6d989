//! What every request passes through, outermost first: the host check, a
//! number for the log, readable error bodies and the safety headers (one
//! layer, since each layer costs every request something: the appendix
//! measures it), panic catching, a time limit, and the whole body read
//! (within a limit) before the step's routes see the request. Werkzeug and Flask do this for a Flask app: its error
//! pages, its `MAX_CONTENT_LENGTH`, and the 500 page a crashing view gets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, context};
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

use crate::text::printable;

/// The largest request body accepted, in bytes; a larger one is answered 413.
pub const BODY_LIMIT: usize = 16 * 1024;
/// The longest a request may take, body included; then it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a 4xx answer's own text its readable body repeats.
const DETAIL_CHARS: usize = 200;
/// Headers every answer carries, error pages included: the browser must not
/// guess a type other than the one sent, tell other sites which page a
/// visitor came from, run scripts or load anything from elsewhere, or show
/// the page in another site's frame (the pages keep their inline styles).
const SAFETY_HEADERS: [(HeaderName, &str); 3] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    ),
];

// ANCHOR: layers
/// Wraps `routes` in the layers every request passes through. The last one
/// added is outermost: it checks the host, numbers the request, words
/// whatever answer comes back, a panic's 500 included, and adds the safety
/// headers. Pages are worded with the step's `error.html`, which gets
/// `status` and `detail`.
pub fn layers<S>(routes: Router<S>, templates: Arc<Environment<'static>>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let pages = ErrorPages {
        templates,
        requests: Arc::default(),
    };
    // Each app counts its own failed logins.
    #[cfg(feature = "sessions")]
    let routes = routes.layer(axum::Extension(crate::throttle::Throttle::default()));
    routes
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(whole_body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn_with_state(pages, every_answer))
}
// ANCHOR_END: layers

// ANCHOR: known_host
/// Answers only requests addressed to this server by a name it answers to:
/// `127.0.0.1`, `localhost` or `[::1]` on any port, or a name listed in
/// `ALLOWED_HOSTS` (comma-separated, as Django's setting of that name), for
/// a server behind a proxy. A page on another site whose name an attacker
/// points at 127.0.0.1 (DNS rebinding) sends its own name and gets a 400.
/// No `Host` at all (HTTP/1.0, or a test's own request) passes.
fn unknown_host(request: &Request) -> Option<Response> {
    let host = request.headers().get(header::HOST)?.to_str().ok();
    if host.is_some_and(is_known_host) {
        return None;
    }
    let shown = crate::text::quote(host.unwrap_or("(not text)"));
    tracing::warn!("refused a request for host {shown}");
    let refusal = format!("This server does not answer for the host {shown}.");
    Some((StatusCode::BAD_REQUEST, refusal).into_response())
}

fn is_known_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.to_ascii_lowercase();
    ["127.0.0.1", "localhost", "[::1]"].contains(&name.as_str()) || allowed_hosts().contains(&name)
}

/// The names in `ALLOWED_HOSTS`, read once.
fn allowed_hosts() -> &'static [String] {
    static ALLOWED: OnceLock<Vec<String>> = OnceLock::new();
    ALLOWED.get_or_init(|| {
        let listed = std::env::var("ALLOWED_HOSTS").unwrap_or_default();
        listed
            .split(',')
            .map(|name| name.trim().to_ascii_lowercase())
            .filter(|name| !name.is_empty())
            .collect()
    })
}
// ANCHOR_END: known_host

// ANCHOR: whole_body
/// Reads the request's whole body before the step's routes see it, so no
/// handler, and no database connection a handler holds, ever waits on a
/// slow client: a client that sends its headers and then trickles its body
/// costs a task, not one of the pool's connections. The time limit outside
/// bounds the wait (408); a declared or actual length over [`BODY_LIMIT`]
/// is a 413, decided from the header when it says so. A client that asked
/// to be told first (`Expect: 100-continue`) is told at once; one that sends
/// its body anyway has a bounded part of it read and dropped first, as
/// nginx does, so that it is still reading when the 413 comes, not cut off.
async fn whole_body(request: Request, next: Next) -> Response {
    let declared = request.headers().get(header::CONTENT_LENGTH);
    let declared = declared.and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > BODY_LIMIT as u64) {
        let asked_first = request.headers().contains_key(header::EXPECT);
        if !asked_first {
            drain(request.into_body()).await;
        }
        return too_large();
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => next.run(Request::from_parts(parts, bytes.into())).await,
        Err(err) if is_over_limit(&err) => too_large(),
        Err(err) => {
            tracing::info!("the request's body did not arrive: {err}");
            (
                StatusCode::BAD_REQUEST,
                "The request's body did not arrive whole.",
            )
                .into_response()
        }
    }
}
// ANCHOR_END: whole_body

/// The most of a refused body that is read and dropped, and for how long.
const DRAINED_BYTES: usize = 64 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads and drops up to [`DRAINED_BYTES`] of `body`, for at most
/// [`DRAIN_TIME`]: the client can then read the answer it is given.
async fn drain(mut body: axum::body::Body) {
    let read = async {
        let mut dropped = 0;
        while dropped < DRAINED_BYTES {
            match http_body_util::BodyExt::frame(&mut body).await {
                Some(Ok(frame)) => dropped += frame.data_ref().map_or(0, |data| data.len()),
                _ => break, // all of it, or a client gone
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read).await;
}

fn too_large() -> Response {
    let message = format!("The request's body is over the limit of {BODY_LIMIT} bytes.");
    (StatusCode::PAYLOAD_TOO_LARGE, message).into_response()
}

/// True when reading stopped because the body passed the limit.
fn is_over_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// A page from the step's templates, Flask's `render_template`. A template
/// whose name ends in `.html` escapes what it shows, so a `<` in a user's
/// name arrives as `&lt;`.
pub fn render(
    templates: &Environment<'_>,
    name: &str,
    values: minijinja::Value,
) -> Result<Html<String>, minijinja::Error> {
    Ok(Html(templates.get_template(name)?.render(values)?))
}

/// What the error layer needs: the step's templates, and a counter that
/// numbers the requests.
#[derive(Clone)]
struct ErrorPages {
    templates: Arc<Environment<'static>>,
    requests: Arc<AtomicU64>,
}

// ANCHOR: every_answer
/// The outermost layer: refuses a host this server is not, numbers each
/// request for the log, words each error answer, and adds the safety
/// headers to every answer.
async fn every_answer(State(pages): State<ErrorPages>, request: Request, next: Next) -> Response {
    let id = pages.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", id, method = %request.method(), path);
    let response = match span.in_scope(|| unknown_host(&request)) {
        Some(refusal) => refusal,
        None => next.run(request).instrument(span.clone()).await,
    };
    let status = response.status();
    tracing::info!(parent: &span, "answered {status}");
    let mut response = readable_errors(response, &pages, id, &path).await;
    for (name, value) in SAFETY_HEADERS {
        let value = HeaderValue::from_static(value);
        response.headers_mut().entry(name).or_insert(value);
    }
    response
}
// ANCHOR_END: every_answer

// ANCHOR: readable_errors
/// Gives every error answer a short readable body: JSON under `/api/`, a
/// page elsewhere. A 5xx tells the client nothing internal, only the number
/// the log lines carry.
async fn readable_errors(response: Response, pages: &ErrorPages, id: u64, path: &str) -> Response {
    let status = response.status();
    let api = path.starts_with("/api/");
    if !(status.is_client_error() || status.is_server_error()) || is_worded(&response, api) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let detail = match status.is_server_error() {
        true => {
            format!("Something went wrong on the server (request {id}); its log has the details.")
        }
        false => {
            let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            printable(&text.trim().chars().take(DETAIL_CHARS).collect::<String>())
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let status = status.to_string();
    if api {
        let error = if detail.is_empty() { &status } else { &detail };
        return (parts, Json(json!({ "error": error }))).into_response();
    }
    let page = pages
        .templates
        .get_template("error.html")
        .and_then(|template| template.render(context! { status, detail }));
    match page {
        Ok(page) => (parts, Html(page)).into_response(),
        Err(err) => {
            tracing::error!("cannot render error.html: {err}");
            (parts, status).into_response()
        }
    }
}
// ANCHOR_END: readable_errors

/// True when a handler already gave the answer a body of the right kind:
/// JSON under `/api/`, HTML elsewhere.
fn is_worded(response: &Response, api: bool) -> bool {
    let kind = response.headers().get(header::CONTENT_TYPE);
    let kind = kind.and_then(|kind| kind.to_str().ok()).unwrap_or_default();
    kind.starts_with(if api { "application/json" } else { "text/html" })
}
