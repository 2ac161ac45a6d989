//! Checks that steps 6 and 7 share, run on a step's real binary in a
//! sandbox: what `serve` and the `db` commands do with a database that
//! changed under them or holds what they cannot read.

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl, SqliteConnection};

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
    // Upkeep changes SQLite's schema counter too, but no migration: served on.
    assert!(sandbox.run(&["db", "vacuum"]).success);
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
        "Forgot 20991231000000: it is no longer recorded as applied\n"
    );
    assert!(sandbox.run(&["db", "downgrade"]).success);
}

/// The backup before a migration holds what the database holds, password
/// hashes too: it is readable by its owner only, and it is written to a new
/// file, never through a link planted at its name (here one pointing at
/// `victim`), which it skips for the next free name.
pub fn backups_are_private_and_follow_no_link(sandbox: &Sandbox, file: &str, first: &str) {
    use std::os::unix::fs::PermissionsExt;
    assert!(sandbox.run(&["db", "upgrade", "--to", first]).success);
    let path = sandbox.path().join(file);
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    conn.batch_execute(
        "INSERT INTO user (username, username_key, password) VALUES ('ann', 'ann', 'a hash')",
    )
    .unwrap();
    let private = std::fs::Permissions::from_mode(0o600);
    std::fs::set_permissions(&path, private).unwrap();
    let planted = sandbox.path().join(format!("{file}.backup-{first}"));
    let victim = sandbox.path().join("victim");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let run = sandbox.run(&["db", "upgrade"]);
    assert!(run.success, "{}", run.stderr);
    let made = format!("Backed up {file} to {file}.backup-{first}.2\n");
    assert!(run.stdout.starts_with(&made), "{}", run.stdout);
    assert!(!victim.exists(), "the backup followed the planted link");
    let link = std::fs::symlink_metadata(&planted).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    let copy = sandbox.path().join(format!("{file}.backup-{first}.2"));
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the backup is readable by others");
}

/// `db vacuum` on a database whose posts were half deleted gives the space
/// back, keeps every row, and says how much it freed.
pub fn vacuum_frees_the_space_deleted_rows_left(sandbox: &Sandbox, file: &str) {
    let mut conn = with_posts(sandbox, file, &[], 2000);
    conn.batch_execute("DELETE FROM post WHERE id % 2 = 0")
        .unwrap();
    let path = sandbox.path().join(file);
    let run = sandbox.run(&["db", "vacuum"]);
    assert!(run.success, "{}", run.stderr);
    let freed: i64 = run
        .stdout
        .rsplit("; ")
        .next()
        .and_then(|tail| tail.split(' ').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("bytes freed in {:?}", run.stdout));
    assert!(freed > 100_000, "{}", run.stdout);
    assert!(
        run.stdout.starts_with(&format!("Vacuumed {file}: ")),
        "{}",
        run.stdout
    );
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    let rows: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM post")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(rows, 1000);
}

/// A file whose third page was overwritten: `db check` reports the damage,
/// and `serve` refuses to start on it, in one line.
pub fn a_damaged_file_is_reported_and_not_served(sandbox: &Sandbox, file: &str) {
    use std::io::{Seek, SeekFrom, Write};
    assert!(sandbox.run(&["db", "upgrade"]).success);
    let path = sandbox.path().join(file);
    let mut opened = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    opened.seek(SeekFrom::Start(2 * 4096)).unwrap();
    opened.write_all(&[0xff; 4096]).unwrap();
    drop(opened);
    let check = sandbox.run(&["db", "check"]);
    assert!(!check.success);
    assert!(
        check.stdout.starts_with("drift: integrity: "),
        "{}",
        check.stdout
    );
    let serve = sandbox.run(&["serve", "--port", "0"]);
    assert!(!serve.success);
    let refusal = format!("error: database {file} is damaged (");
    assert!(serve.stderr.contains(&refusal), "{}", serve.stderr);
}

/// `db upgrade` with `upgrade` after it, then user 1 and `posts` posts of
/// 300 bytes each (about 300 KB for 1,000), written by SQL of the test's.
fn with_posts(sandbox: &Sandbox, file: &str, upgrade: &[&str], posts: usize) -> SqliteConnection {
    let mut args = vec!["db", "upgrade"];
    args.extend_from_slice(upgrade);
    assert!(sandbox.run(&args).success);
    let path = sandbox.path().join(file);
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    conn.batch_execute(&format!(
        "INSERT INTO user (username, username_key, password) VALUES ('ann', 'ann', 'a hash');
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {posts})
         INSERT INTO post (author_id, title, body) SELECT 1, 'post ' || i, printf('%.300c', 'x') FROM n;"
    ))
    .unwrap();
    conn
}

/// A database at `first` holding about 300 KB of posts, so that its backup
/// takes a while to write.
fn at_first_with_rows(sandbox: &Sandbox, file: &str, first: &str) -> SqliteConnection {
    with_posts(sandbox, file, &["--to", first], 1000)
}

