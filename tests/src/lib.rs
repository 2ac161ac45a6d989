//! What every test in the workspace shares: run a step's real binary in a
//! temporary folder of its own, and read what it printed and wrote.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tempfile::TempDir;
use tower::ServiceExt;

/// The workspace's root folder (the parent of `tests/`).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace")
}

/// The path of a step's binary, built by cargo the first time it is asked for.
///
/// `cargo test` builds a package's binaries only for that package's own
/// integration tests, so this crate asks cargo for them; when they are up to
/// date that costs a fraction of a second.
pub fn step_binary(step: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        // Build in the profile this test was built in: debug, or --release.
        let profile = if cfg!(debug_assertions) {
            "dev"
        } else {
            "release"
        };
        let output = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--workspace",
                "--bins",
                "--profile",
                profile,
            ])
            .current_dir(workspace_root())
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "building the step binaries failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
    // This test runs from target/<profile>/deps/; the binaries sit one level up.
    let test_exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = test_exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    profile_dir.join(format!("{step}{}", std::env::consts::EXE_SUFFIX))
}

/// What one run of a binary produced.
#[derive(Debug)]
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// A step's binary plus an empty temporary folder to run it in: each test
/// gets its own instance folder and database, deleted when it ends.
#[derive(Debug)]
pub struct Sandbox {
    binary: PathBuf,
    dir: TempDir,
}

impl Sandbox {
    pub fn new(step: &str) -> Self {
        Sandbox {
            binary: step_binary(step),
            dir: TempDir::new().expect("a temporary folder"),
        }
    }

    /// The sandbox folder, which is the binary's working directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file into the sandbox and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, contents).expect("the sandbox is writable");
        path
    }

    /// Runs the binary with `args`, no `DATABASE_URL` and no `RUST_LOG`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[])
    }

    /// Runs the binary with `args` and the extra environment variables `env`.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let output = Command::new(&self.binary)
            .args(args)
            .current_dir(self.path())
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .output()
            .expect("the step binary starts");
        let run = Run {
            success: output.status.success(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        };
        assert!(
            !run.stderr.contains("panicked"),
            "the binary panicked:\n{}",
            run.stderr
        );
        run
    }

    /// Copies a file from the workspace (say `step01-raw-sqlite/data/users.csv`)
    /// into the sandbox under its own file name.
    pub fn copy_in(&self, workspace_path: &str) {
        let source = workspace_root().join(workspace_path);
        let name = source.file_name().expect("a file path");
        std::fs::copy(&source, self.path().join(name)).expect("the file copies");
    }

    /// Runs each command in turn and writes them up the way a terminal shows
    /// them: the command after a `$`, then what it printed, then its exit
    /// status when it failed. The book includes such transcripts.
    pub fn transcript(&self, commands: &[&[&str]]) -> String {
        let step = self
            .binary
            .file_stem()
            .expect("a binary name")
            .to_string_lossy();
        let mut text = String::new();
        for args in commands {
            let run = self.run(args);
            text.push_str(&format!("$ {step} {}\n", args.join(" ")));
            text.push_str(&run.stdout);
            text.push_str(&run.stderr);
            if !run.success {
                text.push_str("(exit status 1)\n");
            }
            text.push('\n');
        }
        text
    }

    /// Opens a database file inside the sandbox, to check what a run wrote.
    pub fn open_db(&self, relative: &str) -> rusqlite::Connection {
        let path = self.path().join(relative);
        assert!(path.exists(), "{relative} was not created");
        rusqlite::Connection::open(path).expect("the database opens")
    }
}

/// Every `(name, email)` row of `users`, in id order.
pub fn user_rows(conn: &rusqlite::Connection) -> Vec<(String, String)> {
    let mut statement = conn
        .prepare("SELECT name, email FROM users ORDER BY id")
        .expect("users exists");
    statement
        .query_map((), |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("users is readable")
        .collect::<Result<_, _>>()
        .expect("rows are text")
}

/// Hands `request` straight to `app` (no socket), as the walkthroughs do, and
/// returns the status and the body as text.
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
    (
        status,
        String::from_utf8(bytes.to_vec()).expect("the body is UTF-8"),
    )
}

/// A `GET` request for `uri`, with no body.
pub fn get_request(uri: &str) -> Request<Body> {
    Request::get(uri)
        .body(Body::empty())
        .expect("a valid request")
}
