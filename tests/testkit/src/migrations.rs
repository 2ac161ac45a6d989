//! Checks that steps 6 and 7 share, run on a step's real binary in a
//! sandbox: what `serve` and the `db` commands do with a database that
//! changed under them or holds what they cannot read.

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

use crate::{HttpClient, Sandbox, Served};

/// A `db downgrade` while the server runs: the models were compiled for the
/// schema it started on. The server notices that the schema changed,
/// answers 503, and its log says to restart it. `file` is the step's
/// default database, as its messages name it.
pub fn migrated_under_a_running_server_answers_503(sandbox: &Sandbox, file: &str) {
    assert!(sandbox.run(&["db", "upgrade"]).success);
    let served = Served::start(sandbox, &[], &[("RUST_LOG", "warn")]);
    let mut client = HttpClient::connect(served.address()).unwrap();
    assert_eq!(client.send("GET", "/api/posts", None).unwrap().0, 200);
    assert!(sandbox.run(&["db", "downgrade", "--no-backup"]).success);
    let (status, body) = client.send("GET", "/api/posts", None).unwrap();
    assert_eq!(status, 503, "{body}");
    let stopped = served.stop();
    let logged = format!("database {file} was migrated while serving; restart the server");
    assert!(stopped.stderr.contains(&logged), "{}", stopped.stderr);
}

/// Messages that name the fault and the way out: a bogus version is quoted
/// short, a file that is not a database is called that, and a version
/// recorded as applied that no migration has (a newer program's) names
/// `db stamp`, which records the database as being at `last` exactly.
pub fn bad_versions_and_files_are_named_with_the_way_out(
    sandbox: &Sandbox,
    file: &str,
    last: &str,
) {
    assert!(sandbox.run(&["db", "upgrade"]).success);
    let bogus = "9".repeat(5000);
    let run = sandbox.run(&["db", "upgrade", "--to", &bogus]);
    let quoted = "9".repeat(40);
    assert_eq!(
        run.stderr,
        format!("error: no migration has the version \"{quoted}\"... (see `db history`)\n")
    );
    sandbox.write("notes.sqlite", "not a database, only words in a file");
    for command in [
        &["db", "current"][..],
        &["db", "upgrade"],
        &["serve", "--port", "0"],
    ] {
        let mut args = vec!["--database", "notes.sqlite"];
        args.extend_from_slice(command);
        let run = sandbox.run(&args);
        assert!(!run.success, "{command:?}");
        let refusal = "error: notes.sqlite is not a SQLite database (is it the right file?)\n";
        assert!(run.stderr.ends_with(refusal), "{command:?}: {}", run.stderr);
    }
    let path = sandbox.path().join(file);
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    conn.batch_execute(
        "INSERT INTO __diesel_schema_migrations (version) VALUES ('20991231000000')",
    )
    .unwrap();
    let stuck = sandbox.run(&["db", "downgrade"]);
    assert!(!stuck.success);
    assert!(
        stuck.stderr.contains("`db stamp VERSION`"),
        "{}",
        stuck.stderr
    );
    let stamped = sandbox.run(&["db", "stamp", last]);
    assert_eq!(
        stamped.stdout,
        "Nothing to stamp: those are applied already.\n\
         Forgot 20991231000000: it is no longer recorded as applied\n"
    );
    assert!(sandbox.run(&["db", "downgrade"]).success);
}
