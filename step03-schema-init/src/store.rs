//! The queries on flaskr's two tables, and the questions the walkthrough and
//! the tests ask SQLite about its schema. Every value travels through a `?`
//! placeholder.

use rusqlite::{Connection, OptionalExtension};

use crate::timestamp::Timestamp;
use crate::{Error, password};

// ANCHOR: add_user
/// Adds a user and returns its id. Only the argon2 hash of `password` is
/// stored: no function here accepts a value for the column directly.
pub fn add_user(conn: &Connection, username: &str, password: &str) -> Result<i64, Error> {
    let hashed = password::hash(password)?;
    conn.execute(
        "INSERT INTO user (username, password) VALUES (?, ?)",
        (username, hashed),
    )?;
    Ok(conn.last_insert_rowid())
}
// ANCHOR_END: add_user

/// The stored password (a hash) of `username`, if that user exists.
pub fn stored_password(conn: &Connection, username: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT password FROM user WHERE username = ?",
        (username,),
        |row| row.get(0),
    )
    .optional()
}

/// Adds a post written at `created` and returns its id.
pub fn add_post(
    conn: &Connection,
    author_id: i64,
    created: Timestamp,
    title: &str,
    body: &str,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO post (author_id, created, title, body) VALUES (?, ?, ?, ?)",
        (author_id, created, title, body),
    )?;
    Ok(conn.last_insert_rowid())
}

/// A post with its author's username, as the index page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub created: Timestamp,
    pub author_id: i64,
    pub username: String,
}

// ANCHOR: newest_first
/// Every post with its author, newest first (ties: the later id first).
pub fn posts_newest_first(conn: &Connection) -> Result<Vec<Post>, Error> {
    let mut statement = conn.prepare(
        "SELECT p.id, p.title, p.body, p.created, p.author_id, u.username
         FROM post p JOIN user u ON p.author_id = u.id
         ORDER BY p.created DESC, p.id DESC",
    )?;
    let posts = statement.query_and_then((), post_from_row)?;
    posts.collect()
}

/// Reads one row; a `created` that is not a timestamp names its post.
fn post_from_row(row: &rusqlite::Row<'_>) -> Result<Post, Error> {
    let id = row.get("id")?;
    let created = Timestamp::from_value(row.get_ref("created")?)
        .map_err(|source| Error::BadTimestamp { post: id, source })?;
    Ok(Post {
        id,
        title: row.get("title")?,
        body: row.get("body")?,
        created,
        author_id: row.get("author_id")?,
        username: row.get("username")?,
    })
}
// ANCHOR_END: newest_first

/// What `post.created` holds for post `id`, exactly as stored, with the
/// storage class SQLite reports for it (`text`, `integer`, ...).
pub fn stored_created(conn: &Connection, id: i64) -> rusqlite::Result<(String, String)> {
    conn.query_row(
        "SELECT typeof(created), CAST(created AS TEXT) FROM post WHERE id = ?",
        (id,),
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}

/// How many rows `user` and `post` hold.
pub fn row_counts(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(
        "SELECT (SELECT count(*) FROM user), (SELECT count(*) FROM post)",
        (),
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}

/// The tables in the file, as SQLite's catalogue lists them.
pub fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement =
        conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")?;
    let names = statement.query_map((), |row| row.get(0))?;
    names.collect()
}

/// One column as `PRAGMA table_info` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub declared_type: String,
    pub not_null: bool,
    pub default: Option<String>,
    /// Position in the primary key, starting at 1; 0 if not part of it.
    pub primary_key: i64,
}

/// The columns of `table`, in order.
pub fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<Column>> {
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
pub fn unique_columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
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
pub struct ForeignKey {
    pub from: String,
    pub table: String,
    pub to: String,
}

/// The foreign keys of `table`.
pub fn foreign_keys(conn: &Connection, table: &str) -> rusqlite::Result<Vec<ForeignKey>> {
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
