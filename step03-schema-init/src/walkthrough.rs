//! The narrated tour that `cargo run -p step03-schema-init` prints.
//!
//! It works on its own demo database, deleted and created anew on every run,
//! and prints no clock times, paths outside the working folder or random
//! values, so its output is the same on every machine.

use std::io::Write;
use std::path::Path;

use rusqlite::Connection;
use stepkit::password;

use crate::timestamp::Timestamp;
use crate::{Error, db, session};

/// The demo database, relative to the folder the command runs in.
pub const DEMO_DATABASE: &str = "instance/step03-walkthrough.sqlite";

/// The demo user's password, and a near miss that must be rejected.
const PASSWORD: &str = "correct horse battery staple";
const WRONG_PASSWORD: &str = "Correct horse battery staple";

/// The two demo posts: `created` as SQLite's CURRENT_TIMESTAMP writes it.
const POSTS: [(&str, &str, &str); 2] = [
    (
        "2024-03-05 14:07:30",
        "Hello, flaskr",
        "The first post, written before the second.",
    ),
    (
        "2024-03-11 17:28:30",
        "Schema first",
        "init-db creates the tables; the app only fills them.",
    ),
];

/// Runs the eight sections in order, writing the narration to `out`.
pub fn run(out: &mut impl Write) -> Result<(), Error> {
    let path = Path::new(DEMO_DATABASE);
    remove_if_present(path)?;

    writeln!(
        out,
        "Step 3: flaskr's schema, init-db, typed timestamps, hashed passwords"
    )?;
    init(out, path)?;
    let conn = Connection::open(path).map_err(|source| Error::Open {
        path: path.to_path_buf(),
        source,
    })?;
    describe_schema(out, &conn)?;
    let author = add_user(out, &conn)?;
    log_in(out, &conn, author)?;
    add_posts(out, &conn, author)?;
    read_back(out, &conn)?;
    malformed(out, &conn, author)?;
    init_again(out, &conn, path)?;
    writeln!(out)?;
    writeln!(out, "Next: `init-db` and `serve` (see --help).")?;
    Ok(())
}

fn init(out: &mut impl Write, path: &Path) -> Result<(), Error> {
    heading(out, 1, "init-db runs schema.sql")?;
    writeln!(
        out,
        "Running init-db on {} (deleted first, so every run starts empty):",
        path.display()
    )?;
    db::init_db_command(path, out)?;
    writeln!(
        out,
        "schema.sql drops `session`, `post` and `user` if they exist, then creates all three."
    )?;
    Ok(())
}

fn describe_schema(out: &mut impl Write, conn: &Connection) -> Result<(), Error> {
    heading(out, 2, "The tables as SQLite reports them")?;
    let tables = table_names(conn)?;
    writeln!(out, "Tables in the file: {}", tables.join(", "))?;
    writeln!(
        out,
        "(sqlite_sequence is SQLite's own: AUTOINCREMENT keeps each table's highest id there.)"
    )?;
    for table in ["user", "post"] {
        describe_table(out, conn, table)?;
    }
    Ok(())
}

