//! step07-postgres: step 5's tests of the blog, run on step 7: relations and
//! aggregates on fixed data, the query count that proves there is no N+1,
//! integrity, flaskr's whole test list, the session cookie and the
//! cross-site check.
//!
//! The tests that touch the database run once on a SQLite file and, when
//! `TEST_POSTGRES_URL` names a server, once more on a PostgreSQL database.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum_extra::extract::cookie::{Cookie, Key, SignedCookieJar};
use diesel::prelude::*;
use step07_postgres::backend::{Conn, Location};
use step07_postgres::migrate;
use step07_postgres::models::{self, NewPost, Page};
use step07_postgres::schema::post;
use step07_postgres::{Config, Timestamp, create_app, db};
use stepkit::session::SESSION_COOKIE;
use testkit::backends::TestDatabase;
use testkit::send;

// --- flaskr's fixtures: an app on a fresh database holding `test` and `other` ---

struct Blog {
    location: Location,
    _database: TestDatabase,
    app: Router,
    /// The app's secret key, so a test can sign a cookie of its own.
    key: Key,
    /// The session cookie the browser holds, as `session=...`.
    cookie: Option<String>,
}

impl Blog {
    /// The blog below on each backend: on SQLite, and on PostgreSQL when a
    /// server is given.
    fn each() -> Vec<Blog> {
        TestDatabase::each().into_iter().map(Blog::on).collect()
    }

    /// flaskr's `app` fixture with its `data.sql`: two users, one post.
    fn on(database: TestDatabase) -> Blog {
        eprintln!("-- on {}", database.backend()); // shown if the test fails
        let location = db::location(Some(&database.setting())).unwrap();
        let mut conn = migrate::connect(&location).unwrap();
        migrate::upgrade(&mut conn, migrate::embedded(&location), None).unwrap();
        let config = Config::testing(location.clone());
        let key = config.secret_key.clone();
        let blog = Blog {
            app: create_app(config).unwrap(),
            key,
            location,
            _database: database,
            cookie: None,
        };
        let conn = &mut blog.conn();
        models::create_user(conn, "test", &models::PasswordHash::of("test").unwrap()).unwrap();
        models::create_user(conn, "other", &models::PasswordHash::of("other").unwrap()).unwrap();
        diesel::insert_into(post::table)
            .values((
                post::author_id.eq(1),
                post::created.eq(Timestamp::parse("2018-01-01 00:00:00").unwrap()),
                post::title.eq("test title"),
                post::body.eq("test\nbody"),
            ))
            .execute(conn)
            .unwrap();
        blog
    }

    fn conn(&self) -> Conn {
        let mut conn = migrate::connect(&self.location).unwrap();
        if let Conn::Sqlite(sqlite) = &mut conn {
            diesel::sql_query("PRAGMA foreign_keys = ON")
                .execute(sqlite)
                .unwrap();
        }
        conn
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
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_owned());
        if let Some(set_cookie) = &set_cookie {
            let pair = set_cookie.split(';').next().unwrap();
            self.cookie = (!pair.ends_with('=')).then(|| pair.to_owned());
        }
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            location,
            set_cookie,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
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

    /// flaskr's `auth.login()`, by default as `test`.
    async fn login(&mut self, username: &str, password: &str) -> Answer {
        self.post(
            "/auth/login",
            &format!("username={username}&password={password}"),
        )
        .await
    }

    /// A session cookie holding `value`, signed with the app's own key.
    fn signed_session(&self, value: &str) -> String {
        let cookie = Cookie::new(SESSION_COOKIE, value.to_owned());
        let jar = SignedCookieJar::new(self.key.clone()).add(cookie);
        let response = axum::response::IntoResponse::into_response((jar, ()));
        let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        set_cookie.split(';').next().unwrap().to_owned()
    }

    fn post_count(&self) -> i64 {
        post::table.count().get_result(&mut self.conn()).unwrap()
    }
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    location: Option<String>,
    set_cookie: Option<String>,
    body: String,
}

// --- The walkthrough and --help ------------------------------------------------------

// --- Relations, the query count, aggregates, integrity ------------------------------------

