//! The upkeep the source recommends: vacuum the database now and then, and
//! check that the file is sound.

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::Error;

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = BigInt)]
    number: i64,
}

/// The database's size: its pages, and the bytes they take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub pages: i64,
    pub bytes: i64,
}

fn size(conn: &mut SqliteConnection) -> Result<Size, Error> {
    let pragma = |conn: &mut SqliteConnection, name: &str| -> QueryResult<i64> {
        let sql = format!("SELECT {name} AS number FROM pragma_{name}");
        let row: Number = diesel::sql_query(sql).get_result(conn)?;
        Ok(row.number)
    };
    let (pages, page_size) = (pragma(conn, "page_count")?, pragma(conn, "page_size")?);
    Ok(Size {
        pages,
        bytes: pages * page_size,
    })
}

// ANCHOR: vacuum
/// `db vacuum`: rewrites the file without the pages deleted rows left free
/// (`VACUUM`), refreshes the statistics the query planner uses (`ANALYZE`),
/// and lets SQLite tune the rest (`PRAGMA optimize`). Returns the size
/// before and after.
pub fn vacuum(conn: &mut SqliteConnection) -> Result<(Size, Size), Error> {
    let before = size(conn)?;
    conn.batch_execute("VACUUM; ANALYZE; PRAGMA optimize;")?;
    Ok((before, size(conn)?))
}
// ANCHOR_END: vacuum

#[derive(QueryableByName)]
struct Finding {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

/// What `PRAGMA integrity_check` finds wrong with the file (at most ten
/// findings); empty for a sound one. A file too damaged to check at all is
/// one finding, SQLite's message.
pub fn damage(conn: &mut SqliteConnection) -> Vec<String> {
    match diesel::sql_query("PRAGMA integrity_check(10)").load::<Finding>(conn) {
        Ok(found) => found
            .into_iter()
            .map(|finding| finding.integrity_check)
            .filter(|finding| finding != "ok")
            .map(|finding| stepkit::printable(&finding))
            .collect(),
        Err(err) => vec![err.to_string()],
    }
}

/// Fails unless the file at `path` is sound, so that `serve` does not start
/// on a damaged database and fail request by request.
pub fn check_sound(conn: &mut SqliteConnection, path: &Path) -> Result<(), Error> {
    match damage(conn).into_iter().next() {
        None => Ok(()),
        Some(first) => Err(Error::Damaged {
            path: path.to_path_buf(),
            first,
        }),
    }
}
