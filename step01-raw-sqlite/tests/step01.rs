//! step01-raw-sqlite: the walkthrough, `import-csv` and `list`, run as a
//! learner runs them, with the resulting databases checked directly.

use rusqlite::Connection;
use testkit::Sandbox;

const HOSTILE_NAME: &str = "Robert'); DROP TABLE users;--";

fn sandbox() -> Sandbox {
    Sandbox::new(env!("CARGO_BIN_EXE_step01-raw-sqlite"))
}

/// Opens a database file the binary wrote in the sandbox.
fn open_db(sandbox: &Sandbox, relative: &str) -> Connection {
    let path = sandbox.path().join(relative);
    assert!(path.exists(), "{relative} was not created");
    Connection::open(path).expect("the database opens")
}

/// Every `(name, email)` row of `users`, in id order.
fn user_rows(conn: &Connection) -> Vec<(String, String)> {
    let mut statement = conn
        .prepare("SELECT name, email FROM users ORDER BY id")
        .expect("users exists");
    statement
        .query_map((), |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("users is readable")
        .collect::<Result<_, _>>()
        .expect("rows are text")
}

fn rows(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, email)| (name.to_string(), email.to_string()))
        .collect()
}

#[test]
fn walkthrough_prints_its_five_sections() {
    let sandbox = sandbox();
    let run = sandbox.run(&[]);
    assert!(run.success, "{}", run.stderr);
    // The book's chapter 1 shows this very snapshot.
    insta::assert_snapshot!("walkthrough", run.stdout);
}

