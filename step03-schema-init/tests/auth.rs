//! step03-schema-init: flaskr's auth tests, rebuilt (register, log in, log
//! out, `login_required`), and the sessions kept in the database: a copy of
//! the cookie is worth nothing once the session has ended, by logging out or
//! by `init-db`.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum_extra::extract::cookie::{Cookie, Key, SignedCookieJar};
use rusqlite::Connection;
use step03_schema_init::{Config, create_app, db, session};
use stepkit::password;
use stepkit::session::SESSION_COOKIE;
use tempfile::TempDir;

/// flaskr's `app` fixture: a testing app on a fresh database holding the
/// user `test` (password `test`), and a browser that keeps its cookie.
struct Browser {
    dir: TempDir,
    app: Router,
    key: Key,
    /// The session cookie the browser holds, as `session=...`.
    cookie: Option<String>,
}

/// What came back: the status, where it redirects, the cookie set, the page.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    location: Option<String>,
    set_cookie: Option<String>,
    body: String,
}

impl Browser {
    fn new() -> Browser {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("test.sqlite");
        db::init_db(&path).unwrap();
        db::add_user(&Connection::open(&path).unwrap(), "test", "test").unwrap();
        let config = Config::testing(path);
        let key = config.secret_key.clone();
        let app = create_app(config).unwrap();
        Browser {
            dir,
            app,
            key,
            cookie: None,
        }
    }

    fn conn(&self) -> Connection {
        Connection::open(self.dir.path().join("test.sqlite")).unwrap()
    }

    /// Sends a request as a browser would: with the cookie, keeping any new one.
    async fn send(&mut self, request: axum::http::request::Builder, body: &str) -> Answer {
        let mut request = request.header(header::HOST, "localhost:5000");
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let request = request.body(Body::from(body.to_owned())).unwrap();
        let response = tower::ServiceExt::oneshot(self.app.clone(), request)
            .await
            .unwrap();
        let header_text = |name| {
            let value = response.headers().get(name);
            value.map(|value| value.to_str().unwrap().to_owned())
        };
        let (location, set_cookie) = (
            header_text(header::LOCATION),
            header_text(header::SET_COOKIE),
        );
        if let Some(set_cookie) = &set_cookie {
            let pair = set_cookie.split(';').next().unwrap();
            self.cookie = (!pair.ends_with('=')).then(|| pair.to_owned());
        }
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = String::from_utf8(bytes.to_vec()).unwrap();
        Answer {
            status,
            location,
            set_cookie,
            body,
        }
    }

    async fn get(&mut self, uri: &str) -> Answer {
        self.send(Request::get(uri), "").await
    }

    async fn post(&mut self, uri: &str, form: &str) -> Answer {
        let request =
            Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(request, form).await
    }

    async fn login(&mut self, username: &str, password: &str) -> Answer {
        let form = format!("username={username}&password={password}");
        self.post("/auth/login", &form).await
    }

    /// A cookie signed with the app's own key, holding `value`.
    fn signed_session(&self, value: &str) -> String {
        let cookie = Cookie::new(SESSION_COOKIE, value.to_owned());
        let jar = SignedCookieJar::new(self.key.clone()).add(cookie);
        let response = axum::response::IntoResponse::into_response((jar, ()));
        let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        set_cookie.split(';').next().unwrap().to_owned()
    }

    fn count(&self, sql: &str) -> i64 {
        self.conn().query_row(sql, (), |row| row.get(0)).unwrap()
    }
}

/// With `cookie`, the index offers to log in and the users page sends one there.
async fn assert_is_no_session(browser: &mut Browser, cookie: &str) {
    browser.cookie = Some(cookie.to_owned());
    let page = browser.get("/").await;
    assert!(
        page.body.contains("Log In"),
        "{cookie} was taken as logged in"
    );
    let users = browser.get("/users").await;
    assert_eq!(users.location.as_deref(), Some("/auth/login"));
}

// --- flaskr's tests: auth ------------------------------------------------------------------

