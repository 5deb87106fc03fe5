//! Files several processes share: written atomically and privately, locked
//! beside them, and noticed when someone else changed them.
//!
//! A lab is one process per command (`apply`, then `plan`), and the
//! simulators embedded in it keep their worlds in files under `.lab/sim/`
//! that the next process reads back. Two processes may run at once (a
//! `plan` waiting for an `apply` to release the state lock), so every
//! simulator's state file follows the same three rules, which live here
//! once:
//!
//! - [`write_private_atomic`]: a temporary file (mode 0600: the files hold
//!   configs with secrets) renamed over the old one, so a reader sees the
//!   old or the new version, never half of one;
//! - [`FileLock`]: writers take an advisory lock on `<file>.lock` around
//!   read-modify-write, so two processes never lose each other's change;
//! - [`FileStamp`]: what one version of the file is (length, modification
//!   time, inode: a rename always changes the inode), so a process re-reads
//!   the file only when someone else wrote it, at the cost of one `stat`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Writes `bytes` to `path` atomically: into `<path>.tmp` (created with
/// mode 0600 on unix), synced when `sync` is set, then renamed over `path`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("world.json");
/// lab_core::files::write_private_atomic(&path, b"{}", true).unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"{}");
/// ```
pub fn write_private_atomic(path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    let tmp = sibling(path, ".tmp");
    {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        // A temporary file left by a crash under another umask is tightened.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(bytes)?;
        if sync {
            file.sync_all()?;
        }
    }
    std::fs::rename(&tmp, path)
}

/// An exclusive advisory lock on `<file>.lock`, held until dropped.
///
/// Every writer of a shared state file takes it around reading the file's
/// latest version, changing it and writing it back.
#[derive(Debug)]
pub struct FileLock(File);

impl FileLock {
    /// Waits for the lock beside `file` (the lock file is created if
    /// missing).
    pub fn exclusive(file: &Path) -> io::Result<FileLock> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(Self::path_for(file))?;
        lock.lock()?;
        Ok(FileLock(lock))
    }

    /// `<file>.lock`.
    pub fn path_for(file: &Path) -> PathBuf {
        sibling(file, ".lock")
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// One version of a file: any writer that renames a new file over it
/// changes the stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl FileStamp {
    /// The stamp of `path` now; `None` if it does not exist.
    pub fn of(path: &Path) -> Option<FileStamp> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(FileStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        })
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_private_and_change_the_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.json");
        assert_eq!(FileStamp::of(&path), None);
        write_private_atomic(&path, b"one", false).unwrap();
        let first = FileStamp::of(&path).unwrap();
        write_private_atomic(&path, b"two", true).unwrap();
        assert_ne!(FileStamp::of(&path), Some(first));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!sibling(&path, ".tmp").exists());
    }

    #[test]
    fn the_lock_is_exclusive_between_holders() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.json");
        let held = FileLock::exclusive(&path).unwrap();
        let again = File::options()
            .write(true)
            .open(FileLock::path_for(&path))
            .unwrap();
        assert!(again.try_lock().is_err(), "a second holder must wait");
        drop(held);
        assert!(again.try_lock().is_ok());
    }
}