#[test]
fn walkthrough_leaves_the_data_it_describes() {
    let sandbox = sandbox();
    assert!(sandbox.run(&[]).success);
    let db = open_db(&sandbox, "instance/step01-walkthrough.sqlite");

    let expected = rows(&[
        ("Alice", "alice@example.com"),
        ("Bob", "bob@example.com"),
        (HOSTILE_NAME, "bobby@example.com"),
    ]);
    // The injection attempt is a row like any other, and the table survived.
    assert_eq!(user_rows(&db), expected);
    // The failed transaction left none of its three rows.
    let from_failed_batch: i64 = db
        .query_row(
            "SELECT count(*) FROM users WHERE name IN ('Carol', 'Dave', 'Mallory')",
            (),
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(from_failed_batch, 0);
    // The backup holds the same rows.
    let backup = open_db(&sandbox, "instance/step01-walkthrough-backup.sqlite");
    assert_eq!(user_rows(&backup), expected);
}

#[test]
fn walkthrough_ignores_the_database_setting() {
    let sandbox = sandbox();
    let run = sandbox.run_with_env(&[], &[("DATABASE_URL", "")]);
    assert!(run.success, "{}", run.stderr);
}

#[test]
fn walkthrough_runs_twice_in_a_row() {
    let sandbox = sandbox();
    let first = sandbox.run(&[]);
    let second = sandbox.run(&[]);
    assert!(second.success, "{}", second.stderr);
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn help_lists_the_subcommands() {
    let sandbox = sandbox();
    let run = sandbox.run(&["--help"]);
    assert!(run.success);
    insta::assert_snapshot!("help", run.stdout);
}

#[test]
fn import_session_as_the_book_shows_it() {
    let sandbox = sandbox();
    for file in ["users.csv", "users-updated.csv", "users-broken.csv"] {
        sandbox.copy_in(&format!("step01-raw-sqlite/data/{file}"));
    }
    // The exact lines the chapter shows, run from the workspace root.
    let transcript = sandbox.transcript(&[
        "import-csv step01-raw-sqlite/data/users.csv",
        "import-csv step01-raw-sqlite/data/users.csv",
        "import-csv step01-raw-sqlite/data/users-updated.csv",
        "import-csv step01-raw-sqlite/data/users-broken.csv",
        "list",
    ]);
    insta::assert_snapshot!("import_session", transcript);
}

#[test]
fn import_twice_adds_nothing_the_second_time() {
    let sandbox = sandbox();
    sandbox.write(
        "users.csv",
        "name,email\nAnn,ann@example.com\n\"Lee, Jr.\",lee@example.com\n",
    );

    let first = sandbox.run(&["import-csv", "users.csv"]);
    assert_eq!(
        first.stdout,
        "Imported users.csv into instance/step01.sqlite: 2 inserted, 0 updated, 0 unchanged.\n"
    );
    let second = sandbox.run(&["import-csv", "users.csv"]);
    assert_eq!(
        second.stdout,
        "Imported users.csv into instance/step01.sqlite: 0 inserted, 0 updated, 2 unchanged.\n"
    );
    let db = open_db(&sandbox, "instance/step01.sqlite");
    assert_eq!(
        user_rows(&db),
        rows(&[("Ann", "ann@example.com"), ("Lee, Jr.", "lee@example.com")])
    );
}

#[test]
fn import_updates_the_name_of_a_known_email() {
    let sandbox = sandbox();
    sandbox.write(
        "first.csv",
        "name,email\nAnn,ann@example.com\nBo,bo@example.com\n",
    );
    sandbox.write(
        "again.csv",
        "name,email\nAnnie,ann@example.com\nBo,bo@example.com\nCy,cy@example.com\n",
    );
    assert!(sandbox.run(&["import-csv", "first.csv"]).success);

    let run = sandbox.run(&["import-csv", "again.csv"]);
    assert!(
        run.stdout
            .ends_with(": 1 inserted, 1 updated, 1 unchanged.\n"),
        "{}",
        run.stdout
    );
    let db = open_db(&sandbox, "instance/step01.sqlite");
    assert_eq!(
        user_rows(&db),
        rows(&[
            ("Annie", "ann@example.com"),
            ("Bo", "bo@example.com"),
            ("Cy", "cy@example.com"),
        ])
    );
}

#[test]
fn a_malformed_file_names_its_line_and_writes_nothing() {
    let long_name = "x".repeat(101);
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "empty.csv",
            b"".to_vec(),
            "line 1: the file is empty; expected the header `name,email`".into(),
        ),
        (
            "missing-column.csv",
            b"name\nZoe\n".to_vec(),
            "line 1: expected the header `name,email`, found \"name\"".into(),
        ),
        (
            "extra-field.csv",
            b"name,email\nZoe,zoe@example.com\nYan,yan@example.com,42\n".to_vec(),
            "line 3: expected 2 fields (name,email), found 3".into(),
        ),
        (
            "empty-name.csv",
            b"name,email\nZoe,zoe@example.com\n  ,anon@example.com\n".to_vec(),
            "line 3: name is empty".into(),
        ),
        (
            "control-character.csv",
            b"name,email\nZo\x07e,zoe@example.com\n".to_vec(),
            "line 2: name contains a control character".into(),
        ),
        (
            "long-name.csv",
            format!("name,email\n{long_name},long@example.com\n").into_bytes(),
            "line 2: name is longer than 100 characters".into(),
        ),
        (
            "bad-email.csv",
            b"name,email\nZoe,zoe@example.com\nYan,yan-at-example.com\n".to_vec(),
            "line 3: \"yan-at-example.com\" is not a valid email address".into(),
        ),
        (
            "control-in-email.csv",
            b"name,email\nZoe,zoe\x1b[31m@example.com\n".to_vec(),
            "line 2: email contains a control character".into(),
        ),
        (
            "huge-email.csv",
            format!("name,email\nZoe,{}@example\n", "z".repeat(5_000_000)).into_bytes(),
            format!(
                "line 2: \"{}\"... is not a valid email address",
                "z".repeat(40)
            ),
        ),
        (
            "not-utf8.csv",
            b"name,email\nZoe,zoe@example.com\nY\xffn,yan@example.com\n".to_vec(),
            "line 3: the text is not valid UTF-8".into(),
        ),
        (
            "duplicate.csv",
            b"name,email\nZoe,zoe@example.com\nYan,yan@example.com\nZed,ZOE@example.com\n".to_vec(),
            "line 4: email \"ZOE@example.com\" already appears on line 2".into(),
        ),
    ];

    let sandbox = sandbox();
    sandbox.write("good.csv", "name,email\nAnn,ann@example.com\n");
    assert!(sandbox.run(&["import-csv", "good.csv"]).success);
    let before = user_rows(&open_db(&sandbox, "instance/step01.sqlite"));

    for (file, contents, reason) in cases {
        sandbox.write(file, contents);
        let run = sandbox.run(&["import-csv", file]);
        assert!(!run.success, "{file} was accepted");
        assert_eq!(
            run.stderr,
            format!("error: {file}, {reason}; nothing was imported\n")
        );
        let after = user_rows(&open_db(&sandbox, "instance/step01.sqlite"));
        assert_eq!(after, before, "{file} changed the database");
    }
}

