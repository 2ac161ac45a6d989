//! step04-orm: the models against the schema, every CRUD call through the
//! JSON API, each bad input refused with nothing written, pagination, the
//! pages, and the real binary.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use diesel::prelude::*;
use diesel::sql_types::Text;
use serde_json::{Value, json};
use step04_orm::schema::{post, user};
use step04_orm::{Config, create_app, db, models};
use tempfile::TempDir;
use testkit::{HttpClient, Sandbox, Served, get, send};

fn sandbox() -> Sandbox {
    Sandbox::new(env!("CARGO_BIN_EXE_step04-orm"))
}

/// An app on a fresh database in a folder the test owns, and the session
/// cookie of whoever logged in last (the API's writes need one).
struct TestApp {
    dir: TempDir,
    app: Router,
    cookie: std::sync::Mutex<Option<String>>,
}

impl TestApp {
    fn new() -> TestApp {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("test.sqlite");
        db::init_db(&path).unwrap();
        let app = create_app(Config::testing(path)).unwrap();
        let cookie = std::sync::Mutex::new(None);
        TestApp { dir, app, cookie }
    }

    /// Logs in through `/auth/login`; the API calls after it carry the
    /// session cookie.
    async fn login(&self, username: &str, password: &str) {
        let form = format!("username={username}&password={password}");
        let request = Request::post("/auth/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
        let response = tower::ServiceExt::oneshot(self.app.clone(), request)
            .await
            .unwrap();
        let set_cookie = response.headers().get("set-cookie").map(|value| {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            pair.to_owned()
        });
        assert!(set_cookie.is_some(), "{username} logged in");
        *self.cookie.lock().unwrap() = set_cookie;
    }

    /// Forgets the session cookie: the next calls are anonymous.
    fn log_out(&self) {
        *self.cookie.lock().unwrap() = None;
    }

    fn conn(&self) -> SqliteConnection {
        let path = self.dir.path().join("test.sqlite");
        let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
        diesel::sql_query("PRAGMA busy_timeout = 5000")
            .execute(&mut conn)
            .unwrap();
        conn
    }

    /// Sends a request with a JSON body (or none) and parses the answer.
    async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(cookie) = self.cookie.lock().unwrap().as_deref() {
            request = request.header("cookie", cookie);
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        let (status, text) = send(&self.app, request.unwrap()).await;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, value)
    }

    /// Every row of both tables, as text: to prove a request wrote nothing.
    fn dump(&self) -> String {
        #[derive(QueryableByName)]
        struct Dump {
            #[diesel(sql_type = Text)]
            dump: String,
        }
        let sql = "SELECT coalesce((SELECT group_concat(id || ':' || username || ':' || password, '|') FROM user), '')
                    || '#' || coalesce((SELECT group_concat(id || ':' || author_id || ':' || created || ':' || title || ':' || body, '|') FROM post), '') AS dump";
        diesel::sql_query(sql)
            .get_result::<Dump>(&mut self.conn())
            .unwrap()
            .dump
    }

