//! What every step's tests share, and nothing else:
//!
//! - [`Sandbox`]: an empty temporary folder per test, in which the step's
//!   real binary runs, as a learner runs it from the workspace root;
//! - [`Sandbox::transcript`]: `$ command` sessions, rendered for the book from
//!   the very command lines that were run;
//! - [`Served`]: the binary's `serve` on a free port, stopped with Ctrl-C;
//! - [`send`] and friends: a request handed straight to an app, no socket;
//! - `backends` (feature `postgres`): a fresh database per test on SQLite
//!   and, when a server is given, on PostgreSQL;
//! - `migrations` (feature `migrations`): the checks steps 6 and 7 share;
//! - [`pages`]: the check of the posts API's paging that steps 4 to 7 share.
//!
//! A step's tests find their binary with `env!("CARGO_BIN_EXE_<step>")`, so
//! cargo builds it first; nothing here calls cargo.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tempfile::TempDir;
use tower::ServiceExt;

#[cfg(feature = "postgres")]
pub mod backends;
#[cfg(feature = "migrations")]
pub mod migrations;
pub mod pages;

/// The workspace's root folder.
pub fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// What one run of a binary produced.
#[derive(Debug)]
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// A step's binary and an empty folder to run it in, deleted with the test.
#[derive(Debug)]
pub struct Sandbox {
    binary: PathBuf,
    dir: TempDir,
}

impl Sandbox {
    /// A sandbox for the binary at `binary` (`env!("CARGO_BIN_EXE_...")`).
    pub fn new(binary: &str) -> Sandbox {
        Sandbox {
            binary: PathBuf::from(binary),
            dir: TempDir::new().expect("a temporary folder"),
        }
    }

    /// The folder, the binary's working directory: it plays the workspace root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The package name, which is also the binary's name.
    pub fn package(&self) -> String {
        let stem = self.binary.file_stem().expect("a binary name");
        stem.to_string_lossy().into_owned()
    }

    /// Writes a file (and its folders) into the sandbox and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(name);
        std::fs::create_dir_all(path.parent().expect("a file has a folder"))
            .expect("the sandbox is writable");
        std::fs::write(&path, contents).expect("the sandbox is writable");
        path
    }

    /// Copies a file of the workspace to the same relative path in the
    /// sandbox, so a command line written for the workspace root works here.
    pub fn copy_in(&self, workspace_path: &str) -> PathBuf {
        let contents = std::fs::read(workspace_root().join(workspace_path))
            .unwrap_or_else(|err| panic!("{workspace_path}: {err}"));
        self.write(workspace_path, contents)
    }

    /// The binary as a command, in the sandbox, with no `DATABASE_URL` or
    /// `RUST_LOG` from the environment the tests run in.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .current_dir(self.path())
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG");
        command
    }

    /// The step's binary.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// Runs the binary with `args` from `sh`, after `limits` (shell
    /// commands such as `ulimit -f 64`), and returns its exit status: for a
    /// run the system cuts short, as a full disk or a kill would.
    pub fn run_limited(&self, limits: &str, args: &[&str]) -> std::process::ExitStatus {
        Command::new("sh")
            .arg("-c")
            .arg(format!("{limits}; exec \"$0\" \"$@\""))
            .arg(&self.binary)
            .args(args)
            .current_dir(self.path())
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("sh runs")
    }

    /// Runs the binary with `args` and waits for it.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[])
    }

    /// Runs the binary with `args` and the extra environment `env`.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let output = self
            .command(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("the step binary starts");
        let run = Run {
            success: output.status.success(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        };
        assert!(
            !run.stderr.contains("panicked") && output.status.code().is_some(),
            "the binary panicked or was killed:\n{}",
            run.stderr
        );
        run
    }

    /// Runs the binary with its stdout already closed, as `| head -0` leaves
    /// it, and returns whether it succeeded and what it wrote to stderr.
    pub fn run_into_closed_pipe(&self, args: &[&str]) -> (bool, String) {
        let mut child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the step binary starts");
        drop(child.stdout.take()); // the reader is gone before anything is written
        let output = child.wait_with_output().expect("the binary ends");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.success(), stderr)
    }

    /// Runs each command line, as written for a shell in the workspace root
    /// (`VAR=value` words first, then the step's arguments), and renders the
    /// session as a terminal shows it: `$ cargo run -q -p <step> -- ...`,
    /// then what it printed, then its exit status if it failed. The book
    /// includes these, so every command it shows is one that ran.
    pub fn transcript(&self, lines: &[&str]) -> String {
        let mut text = String::new();
        for line in lines {
            let words = shell_words(line);
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let split = words.iter().take_while(|word| is_assignment(word)).count();
            let (env, args) = words.split_at(split);
            let env: Vec<(&str, &str)> =
                env.iter().filter_map(|word| word.split_once('=')).collect();
            let run = self.run_with_env(args, &env);
            let shown_env: String = words[..split].iter().map(|w| format!("{w} ")).collect();
            let package = self.package();
            let separator = if args.is_empty() { "" } else { " -- " };
            let shown_args: Vec<String> = args
                .iter()
                .map(|arg| match arg.contains([' ', '"']) {
                    true => format!("\"{}\"", arg.replace('"', "\\\"")),
                    false => (*arg).to_owned(),
                })
                .collect();
            text.push_str(&format!(
                "$ {shown_env}cargo run -q -p {package}{separator}{}\n",
                shown_args.join(" ")
            ));
            text.push_str(&run.stdout);
            text.push_str(&run.stderr);
            if !run.success {
                text.push_str("(exit status 1)\n");
            }
            text.push('\n');
        }
        text
    }
}