#[test]
fn a_missing_file_is_one_line_and_a_failure() {
    let sandbox = sandbox();
    let run = sandbox.run(&["import-csv", "nowhere.csv"]);
    assert!(!run.success);
    assert_eq!(
        run.stderr,
        "error: cannot read nowhere.csv: No such file or directory (os error 2)\n"
    );
}

#[test]
fn the_database_comes_from_the_flag_then_the_environment() {
    let sandbox = sandbox();
    sandbox.write("one.csv", "name,email\nAnn,ann@example.com\n");

    let from_env = sandbox.run_with_env(
        &["import-csv", "one.csv"],
        &[("DATABASE_URL", "sqlite://from-env.sqlite")],
    );
    assert!(
        from_env.stdout.contains("into from-env.sqlite:"),
        "{}",
        from_env.stdout
    );
    let from_flag = sandbox.run_with_env(
        &["--database", "from-flag.sqlite", "import-csv", "one.csv"],
        &[("DATABASE_URL", "sqlite://from-env.sqlite")],
    );
    assert!(
        from_flag.stdout.contains("into from-flag.sqlite:"),
        "{}",
        from_flag.stdout
    );
    assert_eq!(user_rows(&open_db(&sandbox, "from-flag.sqlite")).len(), 1);

    let listed = sandbox.run(&["--database", "from-env.sqlite", "list"]);
    assert_eq!(
        listed.stdout,
        "from-env.sqlite: 1 users\n  id 1: Ann <ann@example.com>\n"
    );
}

#[test]
fn an_unusable_database_location_is_one_line_and_a_failure() {
    let sandbox = sandbox();
    sandbox.write("plain-file", "not a folder");
    sandbox.write("one.csv", "name,email\nAnn,ann@example.com\n");
    let run = sandbox.run(&[
        "--database",
        "plain-file/app.sqlite",
        "import-csv",
        "one.csv",
    ]);
    assert!(!run.success);
    assert!(
        run.stderr
            .starts_with("error: cannot create folder plain-file: "),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1);

    let other_database = sandbox.run_with_env(
        &["list"],
        &[("DATABASE_URL", "postgres://me:secret@db.example.com/app")],
    );
    assert!(!other_database.success);
    assert!(
        !other_database.stderr.contains("secret"),
        "{}",
        other_database.stderr
    );
    assert!(
        other_database.stderr.starts_with(
            "error: the database setting (from --database or DATABASE_URL) is a `postgres:` URL"
        ),
        "{}",
        other_database.stderr
    );

    let in_memory = sandbox.run_with_env(&["list"], &[("DATABASE_URL", "sqlite::memory:")]);
    assert!(
        !in_memory.success,
        "an in-memory database would lose the import"
    );

    sandbox.write("notes.txt", "plain text, not a database");
    let not_a_database = sandbox.run(&["--database", "notes.txt", "list"]);
    assert_eq!(
        not_a_database.stderr,
        "error: cannot open database notes.txt: file is not a database\n"
    );

    let empty = sandbox.run_with_env(&["list"], &[("DATABASE_URL", "sqlite://")]);
    assert!(!empty.success);
    assert_eq!(
        empty.stderr,
        "error: the database setting (from --database or DATABASE_URL) \"sqlite://\" names no file\n"
    );
}