    /// Adds a user (password `secret`), logs in as them, and returns the id.
    async fn user(&self, name: &str) -> i64 {
        let body = json!({ "username": name, "password": "secret" });
        let (status, answer) = self.call(Method::POST, "/api/users", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        self.login(name, "secret").await;
        answer["id"].as_i64().unwrap()
    }

    /// Adds a post with a fixed `created` and returns its id.
    fn post_at(&self, author_id: i64, created: &str, title: &str) -> i64 {
        diesel::insert_into(post::table)
            .values((
                post::author_id.eq(author_id),
                post::created.eq(step04_orm::Timestamp::parse(created).unwrap()),
                post::title.eq(title),
                post::body.eq(format!("The body of {title}.")),
            ))
            .returning(post::id)
            .get_result(&mut self.conn())
            .unwrap()
    }
}

#[test]
fn walkthrough_shows_every_crud_call() {
    let run = sandbox().run(&[]);
    assert!(run.success, "{}", run.stderr);
    insta::assert_snapshot!("walkthrough", run.stdout);
}

#[test]
fn help_lists_the_commands() {
    insta::assert_snapshot!("help", sandbox().run(&["--help"]).stdout);
}

// --- The models against the schema -----------------------------------------------

/// `table!` and `schema.sql` cannot drift: the columns diesel selects for
/// each table are the columns SQLite reports, in the same order.
#[test]
fn the_table_declarations_match_the_schema_sqlite_reports() {
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let test = TestApp::new();
    let mut conn = test.conn();
    let declared = [
        (
            "user",
            diesel::debug_query::<diesel::sqlite::Sqlite, _>(
                &user::table.select(user::all_columns),
            )
            .to_string(),
        ),
        (
            "post",
            diesel::debug_query::<diesel::sqlite::Sqlite, _>(
                &post::table.select(post::all_columns),
            )
            .to_string(),
        ),
    ];
    for (table, select) in declared {
        let reported: Vec<String> = diesel::sql_query(format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .load::<Column>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|column| column.name)
        .collect();
        let selected: Vec<String> = select
            .split(" FROM ")
            .next()
            .unwrap()
            .trim_start_matches("SELECT ")
            .split(", ")
            .map(|column| {
                column
                    .rsplit('.')
                    .next()
                    .unwrap()
                    .trim_matches('`')
                    .to_owned()
            })
            .collect();
        assert_eq!(selected, reported, "table {table}");
    }
}

// --- CRUD through the API -----------------------------------------------------------

#[tokio::test]
async fn users_are_created_read_listed_changed_and_deleted() {
    let test = TestApp::new();
    let body = json!({ "username": " ann ", "password": "secret" });
    let request = Request::post("/api/users")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(test.app.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["location"], "/api/users/1");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&bytes).unwrap(),
        json!({ "id": 1, "username": "ann" })
    );
    assert!(
        !test.dump().contains(":secret"),
        "the password was stored as typed"
    );
    test.login("ann", "secret").await; // the writes below need a session

    assert_eq!(
        test.call(Method::GET, "/api/users/1", None).await,
        (StatusCode::OK, json!({ "id": 1, "username": "ann" }))
    );
    let (status, list) = test.call(Method::GET, "/api/users", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"], json!([{ "id": 1, "username": "ann" }]));

    let (status, changed) = test
        .call(
            Method::PATCH,
            "/api/users/1",
            Some(json!({ "username": "anna" })),
        )
        .await;
    assert_eq!(
        (status, changed),
        (StatusCode::OK, json!({ "id": 1, "username": "anna" }))
    );
    let (status, _) = test
        .call(
            Method::PATCH,
            "/api/users/1",
            Some(json!({ "password": "new secret" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The new password ended the session it was changed in.
    assert_eq!(
        test.call(Method::DELETE, "/api/users/1", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    test.login("anna", "new%20secret").await;

    assert_eq!(
        test.call(Method::DELETE, "/api/users/1", None).await,
        (StatusCode::NO_CONTENT, Value::Null)
    );
    assert_eq!(
        test.call(Method::GET, "/api/users/1", None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(test.dump(), "#");
}

#[tokio::test]
async fn posts_are_created_read_listed_changed_and_deleted() {
    let test = TestApp::new();
    let ann = test.user("ann").await;
    let body = json!({ "author_id": ann, "title": "Hello", "body": "First words.\nSecond line." });
    let (status, created) = test.call(Method::POST, "/api/posts", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["author"], "ann");
    assert_eq!(created["title"], "Hello");
    assert!(
        created["created"].as_str().unwrap().ends_with('Z'),
        "{created}"
    );

    let id = created["id"].as_i64().unwrap();
    assert_eq!(
        test.call(Method::GET, &format!("/api/posts/{id}"), None)
            .await,
        (StatusCode::OK, created.clone())
    );
    let (status, changed) = test
        .call(
            Method::PATCH,
            &format!("/api/posts/{id}"),
            Some(json!({ "title": "Hi" })),
        )
        .await;
    assert_eq!(
        (status, &changed["title"], &changed["body"]),
        (StatusCode::OK, &json!("Hi"), &created["body"])
    );
    let (_, list) = test.call(Method::GET, "/api/posts", None).await;
    assert_eq!(
        (
            &list["total"],
            &list["items"][0]["title"],
            &list["unreadable"]
        ),
        (&json!(1), &json!("Hi"), &json!(0))
    );
    assert_eq!(
        test.call(Method::DELETE, &format!("/api/posts/{id}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        test.call(Method::DELETE, &format!("/api/posts/{id}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_user_with_posts_cannot_be_deleted() {
    let test = TestApp::new();
    let ann = test.user("ann").await;
    test.post_at(ann, "2024-03-05 14:07:30", "Kept");
    let before = test.dump();
    let (status, answer) = test
        .call(Method::DELETE, &format!("/api/users/{ann}"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        answer,
        json!({ "error": "user 1 still has posts; delete them first", "field": "id" })
    );
    assert_eq!(test.dump(), before);
}

#[tokio::test]
async fn a_post_for_a_missing_author_names_author_id() {
    let test = TestApp::new();
    test.user("ann").await;
    let before = test.dump();
    let body = json!({ "author_id": 99, "title": "Orphan", "body": "?" });
    let (status, answer) = test.call(Method::POST, "/api/posts", Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        answer,
        json!({ "error": "no user with id 99", "field": "author_id" })
    );
    assert_eq!(test.dump(), before);
}

/// The API's writes need a session, and a user may change only their own
/// account: anonymous or someone else's writes are refused and write
/// nothing. (Which posts a user may change is step 5's lesson.)
#[tokio::test]
async fn the_api_writes_nothing_without_a_session_or_for_someone_else() {
    let test = TestApp::new();
    let ann = test.user("ann").await;
    let post = test.post_at(ann, "2024-03-05 14:07:30", "Kept");
    test.user("bo").await; // now logged in as bo
    let before = test.dump();
    let not_yours = json!({ "error": "user 1 is not yours to change", "field": "id" });
    assert_eq!(
        test.call(
            Method::PATCH,
            "/api/users/1",
            Some(json!({ "password": "mine now" }))
        )
        .await,
        (StatusCode::FORBIDDEN, not_yours.clone())
    );
    assert_eq!(
        test.call(Method::DELETE, "/api/users/1", None).await,
        (StatusCode::FORBIDDEN, not_yours)
    );
    test.log_out();
    let log_in_first =
        json!({ "error": "log in first: POST /auth/login starts a session", "field": "session" });
    let post_body = json!({ "author_id": ann, "title": "t", "body": "b" });
    for (method, uri, body) in [
        (
            Method::PATCH,
            "/api/users/1".to_owned(),
            Some(json!({ "username": "x" })),
        ),
        (Method::DELETE, "/api/users/1".to_owned(), None),
        (Method::POST, "/api/posts".to_owned(), Some(post_body)),
        (
            Method::PATCH,
            format!("/api/posts/{post}"),
            Some(json!({ "title": "x" })),
        ),
        (Method::DELETE, format!("/api/posts/{post}"), None),
    ] {
        let shown = format!("{method} {uri}");
        assert_eq!(
            test.call(method, &uri, body).await,
            (StatusCode::UNAUTHORIZED, log_in_first.clone()),
            "{shown}"
        );
    }
    assert_eq!(test.dump(), before);
}

#[test]
fn a_failed_transaction_is_rolled_back_whole() {
    let test = TestApp::new();
    let mut conn = test.conn();
    models::create_user(
        &mut conn,
        "ann",
        &models::PasswordHash::of("secret").unwrap(),
    )
    .unwrap();
    let before = test.dump();
    let outcome: Result<_, step04_orm::Error> = conn.transaction(|conn| {
        let new_post = models::NewPost {
            author_id: 1,
            title: "Half",
            body: "saved?",
        };
        models::create_post(conn, &new_post)?;
        models::create_user(conn, "ann", &models::PasswordHash::of("again").unwrap())
    });
    let err = outcome.unwrap_err();
    assert_eq!(
        err.to_string(),
        "database error: UNIQUE constraint failed: user.username_key"
    );
    assert_eq!(test.dump(), before);
}

// --- Bad input: a 4xx naming the field, and nothing written ----------------------------

#[tokio::test]
async fn bad_input_is_refused_with_a_json_error_and_writes_nothing() {
    let test = TestApp::new();
    test.user("ann").await;
    let before = test.dump();
    let long_name = "x".repeat(101);
    let json_cases: Vec<(Method, &str, Value, StatusCode, &str)> = vec![
        (
            Method::POST,
            "/api/users",
            json!({ "password": "x" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "username",
        ),
        (
            Method::POST,
            "/api/users",
            json!({ "username": null, "password": "x" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "username",
        ),
        (
            Method::POST,
            "/api/users",
            json!({ "username": 7, "password": "x" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "username",
        ),
        (
            Method::POST,
            "/api/users",
            json!({ "username": "", "password": "x" }),
            StatusCode::BAD_REQUEST,
            "username",
        ),
        (
            Method::POST,
            "/api/users",
            json!({ "username": "   ", "password": "x" }),
            StatusCode::BAD_REQUEST,
            "username",
        ),
        (
            Method::POST,
            "/api/users",
            json!({ "username": long_name, "password": "x" }),
            StatusCode::BAD_REQUEST,
            "username",
        ),
        (
            Method::POST,
            "/api/users",
            json!({ "username": "a\u{1b}[31m", "password": "x" }),
            StatusCode::BAD_REQUEST,
            "username",
        ),
        (
            Method::POST,
            "/api/users",
            json!({ "username": "bo", "password": "" }),
            StatusCode::BAD_REQUEST,
            "password",
        ),
        (
            Method::POST,
            "/api/users",
            json!({ "username": "ann", "password": "x" }),
            StatusCode::CONFLICT,
            "username",
        ),
        (
            Method::PATCH,
            "/api/users/1",
            json!({ "role": "admin" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "role",
        ),
        (
            Method::PATCH,
            "/api/users/1",
            json!({}),
            StatusCode::BAD_REQUEST,
            "request",
        ),
        (
            Method::PATCH,
            "/api/users/99",
            json!({ "username": "zed" }),
            StatusCode::FORBIDDEN,
            "id",
        ),
        (
            Method::POST,
            "/api/posts",
            json!({ "author_id": "1", "title": "t", "body": "b" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "author_id",
        ),
        (
            Method::POST,
            "/api/posts",
            json!({ "author_id": 1, "title": " ", "body": "b" }),
            StatusCode::BAD_REQUEST,
            "title",
        ),
        (
            Method::PATCH,
            "/api/posts/1",
            json!({ "title": "t" }),
            StatusCode::NOT_FOUND,
            "id",
        ),
    ];
    for (method, uri, body, status, field) in json_cases {
        let shown = format!("{method} {uri} {body}");
        let (got, answer) = test.call(method, uri, Some(body)).await;
        assert_eq!(got, status, "{shown}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        let names_field = answer["field"] == field || error.contains(field);
        assert!(
            names_field,
            "{shown}: the answer does not name `{field}`: {answer}"
        );
        assert!(error.len() < 300, "{shown}: {answer}");
        assert_eq!(test.dump(), before, "{shown} wrote something");
    }

    let raw_cases = [
        (
            Request::post("/api/users")
                .header("content-type", "application/json")
                .body(Body::from("{\"username\": ")),
            StatusCode::BAD_REQUEST,
        ),
        (
            Request::post("/api/users")
                .header("content-type", "text/plain")
                .body(Body::from("{}")),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Request::post("/api/users").body(Body::from("{}")),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Request::post("/api/users")
                .header("content-type", "application/json")
                .body(Body::from(format!(
                    "{{\"username\": \"{}\"}}",
                    "x".repeat(20_000)
                ))),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            Request::get("/api/users/99999999999999999999").body(Body::empty()),
            StatusCode::BAD_REQUEST,
        ),
        (
            Request::get("/api/users/-1").body(Body::empty()),
            StatusCode::NOT_FOUND,
        ),
        (
            Request::put("/api/users/1").body(Body::empty()),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Request::get("/api/nothing").body(Body::empty()),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (request, status) in raw_cases {
        let request = request.unwrap();
        let shown = format!("{} {}", request.method(), request.uri());
        let (got, text) = send(&test.app, request).await;
        assert_eq!(got, status, "{shown}: {text}");
        let answer: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{shown}: not JSON: {text}"));
        assert!(
            answer["error"].is_string() && text.len() < 400,
            "{shown}: {text}"
        );
        assert_eq!(test.dump(), before, "{shown} wrote something");
    }
}

// --- Pagination --------------------------------------------------------------------------

#[tokio::test]
async fn pagination_edges() {
    let test = TestApp::new();
    let (_, empty) = test.call(Method::GET, "/api/posts", None).await;
    assert_eq!(
        (
            &empty["items"],
            &empty["total"],
            &empty["pages"],
            &empty["next"]
        ),
        (&json!([]), &json!(0), &json!(0), &Value::Null)
    );

    let ann = test.user("ann").await;
    for n in 1..=25 {
        test.post_at(
            ann,
            &format!("2024-03-{n:02} 12:00:00"),
            &format!("Post {n}"),
        );
    }
    let (_, first) = test.call(Method::GET, "/api/posts", None).await;
    assert_eq!(
        (
            &first["per_page"],
            &first["pages"],
            &first["prev"],
            &first["next"]
        ),
        (&json!(10), &json!(3), &Value::Null, &json!(2))
    );
    assert_eq!(first["items"][0]["title"], "Post 25", "newest first");
    let (_, last) = test.call(Method::GET, "/api/posts?page=3", None).await;
    assert_eq!(
        (
            last["items"].as_array().unwrap().len(),
            &last["next"],
            &last["prev"]
        ),
        (5, &Value::Null, &json!(2))
    );
    let (status, past) = test.call(Method::GET, "/api/posts?page=9", None).await;
    assert_eq!(
        (status, &past["items"], &past["prev"]),
        (StatusCode::OK, &json!([]), &json!(3))
    );
    let (_, capped) = test
        .call(Method::GET, "/api/posts?per_page=1000", None)
        .await;
    assert_eq!(
        (
            &capped["per_page"],
            capped["items"].as_array().unwrap().len()
        ),
        (&json!(100), 25)
    );
    let (status, far) = test
        .call(Method::GET, "/api/posts?page=9223372036854775807", None)
        .await;
    assert_eq!(
        (status, &far["items"], &far["next"]),
        (StatusCode::OK, &json!([]), &Value::Null)
    );
    for bad in ["page=0", "page=-1", "page=abc", "per_page=0", "page=1.5"] {
        let (status, answer) = test
            .call(Method::GET, &format!("/api/posts?{bad}"), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        let field = bad.split('=').next().unwrap();
        assert_eq!(answer["field"], field, "{bad}: {answer}");
    }
    let (status, page) = send(&test.app, get("/?page=zero")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("<title>"), "a page, not plain text: {page}");
    assert!(
        page.contains("page must be a whole number from 1"),
        "{page}"
    );
}

#[tokio::test]
async fn search_takes_like_wildcards_literally() {
    let test = TestApp::new();
    for name in ["ann", "a_n", "50%off", "bob"] {
        test.user(name).await;
    }
    for (search, expected) in [
        ("n", vec!["ann", "a_n"]),
        ("_", vec!["a_n"]),
        ("%", vec!["50%off"]),
        ("zz", vec![]),
    ] {
        let uri = format!("/api/users?search={}", search.replace('%', "%25"));
        let (_, answer) = test.call(Method::GET, &uri, None).await;
        let names: Vec<&str> = answer["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected, "search {search:?}");
        assert_eq!(answer["total"], expected.len());
    }
}

// --- Pages ----------------------------------------------------------------------------------

#[tokio::test]
async fn the_index_shows_a_page_of_posts_newest_first() {
    let test = TestApp::new();
    let ann = test.user("ann").await;
    let bo = test.user("bo").await;
    test.post_at(ann, "2024-03-05 14:07:30", "Oldest");
    test.post_at(bo, "2024-03-11 17:28:30", "Newest <b>& bold</b>");
    test.post_at(ann, "2024-03-08 09:00:00", "Middle");
    let (status, html) = send(&test.app, get("/?per_page=2")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("&lt;b&gt;&amp; bold&lt;&#x2f;b&gt;") && !html.contains("Oldest"),
        "{html}"
    );
    insta::assert_snapshot!("index_page", html);
}

#[tokio::test]
async fn an_unreadable_post_is_left_out_counted_and_the_rest_shown() {
    let test = TestApp::new();
    let ann = test.user("ann").await;
    test.post_at(ann, "2024-03-05 14:07:30", "Fine");
    diesel::sql_query("INSERT INTO post (author_id, created, title, body) VALUES (1, 'last Tuesday', 'Broken', '')")
        .execute(&mut test.conn())
        .unwrap();
    let (status, html) = send(&test.app, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Fine")
            && !html.contains("Broken")
            && html.contains("1 post could not be shown"),
        "{html}"
    );
    let (status, answer) = test.call(Method::GET, "/api/posts", None).await;
    assert_eq!(
        (
            status,
            &answer["unreadable"],
            answer["items"].as_array().unwrap().len()
        ),
        (StatusCode::OK, &json!(1), 1)
    );
    // Alone, it is left out too: not found, rather than a 500.
    let (status, answer) = test.call(Method::GET, "/api/posts/2", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    // By keyset, counted as well, and the walk still goes on past it.
    diesel::sql_query(
        "INSERT INTO post (author_id, created, title, body) VALUES (1, 'today', 'Also broken', '')",
    )
    .execute(&mut test.conn())
    .unwrap();
    let (_, answer) = test
        .call(Method::GET, "/api/posts?before=3&per_page=1", None)
        .await;
    assert_eq!(
        (
            &answer["items"],
            &answer["unreadable"],
            &answer["next_before"]
        ),
        (&json!([]), &json!(1), &json!(2)),
        "{answer}"
    );
}

/// The register form refuses a name with a character no one can see, as
/// step 3's does and the API does: a lookalike of another user's name.
#[tokio::test]
async fn the_register_form_refuses_a_name_no_one_can_read() {
    let test = TestApp::new();
    for name in ["al%E2%80%8Bice", "%E2%80%AEgnp.exe"] {
        let request = Request::post("/auth/register")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("username={name}&password=pw")))
            .unwrap();
        let (status, page) = send(&test.app, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        assert!(page.contains("a character that cannot be seen"), "{page}");
    }
    assert_eq!(test.dump(), "#");
}

/// Sends `request` with `cookie` (if any); returns the status, the
/// `Location`, the `session=...` pair of any `Set-Cookie`, and the body.
async fn browse(
    app: &Router,
    request: axum::http::request::Builder,
    cookie: Option<&str>,
    body: &str,
) -> (StatusCode, Option<String>, Option<String>, String) {
    let mut request = request.header("host", "localhost:5000");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let request = request.body(Body::from(body.to_owned())).unwrap();
    let response = tower::ServiceExt::oneshot(app.clone(), request)
        .await
        .unwrap();
    let header = |name: &str| {
        let value = response.headers().get(name);
        value.map(|value| value.to_str().unwrap().to_owned())
    };
    let location = header("location");
    let cookie = header("set-cookie").map(|set| set.split(';').next().unwrap().to_owned());
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        location,
        cookie,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

fn form(uri: &str) -> axum::http::request::Builder {
    Request::post(uri).header("content-type", "application/x-www-form-urlencoded")
}

/// `/auth/register` is the one way a person makes an account; the users
/// page is for logged-in users only.
#[tokio::test]
async fn register_log_in_and_see_the_users_page() {
    let test = TestApp::new();
    let register = |fields: &'static str| browse(&test.app, form("/auth/register"), None, fields);
    let (status, location, _, _) = register("username=ann&password=secret").await;
    assert_eq!(
        (status, location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/auth/login"))
    );
    let (status, _, _, page) = register("username=ann&password=other").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("User ann is already registered."), "{page}");

    let (_, location, _, _) = browse(&test.app, Request::get("/users"), None, "").await;
    assert_eq!(location.as_deref(), Some("/auth/login"));
    let login = browse(
        &test.app,
        form("/auth/login"),
        None,
        "username=ann&password=secret",
    );
    let (_, location, cookie, _) = login.await;
    assert_eq!(location.as_deref(), Some("/"));
    let cookie = cookie.expect("a session cookie");
    let users = browse(
        &test.app,
        Request::get("/users?search=an"),
        Some(&cookie),
        "",
    );
    let (status, _, _, page) = users.await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<li>ann</li>"), "{page}");
    // A page past the last says so and links back; no "Page 2 of 1".
    let past = browse(&test.app, Request::get("/users?page=2"), Some(&cookie), "");
    let (status, _, _, page) = past.await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("There is no page 2: the list has 1 page."),
        "{page}"
    );
    assert!(
        page.contains(">Page 1</a>") && !page.contains("Page 2 of 1"),
        "{page}"
    );
}

/// A new password, set through the API, ends every session of its user: the
/// cookie of a login made before it logs no one in.
#[tokio::test]
async fn a_password_change_ends_the_users_sessions() {
    let test = TestApp::new();
    test.user("ann").await;
    let login = browse(
        &test.app,
        form("/auth/login"),
        None,
        "username=ann&password=secret",
    );
    let cookie = login.await.2.expect("a session cookie");
    let users = || browse(&test.app, Request::get("/users"), Some(&cookie), "");
    assert_eq!(users().await.0, StatusCode::OK);
    let change = json!({ "password": "a new one" });
    let (status, _) = test.call(Method::PATCH, "/api/users/1", Some(change)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, location, _, _) = users().await;
    assert_eq!(
        location.as_deref(),
        Some("/auth/login"),
        "the old cookie still logs in"
    );
}

#[tokio::test]
async fn the_status_check_reads_the_tables() {
    let test = TestApp::new();
    assert_eq!(send(&test.app, get("/status")).await.0, StatusCode::OK);
    diesel::sql_query("DROP TABLE post")
        .execute(&mut test.conn())
        .unwrap();
    diesel::sql_query("DROP TABLE user")
        .execute(&mut test.conn())
        .unwrap();
    let (status, page) = send(&test.app, get("/status")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.contains("Something is broken.") && !page.contains("no such table"),
        "{page}"
    );
}

// --- The real binary -----------------------------------------------------------------------

#[test]
fn init_db_then_serve_answers_and_stops_on_ctrl_c() {
    let sandbox = sandbox();
    let run = sandbox.run(&["init-db"]);
    assert_eq!(run.stdout, "Initialized the database.\n");
    let served = Served::start(&sandbox, &[], &[]);
    assert!(
        served
            .first_line
            .starts_with("Serving instance/step04.sqlite on http://127.0.0.1:")
    );
    let stopped = served.stop();
    assert!(stopped.success, "{}", stopped.stderr);
    assert_eq!(stopped.stdout, "Stopped.\n");
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let (success, stderr) = sandbox().run_into_closed_pipe(&[]);
    assert!(success, "{stderr}");
    assert_eq!(stderr, "");
}

// --- Under load, and after a crash (the real server, loopback only) -----------------------

/// Starts `serve` on a fresh database holding one user, `writer` (id 1).
fn serve_with_a_writer(sandbox: &Sandbox) -> Served {
    assert!(sandbox.run(&["init-db"]).success);
    let served = Served::start(sandbox, &[], &[("RUST_LOG", "warn")]);
    let mut client = HttpClient::connect(served.address()).unwrap();
    let user = r#"{"username":"writer","password":"pw"}"#;
    assert_eq!(
        client.send("POST", "/api/users", Some(user)).unwrap().0,
        201
    );
    served
}

fn post_count(sandbox: &Sandbox) -> i64 {
    let path = sandbox.path().join("instance/step04.sqlite");
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    post::table.count().get_result(&mut conn).unwrap()
}

/// `clients` threads, each on its own keep-alive connection, each sending
/// `each` posts at once; returns every status answered.
fn write_at_once(address: &str, clients: usize, each: usize) -> Vec<u16> {
    let cookie = testkit::log_in(address, "writer", "pw");
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let (address, cookie) = (address.to_owned(), cookie.clone());
            std::thread::spawn(move || {
                let mut connection = HttpClient::connect(&address).unwrap().with_cookie(&cookie);
                (0..each)
                    .map(|n| {
                        let body =
                            format!(r#"{{"author_id":1,"title":"c{client} n{n}","body":"load"}}"#);
                        connection
                            .send("POST", "/api/posts", Some(&body))
                            .unwrap()
                            .0
                    })
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|thread| thread.join().unwrap())
        .collect()
}

/// A client that sends its headers and then trickles its body costs the
/// server a task, never a pooled connection: with as many such requests
/// open as the pool has connections, each behind a session cookie that
/// needs the database, a normal request is still answered.
#[test]
fn slow_clients_hold_no_database_connection() {
    let sandbox = sandbox();
    let served = serve_with_a_writer(&sandbox);
    let address = served.address();
    let cookie = testkit::log_in(address, "writer", "pw");
    let head = format!(
        "POST /auth/register HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
    );
    let slow: Vec<_> = (0..db::POOL_SIZE)
        .map(|_| testkit::trickle(address, &head))
        .collect();
    // Several in a row: the first could slip in before the slow ones are
    // read, the later ones cannot.
    let mut client = HttpClient::connect(address).unwrap();
    for _ in 0..db::POOL_SIZE {
        let (status, body) = client.send("GET", "/api/users/1", None).unwrap();
        assert_eq!(
            (status, body.as_str()),
            (200, r#"{"id":1,"username":"writer"}"#)
        );
    }
    drop(slow);
}

/// A database deleted while the server runs: its open connections would go
/// on writing to the unlinked file and every write would vanish when the
/// server stops. It notices, refuses with 503, and says why in its log.
#[test]
fn a_database_deleted_while_serving_refuses_writes() {
    let sandbox = sandbox();
    let served = serve_with_a_writer(&sandbox);
    let file = sandbox.path().join("instance/step04.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    let mut client = HttpClient::connect(served.address()).unwrap();
    let user = r#"{"username":"lost","password":"pw"}"#;
    let (status, _) = client.send("POST", "/api/users", Some(user)).unwrap();
    assert_eq!(status, 503);
    assert_eq!(client.send("GET", "/status", None).unwrap().0, 503);
    let stopped = served.stop();
    assert!(
        stopped.stderr.contains(
            "database instance/step04.sqlite was deleted or replaced while serving; restart the server"
        ),
        "{}",
        stopped.stderr
    );
    assert!(!file.exists(), "nothing was written anywhere");
}

/// A file and folder this user cannot write: `serve` says so in one line
/// at start, instead of starting and then failing every request. Root may
/// write anything, so as root the server runs as `nobody` (a copy of the
/// binary in the sandbox, which `nobody` can reach).
#[test]
fn a_read_only_database_is_refused_at_start_in_one_line() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    let sandbox = sandbox();
    assert!(sandbox.run(&["init-db"]).success);
    let mode = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let folder = sandbox.path().join("instance");
    mode(&folder.join("step04.sqlite"), 0o444);
    mode(&folder, 0o555);
    mode(sandbox.path(), 0o755);
    let binary = sandbox.path().join("step04-orm");
    std::fs::copy(env!("CARGO_BIN_EXE_step04-orm"), &binary).unwrap();
    let mut command = std::process::Command::new(&binary);
    command
        .args(["serve", "--port", "0"])
        .current_dir(sandbox.path())
        .env_remove("DATABASE_URL")
        .env("SECRET_KEY", KEY);
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    if root {
        command.uid(65534).gid(65534);
    }
    let mut child = command
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A server that started anyway prints its URL: stop it, and fail.
    let mut first_line = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut stdout, &mut first_line).unwrap();
    if !first_line.is_empty() {
        child.kill().unwrap();
    }
    let output = child.wait_with_output().unwrap();
    mode(&folder, 0o755); // so that the sandbox can be removed
    assert_eq!(first_line, "", "serve must not start");
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: cannot write to database instance/step04.sqlite: attempt to write a readonly \
         database; the file and its folder must be writable\n"
    );
}

/// A valid secret key, for tests whose instance folder cannot hold one.
const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\
                   202122232425262728292a2b2c2d2e2f000102030405060708090a0b0c0d0e0f";

/// SQLite has one writer at a time; with WAL and the busy timeout, writers
/// wait their turn instead of failing: every POST is a 201 and every row
/// lands, and readers keep getting answers meanwhile.
#[test]
fn concurrent_writers_all_land() {
    let sandbox = sandbox();
    let served = serve_with_a_writer(&sandbox);
    let mut expected = 0;
    for (clients, each) in [(8, 200), (32, 50)] {
        // Two readers ask for a page and a user all the while.
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = ["/api/posts?per_page=10", "/api/users/1"]
            .into_iter()
            .map(|path| {
                let (address, done) = (served.address().to_owned(), done.clone());
                std::thread::spawn(move || {
                    let mut connection = HttpClient::connect(&address).unwrap();
                    let mut answers = Vec::new();
                    while !done.load(std::sync::atomic::Ordering::SeqCst) && answers.len() < 10_000
                    {
                        answers.push(connection.send("GET", path, None).unwrap().0);
                    }
                    answers
                })
            })
            .collect();
        let statuses = write_at_once(served.address(), clients, each);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        for reader in readers {
            let answers = reader.join().unwrap();
            assert!(
                !answers.is_empty() && answers.iter().all(|status| *status == 200),
                "a read failed during the writes"
            );
        }
        let created = statuses.iter().filter(|status| **status == 201).count();
        assert_eq!(
            created,
            clients * each,
            "{clients} x {each}: not all 201: {:?}",
            statuses.iter().filter(|s| **s != 201).collect::<Vec<_>>()
        );
        expected += clients * each;
        assert_eq!(post_count(&sandbox), expected as i64);
    }
    assert!(served.stop().success);
}

/// Killed with writes in flight (SIGKILL, no chance to clean up) and started
/// again on the same file: the database is intact, and every write the
/// server answered 201 is in it.
#[test]
fn a_killed_server_keeps_every_acknowledged_write() {
    let sandbox = sandbox();
    let served = serve_with_a_writer(&sandbox);
    let (acknowledged, acks) = std::sync::mpsc::channel::<String>();
    let cookie = testkit::log_in(served.address(), "writer", "pw");
    let writers: Vec<_> = (0..4)
        .map(|client| {
            let (address, acknowledged) = (served.address().to_owned(), acknowledged.clone());
            let cookie = cookie.clone();
            std::thread::spawn(move || {
                let mut connection = HttpClient::connect(&address).unwrap().with_cookie(&cookie);
                for n in 0..2_000 {
                    let title = format!("c{client} n{n}");
                    let body = format!(r#"{{"author_id":1,"title":"{title}","body":"crash"}}"#);
                    match connection.send("POST", "/api/posts", Some(&body)) {
                        Ok((201, _)) => acknowledged.send(title).unwrap(),
                        _ => return, // the server is gone
                    }
                }
            })
        })
        .collect();
    drop(acknowledged);
    let mut titles: Vec<String> = acks.iter().take(200).collect(); // writes are in flight now
    served.kill();
    for writer in writers {
        writer.join().unwrap();
    }
    titles.extend(acks.iter());

    let path = sandbox.path().join("instance/step04.sqlite");
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    #[derive(QueryableByName)]
    struct Check {
        #[diesel(sql_type = Text)]
        integrity_check: String,
    }
    let check = diesel::sql_query("PRAGMA integrity_check")
        .get_result::<Check>(&mut conn)
        .unwrap();
    assert_eq!(check.integrity_check, "ok");
    let stored: Vec<String> = post::table.select(post::title).load(&mut conn).unwrap();
    let missing: Vec<&String> = titles
        .iter()
        .filter(|title| !stored.contains(title))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged writes are gone: {missing:?}",
        missing.len()
    );
    assert!(titles.len() >= 200);

    let again = Served::start(&sandbox, &[], &[("RUST_LOG", "warn")]);
    let mut client = HttpClient::connect(again.address()).unwrap();
    assert_eq!(client.send("GET", "/api/posts", None).unwrap().0, 200);
    assert!(again.stop().success);
}

/// `?before=ID` walks the posts by keyset: each once, in order, not shifted
/// by a post written meanwhile; a bad cursor is a 400 that names it.
#[test]
fn before_walks_every_post_once_by_keyset() {
    let sandbox = sandbox();
    assert!(sandbox.run(&["init-db"]).success);
    let served = Served::start(&sandbox, &[], &[("RUST_LOG", "warn")]);
    testkit::pages::keyset_walks_every_post_once(served.address(), &[]);
}

/// Each connection the pool lends is set up as the chapter says: WAL with
/// `synchronous = NORMAL` (1), foreign keys on, a 5 s busy timeout.
#[test]
fn pooled_connections_are_set_up_as_the_chapter_says() {
    #[derive(QueryableByName)]
    struct Settings {
        #[diesel(sql_type = Text)]
        settings: String,
    }
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("test.sqlite");
    db::init_db(&path).unwrap();
    let mut conn = db::Database::new(path).unwrap().connect().unwrap();
    let sql = "SELECT (SELECT journal_mode FROM pragma_journal_mode) || ' ' ||
        (SELECT synchronous FROM pragma_synchronous) || ' ' ||
        (SELECT foreign_keys FROM pragma_foreign_keys) || ' ' ||
        (SELECT timeout FROM pragma_busy_timeout) AS settings";
    let settings = diesel::sql_query(sql).get_result::<Settings>(&mut conn);
    assert_eq!(settings.unwrap().settings, "wal 1 1 5000");
}
