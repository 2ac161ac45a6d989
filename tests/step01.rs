//! step01-raw-sqlite: the walkthrough, `import-csv` and `list`, run as a
//! learner runs them, with the resulting databases checked directly.

use workspace_tests::{Sandbox, user_rows};

const STEP: &str = "step01-raw-sqlite";
const HOSTILE_NAME: &str = "Robert'); DROP TABLE users;--";

fn rows(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, email)| (name.to_string(), email.to_string()))
        .collect()
}

#[test]
fn walkthrough_prints_its_five_sections() {
    let sandbox = Sandbox::new(STEP);
    let run = sandbox.run(&[]);
    assert!(run.success, "{}", run.stderr);
    // The book's chapter 1 shows this very snapshot.
    insta::assert_snapshot!("walkthrough", run.stdout);
}

#[test]
fn walkthrough_leaves_the_data_it_describes() {
    let sandbox = Sandbox::new(STEP);
    assert!(sandbox.run(&[]).success);
    let db = sandbox.open_db("instance/step01-walkthrough.sqlite");

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
    let backup = sandbox.open_db("instance/step01-walkthrough-backup.sqlite");
    assert_eq!(user_rows(&backup), expected);
}

#[test]
fn walkthrough_ignores_the_database_setting() {
    let sandbox = Sandbox::new(STEP);
    let run = sandbox.run_with_env(&[], &[("DATABASE_URL", "")]);
    assert!(run.success, "{}", run.stderr);
}

#[test]
fn walkthrough_runs_twice_in_a_row() {
    let sandbox = Sandbox::new(STEP);
    let first = sandbox.run(&[]);
    let second = sandbox.run(&[]);
    assert!(second.success, "{}", second.stderr);
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn help_lists_the_subcommands() {
    let sandbox = Sandbox::new(STEP);
    let run = sandbox.run(&["--help"]);
    assert!(run.success);
    insta::assert_snapshot!("help", run.stdout);
}

#[test]
fn import_session_as_the_book_shows_it() {
    let sandbox = Sandbox::new(STEP);
    for file in ["users.csv", "users-updated.csv", "users-broken.csv"] {
        sandbox.copy_in(&format!("step01-raw-sqlite/data/{file}"));
    }
    let transcript = sandbox.transcript(&[
        &["import-csv", "users.csv"],
        &["import-csv", "users.csv"],
        &["import-csv", "users-updated.csv"],
        &["import-csv", "users-broken.csv"],
        &["list"],
    ]);
    insta::assert_snapshot!("import_session", transcript);
}

#[test]
fn import_twice_adds_nothing_the_second_time() {
    let sandbox = Sandbox::new(STEP);
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
    let db = sandbox.open_db("instance/step01.sqlite");
    assert_eq!(
        user_rows(&db),
        rows(&[("Ann", "ann@example.com"), ("Lee, Jr.", "lee@example.com")])
    );
}

#[test]
fn import_updates_the_name_of_a_known_email() {
    let sandbox = Sandbox::new(STEP);
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
    let db = sandbox.open_db("instance/step01.sqlite");
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
            "line 1: expected the header `name,email`, found `name`".into(),
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
            "line 3: `yan-at-example.com` is not a valid email address".into(),
        ),
        (
            "not-utf8.csv",
            b"name,email\nZoe,zoe@example.com\nY\xffn,yan@example.com\n".to_vec(),
            "line 3: the text is not valid UTF-8".into(),
        ),
        (
            "duplicate.csv",
            b"name,email\nZoe,zoe@example.com\nYan,yan@example.com\nZed,zoe@example.com\n".to_vec(),
            "line 4: email `zoe@example.com` already appears on line 2".into(),
        ),
    ];

    let sandbox = Sandbox::new(STEP);
    sandbox.write("good.csv", "name,email\nAnn,ann@example.com\n");
    assert!(sandbox.run(&["import-csv", "good.csv"]).success);
    let before = user_rows(&sandbox.open_db("instance/step01.sqlite"));

    for (file, contents, reason) in cases {
        sandbox.write(file, contents);
        let run = sandbox.run(&["import-csv", file]);
        assert!(!run.success, "{file} was accepted");
        assert_eq!(
            run.stderr,
            format!("error: {file}, {reason}; nothing was imported\n")
        );
        let after = user_rows(&sandbox.open_db("instance/step01.sqlite"));
        assert_eq!(after, before, "{file} changed the database");
    }
}

#[test]
fn a_missing_file_is_one_line_and_a_failure() {
    let sandbox = Sandbox::new(STEP);
    let run = sandbox.run(&["import-csv", "nowhere.csv"]);
    assert!(!run.success);
    assert_eq!(
        run.stderr,
        "error: cannot read nowhere.csv: No such file or directory (os error 2)\n"
    );
}

#[test]
fn the_database_comes_from_the_flag_then_the_environment() {
    let sandbox = Sandbox::new(STEP);
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
    assert_eq!(user_rows(&sandbox.open_db("from-flag.sqlite")).len(), 1);

    let listed = sandbox.run(&["--database", "from-env.sqlite", "list"]);
    assert_eq!(
        listed.stdout,
        "from-env.sqlite: 1 users\n  id 1: Ann <ann@example.com>\n"
    );
}

#[test]
fn an_unusable_database_location_is_one_line_and_a_failure() {
    let sandbox = Sandbox::new(STEP);
    sandbox.write("plain-file", "not a folder");
    let run = sandbox.run(&["--database", "plain-file/app.sqlite", "list"]);
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
        other_database
            .stderr
            .starts_with("error: the database setting is a `postgres:` URL"),
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
        "error: the database setting `sqlite://` names no file (from --database or DATABASE_URL)\n"
    );
}