/// Each refused setting, with the line that explains it; none creates a file.
#[test]
fn a_database_setting_is_honoured_exactly_or_refused() {
    let sandbox = sandbox();
    sandbox.write("one.csv", "name,email\nAnn,ann@example.com\n");
    let setting = "error: the database setting (from --database or DATABASE_URL)";
    let refused = [
        (
            "sqlite:app.db?mode=ro",
            format!(
                "{setting} \"sqlite:app.db?mode=ro\" carries options (?...), which this step does not honour; give a plain path"
            ),
        ),
        (
            "file:app.db",
            format!(
                "{setting} is a `file:` URL, but this step needs a SQLite file: a path or a sqlite: URL"
            ),
        ),
        (
            "file::memory:",
            format!(
                "{setting} is a `file:` URL, but this step needs a SQLite file: a path or a sqlite: URL"
            ),
        ),
        (
            ":memory:",
            format!(
                "{setting} \":memory:\" is an in-memory database, which would be gone when the command ends"
            ),
        ),
        (
            "sqlite://:memory:",
            format!(
                "{setting} \"sqlite://:memory:\" is an in-memory database, which would be gone when the command ends"
            ),
        ),
    ];
    for (value, message) in refused {
        let run = sandbox.run_with_env(&["import-csv", "one.csv"], &[("DATABASE_URL", value)]);
        assert!(!run.success, "{value} was accepted");
        assert_eq!(run.stderr, format!("{message}\n"), "for {value}");
    }
    let files: Vec<_> = std::fs::read_dir(sandbox.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "only one.csv should exist: {files:?}");

    // A plain path is taken literally, question mark and all.
    let literal = sandbox.run(&["--database", "odd?name.db", "import-csv", "one.csv"]);
    assert!(literal.success, "{}", literal.stderr);
    assert_eq!(user_rows(&open_db(&sandbox, "odd?name.db")).len(), 1);
}

#[test]
fn list_on_a_missing_database_says_so_and_creates_nothing() {
    let sandbox = sandbox();
    let run = sandbox.run(&["--database", "data/none.sqlite", "list"]);
    assert!(!run.success);
    assert_eq!(
        run.stderr,
        "error: there is no database at data/none.sqlite yet: `import-csv FILE` creates it\n"
    );
    assert!(!sandbox.path().join("data").exists());
}

#[test]
fn emails_compare_without_regard_to_case() {
    let sandbox = sandbox();
    sandbox.write("first.csv", "name,email\nAnn,Ann@Example.com\n");
    sandbox.write("again.csv", "name,email\nAnnie,ann@example.com\n");
    assert!(sandbox.run(&["import-csv", "first.csv"]).success);
    let run = sandbox.run(&["import-csv", "again.csv"]);
    assert!(
        run.stdout
            .ends_with(": 0 inserted, 1 updated, 0 unchanged.\n"),
        "{}",
        run.stdout
    );
    let db = open_db(&sandbox, "instance/step01.sqlite");
    assert_eq!(user_rows(&db), rows(&[("Annie", "Ann@Example.com")]));
    // The database itself refuses the second spelling, whoever inserts it.
    let again = db.execute(
        "INSERT INTO users (name, email) VALUES ('Eve', 'ANN@EXAMPLE.COM')",
        (),
    );
    assert!(again.is_err());
}

#[test]
fn the_email_rule_is_the_documented_one() {
    let good = [
        "a@b.co",
        "first.last+tag@mail.example.org",
        "x_y@sub-domain.example.com",
    ];
    let bad = [
        "no-at.example.com",
        "two@@example.com",
        "a@localhost",
        ".lead@example.com",
        "trail.@example.com",
        "dou..ble@example.com",
        "a@.example.com",
        "a@example..com",
        "a@-example.com",
        "a@example-.com",
        "sp ace@example.com",
        "a@exa_mple.com",
        "quote\"@example.com",
    ];
    for email in good {
        assert!(step01_raw_sqlite::import::is_valid_email(email), "{email}");
    }
    for email in bad {
        assert!(!step01_raw_sqlite::import::is_valid_email(email), "{email}");
    }
}