/// A command line's words as a shell splits them: at spaces, except inside
/// double quotes, which are dropped (`\"` is a quote kept).
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted) = (Vec::new(), None::<String>, false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                word.get_or_insert_with(String::new).push('"');
            }
            '"' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            ' ' if !quoted => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    })
}

/// A step's `serve`, started on a free port of 127.0.0.1; Ctrl-C'd when dropped.
#[derive(Debug)]
pub struct Served {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// `http://127.0.0.1:PORT`, without the final slash.
    pub url: String,
    /// What `serve` printed up to and including the line with its URL.
    pub first_line: String,
}

impl Served {
    /// Starts `serve --port 0` with `args` after it, and waits for its URL.
    pub fn start(sandbox: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Served {
        let mut all_args = vec!["serve", "--port", "0"];
        all_args.extend_from_slice(args);
        let mut child = sandbox
            .command(&all_args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        // Lines before the URL (a migration applied, say) are kept too.
        let mut first_line = String::new();
        let start = loop {
            let mut line = String::new();
            let read = stdout.read_line(&mut line).expect("serve prints");
            first_line.push_str(&line);
            if let Some(start) = line.find("http://") {
                break start;
            }
            if read == 0 {
                let _ = child.kill();
                let mut stderr = String::new();
                let _ = child
                    .stderr
                    .take()
                    .expect("piped")
                    .read_to_string(&mut stderr);
                panic!("serve printed no URL: {first_line:?}\n{stderr}");
            }
        };
        let url_line = first_line.lines().last().unwrap_or_default();
        let url = url_line[start..]
            .split_whitespace()
            .next()
            .expect("a URL")
            .trim_end_matches('/')
            .to_owned();
        Served {
            child,
            stdout,
            url,
            first_line,
        }
    }

    /// `host:port`, for a raw socket.
    pub fn address(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// The most memory the server has held at once so far (its peak
    /// resident set, `VmHWM` in `/proc`), in KiB.
    pub fn peak_memory_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc entry");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmHWM line")
    }

    /// Sends Ctrl-C (SIGINT) and waits for the process; returns whether it
    /// exited successfully, the rest of stdout, and all of stderr.
    pub fn stop(self) -> Run {
        self.stop_with("-INT")
    }

    /// Sends SIGTERM, as `docker stop` and systemd do, and waits, as [`stop`](Served::stop).
    pub fn terminate(self) -> Run {
        self.stop_with("-TERM")
    }

    fn stop_with(mut self, signal: &str) -> Run {
        self.signal(signal);
        let status = self.child.wait().expect("serve exits");
        let mut stdout = String::new();
        self.stdout
            .read_to_string(&mut stdout)
            .expect("stdout reads");
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            pipe.read_to_string(&mut stderr).expect("stderr reads");
        }
        Run {
            success: status.success(),
            stdout,
            stderr,
        }
    }