/// The names in the database's folder that start with its own name.
fn beside(sandbox: &Sandbox, file: &str) -> Vec<String> {
    let path = sandbox.path().join(file);
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut found: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|entry| entry.starts_with(&name) && *entry != name)
        .collect();
    found.sort();
    found
}

/// A backup cut short, by a kill (here the file-size limit's signal) or by
/// a full disk (the same limit, its signal ignored), never sits under a
/// backup's name, and nothing was migrated; on a full disk the command says
/// that the backup failed.
pub fn a_backup_cut_short_is_never_taken_for_one(sandbox: &Sandbox, file: &str, first: &str) {
    drop(at_first_with_rows(sandbox, file, first));
    let killed = sandbox.run_limited("ulimit -f 64", &["db", "upgrade"]);
    assert!(!killed.success(), "the backup was not cut short");
    let left = beside(sandbox, file);
    assert!(
        left.iter()
            .all(|name| !name.contains(".backup-") || name.contains(".partial-")),
        "{left:?}"
    );
    let current = sandbox.run(&["db", "current"]);
    assert_eq!(current.stdout.trim(), first, "something was migrated");
    let disk_full = "trap '' XFSZ; ulimit -f 64";
    let failed = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{disk_full}; exec \"$0\" db upgrade"))
        .arg(sandbox.binary())
        .current_dir(sandbox.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!failed.status.success());
    let said = String::from_utf8_lossy(&failed.stderr);
    assert!(
        said.starts_with("error: cannot back the database up ("),
        "{said}"
    );
    assert!(said.ends_with("); nothing was migrated\n"), "{said}");
    assert_eq!(sandbox.run(&["db", "current"]).stdout.trim(), first);
}

/// `db upgrade` while another program holds the write lock waits 5 s, then
/// says the database is busy and that nothing was migrated, and removes the
/// backup it made for the try.
pub fn a_busy_database_is_said_so_and_leaves_no_backup(sandbox: &Sandbox, file: &str, first: &str) {
    let mut holder = at_first_with_rows(sandbox, file, first);
    holder.batch_execute("BEGIN IMMEDIATE").unwrap();
    let run = sandbox.run(&["db", "upgrade"]);
    holder.batch_execute("ROLLBACK").unwrap();
    assert!(!run.success);
    let busy = format!(
        "error: database {file} is busy: another program (a running `serve`?) kept its write lock for 5 s; nothing was migrated, and the backup made for it was removed\n"
    );
    assert_eq!(run.stderr, busy);
    assert_eq!(beside(sandbox, file), Vec::<String>::new());
}

/// `table.column -> Type` for every column a `schema.rs` text declares.
pub fn declared_columns(schema: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut table = String::new();
    for line in schema.lines().map(str::trim) {
        if let Some((name, _)) = line.split_once(" (").filter(|_| line.ends_with('{')) {
            table = name.to_owned();
        } else if let Some((column, kind)) = line.split_once(" -> ").filter(|_| line.ends_with(','))
        {
            let kind = kind.split(',').next().unwrap_or_default();
            found.push(format!("{table}.{column} -> {kind}"));
        }
    }
    found.sort();
    found
}

/// A sandbox from `new` holding copies of `step`'s migrations (its SQLite
/// folder) and `schema.rs` where the workspace has them, for `--from-source`.
pub fn with_the_sources(new: impl Fn() -> Sandbox, step: &str) -> Sandbox {
    let sandbox = new();
    let folder = crate::workspace_root().join(format!("{step}/migrations"));
    for migration in std::fs::read_dir(folder).expect("the migrations") {
        let name = migration.expect("a migration").file_name();
        for file in ["up.sql", "down.sql"] {
            let name = name.to_string_lossy();
            sandbox.copy_in(&format!("{step}/migrations/{name}/{file}"));
        }
    }
    sandbox.copy_in(&format!("{step}/src/schema.rs"));
    sandbox
}

/// The book's change to the model: a `bio` that may be NULL.
pub const WITHOUT_BIO: &str = "        password -> Text,\n";
pub const WITH_BIO: &str = "        password -> Text,\n        bio -> Nullable<Text>,\n";

/// `schema_rs` with `from` replaced by `to`, which must be there once.
pub fn edited(schema_rs: &str, from: &str, to: &str) -> String {
    assert_eq!(schema_rs.matches(from).count(), 1, "{from:?}");
    schema_rs.replace(from, to)
}