/// Adds `count` users, user `n` with `n % 3` posts.
fn fill(conn: &mut Conn, count: usize) {
    for n in 1..=count {
        let user = models::create_user(
            conn,
            &format!("user{n:02}"),
            &models::PasswordHash::of("pw").unwrap(),
        )
        .unwrap();
        for p in 0..n % 3 {
            let title = format!("post {p} of user {n}");
            models::create_post(
                conn,
                &NewPost {
                    author_id: user.id,
                    title: &title,
                    body: "b",
                },
            )
            .unwrap();
        }
    }
}

#[test]
fn loading_users_with_their_posts_costs_the_same_queries_for_1_or_50_users() {
    for blog in Blog::each() {
        let conn = &mut blog.conn();
        fill(conn, 48); // 50 users with `test` and `other`
        let page = |per_page| Page {
            number: 1,
            per_page,
        };
        let (one, one_count) =
            db::count_selects(conn, |conn| models::users_with_posts(conn, page(1)));
        let (fifty, fifty_count) =
            db::count_selects(conn, |conn| models::users_with_posts(conn, page(50)));
        assert_eq!((one.unwrap().len(), fifty.as_ref().unwrap().len()), (1, 50));
        assert_eq!(
            one_count, fifty_count,
            "the number of SELECTs grew with the users"
        );
        assert_eq!(fifty_count, 2);
        // Every post came back to its own author.
        for (user, posts) in fifty.unwrap() {
            assert!(
                posts.iter().all(|post| post.author_id == user.id),
                "{user:?}"
            );
        }
    }
}

#[test]
fn relations_and_aggregates_on_fixed_data() {
    for blog in Blog::each() {
        let conn = &mut blog.conn();
        fill(conn, 4); // user01: 1 post, user02: 2, user03: 0, user04: 1
        let test = models::user_by_username(conn, "test").unwrap().unwrap();
        let page = Page {
            number: 1,
            per_page: 10,
        };
        let titles: Vec<String> = models::posts_of(conn, &test, page)
            .unwrap()
            .0
            .items
            .into_iter()
            .map(|p| p.title)
            .collect();
        assert_eq!(titles, ["test title"]);
        assert_eq!(models::count_users(conn).unwrap(), 6);
        let per_user = models::posts_per_user(conn).unwrap();
        let expected = [
            ("user02", 2),
            ("test", 1),
            ("user01", 1),
            ("user04", 1),
            ("other", 0),
            ("user03", 0),
        ];
        let expected: Vec<(String, i64)> =
            expected.iter().map(|(n, c)| (n.to_string(), *c)).collect();
        assert_eq!(per_user, expected);
        assert_eq!(
            models::average_posts_per_user(conn).unwrap(),
            Some(5.0 / 6.0)
        );
    }
}

#[tokio::test]
async fn the_foreign_key_refuses_orphans_and_keeps_authors_with_posts() {
    for mut blog in Blog::each() {
        let orphan = NewPost {
            author_id: 99,
            title: "t",
            body: "b",
        };
        let err = models::create_post(&mut blog.conn(), &orphan).unwrap_err();
        assert!(
            matches!(
                err,
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                    _
                )
            ),
            "{err}"
        );
        blog.login("test", "test").await;
        let answer = blog.send(Request::delete("/api/users/1"), "").await;
        assert_eq!(answer.status, StatusCode::CONFLICT);
        assert_eq!(blog.post_count(), 1);
    }
}

#[tokio::test]
async fn the_json_view_of_the_relations() {
    for mut blog in Blog::each() {
        let answer = blog.get("/api/users/1/posts").await;
        assert_eq!(answer.status, StatusCode::OK);
        let page: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(
            (&page["total"], &page["items"][0]["title"]),
            (&serde_json::json!(1), &serde_json::json!("test title"))
        );
        let answer = blog.get("/api/posts?author=other").await;
        assert!(answer.body.contains("\"total\":0"), "{}", answer.body);
        assert_eq!(
            blog.get("/api/posts?author=nobody").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            blog.get("/api/posts?author=no%00body").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            blog.get("/api/users/99/posts").await.status,
            StatusCode::NOT_FOUND
        );
    }
}

