//! Benchmark 6: how much of a request's time is the database. Step 4's app
//! answers `GET /api/users/1` (diesel, from the pool); beside it, merged
//! into the same server, `GET /nodb/users/1` answers the same JSON from
//! memory, and `GET /hop/users/1` makes it on a blocking thread, as every
//! database call is made, to price that hop alone. One client sends one
//! request at a time over a keep-alive connection on 127.0.0.1.

mod common;

use std::path::Path;
use std::time::{Instant, SystemTime};

use axum::{Json, Router, routing::get};
use criterion::Criterion;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper::{Request, header};
use hyper_util::rt::TokioIo;
use measured::{Comparison, Row, figure};
use serde_json::json;
use step04_orm::{Config, create_app, db};
use tokio::net::{TcpListener, TcpStream};

const BENCHES: [&str; 3] = ["point_read", "no_database", "one_hop"];
const PATHS: [&str; 3] = ["/api/users/1", "/nodb/users/1", "/hop/users/1"];
const USERNAME: &str = "user1";

type Client = SendRequest<Empty<Bytes>>;

fn main() {
    let folder = common::scratch();
    let path = folder.path().join("step04.sqlite");
    fill(&path);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let mut client = runtime.block_on(serve(&path));
    let since = SystemTime::now();
    let mut criterion = common::criterion();
    measure(&mut criterion, &runtime, &mut client);
    criterion.final_summary();
    common::record("http", &BENCHES, since, comparison);
}

/// Step 4's tables with one user.
fn fill(path: &Path) {
    db::init_db(path).expect("step 4's tables");
    common::add_users(path, 1);
}

/// Serves step 4's app with the two extra routes on a free port, and
/// returns a client connected to it.
async fn serve(path: &Path) -> Client {
    let user = json!({ "id": 1, "username": USERNAME });
    let from_memory = user.clone();
    let on_a_blocking_thread = move || {
        let user = user.clone();
        async move {
            Json(
                tokio::task::spawn_blocking(move || user)
                    .await
                    .expect("the hop"),
            )
        }
    };
    let extra = Router::new()
        .route(
            "/nodb/users/1",
            get(move || std::future::ready(Json(from_memory.clone()))),
        )
        .route("/hop/users/1", get(on_a_blocking_thread));
    let app = create_app(Config::testing(path.to_path_buf()))
        .expect("step 4's app")
        .merge(extra);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let address = listener.local_addr().expect("the address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let stream = TcpStream::connect(address).await.expect("connect");
    let (client, connection) = handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(connection);
    client
}

fn measure(criterion: &mut Criterion, runtime: &tokio::runtime::Runtime, client: &mut Client) {
    let mut group = criterion.benchmark_group("http");
    for (name, path) in BENCHES.iter().zip(PATHS) {
        group.bench_function(*name, |bencher| {
            bencher.iter_custom(|iterations| {
                runtime.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iterations {
                        fetch(client, path).await;
                    }
                    started.elapsed()
                })
            })
        });
    }
    group.finish();
}

/// Sends `GET path` and reads the whole answer, which must be 200.
async fn fetch(client: &mut Client, path: &str) {
    let request = Request::get(path)
        .header(header::HOST, "127.0.0.1")
        .body(Empty::new())
        .expect("a request");
    client.ready().await.expect("the connection");
    let response = client.send_request(request).await.expect("an answer");
    assert_eq!(response.status(), 200, "GET {path}");
    response.into_body().collect().await.expect("the body");
}

fn comparison(means: &[f64]) -> Comparison {
    let labels = [
        "GET /api/users/1: step 4's app, diesel and the pool",
        "GET /nodb/users/1: the same JSON from memory",
        "GET /hop/users/1: from memory, via spawn_blocking",
    ];
    let no_database = means[1];
    let rows = labels
        .iter()
        .zip(means)
        .map(|(label, nanos)| {
            let per_second = 1e9 / nanos;
            Row {
                label: label.to_string(),
                value: per_second,
                cells: vec![
                    figure(nanos / 1000.0),
                    figure(per_second),
                    format!("{:.0} %", 100.0 * no_database / nanos),
                ],
            }
        })
        .collect();
    Comparison {
        id: "http".into(),
        title: "Requests per second over loopback, one client".into(),
        measure: "requests per second (longer is faster)".into(),
        machine: measured::machine(),
        command: common::command("http"),
        columns: vec![
            "µs per request".into(),
            "requests per second".into(),
            "rate against /nodb".into(),
        ],
        rows,
    }
}