/// Chapter 6's loop on `step`'s binary: a user, `bio` added to the model,
/// `db check` sees it, `db migrate` drafts it, the draft read, upgraded,
/// checked clean, downgraded and upgraded again, all with `--from-source`.
/// Returns the session as the book shows it (the draft's time written as
/// `YYYY-MM-DD-HHMMSS`); the user must be whole at the end, with a NULL bio.
pub fn the_model_to_migration_loop(new: impl Fn() -> Sandbox, step: &str, file: &str) -> String {
    let sandbox = with_the_sources(new, step);
    assert!(sandbox.run(&["db", "upgrade"]).success);
    let mut conn = SqliteConnection::establish(&sandbox.path().join(file).to_string_lossy())
        .expect("the database");
    diesel::sql_query(
        "INSERT INTO user (username, username_key, password) VALUES ('ann', 'ann', 'h')",
    )
    .execute(&mut conn)
    .expect("a user");
    let schema_rs = sandbox.path().join(format!("{step}/src/schema.rs"));
    let model = std::fs::read_to_string(&schema_rs).expect("schema.rs");
    std::fs::write(&schema_rs, edited(&model, WITHOUT_BIO, WITH_BIO)).expect("schema.rs");
    let mut transcript = sandbox.transcript(&[
        "db check --from-source",
        "db migrate --from-source -m \"add user bio\"",
    ]);
    let folder = sandbox.path().join(format!("{step}/migrations"));
    let drafted = std::fs::read_dir(&folder)
        .expect("the migrations")
        .map(|entry| {
            entry
                .expect("a migration")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .find(|name| name.ends_with("_add_user_bio"))
        .expect("a draft");
    for file in ["up.sql", "down.sql"] {
        let text = std::fs::read_to_string(folder.join(&drafted).join(file)).expect("the draft");
        let shown = format!("{step}/migrations/*_add_user_bio/{file}");
        transcript.push_str(&format!("$ cat {shown}\n{text}\n"));
    }
    transcript.push_str(&sandbox.transcript(&[
        "db upgrade --from-source",
        "db check --from-source",
        "db downgrade --from-source",
        "db upgrade --from-source",
    ]));
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let sql = "SELECT username || ' ' || coalesce(bio, 'NULL') AS value FROM user";
    let rows: Vec<Row> = diesel::sql_query(sql).load(&mut conn).expect("the users");
    let rows: Vec<String> = rows.into_iter().map(|row| row.value).collect();
    assert_eq!(rows, ["ann NULL"]);
    let stamp = &drafted[..17];
    let version: String = stamp.chars().filter(char::is_ascii_digit).collect();
    transcript
        .replace(stamp, "YYYY-MM-DD-HHMMSS")
        .replace(&version, "YYYYMMDDHHMMSS")
}

/// What a draft cannot decide, each tried on a sandbox of its own made by
/// `new`: refused in one line, with nothing written. `schema_rs` is the
/// step's own. Returns the refusals, one after each case's name.
pub fn draft_refusals(new: impl Fn() -> Sandbox, step: &str, schema_rs: &str) -> String {
    let rename = "        username_key -> Text,\n        password -> Text,\n";
    let cases = [
        (
            "a rename",
            rename,
            "        username_key -> Text,\n        secret -> Text,\n",
        ),
        ("a type change", "title -> Text,", "title -> BigInt,"),
        (
            "a NOT NULL column",
            WITHOUT_BIO,
            "        password -> Text,\n        bio -> Text,\n",
        ),
        (
            "a line it cannot read",
            "slug -> Text,",
            "#[sql_name = \"s\"]\n        slug -> Text,",
        ),
        ("what SQLite refuses", "        author_id -> BigInt,\n", ""),
        (
            "a type it does not know",
            "title -> Text,",
            "title -> Texty,",
        ),
        (
            "a key that is no column",
            "    user (id) {",
            "    user (uid) {",
        ),
        ("a schema.rs with no table", schema_rs, ""),
    ];
    let mut said = String::new();
    for (case, from, to) in cases {
        let sandbox = with_the_sources(&new, step);
        assert!(sandbox.run(&["db", "upgrade"]).success);
        sandbox.write(
            &format!("{step}/src/schema.rs"),
            edited(schema_rs, from, to),
        );
        let run = sandbox.run(&["db", "migrate", "--from-source", "-m", case]);
        assert!(!run.success && run.stdout.is_empty(), "{case}");
        let folder = sandbox.path().join(format!("{step}/migrations"));
        assert_eq!(
            std::fs::read_dir(folder).expect("the folder").count(),
            4,
            "{case}"
        );
        said.push_str(&format!("{case}:\n{}", run.stderr));
    }
    said
}

/// A folder holding copies of the migrations in `folder` (a path from the
/// workspace root) and one more after them, `up` and `down`, for a
/// `FileBasedMigrations` to read.
pub fn migrations_with(folder: &str, up: &str, down: &str) -> tempfile::TempDir {
    let dir = tempfile::TempDir::new().expect("a folder");
    let from = crate::workspace_root().join(folder);
    for migration in std::fs::read_dir(from).expect("the migrations") {
        let from = migration.expect("a migration").path();
        let to = dir.path().join(from.file_name().expect("a name"));
        std::fs::create_dir(&to).expect("a folder");
        for file in ["up.sql", "down.sql"] {
            std::fs::copy(from.join(file), to.join(file)).expect("a copy");
        }
    }
    let added = dir.path().join("2027-01-01-000001_draft");
    std::fs::create_dir(&added).expect("a folder");
    std::fs::write(added.join("up.sql"), up).expect("up.sql");
    std::fs::write(added.join("down.sql"), down).expect("down.sql");
    dir
}
