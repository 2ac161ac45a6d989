//! The kit's own tests: the database setting, the quoting, the layers and
//! their readable errors, and the web half of sessions. How `serve` starts
//! and stops is tested on step 2's real binary, which uses it.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use minijinja::Environment;
use stepkit::layers::BODY_LIMIT;
use stepkit::setting::sqlite_path;
use testkit::{get as get_request, post as post_request, send};

const DEFAULT: &str = "instance/kit.sqlite";

#[test]
fn the_setting_names_one_sqlite_file_or_is_refused_in_one_line() {
    let path = |value| sqlite_path(value, DEFAULT).map(|p| p.display().to_string());
    assert_eq!(path(None).unwrap(), DEFAULT);
    for (value, file) in [
        ("data/app.sqlite", "data/app.sqlite"),
        ("sqlite:data/app.sqlite", "data/app.sqlite"),
        ("sqlite://data/app.sqlite", "data/app.sqlite"),
        ("sqlite:///tmp/app.sqlite", "/tmp/app.sqlite"),
        ("SQLITE:app.sqlite", "app.sqlite"),
        ("C:\\data\\app.sqlite", "C:\\data\\app.sqlite"),
    ] {
        assert_eq!(path(Some(value)).unwrap(), file, "{value}");
    }
    let setting = "the database setting (from --database or DATABASE_URL)";
    for (value, why) in [
        (
            "postgres://ann:secret@db/blog",
            "is a `postgres:` URL, but this step needs a SQLite file: a path or a sqlite: URL",
        ),
        (
            "sqlite:app.sqlite?mode=ro",
            "\"sqlite:app.sqlite?mode=ro\" carries options (?...), which this step does not honour; give a plain path",
        ),
        (
            "sqlite::memory:",
            "\"sqlite::memory:\" is an in-memory database, which would be gone when the command ends",
        ),
        (
            "sqlite:file:%3Amemory%3A",
            "\"sqlite:file:%3Amemory%3A\" is a SQLite file: URI, which this step does not read; give a plain path",
        ),
        (
            "file:x.sqlite",
            "is a `file:` URL, but this step needs a SQLite file: a path or a sqlite: URL",
        ),
        ("sqlite:  ", "\"sqlite:  \" names no file"),
    ] {
        let err = path(Some(value)).unwrap_err().to_string();
        assert_eq!(err, format!("{setting} {why}"), "{value}");
    }
}

#[test]
fn a_refused_setting_never_repeats_a_password() {
    let err = sqlite_path(Some("postgres://ann:s3cret@db/blog"), DEFAULT).unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

#[test]
fn quoting_is_short_and_escaped() {
    assert_eq!(stepkit::quote("ann"), "\"ann\"");
    assert_eq!(stepkit::quote("a\u{1b}[31mred"), "\"a\\u{1b}[31mred\"");
    let long = "x".repeat(5_000);
    assert_eq!(stepkit::quote(&long), format!("\"{}\"...", "x".repeat(40)));
}

/// An app on the kit's layers, with an error page that shows where it came
/// from, and handlers that answer, fail plainly, or panic.
fn app() -> Router {
    let mut templates = Environment::new();
    templates
        .add_template("error.html", "<h1>{{ status }}</h1><p>{{ detail }}</p>")
        .unwrap();
    let routes = Router::new()
        .route("/", get(|| async { "home" }))
        .route(
            "/plain",
            get(|| async { (StatusCode::BAD_REQUEST, "no <b>bold</b> here") }),
        )
        .route("/panics", get(panics))
        .route("/api/panics", get(panics))
        .route("/api/echo", post(|body: String| async move { body }));
    stepkit::layers(routes, Arc::new(templates))
}

async fn panics() -> &'static str {
    panic!("secret detail")
}

