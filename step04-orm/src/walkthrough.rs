//! The narrated tour that `cargo run -p step04-orm` prints: every CRUD
//! operation of the Flask-SQLAlchemy material, through diesel, with its
//! result. It works on its own demo database, deleted and created anew on
//! every run, and prints nothing that changes from run to run.

use std::io::Write;
use std::path::Path;

use diesel::prelude::*;

use crate::Error;
use crate::db::{self, Database};
use crate::models::{self, NewPost, Page};
use crate::schema::post;

/// The demo database, relative to the folder the command runs in.
pub const DEMO_DATABASE: &str = "instance/step04-walkthrough.sqlite";

/// Runs the sections in order, writing the narration to `out`.
pub fn run(out: &mut impl Write) -> Result<(), Error> {
    let path = Path::new(DEMO_DATABASE);
    for suffix in ["", "-wal", "-shm"] {
        remove_if_present(&format!("{DEMO_DATABASE}{suffix}"))?;
    }
    writeln!(out, "Step 4: the blog's tables through diesel")?;

    heading(out, 1, "init-db, then a pool of connections")?;
    db::init_db_command(path, out)?;
    writeln!(
        out,
        "diesel has no create_all(): schema.sql made the tables, schema.rs describes them."
    )?;
    let database = Database::new(path.to_path_buf())?;
    let conn = &mut *database.connect()?;
    writeln!(
        out,
        "Checked a connection out of the pool (foreign keys on, WAL, busy timeout 5 s)."
    )?;

    create(out, conn)?;
    read(out, conn)?;
    update_and_delete(out, conn)?;
    rollback(out, conn)?;
    paginate(out, conn)?;
    writeln!(out)?;
    writeln!(
        out,
        "Next: `init-db` and `serve`, then the JSON API under /api (see --help)."
    )?;
    Ok(())
}

fn create(out: &mut impl Write, conn: &mut SqliteConnection) -> Result<(), Error> {
    heading(out, 2, "Create and commit")?;
    for name in ["ann", "bo", "cy"] {
        let user = models::create_user(
            conn,
            name,
            &models::PasswordHash::of("correct horse battery staple")?,
        )?;
        writeln!(out, "create_user({name:?}, <password hash>) -> {user:?}")?;
    }
    let posts = [
        (1, "Hello", "Ann's first post."),
        (1, "Again", "And a second."),
        (2, "Bo here", "Hi."),
    ];
    for (author_id, title, body) in posts {
        let id = models::create_post(
            conn,
            &NewPost {
                author_id,
                title,
                body,
            },
        )?;
        writeln!(out, "create_post(author {author_id}, {title:?}) -> id {id}")?;
    }
    writeln!(
        out,
        "Each call is its own transaction, committed when it returns: no session.commit() to forget."
    )?;
    Ok(())
}

fn read(out: &mut impl Write, conn: &mut SqliteConnection) -> Result<(), Error> {
    heading(
        out,
        3,
        "Read: all, first, get, a LIKE filter, filter and order",
    )?;
    writeln!(out, "all_users (User.query.all()):")?;
    for user in models::all_users(conn)? {
        writeln!(out, "  {user:?}")?;
    }
    let bo = models::user_by_username(conn, "bo")?;
    writeln!(
        out,
        "user_by_username(\"bo\") (filter_by(...).first()) -> {bo:?}"
    )?;
    writeln!(
        out,
        "user_by_username(\"zed\") -> {:?}",
        models::user_by_username(conn, "zed")?
    )?;
    writeln!(
        out,
        "find_user(3) (query.get(3)) -> {:?}",
        models::find_user(conn, 3)?
    )?;
    let search = Page {
        number: 1,
        per_page: 10,
    };
    let matching = models::users_page(conn, Some("n"), search)?;
    let names: Vec<&str> = matching.items.iter().map(|u| u.username.as_str()).collect();
    writeln!(
        out,
        "users whose name contains \"n\" (LIKE '%n%'): {names:?}"
    )?;
    let titles: Vec<String> = models::posts_by(conn, 1)?
        .into_iter()
        .map(|p| p.title)
        .collect();
    writeln!(
        out,
        "posts_by(1), ordered by title (filter_by(...).order_by(...)): {titles:?}"
    )?;
    writeln!(
        out,
        "count_users (query.count()) -> {}",
        models::count_users(conn)?
    )?;
    Ok(())
}

fn update_and_delete(out: &mut impl Write, conn: &mut SqliteConnection) -> Result<(), Error> {
    heading(out, 4, "Update and delete")?;
    let renamed = models::update_user(conn, 3, Some("cyril"), None)?;
    writeln!(out, "update_user(3, username = \"cyril\") -> {renamed:?}")?;
    let deleted = models::delete_post(conn, 3)?;
    writeln!(out, "delete_post(3) -> {deleted}")?;
    match models::delete_user(conn, 1) {
        Ok(rows) => writeln!(out, "Unexpected: delete_user(1) removed {rows} row(s).")?,
        Err(err) => writeln!(out, "delete_user(1), who has posts -> refused: {err}")?,
    }
    writeln!(
        out,
        "delete_user(2), who has none now -> {} row(s)",
        models::delete_user(conn, 2)?
    )?;
    writeln!(out, "count_users -> {}", models::count_users(conn)?)?;
    Ok(())
}

fn rollback(out: &mut impl Write, conn: &mut SqliteConnection) -> Result<(), Error> {
    heading(
        out,
        5,
        "A failed transaction saves nothing (session.rollback())",
    )?;
    let before: i64 = post::table.count().get_result(conn)?;
    writeln!(
        out,
        "One transaction: add a post, then a user named \"ann\", who exists:"
    )?;
    let outcome = conn.transaction(|conn| {
        let new_post = NewPost {
            author_id: 1,
            title: "Half-saved?",
            body: "No.",
        };
        models::create_post(conn, &new_post)?;
        models::create_user(conn, "ann", &models::PasswordHash::of("another password")?)
    });
    match outcome {
        Ok(user) => writeln!(out, "Unexpected: it committed and made {user:?}.")?,
        Err(err) => writeln!(out, "  error: {err}")?,
    }
    let after: i64 = post::table.count().get_result(conn)?;
    writeln!(
        out,
        "Posts before: {before}, after: {after}. The post went with the rollback."
    )?;
    Ok(())
}

fn paginate(out: &mut impl Write, conn: &mut SqliteConnection) -> Result<(), Error> {
    heading(out, 6, "Pagination: LIMIT, OFFSET and a count")?;
    for number in [1, 2] {
        let (page, _) = models::posts_page(
            conn,
            Page {
                number,
                per_page: 1,
            },
        )?;
        let titles: Vec<&str> = page.items.iter().map(|p| p.post.title.as_str()).collect();
        writeln!(
            out,
            "posts_page(page {number}, 1 per page) -> {titles:?}, total {}, pages {}, prev {:?}, next {:?}",
            page.total, page.pages, page.prev, page.next
        )?;
    }
    Ok(())
}

fn heading(out: &mut impl Write, number: u8, title: &str) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(out, "## {number}. {title}")?;
    writeln!(out)
}

fn remove_if_present(path: &str) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
        _ => Ok(()),
    }
}