/// The API writes only for the logged-in owner: 401 without a session, 403
/// on someone else's user or post, and nothing written either way.
#[tokio::test]
async fn the_api_changes_nothing_without_the_owners_session() {
    for mut blog in Blog::each() {
        let json = |request: axum::http::request::Builder| {
            request.header(header::CONTENT_TYPE, "application/json")
        };
        let writes = [
            (
                json(Request::patch("/api/users/1")),
                r#"{"password":"hacked"}"#,
            ),
            (Request::delete("/api/users/2"), ""),
            (
                json(Request::post("/api/posts")),
                r#"{"author_id":1,"title":"t","body":"b"}"#,
            ),
            (
                json(Request::patch("/api/posts/1")),
                r#"{"title":"defaced"}"#,
            ),
            (Request::delete("/api/posts/1"), ""),
        ];
        let before = blog.get("/api/posts/1").await.body;
        for (request, body) in writes {
            let answer = blog.send(request, body).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
            assert!(
                answer.body.contains("\"field\":\"session\""),
                "{}",
                answer.body
            );
        }
        blog.login("other", "other").await;
        let others = [
            (
                json(Request::patch("/api/users/1")),
                r#"{"password":"hacked"}"#,
                "\"field\":\"id\"",
            ),
            (
                json(Request::post("/api/posts")),
                r#"{"author_id":1,"title":"t","body":"b"}"#,
                "\"field\":\"author_id\"",
            ),
            (
                json(Request::patch("/api/posts/1")),
                r#"{"title":"defaced"}"#,
                "\"field\":\"id\"",
            ),
            (Request::delete("/api/posts/1"), "", "\"field\":\"id\""),
        ];
        for (request, body, field) in others {
            let answer = blog.send(request, body).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
            assert!(answer.body.contains(field), "{}", answer.body);
        }
        assert_eq!(blog.get("/api/posts/1").await.body, before);
        assert!(
            blog.login("test", "test").await.location.is_some(),
            "test's password changed"
        );
        let own = blog
            .send(
                json(Request::post("/api/posts")),
                r#"{"author_id":1,"title":"mine","body":"b"}"#,
            )
            .await;
        assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
    }
}

// --- flaskr's tests: auth -----------------------------------------------------------------

#[tokio::test]
async fn register() {
    for mut blog in Blog::each() {
        assert_eq!(blog.get("/auth/register").await.status, StatusCode::OK);
        let answer = blog.post("/auth/register", "username=a&password=a").await;
        assert_eq!(answer.location.as_deref(), Some("/auth/login"));
        let stored = models::user_by_username(&mut blog.conn(), "a").unwrap();
        assert!(stored.is_some());
    }
}

#[tokio::test]
async fn register_validate_input() {
    for mut blog in Blog::each() {
        for (username, password, message) in [
            ("", "", "Username is required."),
            ("a", "", "Password is required."),
            ("test", "test", "User test is already registered."),
        ] {
            let answer = blog
                .post(
                    "/auth/register",
                    &format!("username={username}&password={password}"),
                )
                .await;
            assert!(
                answer.body.contains(message),
                "{username:?}: {}",
                answer.body
            );
            assert!(answer.status.is_client_error());
        }
    }
}

#[tokio::test]
async fn login() {
    for mut blog in Blog::each() {
        assert_eq!(blog.get("/auth/login").await.status, StatusCode::OK);
        let answer = blog.login("test", "test").await;
        assert_eq!(answer.location.as_deref(), Some("/"));
        let page = blog.get("/").await;
        assert!(
            page.body.contains("<span class=\"who\">test</span>"),
            "{}",
            page.body
        );
    }
}

#[tokio::test]
async fn login_validate_input() {
    for mut blog in Blog::each() {
        for (username, password, message) in [
            ("a", "test", "Incorrect username."),
            ("test", "a", "Incorrect password."),
            // A NUL is in no name; PostgreSQL would refuse it in a query.
            ("te%00st", "test", "Incorrect username."),
        ] {
            let answer = blog.login(username, password).await;
            assert!(answer.body.contains(message), "{}", answer.body);
            assert!(blog.cookie.is_none(), "a failed login started a session");
        }
    }
}