    /// Kills the server at once (SIGKILL), as a crash would, and waits.
    pub fn kill(mut self) {
        self.child.kill().expect("the server is running");
        self.child.wait().expect("serve exits");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill runs");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A keep-alive HTTP/1.1 client on one socket, for tests against `serve`.
#[derive(Debug)]
pub struct HttpClient {
    address: String,
    stream: BufReader<TcpStream>,
    cookie: Option<String>,
}

impl HttpClient {
    pub fn connect(address: &str) -> std::io::Result<HttpClient> {
        let stream = BufReader::new(TcpStream::connect(address)?);
        let address = address.to_owned();
        Ok(HttpClient {
            address,
            stream,
            cookie: None,
        })
    }

    /// The same client, sending `cookie` (`session=...`) with every request.
    pub fn with_cookie(mut self, cookie: &str) -> HttpClient {
        self.cookie = Some(cookie.to_owned());
        self
    }

    /// Sends one request (with a JSON body, if any) and reads the answer:
    /// its status and body. An error means the connection is gone.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        json: Option<&str>,
    ) -> std::io::Result<(u16, String)> {
        let body = json.unwrap_or_default();
        let cookie = match &self.cookie {
            Some(cookie) => format!("Cookie: {cookie}\r\n"),
            None => String::new(),
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{cookie}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.address,
            body.len()
        );
        let socket = self.stream.get_mut();
        socket.write_all(head.as_bytes())?;
        socket.write_all(body.as_bytes())?;
        let mut line = String::new();
        if self.stream.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let mut length = 0;
        loop {
            line.clear();
            if self.stream.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut answer = vec![0; length];
        self.stream.read_exact(&mut answer)?;
        Ok((status, String::from_utf8_lossy(&answer).into_owned()))
    }
}

/// Sends one request on a connection of its own, `Connection: close`, and
/// returns the whole answer as text, headers included.
pub fn exchange(address: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("the server listens");
    stream
        .write_all(request.as_bytes())
        .expect("the request is sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an answer");
    answer
}

/// Logs in on a served step (`POST /auth/login`) and returns its session
/// cookie, as `session=...`.
pub fn log_in(address: &str, username: &str, password: &str) -> String {
    let fields = format!("username={username}&password={password}");
    let answer = exchange(
        address,
        &format!(
            "POST /auth/login HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{fields}",
            fields.len()
        ),
    );
    answer
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: "))
        .and_then(|set| set.split(';').next())
        .unwrap_or_else(|| panic!("a session cookie in {answer}"))
        .to_owned()
}

/// Opens a connection and sends `head` (a request line and headers, ending
/// in `\r\n\r\n`, with a `Content-Length` above 1) and one byte of the
/// body, then nothing more: a slow client. The request stays open for as long
/// as the returned socket lives.
pub fn trickle(address: &str, head: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).expect("the server listens");
    stream.write_all(head.as_bytes()).expect("the head is sent");
    stream.write_all(b"x").expect("one byte is sent");
    stream
}

/// Hands `request` straight to `app` (no socket) and returns the status and the
/// body as text.
pub async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("a Router never fails");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("the body reads")
        .to_bytes();
    let body = String::from_utf8(bytes.to_vec()).expect("the body is UTF-8");
    (status, body)
}

/// A `GET` request for `uri`.
pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .body(Body::empty())
        .expect("a valid request")
}

/// A `POST` of `body`, with the content type `content_type`.
pub fn post(uri: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .expect("a valid request")
}

/// A `POST` of an HTML form's fields, already URL-encoded (`a=1&b=2`).
pub fn post_form(uri: &str, fields: &str) -> Request<Body> {
    post(uri, "application/x-www-form-urlencoded", fields.to_owned())
}
