//! The appendix's HTTP load comparison: step 4 beside Flask, step 2, the
//! leanest honest SQLite read and two routes with no database, under the
//! same load, in one run.
//!
//! It builds the release binaries, fills a database for each server, starts
//! them all on 127.0.0.1, and drives them with wrk (Debian's package), 2
//! threads and 32 keep-alive connections, one server at a time, taking turns
//! round after round so that a slow minute of a shared machine falls on
//! every row alike. Each row is the median of the rounds. Flask runs under
//! gunicorn (2 sync workers, one per core) from a virtual environment made
//! in the target folder; without Python, or without the packages, its rows
//! are left out and it says so in one line. Then it writes the table and
//! chart into the appendix (`book/src/measured/load.md`).
//!
//! `cargo run --release -p workspace-tests --example http_load [-- SECONDS ROUNDS]`
//!
//! CI never runs it: its figures depend on the machine.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use measured::{Comparison, Row, figure};
use rusqlite::Connection;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const CONNECTIONS: &str = "32";
const THREADS: &str = "2";
/// Users and posts in step 4's database, as in the Flask app's.
const USERS: i64 = 1000;
const POSTS: i64 = 1000;
/// The password of user1, who writes the POSTs.
const PASSWORD: &str = "load-bench-password";

/// One row: who answers, what is asked, and how (a Lua script for wrk when
/// it is a POST).
struct Target {
    label: &'static str,
    kind: Kind,
    server: usize,
    path: &'static str,
    post: Option<Post>,
}

/// Which rows a row is compared with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    PointRead,
    List,
    Write,
}

#[derive(Clone, Copy)]
enum Post {
    /// Step 4's `POST /api/posts`, as user1, with the session cookie.
    Step04,
    /// Flask's `POST /users`, each with a username no one has yet.
    Flask,
}

/// A server the bench started; stopped when dropped.
struct Running {
    child: Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What wrk measured in one run of one row.
#[derive(Clone, Copy, Debug)]
struct Measured {
    per_second: f64,
    p99_ms: f64,
}

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let seconds: u32 = args.next().map_or(Ok(6), |s| s.parse())?;
    let rounds: usize = args.next().map_or(Ok(3), |s| s.parse())?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    build(&root)?;
    let dir = root.join("target/tmp/http-load");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let release = root.join("target/release");

    // Each server's log goes to a file of its own, as a server's would.
    let log = |name: &str| dir.join(format!("{name}.log"));
    let mut servers = Vec::new();
    let step02_db = dir.join("step02.sqlite");
    fill_step02(&step02_db)?;
    let mut step02 = Command::new(release.join("step02-connection-per-request"));
    step02.arg("--database").arg(&step02_db);
    servers.push(start(
        step02.args(["serve", "--port", "0"]),
        &log("step02"),
    )?);
    // Step 4 reads from one copy of its database and takes the POSTs in
    // another, so that the lists measure the same posts in every round.
    let step04_db = dir.join("step04.sqlite");
    fill_step04(&release, &step04_db)?;
    let (lean_db, writes_db) = (dir.join("lean.sqlite"), dir.join("step04-writes.sqlite"));
    std::fs::copy(&step04_db, &lean_db)?;
    std::fs::copy(&step04_db, &writes_db)?;
    let step04 = |database: &Path| -> Result<Command, BoxError> {
        let mut command = Command::new(release.join("step04-orm"));
        command
            .arg("--database")
            .arg(database)
            .args(["serve", "--port", "0"]);
        command.env("SECRET_KEY", secret_key()?);
        Ok(command)
    };
    servers.push(start(&mut step04(&step04_db)?, &log("step04"))?);
    // Step 4 as it logged before: a line for each connection checked out
    // and given back, beside the request's own (`RUST_LOG` brings them back).
    let mut chatty = step04(&step04_db)?;
    chatty.env("RUST_LOG", "info,step04_orm=debug");
    servers.push(start(&mut chatty, &log("step04-chatty"))?);
    let lean = release.join("examples/lean_server");
    servers.push(start(
        Command::new(&lean).arg(&lean_db).arg("0"),
        &log("lean"),
    )?);
    let mut layered = Command::new(&lean);
    layered.arg(&lean_db).args(["0", "--layers"]);
    servers.push(start(&mut layered, &log("lean-layered"))?);
    servers.push(start(&mut step04(&writes_db)?, &log("step04-writes"))?);
    let flask = match flask(&root, &dir) {
        Ok((reads, writes)) => {
            servers.extend([reads, writes]);
            Some(servers.len() - 2)
        }
        Err(why) => {
            println!("Flask's rows are left out: {why}");
            None
        }
    };
    let writer = servers[5].url.trim_start_matches("http://").to_owned();
    let cookie = testkit::log_in(&writer, "user1", PASSWORD);

