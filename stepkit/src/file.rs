//! The database file a server opened, and whether it is still the one on
//! disk; and a private copy of it, named only once complete. A SQLite connection keeps working on a file that was deleted (the
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

/// A private file being written under a temporary name, beside where it
/// will go: for a backup, which holds what the database holds (password
/// hashes too) and must be no more readable than it. It gets its real name
/// only when complete ([`Partial::place`]); dropped before that, it is
/// removed, so a copy cut short (killed, or the disk full) never sits under
/// a name an operator would restore from.
#[derive(Debug)]
pub struct Partial {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl Partial {
    /// A new, empty file readable and writable by its owner only, named
    /// `<beside>.partial-<process>`. It is opened with `O_EXCL`: a name that
    /// is taken, by a file or by a link (even one pointing nowhere), is
    /// never opened, so nothing is written where someone else chose.
    pub fn beside(beside: &Path) -> Result<Partial, crate::Error> {
        let path = PathBuf::from(format!(
            "{}.partial-{}",
            beside.display(),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path); // left by a run of ours that was killed
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path).map_err(|source| crate::Error::Write {
            path: path.clone(),
            source,
        })?;
        Ok(Partial {
            path,
            file: Some(file),
        })
    }

    /// The temporary name, for a program that writes the file by name.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file, for a program that writes it as its output.
    pub fn file(&self) -> std::io::Result<std::fs::File> {
        match &self.file {
            Some(file) => file.try_clone(),
            None => Err(std::io::ErrorKind::NotFound.into()),
        }
    }

    /// Syncs the complete file to disk, then gives it the first of `names`
    /// that is free (a hard link, which never replaces a file or follows a
    /// link that is there), and drops the temporary name.
    pub fn place(
        mut self,
        names: impl IntoIterator<Item = PathBuf>,
    ) -> Result<PathBuf, crate::Error> {
        let synced = self.file.take().map_or(Ok(()), |file| file.sync_all());
        synced.map_err(|source| crate::Error::Write {
            path: self.path.clone(),
            source,
        })?;
        for name in names.into_iter().take(1000) {
            match std::fs::hard_link(&self.path, &name) {
                Ok(()) => return Ok(name),
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(source) => return Err(crate::Error::Write { path: name, source }),
            }
        }
        let source = std::io::Error::from(std::io::ErrorKind::AlreadyExists);
        Err(crate::Error::Write {
            path: self.path.clone(),
            source,
        })
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
