//! The database file a server opened, and whether it is still the one on
//! disk; and a new private file for a copy of it. A SQLite connection keeps working on a file that was deleted (the
//! open handle keeps it alive) or replaced, so a server that never looks
//! would go on acknowledging writes that vanish when it stops.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A file as it was when the server opened it: its path, and the device
/// and inode the path led to then.
#[derive(Debug, Clone)]
pub struct FileIdentity {
    path: PathBuf,
    device: u64,
    inode: u64,
}

impl FileIdentity {
    /// The file at `path` as it is now.
    pub fn of(path: &Path) -> std::io::Result<FileIdentity> {
        let metadata = std::fs::metadata(path)?;
        Ok(FileIdentity {
            path: path.to_path_buf(),
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }

    /// True while `path` still leads to the same file: false once it was
    /// deleted, or replaced by another file of that name. One `stat` call.
    pub fn is_still_there(&self) -> bool {
        std::fs::metadata(&self.path)
            .is_ok_and(|now| now.dev() == self.device && now.ino() == self.inode)
    }
}

/// Creates the first of `names` that is not taken, new and empty, readable
/// and writable by its owner only, and returns it with its name: for a
/// backup, which holds what the database holds (password hashes too) and
/// must be no more readable than it. A name that is taken, by a file or by
/// a link, even one pointing nowhere, is skipped: nothing is overwritten,
/// and no link is followed to where someone else chose.
pub fn create_private(
    names: impl IntoIterator<Item = PathBuf>,
) -> Result<(PathBuf, std::fs::File), crate::Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true); // O_EXCL: never through a link
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut last = PathBuf::new();
    for name in names.into_iter().take(1000) {
        match options.open(&name) {
            Ok(file) => return Ok((name, file)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => last = name,
            Err(source) => return Err(crate::Error::Write { path: name, source }),
        }
    }
    let source = std::io::Error::from(std::io::ErrorKind::AlreadyExists);
    Err(crate::Error::Write { path: last, source })
}