#[tokio::test]
async fn register() {
    let mut browser = Browser::new();
    assert_eq!(browser.get("/auth/register").await.status, StatusCode::OK);
    let answer = browser
        .post("/auth/register", "username=a&password=a")
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location.as_deref(), Some("/auth/login"));
    let stored: String = browser
        .conn()
        .query_row(
            "SELECT password FROM user WHERE username = 'a'",
            (),
            |row| row.get(0),
        )
        .unwrap();
    assert!(stored.starts_with("$argon2id$") && password::verify("a", &stored));
}

#[tokio::test]
async fn register_validate_input() {
    let mut browser = Browser::new();
    for (form, status, message) in [
        (
            "username=&password=",
            StatusCode::BAD_REQUEST,
            "Username is required.",
        ),
        (
            "username=a&password=",
            StatusCode::BAD_REQUEST,
            "Password is required.",
        ),
        (
            "username=test&password=test",
            StatusCode::CONFLICT,
            "User test is already registered.",
        ),
        (
            "username=b%FFo&password=x",
            StatusCode::BAD_REQUEST,
            "The username is not valid UTF-8 text.",
        ),
        (
            "username=b%1Bo&password=x",
            StatusCode::BAD_REQUEST,
            "The username contains a control character.",
        ),
    ] {
        let answer = browser.post("/auth/register", form).await;
        assert_eq!(answer.status, status, "{form}");
        assert!(
            answer.body.contains(message),
            "{form}: no `{message}` in\n{}",
            answer.body
        );
    }
    assert_eq!(
        browser.count("SELECT count(*) FROM user"),
        1,
        "a refused form wrote a row"
    );
}