    let targets = targets(flask);
    let scripts = Scripts {
        dir: dir.clone(),
        cookie,
    };
    for target in &targets {
        run_wrk(&servers, target, &scripts, 1, "warm-up")?; // caches, pools, JIT
    }
    let mut runs: Vec<Vec<Measured>> = vec![Vec::new(); targets.len()];
    for round in 1..=rounds {
        for (target, runs) in targets.iter().zip(&mut runs) {
            let measured = run_wrk(&servers, target, &scripts, seconds, &format!("r{round}"))?;
            println!(
                "round {round}: {:<58} {:>9.0} req/s, p99 {:.2} ms",
                target.label, measured.per_second, measured.p99_ms
            );
            runs.push(measured);
        }
    }
    let medians: Vec<Measured> = runs.iter().map(|runs| median(runs)).collect();
    let comparison = comparison(&targets, &medians, seconds, rounds);
    print!("{}", measured::table(&comparison));
    measured::record(&measured::measured_dir(), comparison)?;
    println!("load: recorded in book/src/measured/results.json, with its table and chart");
    Ok(())
}

/// The release binaries the servers run.
fn build(root: &Path) -> Result<(), BoxError> {
    let builds: [&[&str]; 2] = [
        &[
            "-p",
            "step02-connection-per-request",
            "-p",
            "step04-orm",
            "--bins",
        ],
        &["-p", "workspace-tests", "--example", "lean_server"],
    ];
    for what in builds {
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .current_dir(root)
            .args(["build", "--release", "--locked"]);
        if !cargo.args(what).status()?.success() {
            return Err("the release build failed".into());
        }
    }
    Ok(())
}

/// The rows, in the table's order.
fn targets(flask: Option<usize>) -> Vec<Target> {
    let (step02, step04, chatty, lean, layered, step04_writes) = (0, 1, 2, 3, 4, 5);
    let get = |label, kind, server, path| Target {
        label,
        kind,
        server,
        path,
        post: None,
    };
    let mut targets = Vec::new();
    if let Some(flask) = flask {
        targets.push(get(
            "Flask + gunicorn (2 workers): GET /users/1",
            Kind::PointRead,
            flask,
            "/users/1",
        ));
    }
    targets.extend([
        get(
            "step 2, a connection per request: GET /api/users/1",
            Kind::PointRead,
            step02,
            "/api/users/1",
        ),
        get(
            "step 2, the sqlx pool: GET /api/pool/users/1",
            Kind::PointRead,
            step02,
            "/api/pool/users/1",
        ),
        get(
            "step 4, diesel + r2d2: GET /api/users/1",
            Kind::PointRead,
            step04,
            "/api/users/1",
        ),
        get(
            "step 4, logging each connection too (as before)",
            Kind::PointRead,
            chatty,
            "/api/users/1",
        ),
        get(
            "the leanest read: GET /users/1",
            Kind::PointRead,
            lean,
            "/users/1",
        ),
        get(
            "the leanest read behind the kit's layers and request log",
            Kind::PointRead,
            layered,
            "/users/1",
        ),
        get(
            "no database, one spawn_blocking hop",
            Kind::PointRead,
            lean,
            "/hop/users/1",
        ),
        get("no database", Kind::PointRead, lean, "/nodb/users/1"),
    ]);
    if let Some(flask) = flask {
        targets.push(get(
            "Flask: GET /users?per_page=100",
            Kind::List,
            flask,
            "/users?per_page=100",
        ));
    }
    targets.push(get(
        "step 4: GET /api/posts?per_page=100",
        Kind::List,
        step04,
        "/api/posts?per_page=100",
    ));
    if let Some(flask) = flask {
        targets.push(Target {
            label: "Flask: POST /users",
            kind: Kind::Write,
            server: flask + 1,
            path: "/users",
            post: Some(Post::Flask),
        });
    }
    targets.push(Target {
        label: "step 4: POST /api/posts",
        kind: Kind::Write,
        server: step04_writes,
        path: "/api/posts",
        post: Some(Post::Step04),
    });
    targets
}

/// Where the POST scripts go, and the cookie step 4's carries.
struct Scripts {
    dir: PathBuf,
    cookie: String,
}

