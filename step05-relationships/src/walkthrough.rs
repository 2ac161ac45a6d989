//! The narrated tour that `cargo run -p step05-relationships` prints: the
//! relation between users and posts, the N+1 problem measured, aggregates,
//! the index and its query plan, and what foreign keys refuse. It works on
//! its own demo database, made anew on every run.

use std::io::Write;
use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::Error;
use crate::db::{self, Database};
use crate::models::{self, NewPost, Page, Post, User};

/// The demo database, relative to the folder the command runs in.
pub const DEMO_DATABASE: &str = "instance/step05-walkthrough.sqlite";

/// The per-user query whose plan section 5 shows.
const PER_USER_QUERY: &str = "SELECT id, title FROM post WHERE author_id = 1";

/// Runs the sections in order, writing the narration to `out`.
pub fn run(out: &mut impl Write) -> Result<(), Error> {
    let path = Path::new(DEMO_DATABASE);
    for suffix in ["", "-wal", "-shm"] {
        remove_if_present(&format!("{DEMO_DATABASE}{suffix}"))?;
    }
    writeln!(out, "Step 5: users and their posts")?;
    heading(out, 1, "Users, posts, and the relation between them")?;
    db::init_db_command(path, out)?;
    let database = Database::new(path.to_path_buf())?;
    let conn = &mut *database.connect()?;
    fill(out, conn)?;
    relations(out, conn)?;
    n_plus_one(out, conn)?;
    aggregates(out, conn)?;
    query_plan(out, conn)?;
    integrity(out, conn)?;
    writeln!(out)?;
    writeln!(
        out,
        "Next: `init-db` and `serve`, then register at /auth/register (see --help)."
    )?;
    Ok(())
}

fn fill(out: &mut impl Write, conn: &mut SqliteConnection) -> Result<(), Error> {
    let posts: [(&str, &[&str]); 4] = [
        ("ann", &["Hello", "Again", "Third time"]),
        ("bo", &["Bo here"]),
        ("cy", &[]),
        ("di", &["Di's news", "More news"]),
    ];
    for (name, titles) in posts {
        let user = models::create_user(
            conn,
            name,
            &models::PasswordHash::of("correct horse battery staple")?,
        )?;
        for title in titles {
            let new_post = NewPost {
                author_id: user.id,
                title,
                body: "...",
            };
            models::create_post(conn, &new_post)?;
        }
        writeln!(
            out,
            "{name} (user {}) wrote {} post(s)",
            user.id,
            titles.len()
        )?;
    }
    Ok(())
}

fn relations(out: &mut impl Write, conn: &mut SqliteConnection) -> Result<(), Error> {
    let ann = models::user_by_username(conn, "ann")?.ok_or(diesel::NotFound)?;
    let page = Page {
        number: 1,
        per_page: 10,
    };
    let titles: Vec<String> = models::posts_of(conn, &ann, page)?
        .0
        .items
        .into_iter()
        .map(|p| p.title)
        .collect();
    writeln!(out, "user.posts: Post::belonging_to(&ann) -> {titles:?}")?;
    let post = models::find_post(conn, 4)?.ok_or(diesel::NotFound)?;
    writeln!(
        out,
        "post.author: post 4 {:?} joined to its user -> {:?}",
        post.post.title, post.author
    )?;
    Ok(())
}

fn n_plus_one(out: &mut impl Write, conn: &mut SqliteConnection) -> Result<(), Error> {
    heading(out, 2, "Every user with their posts: N+1 queries, or two")?;
    let (naive, naive_selects) = db::count_selects(conn, naive_users_with_posts);
    let all = Page {
        number: 1,
        per_page: 100,
    };
    let (grouped, grouped_selects) =
        db::count_selects(conn, |conn| models::users_with_posts(conn, all));
    let (naive, grouped) = (naive?, grouped?);
    for (user, posts) in &grouped {
        writeln!(out, "  {}: {} post(s)", user.username, posts.len())?;
    }
    writeln!(
        out,
        "A loop asking each user for their posts sent {naive_selects} SELECTs (1 + one per user)."
    )?;
    writeln!(
        out,
        "belonging_to(&users) + grouped_by sent {grouped_selects}, however many users there are."
    )?;
    let same = if naive == grouped { "yes" } else { "no" };
    writeln!(out, "Same result both ways: {same}")?;
    Ok(())
}

