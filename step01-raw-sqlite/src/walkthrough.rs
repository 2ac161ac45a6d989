//! The narrated tour that `cargo run -p step01-raw-sqlite` prints.
//!
//! It works on its own demo database, deleted and created anew on every run,
//! so it never touches the database that `import-csv` and `list` use.

use std::io::Write;
use std::path::Path;

use rusqlite::Connection;

use crate::{Error, db};

/// The demo database, relative to the folder the command runs in.
pub const DEMO_DATABASE: &str = "instance/step01-walkthrough.sqlite";
/// Where section 5 writes its backup.
pub const DEMO_BACKUP: &str = "instance/step01-walkthrough-backup.sqlite";

/// A name that would end the `users` table if it were pasted into SQL text.
pub const HOSTILE_NAME: &str = "Robert'); DROP TABLE users;--";

/// Runs the five sections in order, writing the narration to `out`.
pub fn run(out: &mut impl Write) -> Result<(), Error> {
    let database = Path::new(DEMO_DATABASE);
    let backup = Path::new(DEMO_BACKUP);
    remove_if_present(database)?;
    remove_if_present(backup)?;

    writeln!(out, "Step 1: talking to SQLite with plain SQL")?;
    let mut conn = open_and_create(out, database)?;
    insert_and_read(out, &conn)?;
    hostile_name(out, &conn)?;
    failed_transaction(out, &mut conn)?;
    backup_and_reopen(out, &conn, backup)?;
    writeln!(out)?;
    writeln!(out, "Next: `import-csv FILE` and `list` (see --help).")?;
    Ok(())
}

fn open_and_create(out: &mut impl Write, path: &Path) -> Result<Connection, Error> {
    heading(out, 1, "Open a database file and create a table")?;
    let conn = db::open(path)?;
    writeln!(
        out,
        "Opened {} (deleted first, so every run starts empty).",
        path.display()
    )?;
    writeln!(
        out,
        "Ran CREATE TABLE IF NOT EXISTS users (id, name, email UNIQUE)."
    )?;
    writeln!(
        out,
        "Tables in the file: {}",
        db::table_names(&conn)?.join(", ")
    )?;
    Ok(conn)
}

fn insert_and_read(out: &mut impl Write, conn: &Connection) -> Result<(), Error> {
    heading(out, 2, "Insert with ? placeholders, read columns by name")?;
    for (name, email) in [("Alice", "alice@example.com"), ("Bob", "bob@example.com")] {
        let id = db::insert_user(conn, name, email)?;
        writeln!(
            out,
            "INSERT INTO users (name, email) VALUES (?, ?) with {name:?}, {email:?} -> id {id}"
        )?;
    }
    writeln!(out, "SELECT id, name, email FROM users ORDER BY id:")?;
    print_users(out, &db::all_users(conn)?)
}

fn hostile_name(out: &mut impl Write, conn: &Connection) -> Result<(), Error> {
    heading(out, 3, "A hostile name is stored as plain data")?;
    let id = db::insert_user(conn, HOSTILE_NAME, "bobby@example.com")?;
    writeln!(
        out,
        "Inserted the name {HOSTILE_NAME:?} through a placeholder -> id {id}"
    )?;
    let stored = db::all_users(conn)?
        .into_iter()
        .filter(|user| user.id == id);
    print_users(out, &stored.collect::<Vec<_>>())?;
    let count = db::count_users(conn)?;
    writeln!(
        out,
        "The users table survived and holds {count} rows: the name was a value, never SQL."
    )?;
    Ok(())
}

fn failed_transaction(out: &mut impl Write, conn: &mut Connection) -> Result<(), Error> {
    heading(out, 4, "A transaction is all or nothing")?;
    let batch = [
        ("Carol", "carol@example.com"),
        ("Dave", "dave@example.com"),
        ("Mallory", "alice@example.com"),
    ];
    writeln!(
        out,
        "One transaction inserts three users; the third reuses alice@example.com:"
    )?;
    for (name, email) in batch {
        writeln!(out, "  {name} <{email}>")?;
    }
    let before = db::count_users(conn)?;
    match db::insert_all(conn, &batch) {
        Ok(()) => writeln!(out, "Unexpected: the transaction committed.")?,
        Err(err) => writeln!(out, "The transaction failed: {err}")?,
    }
    let after = db::count_users(conn)?;
    writeln!(
        out,
        "Rolled back: users held {before} rows before and holds {after} now; Carol and Dave are not there either."
    )?;
    Ok(())
}

fn backup_and_reopen(out: &mut impl Write, conn: &Connection, path: &Path) -> Result<(), Error> {
    heading(out, 5, "Back up with SQLite's online backup API")?;
    db::backup(conn, path)?;
    writeln!(out, "Copied the live database into {}.", path.display())?;
    let copy = db::open(path)?;
    let (original, copied) = (db::all_users(conn)?, db::all_users(&copy)?);
    writeln!(out, "Reopened the backup; it holds {} rows:", copied.len())?;
    print_users(out, &copied)?;
    let verdict = if copied == original { "yes" } else { "no" };
    writeln!(out, "Same rows as the original: {verdict}")?;
    Ok(())
}

fn print_users(out: &mut impl Write, users: &[db::User]) -> Result<(), Error> {
    for user in users {
        writeln!(out, "  id {}: {} <{}>", user.id, user.name, user.email)?;
    }
    Ok(())
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