#[tokio::test]
async fn login() {
    let mut browser = Browser::new();
    assert_eq!(browser.get("/auth/login").await.status, StatusCode::OK);
    let answer = browser.login("test", "test").await;
    assert_eq!(answer.location.as_deref(), Some("/"));
    let set_cookie = answer.set_cookie.unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let page = browser.get("/").await.body;
    assert!(page.contains(r#"<span class="who">test</span>"#), "{page}");
}

#[tokio::test]
async fn login_validate_input() {
    let mut browser = Browser::new();
    for (username, password, message) in [
        ("a", "test", "Incorrect username."),
        ("test", "a", "Incorrect password."),
    ] {
        let answer = browser.login(username, password).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert!(answer.body.contains(message), "{}", answer.body);
        assert!(browser.cookie.is_none());
    }
    assert_eq!(browser.count("SELECT count(*) FROM session"), 0);
}

#[tokio::test]
async fn logout() {
    let mut browser = Browser::new();
    browser.login("test", "test").await;
    let answer = browser.post("/auth/logout", "").await;
    assert_eq!(answer.location.as_deref(), Some("/"));
    assert!(
        browser.cookie.is_none(),
        "the session cookie is still there"
    );
    assert!(browser.get("/").await.body.contains("Log In"));
}

#[tokio::test]
async fn login_required() {
    let mut browser = Browser::new();
    let answer = browser.get("/users").await;
    assert_eq!(answer.location.as_deref(), Some("/auth/login"));
    browser.login("test", "test").await;
    let answer = browser.get("/users").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.contains("<li>test</li>"), "{}", answer.body);
}

// --- Sessions in the database -----------------------------------------------------------

#[tokio::test]
async fn a_session_is_a_row_holding_the_hash_of_the_cookies_token() {
    let mut browser = Browser::new();
    browser.login("test", "test").await;
    let stored: String = browser
        .conn()
        .query_row("SELECT token_hash FROM session", (), |row| row.get(0))
        .unwrap();
    assert_eq!(stored.len(), 64, "a SHA-256 in hex");
    let cookie = browser.cookie.clone().unwrap();
    assert!(
        !cookie.contains(&stored),
        "the cookie holds the token, not its hash"
    );
}

#[tokio::test]
async fn logging_out_ends_the_session_for_every_copy_of_the_cookie() {
    let mut browser = Browser::new();
    browser.login("test", "test").await;
    let copy = browser.cookie.clone().unwrap();
    browser.post("/auth/logout", "").await;
    assert_eq!(browser.count("SELECT count(*) FROM session"), 0);
    assert_is_no_session(&mut browser, &copy).await;
}

#[tokio::test]
async fn a_forged_or_tampered_cookie_is_no_session() {
    let mut browser = Browser::new();
    browser.login("test", "test").await;
    let signed = browser.cookie.clone().unwrap();
    let changed = if signed.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{changed}", &signed[..signed.len() - 1]);
    let forged = [
        browser.signed_session("1"),
        browser.signed_session(&"0".repeat(64)),
        "session=garbage".to_owned(),
    ];
    for cookie in [tampered].into_iter().chain(forged) {
        assert_is_no_session(&mut browser, &cookie).await;
    }
}

#[tokio::test]
async fn a_login_posted_from_another_site_is_refused() {
    let mut browser = Browser::new();
    let request = Request::post("/auth/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("origin", "http://evil.example");
    let answer = browser.send(request, "username=test&password=test").await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(browser.count("SELECT count(*) FROM session"), 0);
}

#[test]
fn init_db_ends_every_session() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("test.sqlite");
    let connect = || Connection::open(&path).unwrap();
    db::init_db(&path).unwrap();
    db::add_user(&connect(), "ann", "pw").unwrap();
    let token = session::start(&connect(), 1).unwrap();
    assert!(session::user_of(&connect(), &token).unwrap().is_some());
    db::init_db(&path).unwrap();
    assert_eq!(
        db::add_user(&connect(), "bo", "pw").unwrap(),
        1,
        "the ids start again"
    );
    let user = session::user_of(&connect(), &token).unwrap();
    assert_eq!(user, None, "the old token names no one, not the new user 1");
}

/// What a login flood may cost: argon2 fills 19 MiB per hash, so hundreds of
/// wrong passwords at once used to take the server past a gigabyte. The kit
/// runs two hashes at a time in memory it reuses, and the server keeps
/// answering pages meanwhile.
#[test]
fn a_flood_of_failed_logins_stays_within_bounded_memory() {
    const CLIENTS: usize = 16;
    const EACH: usize = 16;
    const BOUND_KIB: u64 = 100 * 1024;
    let sandbox = testkit::Sandbox::new(env!("CARGO_BIN_EXE_step03-schema-init"));
    assert!(sandbox.run(&["init-db"]).success);
    let path = sandbox.path().join("instance/step03.sqlite");
    db::add_user(&Connection::open(&path).unwrap(), "ann", "right").unwrap();
    let served = testkit::Served::start(&sandbox, &[], &[("RUST_LOG", "warn")]);
    let address = served.address().to_owned();
    // Each guess names another user, so the per-name throttle lets every
    // one reach the hash (a name no one has is hashed all the same).
    let login = |name: &str| {
        let fields = format!("username={name}&password=wrong");
        format!(
            "POST /auth/login HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{fields}",
            fields.len()
        )
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let logins: Vec<String> = (0..EACH)
                .map(|n| login(&format!("u{client}x{n}")))
                .collect();
            let address = address.clone();
            std::thread::spawn(move || {
                logins
                    .iter()
                    .filter(|login| testkit::exchange(&address, login).starts_with("HTTP/1.1 400"))
                    .count()
            })
        })
        .collect();
    let page = testkit::exchange(
        &address,
        &format!("GET /auth/login HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"),
    );
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let refused: usize = clients
        .into_iter()
        .map(|client| client.join().unwrap())
        .sum();
    assert_eq!(refused, CLIENTS * EACH, "every wrong password is a 400");
    let peak = served.peak_memory_kib();
    assert!(peak < BOUND_KIB, "the server peaked at {peak} KiB");
}

