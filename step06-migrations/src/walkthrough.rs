//! The narrated tour that `cargo run -p step06-migrations` prints: a
//! database made at the first migration and filled, then upgraded one
//! migration at a time with its rows shown to survive, downgraded to the
//! start, upgraded again after a backup, and checked for drift. It works on
//! its own demo database, made anew on every run.

use std::io::Write;
use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use stepkit::password;

use crate::Error;
use crate::migrate::{self, MIGRATIONS};
use crate::{backup, drift};

/// The demo database, relative to the folder the command runs in.
pub const DEMO_DATABASE: &str = "instance/step06-walkthrough.sqlite";

/// The versions, oldest first, as `db history` lists them.
const VERSIONS: [&str; 4] = [
    "20260101000001",
    "20260102000001",
    "20260103000001",
    "20260104000001",
];

/// Runs the sections in order, writing the narration to `out`.
pub fn run(out: &mut impl Write) -> Result<(), Error> {
    let path = Path::new(DEMO_DATABASE);
    for suffix in ["", "-wal", "-shm", &format!(".backup-{}", VERSIONS[0])] {
        remove_if_present(&format!("{DEMO_DATABASE}{suffix}"))?;
    }
    writeln!(out, "Step 6: migrations that keep the data")?;
    let conn = &mut migrate::connect(path)?;

    heading(out, 1, "A database at the first migration, with data")?;
    for name in migrate::upgrade(conn, &MIGRATIONS, Some(VERSIONS[0]))? {
        writeln!(out, "db upgrade --to {}: applied {name}", VERSIONS[0])?;
    }
    fill(conn)?;
    describe(out, conn)?;
    writeln!(out, "db history:")?;
    let mut history = Vec::new();
    migrate::history(conn, &MIGRATIONS, &mut history)?;
    out.write_all(&history)?;

    heading(out, 2, "Upgrade one migration at a time")?;
    for (index, version) in VERSIONS[1..].iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        for name in migrate::upgrade(conn, &MIGRATIONS, Some(version))? {
            writeln!(out, "Applied {name}")?;
        }
        describe(out, conn)?;
    }

    heading(out, 3, "Downgrade to the start, rows and all")?;
    for name in migrate::downgrade(conn, &MIGRATIONS, VERSIONS.len() - 1)? {
        writeln!(out, "Reverted {name}")?;
    }
    describe(out, conn)?;

    heading(out, 4, "Back up, then upgrade again")?;
    if let Some(copy) = backup::make(conn, path)? {
        writeln!(out, "Backed up {} to {}", path.display(), copy.display())?;
        let mut backup = migrate::connect(&copy)?;
        writeln!(
            out,
            "The backup holds {} row(s), at version {}.",
            migrate::row_count(&mut backup)?,
            migrate::current(&mut backup)?.unwrap_or_default()
        )?;
    }
    let applied = migrate::upgrade(conn, &MIGRATIONS, None)?;
    writeln!(
        out,
        "db upgrade applied {} migration(s); now at {}.",
        applied.len(),
        migrate::current(conn)?.unwrap_or_default()
    )?;
    describe(out, conn)?;

    heading(out, 5, "Check for drift")?;
    let drift = drift::check(conn, &MIGRATIONS, crate::draft::SCHEMA_RS)?;
    writeln!(
        out,
        "db check: {} difference(s) from the migrations and schema.rs.",
        drift.len()
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Next: `db upgrade`, `db history` and `serve` (see --help)."
    )?;
    Ok(())
}

/// Two users and three posts, written with the first migration's columns.
fn fill(conn: &mut SqliteConnection) -> Result<(), Error> {
    for name in ["ann", "bo"] {
        diesel::sql_query("INSERT INTO user (username, username_key, password) VALUES (?, ?, ?)")
            .bind::<Text, _>(name)
            .bind::<Text, _>(stepkit::name_key(name))
            .bind::<Text, _>(password::hash("correct horse battery staple")?)
            .execute(conn)?;
    }
    let posts = [
        (1, "Hello World", "2024-03-05 14:07:30"),
        (1, "Second  post", "2024-03-06 09:00:00"),
        (2, "Bo here", "2024-03-07 18:30:00"),
    ];
    for (author, title, created) in posts {
        diesel::sql_query(
            "INSERT INTO post (author_id, title, body, created) VALUES (?, ?, '...', ?)",
        )
        .bind::<BigInt, _>(author)
        .bind::<Text, _>(title)
        .bind::<Text, _>(created)
        .execute(conn)?;
    }
    Ok(())
}

/// The `post` table's columns, the row counts, and post 2 in full.
fn describe(out: &mut impl Write, conn: &mut SqliteConnection) -> Result<(), Error> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text)]
        line: String,
    }
    let columns: Vec<String> =
        diesel::sql_query("SELECT name AS line FROM pragma_table_info('post') ORDER BY cid")
            .load::<Line>(conn)?
            .into_iter()
            .map(|l| l.line)
            .collect();
    let check = diesel::sql_query("SELECT sql AS line FROM sqlite_schema WHERE name = 'post'")
        .get_result::<Line>(conn)?
        .line
        .contains("CHECK");
    let with_check = if check { " (title has a CHECK)" } else { "" };
    writeln!(out, "post columns: {}{with_check}", columns.join(", "))?;
    let fields: Vec<String> = columns.iter().map(|c| format!("'{c}', {c}")).collect();
    let sample = format!(
        "SELECT json_object({}) AS line FROM post WHERE id = 2",
        fields.join(", ")
    );
    let row = diesel::sql_query(sample).get_result::<Line>(conn)?.line;
    writeln!(
        out,
        "rows: {} (2 users, 3 posts); post 2: {row}",
        migrate::row_count(conn)?
    )?;
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