#[tokio::test]
async fn error_answers_are_worded_as_pages_or_json() {
    let app = app();
    assert_eq!(
        send(&app, get_request("/")).await,
        (StatusCode::OK, "home".into())
    );
    let (status, page) = send(&app, get_request("/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(page, "<h1>404 Not Found</h1><p></p>");
    let (status, page) = send(&app, get_request("/plain")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        page,
        "<h1>400 Bad Request</h1><p>no &lt;b&gt;bold&lt;&#x2f;b&gt; here</p>"
    );
    let (status, json) = send(&app, get_request("/api/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json, r#"{"error":"404 Not Found"}"#);
}

#[tokio::test]
async fn a_panic_is_a_numbered_500_that_tells_nothing_internal() {
    let app = app();
    let (status, page) = send(&app, get_request("/panics")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        page.contains("Something went wrong on the server (request 1)"),
        "{page}"
    );
    assert!(!page.contains("secret"), "{page}");
    let (status, json) = send(&app, get_request("/api/panics")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        json,
        r#"{"error":"Something went wrong on the server (request 2); its log has the details."}"#
    );
    // The server is still serving.
    assert_eq!(send(&app, get_request("/")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn every_answer_carries_the_safety_headers() {
    let app = app();
    for uri in ["/", "/nowhere", "/panics", "/api/nowhere"] {
        let request = Request::get(uri).body(Body::empty()).unwrap();
        let response = tower::ServiceExt::oneshot(app.clone(), request)
            .await
            .unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(
            header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{uri}"
        );
        assert_eq!(
            header("referrer-policy").as_deref(),
            Some("same-origin"),
            "{uri}"
        );
        let policy = header("content-security-policy").unwrap_or_default();
        assert!(policy.contains("frame-ancestors 'none'"), "{uri}: {policy}");
        assert!(policy.contains("default-src 'self'"), "{uri}: {policy}");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let app = app();
    let fits = "x".repeat(BODY_LIMIT);
    let (status, body) = send(&app, post_request("/api/echo", "text/plain", fits.clone())).await;
    assert_eq!((status, body.len()), (StatusCode::OK, BODY_LIMIT));
    let over = "x".repeat(BODY_LIMIT + 1);
    let (status, json) = send(&app, post_request("/api/echo", "text/plain", over)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(json.starts_with(r#"{"error":"#), "{json}");
}

#[test]
fn names_are_composed_and_may_hold_nothing_unseen() {
    use stepkit::{name_problem, normal_name};
    assert_eq!(
        normal_name(" e\u{301}mile "),
        "\u{e9}mile",
        "NFC: é is one character"
    );
    assert_eq!(name_problem("username", "\u{e9}mile", 100), None);
    assert_eq!(
        name_problem("username", "ann lee", 100),
        None,
        "a plain space is fine"
    );
    for (name, code) in [
        ("adm\u{202e}nimgpj", "U+202E"), // right-to-left override
        ("\u{200b}", "U+200B"),          // zero-width space, alone
        ("\u{3164}", "U+3164"),          // Hangul filler
        ("\u{2800}", "U+2800"),          // blank Braille pattern
        ("\u{feff}alice", "U+FEFF"),     // byte-order mark
        ("alice\u{200e}", "U+200E"),     // left-to-right mark
        ("al\u{a0}ice", "U+00A0"),       // no-break space
    ] {
        let problem = name_problem("username", name, 100).unwrap_or_default();
        assert_eq!(
            problem,
            format!("The username contains a character that cannot be seen ({code})."),
            "{name:?}"
        );
    }
}

/// The key names are told apart by: one key for each way of writing a
/// name that reads the same, and letters of another script kept apart.
#[test]
fn a_name_s_key_is_one_however_the_name_is_written() {
    use stepkit::name_key;
    for (name, twin) in [
        ("\u{e9}mile", "\u{c9}MILE"),                     // beyond A to Z
        ("\u{e9}mile", "E\u{301}MILE"),                   // however the accent is typed
        ("bob", "\u{ff22}\u{ff2f}\u{ff22}"),              // fullwidth letters
        ("fix", "\u{fb01}x"),                             // a ligature
        ("carl", "\u{1d41c}\u{1d41a}\u{1d42b}\u{1d425}"), // mathematical bold
        ("kelvin", "\u{212a}elvin"),                      // the Kelvin sign
        ("strasse", "stra\u{df}e"),                       // ß
        (
            "\u{3bf}\u{3b4}\u{3bf}\u{3c3}",
            "\u{3bf}\u{3b4}\u{3bf}\u{3c2}",
        ), // a final sigma
    ] {
        assert_eq!(name_key(name), name_key(twin), "{name:?} and {twin:?}");
    }
    assert_ne!(
        name_key("dave"),
        name_key("d\u{430}ve"),
        "Cyrillic а is another letter"
    );
}

#[tokio::test]
async fn only_requests_for_this_server_s_own_names_are_answered() {
    let app = app();
    let to = |host: &'static [u8]| {
        let mut request = get_request("/");
        let host = axum::http::HeaderValue::from_bytes(host).unwrap();
        request.headers_mut().insert("host", host);
        request
    };
    for host in [
        &b"127.0.0.1:5000"[..],
        b"localhost:80",
        b"LOCALHOST",
        b"[::1]:8080",
    ] {
        let (status, body) = send(&app, to(host)).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "home"),
            "{host:?}"
        );
    }
    // A rebinding page's own name, or a name that is not text, is a 400.
    for host in [
        &b"evil.example:5000"[..],
        b"127.0.0.1.evil.example",
        b"\xc3\xa9vil",
    ] {
        let (status, page) = send(&app, to(host)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{host:?}");
        assert!(page.contains("does not answer for the host"), "{page}");
    }
    let mut api = to(b"evil.example");
    *api.uri_mut() = "/api/echo".parse().unwrap();
    let (_, json) = send(&app, api).await;
    assert_eq!(
        json,
        r#"{"error":"This server does not answer for the host \"evil.example\"."}"#
    );
}

/// A request whose body stops half-way, as when a client goes away: the
/// first `sent` bytes, then an error instead of the rest.
fn cut_short(uri: &str, declared: usize, sent: usize) -> Request<Body> {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(vec![b'x'; sent]),
        Err(std::io::ErrorKind::ConnectionReset.into()),
    ];
    Request::post(uri)
        .header("content-length", declared)
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap()
}

#[tokio::test]
async fn a_handler_runs_only_once_the_whole_body_has_arrived() {
    // The handler never reads its body, as one that first looks a session
    // up in the database does not: only the layers can make it wait.
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let routes = Router::new().route(
        "/api/count",
        post(move || async move {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            "counted"
        }),
    );
    let app = stepkit::layers(routes, Arc::new(Environment::new()));
    let (status, json) = send(&app, cut_short("/api/count", 100, 1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(
        json,
        r#"{"error":"The request's body did not arrive whole."}"#
    );
    // A declared length over the limit is refused before any body is read.
    let (status, json) = send(&app, cut_short("/api/count", BODY_LIMIT + 1, 0)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{json}");
    assert!(json.contains("limit of 16384 bytes"), "{json}");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
    let (status, _) = send(&app, post_request("/api/count", "text/plain", "x")).await;
    assert_eq!(
        (status, calls.load(std::sync::atomic::Ordering::SeqCst)),
        (StatusCode::OK, 1)
    );
}

#[tokio::test]
async fn without_an_error_template_the_status_is_still_said() {
    let routes: Router = Router::new();
    let app = stepkit::layers(routes, Arc::new(Environment::new()));
    let request = Request::get("/nowhere").body(Body::empty()).unwrap();
    assert_eq!(
        send(&app, request).await,
        (StatusCode::NOT_FOUND, "404 Not Found".into())
    );
}

#[cfg(feature = "sessions")]
mod sessions {
    use std::path::Path;

    use axum::Router;
    use axum::http::{Request, StatusCode};
    use axum::middleware;
    use axum::routing::post;
    use stepkit::session::{same_origin, secret_key, session_cookie};

    #[test]
    fn a_password_hash_is_salted_argon2id_and_checks_only_its_password() {
        use stepkit::password::{hash, verify};
        let stored = hash("correct horse").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert_ne!(
            hash("correct horse").unwrap(),
            stored,
            "a fresh salt each time"
        );
        assert!(verify("correct horse", &stored));
        assert!(!verify("correct horsE", &stored));
        assert!(!verify(&stored, &stored), "the hash is no password");
        for garbage in [
            "",
            "correct horse",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA",
            "$md5$x$y",
        ] {
            assert!(!verify("correct horse", garbage), "{garbage:?}");
        }
        // A stored hash that asks for more memory than the kit allows
        // (here 1 GiB) verifies nothing, rather than allocating it.
        let greedy = stored.replacen("m=19456", "m=1048576", 1);
        assert!(!verify("correct horse", &greedy));
    }

    #[test]
    fn hashes_agree_with_the_argon2_crate_both_ways() {
        use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
        // Made by the crate's own API, as the steps stored them before the
        // kit did: such rows still log in, and the kit's rows check there.
        let salt = SaltString::encode_b64(b"sixteen byte sal").unwrap();
        let theirs = argon2::Argon2::default()
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(stepkit::password::verify("pw", &theirs));
        let ours = stepkit::password::hash("pw").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            argon2::Argon2::default()
                .verify_password(b"pw", &parsed)
                .is_ok()
        );
    }

    /// A spray of new names, more than the throttle can remember, neither
    /// wipes a name's count nor is heard uncounted: once the throttle is
    /// full of recent failures, a name it cannot count is refused.
    #[test]
    fn a_spray_of_names_never_wipes_a_count() {
        use stepkit::throttle::{FREE_FAILURES, Throttle, TooSoon, Waiting};
        let throttle = Throttle::default();
        for _ in 0..FREE_FAILURES {
            throttle.attempt("victim").unwrap();
        }
        let mut refused = 0;
        for n in 0..120_000 {
            if let Err(TooSoon(_, Waiting::Everyone)) = throttle.attempt(&format!("spray{n}")) {
                refused += 1;
            }
        }
        assert!(refused > 0, "the spray filled the throttle");
        assert_eq!(
            throttle.attempt("victim"),
            Ok(()),
            "the sixth starts the wait"
        );
        assert!(
            throttle.attempt("victim").is_err(),
            "victim's count was kept"
        );
    }

    #[test]
    fn a_username_that_keeps_failing_waits_longer_each_time() {
        use std::time::Duration;
        use stepkit::throttle::{FREE_FAILURES, Throttle, TooSoon, Waiting};
        let throttle = Throttle::default();
        // Every attempt counts until it succeeds, so these stand for a
        // burst sent at once, none of them checked yet.
        for _ in 0..FREE_FAILURES {
            assert_eq!(throttle.attempt("ann"), Ok(()));
        }
        assert_eq!(
            throttle.attempt("Ann "),
            Ok(()),
            "the sixth is heard, and sets a wait"
        );
        let wait = |name| match throttle.attempt(name) {
            Err(TooSoon(wait, Waiting::Username)) => wait,
            Err(other) => panic!("{other:?}"),
            Ok(()) => Duration::ZERO,
        };
        let first = wait("ann"); // the same name, however written
        assert!(
            first > Duration::from_millis(500) && first <= Duration::from_secs(1),
            "{first:?}"
        );
        assert_eq!(
            throttle.attempt("bo"),
            Ok(()),
            "other names are not held up"
        );
        throttle.succeeded("ann");
        assert_eq!(
            throttle.attempt("ann"),
            Ok(()),
            "a right password ends the count"
        );
    }

    #[tokio::test]
    async fn a_refused_login_is_a_429_that_says_when_to_try_again() {
        use axum::response::IntoResponse;
        use std::time::Duration;
        use stepkit::throttle::{TooSoon, Waiting};
        for (refused, retry, said) in [
            (
                TooSoon(Duration::from_millis(1500), Waiting::Username),
                "2",
                "Too many failed logins for this user; try again in 2 s.",
            ),
            (
                TooSoon(Duration::from_secs(4), Waiting::Address),
                "4",
                "Too many failed logins from your address; try again in 4 s.",
            ),
        ] {
            let response = refused.into_response();
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(response.headers()["retry-after"], retry);
            let body = axum::body::to_bytes(response.into_body(), 1000)
                .await
                .unwrap();
            assert_eq!(body, said);
        }
    }

    /// 64 bytes, 48 of them different, as a generated key has about 57.
    const GOOD: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
                        202122232425262728292a2b2c2d2e2f000102030405060708090a0b0c0d0e0f";

    #[test]
    fn a_key_from_the_environment_is_128_hex_digits_and_random_looking() {
        let unused = Path::new("/nonexistent/key");
        assert!(secret_key(Some(GOOD), unused).is_ok());
        let hint = "; make one with: python3 -c 'import secrets; print(secrets.token_hex(64))'";
        for (value, why) in [
            ("abc", "is not 128 hex digits (64 bytes)"),
            (&"+0".repeat(64), "is not 128 hex digits (64 bytes)"),
            (
                &"0".repeat(128),
                "is not random: it repeats too few byte values",
            ),
            (
                &"ab01".repeat(32),
                "is not random: it repeats too few byte values",
            ),
        ] {
            let err = secret_key(Some(value), unused).err().unwrap().to_string();
            assert_eq!(err, format!("the secret key: SECRET_KEY {why}{hint}"));
        }
    }

    #[test]
    fn a_generated_key_is_kept_private_and_reused() {
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("instance/secret-key");
        let first = secret_key(None, &file).unwrap();
        let again = secret_key(None, &file).unwrap();
        assert_eq!(first.master(), again.master());
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.trim().len(), 128);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let left: Vec<_> = std::fs::read_dir(file.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the key file: {left:?}");
    }

    #[test]
    fn a_bad_key_file_is_named_in_the_message() {
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("secret-key");
        std::fs::write(&file, "").unwrap();
        let err = secret_key(None, &file).err().unwrap().to_string();
        let expected = format!(
            "the secret key: the key in {} is not 128 hex digits (64 bytes)",
            file.display()
        );
        assert_eq!(err, expected);
    }

    #[test]
    fn the_session_cookie_is_http_only_and_same_site() {
        // Secure only with SESSION_COOKIE_SECURE, which step 3's tests set.
        let cookie = session_cookie("token".into()).to_string();
        assert_eq!(
            cookie,
            "session=token; HttpOnly; SameSite=Lax; Path=/; Max-Age=2678400"
        );
        assert_eq!(2678400, stepkit::session::SESSION_DAYS * 24 * 3600);
    }

    #[tokio::test]
    async fn a_change_from_another_site_is_refused() {
        let app = Router::new()
            .route("/create", post(|| async { "created" }))
            .layer(middleware::from_fn(same_origin));
        let request = |headers: &[(&str, &str)]| {
            let mut request = Request::post("/create");
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.body(axum::body::Body::empty()).unwrap()
        };
        let host = ("host", "127.0.0.1:5000");
        for (headers, expected) in [
            (vec![host], StatusCode::OK),
            (
                vec![host, ("origin", "http://127.0.0.1:5000")],
                StatusCode::OK,
            ),
            (
                vec![host, ("origin", "https://evil.example")],
                StatusCode::FORBIDDEN,
            ),
            (
                vec![host, ("sec-fetch-site", "cross-site")],
                StatusCode::FORBIDDEN,
            ),
            (
                vec![host, ("sec-fetch-site", "same-origin")],
                StatusCode::OK,
            ),
            // Served over plain HTTP (no SESSION_COOKIE_SECURE here), an
            // https:// page is another origin; step 3's served test checks
            // the other way round.
            (
                vec![host, ("origin", "https://127.0.0.1:5000")],
                StatusCode::FORBIDDEN,
            ),
            (vec![host, ("origin", "null")], StatusCode::FORBIDDEN),
            (
                vec![host, ("origin", "ftp://127.0.0.1:5000")],
                StatusCode::FORBIDDEN,
            ),
            (vec![("origin", "http://")], StatusCode::FORBIDDEN),
        ] {
            let (status, _) = testkit::send(&app, request(&headers)).await;
            assert_eq!(status, expected, "{headers:?}");
        }
        // An Origin that is not ASCII text is another site, not no site.
        let mut foreign = request(&[host]);
        let value = axum::http::HeaderValue::from_bytes(b"http://\xc3\xa9vil.example").unwrap();
        foreign.headers_mut().insert("origin", value);
        let (status, _) = testkit::send(&app, foreign).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}