impl Scripts {
    /// A wrk script for `post`; `run` makes Flask's usernames unique across runs.
    fn write(&self, post: Post, run: &str) -> Result<PathBuf, BoxError> {
        let lua = match post {
            Post::Step04 => format!(
                "wrk.method = \"POST\"\n\
                 wrk.headers[\"Content-Type\"] = \"application/json\"\n\
                 wrk.headers[\"Cookie\"] = \"{}\"\n\
                 wrk.body = '{{\"author_id\":1,\"title\":\"Load\",\"body\":\"A post the load bench wrote.\"}}'\n",
                self.cookie
            ),
            Post::Flask => format!(
                "local threads = 0\n\
                 function setup(thread) threads = threads + 1; thread:set(\"tid\", threads) end\n\
                 local count = 0\n\
                 function request()\n\
                 count = count + 1\n\
                 local body = string.format('{{\"username\":\"{run}-%d-%d\"}}', tid, count)\n\
                 return wrk.format(\"POST\", nil, {{[\"Content-Type\"] = \"application/json\"}}, body)\n\
                 end\n"
            ),
        };
        let path = self.dir.join(format!("post-{run}.lua"));
        std::fs::write(&path, lua)?;
        Ok(path)
    }
}

/// One run of wrk on one row; any answer but 2xx fails the bench, since its
/// figures would then measure errors.
fn run_wrk(
    servers: &[Running],
    target: &Target,
    scripts: &Scripts,
    seconds: u32,
    run: &str,
) -> Result<Measured, BoxError> {
    let url = format!("{}{}", servers[target.server].url, target.path);
    let mut wrk = Command::new("wrk");
    wrk.args([
        "-t",
        THREADS,
        "-c",
        CONNECTIONS,
        "-d",
        &format!("{seconds}s"),
        "--latency",
    ]);
    if let Some(post) = target.post {
        wrk.arg("-s")
            .arg(scripts.write(post, &format!("{run}-{}", target.server))?);
    }
    let output = wrk
        .arg(&url)
        .output()
        .map_err(|err| format!("wrk: {err} (apt-get install wrk)"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if let Some(line) = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        return Err(format!("{}: {}", target.label, line.trim()).into());
    }
    let per_second = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("{}: no Requests/sec in wrk's output:\n{text}", target.label))?;
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(|v| milliseconds(v.trim()))
        .ok_or_else(|| format!("{}: no 99% latency in wrk's output:\n{text}", target.label))?;
    Ok(Measured {
        per_second,
        p99_ms: p99,
    })
}

/// wrk's `812.00us`, `3.21ms` or `1.02s`, in milliseconds.
fn milliseconds(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    match unit {
        "us" => Some(number / 1000.0),
        "ms" => Some(number),
        "s" => Some(number * 1000.0),
        _ => None,
    }
}

fn median(runs: &[Measured]) -> Measured {
    let middle = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    Measured {
        per_second: middle(runs.iter().map(|m| m.per_second).collect()),
        p99_ms: middle(runs.iter().map(|m| m.p99_ms).collect()),
    }
}

/// The table: requests a second, p99, the ratio to Flask's row of the same
/// kind, and for the point reads the share of the leanest read's rate.
fn comparison(targets: &[Target], medians: &[Measured], seconds: u32, rounds: usize) -> Comparison {
    let find = |label_start: &str, kind: Kind| {
        targets
            .iter()
            .zip(medians)
            .find(|(t, _)| t.kind == kind && t.label.starts_with(label_start))
            .map(|(_, m)| *m)
    };
    let leanest = find("the leanest", Kind::PointRead);
    let rows = targets
        .iter()
        .zip(medians)
        .map(|(target, measured)| {
            let flask = find("Flask", target.kind);
            let against_flask = flask.map_or("".to_owned(), |f| {
                format!("{:.1}x", measured.per_second / f.per_second)
            });
            let share = match (target.kind, leanest) {
                (Kind::PointRead, Some(lean)) => {
                    format!("{:.0} %", 100.0 * measured.per_second / lean.per_second)
                }
                _ => String::new(),
            };
            Row {
                label: target.label.to_owned(),
                value: measured.per_second,
                cells: vec![
                    figure(measured.per_second),
                    format!("{:.2}", measured.p99_ms),
                    against_flask,
                    share,
                ],
            }
        })
        .collect();
    Comparison {
        id: "load".to_owned(),
        title: "Requests a second under 32 connections".to_owned(),
        measure: "requests a second".to_owned(),
        machine: format!(
            "{}; wrk -t{THREADS} -c{CONNECTIONS}, {seconds} s a round, {rounds} rounds taken in turn, medians",
            measured::machine()
        ),
        command: "cargo run --release -p workspace-tests --example http_load".to_owned(),
        columns: ["req/s", "p99 (ms)", "× Flask", "of the leanest read"]
            .map(String::from)
            .to_vec(),
        rows,
    }
}