/// The real server: the cookie's flags, `Secure` with
/// `SESSION_COOKIE_SECURE=1` (for a server behind HTTPS), and a request
/// for a host name that is not this server's refused (DNS rebinding).
#[test]
fn served_cookies_are_secure_when_configured_and_foreign_hosts_are_refused() {
    let sandbox = testkit::Sandbox::new(env!("CARGO_BIN_EXE_step03-schema-init"));
    assert!(sandbox.run(&["init-db"]).success);
    let path = sandbox.path().join("instance/step03.sqlite");
    db::add_user(&Connection::open(&path).unwrap(), "ann", "right").unwrap();
    let env = [("RUST_LOG", "warn"), ("SESSION_COOKIE_SECURE", "1")];
    let served = testkit::Served::start(&sandbox, &[], &env);
    let address = served.address();
    let fields = "username=ann&password=right";
    let login = testkit::exchange(
        address,
        &format!(
            "POST /auth/login HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{fields}",
            fields.len()
        ),
    );
    let set_cookie = login
        .lines()
        .find(|line| line.starts_with("set-cookie: session="))
        .unwrap_or_else(|| panic!("a session cookie in {login}"));
    for flag in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=2678400",
        "Secure",
    ] {
        assert!(set_cookie.contains(flag), "{flag} in {set_cookie}");
    }
    // Served over HTTPS, a form from the same name over plain HTTP is
    // another origin.
    let plain = testkit::exchange(
        address,
        &format!(
            "POST /auth/login HTTP/1.1\r\nHost: {address}\r\nOrigin: http://{address}\r\n\
             Connection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\n\r\n{fields}",
            fields.len()
        ),
    );
    assert!(plain.starts_with("HTTP/1.1 403"), "{plain}");
    let rebound = testkit::exchange(
        address,
        "GET / HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n",
    );
    assert!(rebound.starts_with("HTTP/1.1 400"), "{rebound}");
    assert!(
        rebound.contains("does not answer for the host"),
        "{rebound}"
    );
}

/// Guessing is slowed down per username: after five wrong passwords in a
/// row the next attempt, even with the right password, is a 429 that says
/// when to try again, and no session starts.
#[tokio::test]
async fn a_username_that_keeps_failing_to_log_in_must_wait() {
    let mut browser = Browser::new();
    for _ in 0..6 {
        let answer = browser.login("test", "wrong").await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    }
    let answer = browser.login("test", "test").await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        answer
            .body
            .contains("Too many failed logins for this user; try again in 1 s."),
        "{}",
        answer.body
    );
    assert_eq!(answer.set_cookie, None);
    assert_eq!(browser.count("SELECT count(*) FROM session"), 0);
    // Another user is not held up.
    db::add_user(&browser.conn(), "other", "pw").unwrap();
    assert_eq!(
        browser.login("other", "pw").await.status,
        StatusCode::SEE_OTHER
    );
}

/// Lookalike names: one name whatever its case (beyond A to Z too) or
/// however its accents were typed, and no name with characters that cannot
/// be seen.
#[tokio::test]
async fn a_name_that_only_looks_different_is_refused() {
    let mut browser = Browser::new();
    let pairs = [
        ("ann", "ANN"),
        ("\u{e9}mile", "e\u{301}mile"),
        ("\u{f8}ystein", "\u{d8}YSTEIN"),
    ];
    for (first, twin) in pairs {
        let form = format!("username={first}&password=pw");
        assert_eq!(
            browser.post("/auth/register", &form).await.status,
            StatusCode::SEE_OTHER
        );
        let answer = browser
            .post("/auth/register", &format!("username={twin}&password=pw"))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::CONFLICT,
            "{twin:?}: {}",
            answer.body
        );
    }
    let answer = browser
        .post("/auth/register", "username=adm%E2%80%AEnimgpj&password=pw")
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.body.contains("cannot be seen (U+202E)"),
        "{}",
        answer.body
    );
    // Logging in finds the one name however it is typed.
    for typed in ["Ann", "\u{d8}ystein"] {
        assert_eq!(
            browser.login(typed, "pw").await.status,
            StatusCode::SEE_OTHER,
            "{typed}"
        );
    }
    let names = browser.count(
        "SELECT count(*) FROM user WHERE username IN ('ann', '\u{e9}mile', '\u{f8}ystein', 'test')",
    );
    assert_eq!((names, browser.count("SELECT count(*) FROM user")), (4, 4));
}