/// The N+1 way, for comparison: one query for the users, then one per user.
fn naive_users_with_posts(conn: &mut SqliteConnection) -> QueryResult<Vec<(User, Vec<Post>)>> {
    let users = models::all_users(conn)?;
    let mut result = Vec::new();
    for user in users {
        let posts = Post::belonging_to(&user)
            .select(Post::as_select())
            .order(crate::schema::post::id)
            .load(conn)?;
        result.push((user, posts));
    }
    Ok(result)
}

fn aggregates(out: &mut impl Write, conn: &mut SqliteConnection) -> Result<(), Error> {
    heading(out, 3, "Counts and averages")?;
    writeln!(out, "count of users: {}", models::count_users(conn)?)?;
    let per_user = models::posts_per_user(conn)?;
    writeln!(
        out,
        "posts per user (LEFT JOIN ... GROUP BY, so cy's 0 is there): {per_user:?}"
    )?;
    let naive = "SELECT avg(count(post.id)) AS average FROM user LEFT JOIN post ON post.author_id = user.id GROUP BY user.id";
    match diesel::sql_query(naive).execute(conn) {
        Ok(_) => writeln!(out, "Unexpected: avg(count(...)) ran.")?,
        Err(err) => writeln!(
            out,
            "avg(count(post.id)) in one SELECT, as the source writes it: {err}"
        )?,
    }
    let average = models::average_posts_per_user(conn)?.unwrap_or_default();
    writeln!(
        out,
        "average posts per user, from the grouped counts: {average:.2}"
    )?;
    let top: Vec<&str> = per_user
        .iter()
        .take(2)
        .map(|(name, _)| name.as_str())
        .collect();
    writeln!(out, "top authors: {top:?}")?;
    Ok(())
}

fn query_plan(out: &mut impl Write, conn: &mut SqliteConnection) -> Result<(), Error> {
    heading(out, 4, "The index on post.author_id, and the query plan")?;
    writeln!(out, "EXPLAIN QUERY PLAN {PER_USER_QUERY}")?;
    writeln!(out, "  with the index:    {}", plan(conn)?)?;
    diesel::sql_query("DROP INDEX post_author_id").execute(conn)?;
    writeln!(out, "  without the index: {}", plan(conn)?)?;
    diesel::sql_query("CREATE INDEX post_author_id ON post (author_id)").execute(conn)?;
    writeln!(
        out,
        "SEARCH reads only ann's rows; SCAN reads every post in the table."
    )?;
    Ok(())
}

/// SQLite's plan for [`PER_USER_QUERY`], its steps joined by "; ".
fn plan(conn: &mut SqliteConnection) -> Result<String, Error> {
    #[derive(QueryableByName)]
    struct Step {
        #[diesel(sql_type = Text)]
        detail: String,
    }
    let steps: Vec<Step> =
        diesel::sql_query(format!("EXPLAIN QUERY PLAN {PER_USER_QUERY}")).load(conn)?;
    Ok(steps
        .into_iter()
        .map(|step| step.detail)
        .collect::<Vec<_>>()
        .join("; "))
}

fn integrity(out: &mut impl Write, conn: &mut SqliteConnection) -> Result<(), Error> {
    heading(out, 5, "What the foreign key refuses")?;
    let orphan = NewPost {
        author_id: 99,
        title: "Orphan",
        body: "?",
    };
    match models::create_post(conn, &orphan) {
        Ok(id) => writeln!(out, "Unexpected: post {id} for user 99 was saved.")?,
        Err(err) => writeln!(out, "a post for user 99, who does not exist -> {err}")?,
    }
    match models::delete_user(conn, 1) {
        Ok(rows) => writeln!(out, "Unexpected: deleting ann removed {rows} row(s).")?,
        Err(err) => writeln!(
            out,
            "deleting ann, who has posts -> {err}; the API answers 409"
        )?,
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