#[tokio::test]
async fn logout() {
    for mut blog in Blog::each() {
        blog.login("test", "test").await;
        let answer = blog.post("/auth/logout", "").await;
        assert_eq!(answer.location.as_deref(), Some("/"));
        assert!(blog.cookie.is_none(), "the session cookie is still there");
        assert!(blog.get("/").await.body.contains("Log In"));
    }
}

// --- flaskr's tests: blog -----------------------------------------------------------------

#[tokio::test]
async fn index() {
    for mut blog in Blog::each() {
        let page = blog.get("/").await.body;
        assert!(
            page.contains("Log In") && page.contains("Register"),
            "{page}"
        );
        blog.login("test", "test").await;
        let page = blog.get("/").await.body;
        assert!(
            page.contains("Log Out") && page.contains("test title"),
            "{page}"
        );
        assert!(
            page.contains("by test on <time datetime=\"2018-01-01T00:00:00Z\">2018-01-01</time>"),
            "{page}"
        );
        assert!(
            page.contains("test\nbody") && page.contains("href=\"/1/update\""),
            "{page}"
        );
        insta::assert_snapshot!("index_page", page);
    }
}

#[tokio::test]
async fn login_required() {
    for mut blog in Blog::each() {
        for path in ["/create", "/1/update", "/1/delete"] {
            let answer = blog.post(path, "").await;
            assert_eq!(answer.location.as_deref(), Some("/auth/login"), "{path}");
        }
    }
}

#[tokio::test]
async fn author_required() {
    for mut blog in Blog::each() {
        diesel::update(post::table.find(1))
            .set(post::author_id.eq(2))
            .execute(&mut blog.conn())
            .unwrap();
        blog.login("test", "test").await;
        assert_eq!(
            blog.post("/1/update", "title=x&body=y").await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            blog.post("/1/delete", "").await.status,
            StatusCode::FORBIDDEN
        );
        assert!(
            !blog.get("/").await.body.contains("href=\"/1/update\""),
            "another's post has an edit link"
        );
    }
}