/// Starts a server that prints its URL on its first lines, and waits for
/// it. Its log goes to `log`, a file, as a server's log would.
fn start(command: &mut Command, log: &Path) -> Result<Running, BoxError> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log)?)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .ok_or("the server stopped before printing its URL")??;
        if let Some(at) = line.find("http://") {
            let url = line[at..].split_whitespace().next().unwrap_or_default();
            break url.trim_end_matches('/').to_owned();
        }
    };
    // Keep reading what it prints, so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Ok(Running { child, url })
}

/// Step 2's table, as step 2 makes it, with one user.
fn fill_step02(path: &Path) -> Result<(), BoxError> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "CREATE TABLE users (
            id    INTEGER PRIMARY KEY AUTOINCREMENT,
            name  TEXT NOT NULL,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE
        );
        INSERT INTO users (name, email) VALUES ('user1', 'user1@example.com');",
    )?;
    Ok(())
}

/// Step 4's tables (its own `init-db`), user1 with a real password hash,
/// more users, and posts dealt among them.
fn fill_step04(release: &Path, path: &Path) -> Result<(), BoxError> {
    let init = Command::new(release.join("step04-orm"))
        .arg("--database")
        .arg(path)
        .arg("init-db")
        .output()?;
    if !init.status.success() {
        return Err(format!(
            "step 4's init-db: {}",
            String::from_utf8_lossy(&init.stderr)
        )
        .into());
    }
    let conn = Connection::open(path)?;
    let hash = stepkit::password::hash(PASSWORD)?;
    conn.execute(
        "INSERT INTO user (username, username_key, password) VALUES ('user1', 'user1', ?1)",
        [hash],
    )?;
    conn.execute(
        "INSERT INTO user (username, username_key, password)
         WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         SELECT 'user' || i, 'user' || i, 'not a hash' FROM n",
        [USERS],
    )?;
    conn.execute(
        "INSERT INTO post (author_id, title, body)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         SELECT i % ?2 + 1, 'Post ' || i, 'The body of post ' || i || '.' FROM n",
        [POSTS, USERS],
    )?;
    Ok(())
}

/// 128 hex digits from the system's randomness, for step 4's SECRET_KEY.
fn secret_key() -> Result<String, BoxError> {
    let mut bytes = [0u8; 64];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Flask's app under gunicorn, from a virtual environment in `dir`: one
/// for the reads and one for the writes, each on a database of its own with
/// USERS users, each on a free port.
fn flask(root: &Path, dir: &Path) -> Result<(Running, Running), BoxError> {
    let venv = dir.join("venv");
    let ran = |command: &mut Command, what: &str| -> Result<(), BoxError> {
        let output = command.output().map_err(|err| format!("{what}: {err}"))?;
        let said = String::from_utf8_lossy(&output.stderr);
        match output.status.success() {
            true => Ok(()),
            false => {
                Err(format!("{what} failed: {}", said.lines().last().unwrap_or_default()).into())
            }
        }
    };
    ran(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    )?;
    let packages = ["flask>=3.1,<4", "flask-sqlalchemy>=3.1,<4", "gunicorn"];
    let pip = &mut Command::new(venv.join("bin/pip"));
    ran(pip.args(["install", "-q"]).args(packages), "pip install")?;
    let app = root.join("tests/load");
    let serve = |name: &str| -> Result<Running, BoxError> {
        let database = dir.join(format!("{name}.sqlite"));
        let fill = &mut Command::new(venv.join("bin/flask"));
        fill.current_dir(&app).env("USERS_DATABASE", &database);
        ran(
            fill.args(["--app", "flask_users", "fill", &USERS.to_string()]),
            "flask fill",
        )?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let bind = format!("127.0.0.1:{port}");
        let child = Command::new(venv.join("bin/gunicorn"))
            .current_dir(&app)
            .env("USERS_DATABASE", &database)
            .args(["--workers", "2", "--bind", &bind, "flask_users:app"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("{name}.log")))?)
            .spawn()?;
        let running = Running {
            child,
            url: format!("http://{bind}"),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(&bind).is_ok() {
                return Ok(running);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("gunicorn did not start listening in 10 s".into())
    };
    Ok((serve("flask")?, serve("flask-writes")?))
}
