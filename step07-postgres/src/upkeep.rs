//! The upkeep the source recommends: vacuum the database now and then, and
//! check that the file is sound.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::Error;
use crate::backend::{Conn, Location};

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

fn size(conn: &mut Conn) -> Result<Size, Error> {
    let number = |conn: &mut Conn, sql: &str| -> QueryResult<i64> {
        let row: Number = diesel::sql_query(sql).get_result(conn)?;
        Ok(row.number)
    };
    let (pages, page_size) = match conn {
        Conn::Sqlite(_) => (
            number(conn, "SELECT page_count AS number FROM pragma_page_count")?,
            number(conn, "SELECT page_size AS number FROM pragma_page_size")?,
        ),
        Conn::Postgres(_) => {
            let bytes = "SELECT pg_database_size(current_database()) AS number";
            let block = "SELECT current_setting('block_size')::bigint AS number";
            let (bytes, block) = (number(conn, bytes)?, number(conn, block)?);
            (bytes / block, block)
        }
    };
    Ok(Size {
        pages,
        bytes: pages * page_size,
    })
}

// ANCHOR: vacuum
/// `db vacuum`: rewrites the file without the pages deleted rows left free
/// (`VACUUM`), refreshes the statistics the query planner uses (`ANALYZE`),
/// and lets SQLite tune the rest (`PRAGMA optimize`). On PostgreSQL,
/// `VACUUM ANALYZE`, which marks the space reusable and refreshes the
/// statistics, but gives a file back to the system only at its end (that is
/// `VACUUM FULL`, which locks each table while it rewrites it). Returns the
/// size before and after.
pub fn vacuum(conn: &mut Conn) -> Result<(Size, Size), Error> {
    let before = size(conn)?;
    match conn {
        Conn::Sqlite(sqlite) => sqlite.batch_execute("VACUUM; ANALYZE; PRAGMA optimize;")?,
        Conn::Postgres(postgres) => postgres.batch_execute("VACUUM ANALYZE")?,
    }
    Ok((before, size(conn)?))
}
// ANCHOR_END: vacuum

#[derive(QueryableByName)]
struct Finding {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

/// What `PRAGMA integrity_check` finds wrong with a SQLite file (at most
/// ten findings); empty for a sound one. A file too damaged to check at all
/// is one finding, SQLite's message. A PostgreSQL server checks its own
/// pages as it reads them (its `amcheck` extension does more).
pub fn damage(conn: &mut Conn) -> Vec<String> {
    let Conn::Sqlite(sqlite) = conn else {
        return Vec::new();
    };
    match diesel::sql_query("PRAGMA integrity_check(10)").load::<Finding>(sqlite) {
        Ok(found) => found
            .into_iter()
            .map(|finding| finding.integrity_check)
            .filter(|finding| finding != "ok")
            .map(|finding| stepkit::printable(&finding))
            .collect(),
        Err(err) => vec![err.to_string()],
    }
}

/// Fails unless the database at `location` is sound, so that `serve` does
/// not start on a damaged one and fail request by request.
pub fn check_sound(conn: &mut Conn, location: &Location) -> Result<(), Error> {
    match damage(conn).into_iter().next() {
        None => Ok(()),
        Some(first) => Err(Error::Damaged {
            database: location.clone(),
            first,
        }),
    }
}