#[test]
fn list_into_a_closed_pipe_ends_quietly() {
    let sandbox = sandbox();
    // More than a pipe's buffer holds, so writing into it must fail.
    let mut csv = String::from("name,email\n");
    for n in 0..3000 {
        csv.push_str(&format!("User {n},user{n}@example.com\n"));
    }
    sandbox.write("many.csv", csv);
    assert!(sandbox.run(&["import-csv", "many.csv"]).success);

    for args in [&["list"][..], &[]] {
        let (success, stderr) = sandbox.run_into_closed_pipe(args);
        assert!(success, "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

#[test]
fn a_full_disk_is_one_line_and_a_failure() {
    let sandbox = sandbox();
    sandbox.write("one.csv", "name,email\nAnn,ann@example.com\n");
    assert!(sandbox.run(&["import-csv", "one.csv"]).success);
    let full = std::fs::File::create("/dev/full").unwrap();
    let output = sandbox.command(&["list"]).stdout(full).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: cannot write output: No space left on device (os error 28)\n"
    );
}

#[test]
fn an_import_that_waits_too_long_for_the_lock_says_nothing_was_imported() {
    let sandbox = sandbox();
    sandbox.write("one.csv", "name,email\nAnn,ann@example.com\n");
    sandbox.write("two.csv", "name,email\nBo,bo@example.com\n");
    assert!(sandbox.run(&["import-csv", "one.csv"]).success);

    let holder = open_db(&sandbox, "instance/step01.sqlite");
    holder.execute_batch("BEGIN IMMEDIATE").unwrap(); // another writer
    let run = sandbox.run(&["import-csv", "two.csv"]);
    holder.execute_batch("ROLLBACK").unwrap();
    assert!(!run.success);
    assert_eq!(
        run.stderr,
        "error: the database is busy: another program kept it locked for 5 s; nothing was imported\n"
    );
    assert_eq!(user_rows(&holder), rows(&[("Ann", "ann@example.com")]));
}

#[test]
fn an_import_whose_report_cannot_be_written_says_it_was_committed() {
    let sandbox = sandbox();
    sandbox.write("one.csv", "name,email\nAnn,ann@example.com\n");
    let full = std::fs::File::create("/dev/full").unwrap();
    let output = sandbox
        .command(&["import-csv", "one.csv"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: cannot write output: No space left on device (os error 28) (the import itself was committed)\n"
    );
    let db = open_db(&sandbox, "instance/step01.sqlite");
    assert_eq!(user_rows(&db), rows(&[("Ann", "ann@example.com")]));
}

#[test]
fn list_on_a_folder_says_it_cannot_open_it() {
    let sandbox = sandbox();
    std::fs::create_dir(sandbox.path().join("instance")).unwrap();
    let run = sandbox.run(&["--database", "instance", "list"]);
    assert_eq!(
        run.stderr,
        "error: cannot open database instance: unable to open database file: instance\n"
    );
}

/// A CSV of `rows` users, `name,email`.
fn big_csv(rows: usize) -> String {
    let mut csv = String::from("name,email\n");
    for n in 0..rows {
        csv.push_str(&format!("User {n},user{n}@example.com\n"));
    }
    csv
}

/// 100,000 rows go in as one transaction.
#[test]
fn a_large_import_runs_as_one_transaction() {
    let sandbox = sandbox();
    sandbox.write("big.csv", big_csv(100_000));
    let run = sandbox.run(&["import-csv", "big.csv"]);
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stdout
            .ends_with(": 100000 inserted, 0 updated, 0 unchanged.\n"),
        "{}",
        run.stdout
    );
    let count: i64 = open_db(&sandbox, "instance/step01.sqlite")
        .query_row("SELECT count(*) FROM users", (), |row| row.get(0))
        .unwrap();
    assert_eq!(count, 100_000);
}

/// Killed while its transaction is open (SIGKILL: no chance to clean up),
/// a large import leaves the database exactly as it was.
#[test]
fn a_large_import_killed_partway_leaves_the_database_untouched() {
    let sandbox = sandbox();
    sandbox.write("one.csv", "name,email\nAnn,ann@example.com\n");
    assert!(sandbox.run(&["import-csv", "one.csv"]).success);
    sandbox.write("big.csv", big_csv(100_000));

    // A reader holds the database open, so the import can write its rows
    // but can never commit: it is certainly partway when it is killed.
    let reader = open_db(&sandbox, "instance/step01.sqlite");
    reader
        .execute_batch("BEGIN; SELECT count(*) FROM users;")
        .unwrap();
    let mut import = sandbox.command(&["import-csv", "big.csv"]).spawn().unwrap();
    let journal = sandbox.path().join("instance/step01.sqlite-journal");
    while !journal.exists() && import.try_wait().unwrap().is_none() {
        std::thread::yield_now(); // wait for the import to start writing
    }
    assert!(journal.exists(), "the import ended before it began writing");
    import.kill().unwrap();
    import.wait().unwrap();
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);

    let db = open_db(&sandbox, "instance/step01.sqlite");
    let check: String = db
        .query_row("PRAGMA integrity_check", (), |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    assert_eq!(user_rows(&db), rows(&[("Ann", "ann@example.com")]));
}
