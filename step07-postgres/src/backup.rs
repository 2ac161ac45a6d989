//! Backups before a migration: a consistent copy of the database beside
//! it, which never overwrites an older one; on PostgreSQL, a `pg_dump`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::Error;
use crate::backend::{Conn, Location, UrlParts};
use crate::migrate::{Name, current, row_count};

// ANCHOR: backup
/// What [`backup`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backup {
    /// The copy, in this file.
    Made(PathBuf),
    /// Nothing to copy: the database holds no rows yet.
    Empty,
    /// No copy was made, for this reason.
    Skipped(String),
}

/// Copies the database before a migration changes it. SQLite: into
/// `<file>.backup-<version>` next to it (or `.backup-<version>.2`, and so
/// on, beside an older one), with `VACUUM INTO`, which writes a consistent
/// copy while the database stays open. PostgreSQL: `pg_dump` writes the
/// same into `instance/<database>.backup-<version>.sql`, if it is installed.
/// Either copy is readable by its owner only, and gets its name only once
/// it is complete and on disk.
pub fn make(conn: &mut Conn, location: &Location) -> Result<Backup, Error> {
    if row_count(conn)? == 0 {
        return Ok(Backup::Empty);
    }
    let version = current(conn)?.unwrap_or_else(|| "none".to_owned());
    let base = match location {
        Location::Sqlite(path) => format!("{}.backup-{version}", path.display()),
        Location::Postgres(_) => {
            // The name becomes a file name: nothing in it may lead elsewhere.
            let name =
                database_name(conn)?.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_");
            format!("instance/{name}.backup-{version}")
        }
    };
    // An older backup may be the only copy of something: never overwrite one.
    let extension = if matches!(location, Location::Postgres(_)) {
        ".sql"
    } else {
        ""
    };
    if let Some(folder) = Path::new(&base)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(folder).map_err(|source| Error::CreateDir {
            path: folder.to_path_buf(),
            source,
        })?;
    }
    // Written in full under a temporary name, private, then given the first
    // free name: an older backup may be the only copy of something.
    let partial = stepkit::file::Partial::beside(Path::new(&base))?;
    let failed = |err: &dyn std::fmt::Display| Error::BackupFailed(err.to_string());
    match location {
        Location::Sqlite(_) => {
            diesel::sql_query("VACUUM INTO ?")
                .bind::<Text, _>(partial.path().to_string_lossy())
                .execute(conn)
                .map_err(|err| failed(&err))?;
        }
        Location::Postgres(url) => {
            let file = partial.file().map_err(|err| failed(&err))?;
            if let Some(why) = pg_dump(url, file, partial.path())? {
                return Ok(Backup::Skipped(why));
            }
        }
    }
    let names = (1..).map(|n| match n {
        1 => PathBuf::from(format!("{base}{extension}")),
        n => PathBuf::from(format!("{base}.{n}{extension}")),
    });
    Ok(Backup::Made(partial.place(names)?))
}
// ANCHOR_END: backup

/// Runs `pg_dump` with `file` as its output; a missing `pg_dump` skips the
/// backup, and the reason is returned. Nothing secret goes on its command
/// line, which `ps` shows every user: the password goes in `PGPASSWORD`,
/// and the URL's options in a private service file beside `beside`.
fn pg_dump(url: &str, file: std::fs::File, beside: &Path) -> Result<Option<String>, Error> {
    let parts = UrlParts::of(url);
    let user = parts
        .user
        .map(|user| format!("{user}@"))
        .unwrap_or_default();
    let url = format!("{}://{user}{}", parts.scheme, parts.server);
    // Every `?key=value` goes in a private service file, which libpq reads
    // for defaults, since any of them may be a secret (`sslpassword`, say).
    let mut service = String::from("[backup]\n");
    for pair in parts
        .options
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decoded(value);
        if value.contains(['\n', '\r']) || key.contains(['\n', '\r']) {
            return Err(Error::Dump(
                "an option of the URL holds a line break".to_owned(),
            ));
        }
        service.push_str(&format!("{key}={value}\n"));
    }
    let file_of_options = stepkit::file::Partial::beside(&beside.with_extension("pg_service"))?;
    let written = file_of_options
        .file()
        .and_then(|mut options| std::io::Write::write_all(&mut options, service.as_bytes()));
    written.map_err(|err| Error::Dump(err.to_string()))?;
    let mut command = Command::new("pg_dump");
    command
        .args(["--no-password", "--dbname"])
        .arg(url)
        .env("PGSERVICEFILE", file_of_options.path())
        .env("PGSERVICE", "backup")
        .stdin(Stdio::null())
        .stdout(file); // the private file made for it
    if let Some(password) = parts.password.map(percent_decoded) {
        command.env("PGPASSWORD", password);
    }
    let run = command.output();
    match run {
        Ok(done) if done.status.success() => Ok(None),
        Ok(done) => {
            let said = String::from_utf8_lossy(&done.stderr);
            let first = said.lines().next().unwrap_or("it failed").to_owned();
            Err(Error::Dump(stepkit::printable(&first)))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Some(
            "pg_dump is not on the PATH (it comes with PostgreSQL's client tools)".to_owned(),
        )),
        Err(err) => Err(Error::Dump(err.to_string())),
    }
}

/// `text` with its `%XX` escapes decoded: the password as libpq reads it.
pub fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                at += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The name of the database `conn` is connected to (PostgreSQL).
fn database_name(conn: &mut Conn) -> Result<String, Error> {
    let found: Name = diesel::sql_query("SELECT current_database() AS name").get_result(conn)?;
    Ok(found.name)
}