fn describe_table(out: &mut impl Write, conn: &Connection, table: &str) -> Result<(), Error> {
    writeln!(out)?;
    writeln!(out, "Table {table} (PRAGMA table_info):")?;
    let row = |a: &str, b: &str, c: &str, d: &str, e: &str| {
        format!("  {a:<12} {b:<10} {c:<9} {d:<18} {e}")
    };
    writeln!(
        out,
        "{}",
        row("column", "type", "not null", "default", "primary key")
    )?;
    for column in columns(conn, table)? {
        let default = column.default.as_deref().unwrap_or("-");
        let line = row(
            &column.name,
            &column.declared_type,
            yes_no(column.not_null),
            default,
            yes_no(column.primary_key > 0),
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    for name in unique_columns(conn, table)? {
        writeln!(out, "  unique (PRAGMA index_list): {name}")?;
    }
    for key in foreign_keys(conn, table)? {
        writeln!(
            out,
            "  foreign key (PRAGMA foreign_key_list): {} -> {}({})",
            key.from, key.table, key.to
        )?;
    }
    Ok(())
}

fn add_user(out: &mut impl Write, conn: &Connection) -> Result<i64, Error> {
    heading(out, 3, "A user whose password is stored as a hash")?;
    let id = db::add_user(conn, "alice", PASSWORD)?;
    writeln!(out, "add_user(\"alice\", {PASSWORD:?}) -> id {id}")?;
    let stored = db::stored_password(conn, "alice")?.unwrap_or_default();
    // The hash itself is random (its salt is), so it is described, not printed.
    let checks = [
        (
            "The password column holds the plain text".to_owned(),
            stored == PASSWORD,
        ),
        (
            "It holds an argon2id PHC string (starts with $argon2id$)".to_owned(),
            stored.starts_with("$argon2id$"),
        ),
        (
            format!("{PASSWORD:?} verifies against it"),
            password::verify(PASSWORD, &stored),
        ),
        (
            format!("{WRONG_PASSWORD:?} verifies against it"),
            password::verify(WRONG_PASSWORD, &stored),
        ),
        (
            "Hashing the same password again gives a different string (a new salt)".to_owned(),
            password::hash(PASSWORD)? != stored,
        ),
    ];
    for (question, answer) in checks {
        writeln!(out, "{question}: {}", yes_no(answer))?;
    }
    Ok(id)
}

fn log_in(out: &mut impl Write, conn: &Connection, user_id: i64) -> Result<(), Error> {
    heading(out, 4, "Logging in starts a session: a row in the database")?;
    let token = session::start(conn, user_id)?;
    // The token is random, so it is described, not printed.
    let (stored, expires): (String, Timestamp) =
        conn.query_row("SELECT token_hash, expires FROM session", (), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    let days = (expires.0 - chrono::Utc::now()).num_hours().div_euclid(24) + 1;
    writeln!(
        out,
        "session::start(alice) -> a token of {} hex digits, for the cookie",
        token.len()
    )?;
    writeln!(
        out,
        "The table holds its SHA-256 ({} hex digits), not the token: {}",
        stored.len(),
        yes_no(stored != token)
    )?;
    writeln!(out, "The session lasts {days} days")?;
    let user = session::user_of(conn, &token)?.map(|user| user.username);
    writeln!(out, "session::user_of(token) -> {user:?}")?;
    session::end(conn, &token)?;
    let user = session::user_of(conn, &token)?.map(|user| user.username);
    writeln!(
        out,
        "After logging out, session::user_of(token) -> {user:?}"
    )?;
    Ok(())
}

fn add_posts(out: &mut impl Write, conn: &Connection, author: i64) -> Result<(), Error> {
    heading(out, 5, "Two posts with fixed `created` times")?;
    writeln!(
        out,
        "INSERT INTO post (author_id, created, title, body) VALUES (?, ?, ?, ?),"
    )?;
    writeln!(
        out,
        "binding `created` as a Timestamp, which writes SQLite's own text:"
    )?;
    for (created, title, body) in POSTS {
        let created = Timestamp::parse(created)?;
        let id = db::add_post(conn, author, created, title, body)?;
        writeln!(
            out,
            "  created {:?} -> post {id}, {title:?}",
            created.to_sql_text()
        )?;
    }
    Ok(())
}

fn read_back(out: &mut impl Write, conn: &Connection) -> Result<(), Error> {
    heading(out, 6, "Reading `created` back as a date-time")?;
    let (mut posts, _) = db::posts_newest_first(conn)?;
    posts.sort_by_key(|post| post.id);
    for post in &posts {
        let (storage, text) = stored_created(conn, post.id)?;
        writeln!(
            out,
            "post {}: stored as {storage} {text:?} -> {}, a {}",
            post.id,
            post.created,
            post.created.0.format("%A")
        )?;
    }
    if let [first, second] = posts.as_slice() {
        let gap = second.created.0 - first.created.0;
        writeln!(
            out,
            "Typed values do arithmetic: post {} came {} days, {} hours and {} minutes after post {}.",
            second.id,
            gap.num_days(),
            gap.num_hours() % 24,
            gap.num_minutes() % 60,
            first.id
        )?;
    }
    writeln!(
        out,
        "The index page's query (post JOIN user, newest first):"
    )?;
    for post in db::posts_newest_first(conn)?.0 {
        writeln!(
            out,
            "  {}  {:?} by {}",
            post.created, post.title, post.username
        )?;
    }
    Ok(())
}

fn malformed(out: &mut impl Write, conn: &Connection, author: i64) -> Result<(), Error> {
    heading(out, 7, "A malformed `created` is an error, not a panic")?;
    // Bound as a plain string on purpose: SQLite stores any text it is given.
    conn.execute(
        "INSERT INTO post (author_id, created, title, body) VALUES (?, ?, 'Broken', '')",
        (author, "last Tuesday"),
    )?;
    let id = conn.last_insert_rowid();
    writeln!(
        out,
        "Stored post {id} with created = \"last Tuesday\" (SQLite does not check it)."
    )?;
    let (posts, unreadable) = db::posts_newest_first(conn)?;
    writeln!(
        out,
        "Reading the posts: {} read, {} left out:",
        posts.len(),
        unreadable.len()
    )?;
    for err in unreadable {
        writeln!(out, "  {err}")?;
    }
    writeln!(
        out,
        "The index page shows the others, says one was left out, and logs why."
    )?;
    conn.execute("DELETE FROM post WHERE id = ?", (id,))?;
    writeln!(out, "Deleted post {id} again.")?;
    Ok(())
}

fn init_again(out: &mut impl Write, conn: &Connection, path: &Path) -> Result<(), Error> {
    heading(out, 8, "init-db again starts over")?;
    let (users, posts) = row_counts(conn)?;
    writeln!(out, "Before: {users} user(s), {posts} post(s).")?;
    writeln!(out, "Running init-db again:")?;
    db::init_db_command(path, out)?;
    let (users, posts) = row_counts(conn)?;
    writeln!(
        out,
        "After: {users} user(s), {posts} post(s): the tables are new and empty."
    )?;
    Ok(())
}

fn yes_no(answer: bool) -> &'static str {
    if answer { "yes" } else { "no" }
}

fn heading(out: &mut impl Write, number: u8, title: &str) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(out, "## {number}. {title}")?;
    writeln!(out)
}

fn remove_if_present(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
        _ => Ok(()),
    }
}