#[tokio::test]
async fn exists_required() {
    for mut blog in Blog::each() {
        blog.login("test", "test").await;
        assert_eq!(
            blog.post("/2/update", "title=x&body=y").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            blog.post("/2/delete", "").await.status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn create() {
    for mut blog in Blog::each() {
        blog.login("test", "test").await;
        assert_eq!(blog.get("/create").await.status, StatusCode::OK);
        let answer = blog.post("/create", "title=created&body=").await;
        assert_eq!(answer.location.as_deref(), Some("/"));
        assert_eq!(blog.post_count(), 2);
    }
}

#[tokio::test]
async fn update() {
    for mut blog in Blog::each() {
        blog.login("test", "test").await;
        assert_eq!(blog.get("/1/update").await.status, StatusCode::OK);
        blog.post("/1/update", "title=updated&body=").await;
        let post = models::find_post(&mut blog.conn(), 1).unwrap().unwrap();
        assert_eq!(post.post.title, "updated");
    }
}

#[tokio::test]
async fn create_update_validate() {
    for mut blog in Blog::each() {
        blog.login("test", "test").await;
        for path in ["/create", "/1/update"] {
            let answer = blog.post(path, "title=&body=").await;
            assert!(
                answer.body.contains("Title is required."),
                "{path}: {}",
                answer.body
            );
        }
        assert_eq!(blog.post_count(), 1);
    }
}

#[tokio::test]
async fn delete() {
    for mut blog in Blog::each() {
        blog.login("test", "test").await;
        let answer = blog.post("/1/delete", "").await;
        assert_eq!(answer.location.as_deref(), Some("/"));
        assert_eq!(blog.post_count(), 0);
    }
}

// --- The session cookie and cross-site requests ----------------------------------------------

#[tokio::test]
async fn the_session_cookie_is_signed_http_only_and_same_site() {
    for mut blog in Blog::each() {
        let answer = blog.login("test", "test").await;
        let set_cookie = answer.set_cookie.unwrap();
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(set_cookie.contains(attribute), "{set_cookie}");
        }
        let value = blog.cookie.clone().unwrap();
        assert_ne!(value, "session=1", "the id is not signed");
    }
}

#[tokio::test]
async fn a_tampered_or_forged_cookie_is_no_session() {
    for mut blog in Blog::each() {
        blog.login("test", "test").await;
        let signed = blog.cookie.clone().unwrap();
        // The value is the signature, then the token: change the token's last digit.
        let last = signed.chars().last().unwrap();
        let changed = if last == '0' { '1' } else { '0' };
        let tampered = format!("{}{changed}", &signed[..signed.len() - 1]);
        let forged = [
            blog.signed_session("1"),
            blog.signed_session(&"0".repeat(64)),
            "session=1".to_owned(),
            "session=garbage".to_owned(),
        ];
        for cookie in [tampered].into_iter().chain(forged) {
            assert_is_no_session(&mut blog, &cookie).await;
        }
        assert_eq!(blog.post_count(), 1);
    }
}

/// With `cookie`, the index offers to log in and writing is refused.
async fn assert_is_no_session(blog: &mut Blog, cookie: &str) {
    blog.cookie = Some(cookie.to_owned());
    let page = blog.get("/").await;
    assert!(
        page.body.contains("Log In"),
        "{cookie} was taken as logged in"
    );
    let answer = blog.post("/create", "title=sneaky&body=").await;
    assert_eq!(answer.location.as_deref(), Some("/auth/login"));
}

/// The number of rows in the `session` table.
fn session_count(blog: &Blog) -> i64 {
    use step07_postgres::schema::session;
    session::table.count().get_result(&mut blog.conn()).unwrap()
}

#[tokio::test]
async fn logging_out_ends_the_session_for_every_copy_of_the_cookie() {
    for mut blog in Blog::each() {
        blog.login("test", "test").await;
        let copy = blog.cookie.clone().unwrap();
        blog.post("/auth/logout", "").await;
        assert_eq!(session_count(&blog), 0);
        assert_is_no_session(&mut blog, &copy).await;
    }
}

#[tokio::test]
async fn a_password_change_ends_every_session_of_the_user() {
    for mut blog in Blog::each() {
        blog.login("test", "test").await;
        let laptop = blog.cookie.clone().unwrap();
        blog.cookie = None;
        blog.login("test", "test").await;
        blog.login("other", "other").await;
        assert_eq!(session_count(&blog), 3);
        blog.cookie = Some(laptop.clone());
        let request =
            Request::patch("/api/users/1").header(header::CONTENT_TYPE, "application/json");
        let answer = blog.send(request, r#"{"password":"new one"}"#).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(session_count(&blog), 1, "only other's session is left");
        assert_is_no_session(&mut blog, &laptop).await;
    }
}

#[tokio::test]
async fn deleting_the_user_ends_their_session() {
    for mut blog in Blog::each() {
        blog.login("other", "other").await;
        let cookie = blog.cookie.clone().unwrap();
        let answer = blog.send(Request::delete("/api/users/2"), "").await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.body);
        assert_eq!(session_count(&blog), 0);
        assert_is_no_session(&mut blog, &cookie).await;
    }
}

#[tokio::test]
async fn a_form_posted_from_another_site_is_refused() {
    for mut blog in Blog::each() {
        blog.login("test", "test").await;
        let form = |origin_header: (&'static str, &'static str)| {
            Request::post("/create")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(origin_header.0, origin_header.1)
        };
        for cross_site in [
            ("origin", "http://evil.example"),
            ("origin", "null"),
            ("sec-fetch-site", "cross-site"),
        ] {
            let answer = blog.send(form(cross_site), "title=forged&body=").await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{cross_site:?}");
            assert!(
                answer.body.contains("came from another site"),
                "{}",
                answer.body
            );
        }
        assert_eq!(blog.post_count(), 1);
        let own_page = blog
            .send(
                form(("origin", "http://localhost:5000")),
                "title=mine&body=",
            )
            .await;
        assert_eq!(own_page.location.as_deref(), Some("/"));
        assert_eq!(blog.post_count(), 2);
    }
}

// --- The real binary and its secret key ---------------------------------------------------------

#[tokio::test]
async fn pages_without_a_login_still_answer() {
    for blog in Blog::each() {
        for uri in ["/", "/status", "/auth/register", "/auth/login"] {
            let (status, _) = send(&blog.app, testkit::get(uri)).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
        }
    }
}
