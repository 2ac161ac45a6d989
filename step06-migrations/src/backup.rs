//! Backups before a migration: a consistent copy of the database beside
//! it, which never overwrites an older one.

use std::path::{Path, PathBuf};

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::Error;
use crate::migrate::{current, row_count};

// ANCHOR: backup
/// Copies the database into `<file>.backup-<version>` next to it (or
/// `.backup-<version>.2`, and so on, beside an older one or anything else
/// of that name), readable by its owner only, with `VACUUM INTO`, which
/// writes a consistent copy while the database stays open. The copy gets
/// that name only once it is complete and on disk.
/// Returns `None` for a database that holds no rows yet.
pub fn make(conn: &mut SqliteConnection, path: &Path) -> Result<Option<PathBuf>, Error> {
    if row_count(conn)? == 0 {
        return Ok(None);
    }
    let version = current(conn)?.unwrap_or_else(|| "none".to_owned());
    let name = |n: u32| match n {
        1 => format!("{}.backup-{version}", path.display()),
        n => format!("{}.backup-{version}.{n}", path.display()),
    };
    // Written in full under a temporary name, private, then given the first
    // free name: an older backup may be the only copy of something.
    let partial = stepkit::file::Partial::beside(path)?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(partial.path().to_string_lossy())
        .execute(conn)
        .map_err(|err| Error::BackupFailed(err.to_string()))?;
    let copy = partial.place((1..).map(|n| PathBuf::from(name(n))))?;
    Ok(Some(copy))
}
// ANCHOR_END: backup