// --- Questions the walkthrough asks SQLite about the file ---------------

/// What `post.created` holds for post `id`, exactly as stored, with the
/// storage class SQLite reports for it (`text`, `integer`, ...).
fn stored_created(conn: &Connection, id: i64) -> rusqlite::Result<(String, String)> {
    conn.query_row(
        "SELECT typeof(created), CAST(created AS TEXT) FROM post WHERE id = ?",
        (id,),
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}

/// How many rows `user` and `post` hold.
fn row_counts(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(
        "SELECT (SELECT count(*) FROM user), (SELECT count(*) FROM post)",
        (),
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}

/// The tables in the file, as SQLite's catalogue lists them.
fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement =
        conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")?;
    let names = statement.query_map((), |row| row.get(0))?;
    names.collect()
}

/// One column as `PRAGMA table_info` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    name: String,
    declared_type: String,
    not_null: bool,
    default: Option<String>,
    /// Position in the primary key, starting at 1; 0 if not part of it.
    primary_key: i64,
}

/// The columns of `table`, in order.
fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<Column>> {
    let mut statement = conn.prepare(
        "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid",
    )?;
    let columns = statement.query_map((table,), |row| {
        Ok(Column {
            name: row.get(0)?,
            declared_type: row.get(1)?,
            not_null: row.get(2)?,
            default: row.get(3)?,
            primary_key: row.get(4)?,
        })
    })?;
    columns.collect()
}

/// The columns of `table` that a UNIQUE constraint covers, one by one.
fn unique_columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare(
        "SELECT info.name FROM pragma_index_list(?1) AS list
         JOIN pragma_index_info(list.name) AS info
         WHERE list.\"unique\" = 1 AND list.origin = 'u'
         ORDER BY list.name, info.seqno",
    )?;
    let names = statement.query_map((table,), |row| row.get(0))?;
    names.collect()
}

/// A foreign key: `from` in this table points at `table`(`to`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ForeignKey {
    from: String,
    table: String,
    to: String,
}

/// The foreign keys of `table`.
fn foreign_keys(conn: &Connection, table: &str) -> rusqlite::Result<Vec<ForeignKey>> {
    let mut statement = conn.prepare(
        "SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list(?) ORDER BY id, seq",
    )?;
    let keys = statement.query_map((table,), |row| {
        Ok(ForeignKey {
            from: row.get(0)?,
            table: row.get(1)?,
            to: row.get(2)?,
        })
    })?;
    keys.collect()
}
