//! The database file a server opened, and whether it is still the one on
//! disk. A SQLite connection keeps working on a file that was deleted (the
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
