//! Atomic and crash-safe writes: every file appears under its final name complete or not at all
//! (written under a temporary name in the same directory, then renamed), and data that will be
//! trusted later is flushed to disk before the rename that makes it visible.
//!
//! Flushing policy: on Linux one `syncfs` flushes a whole batch (an unpacked wheel's objects,
//! an installed distribution's files) for the cost of one call instead of one `fsync` per file;
//! elsewhere each file is flushed as it is written and each directory after its renames.

use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::path::Path;

/// Names of temporary files and directories this crate leaves next to their final names; they
/// start with a dot so Python's import system and `importlib.metadata` never see them.
pub(crate) const TEMP_PREFIX: &str = ".axle-tmp-";

/// Permissions from a Unix mode (ignored elsewhere).
pub(crate) fn permissions(file: &File, mode: u32) -> io::Result<Permissions> {
    #[cfg(unix)]
    {
        let _ = file;
        use std::os::unix::fs::PermissionsExt;
        Ok(Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        Ok(file.metadata()?.permissions())
    }
}

/// Writes `contents` to `path` atomically, with permissions `mode`, replacing any file there.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let directory = path
        .parent()
        .ok_or_else(|| io::Error::other("a file path without a parent directory"))?;
    let mut temp = tempfile::Builder::new().prefix(TEMP_PREFIX).tempfile_in(directory)?;
    temp.write_all(contents)?;
    temp.as_file().set_permissions(permissions(temp.as_file(), mode)?)?;
    flush_file(temp.as_file())?;
    temp.persist(path).map_err(|err| err.error)?;
    Ok(())
}

/// Flushes one file where batches cannot be flushed at once (a no-op on Linux, where
/// [`flush_batch`] covers it).
pub(crate) fn flush_file(file: &File) -> io::Result<()> {
    if cfg!(target_os = "linux") {
        Ok(())
    } else {
        file.sync_data()
    }
}

/// Flushes everything written so far on the filesystem holding `directory`, including renames
/// in it (on Linux: `syncfs`; elsewhere files were flushed one by one, so only the directory's
/// own entries are left to flush).
pub(crate) fn flush_batch(directory: &Path) -> io::Result<()> {
    let handle = File::open(directory)?;
    #[cfg(target_os = "linux")]
    {
        rustix::fs::syncfs(&handle)?;
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        flush_directory_handle(&handle)
    }
}

/// Flushes renames into `directories` (on Linux one `syncfs` of the first one's filesystem, which
/// all of them share; elsewhere each directory).
pub(crate) fn flush_directories<'a>(directories: impl IntoIterator<Item = &'a Path>) -> io::Result<()> {
    let mut directories = directories.into_iter();
    if cfg!(target_os = "linux") {
        match directories.next() {
            Some(first) => flush_batch(first),
            None => Ok(()),
        }
    } else {
        directories.try_for_each(flush_directory)
    }
}

/// Flushes a directory's entries, so renames into it survive a crash.
pub(crate) fn flush_directory(directory: &Path) -> io::Result<()> {
    let handle = File::open(directory)?;
    flush_directory_handle(&handle)
}

fn flush_directory_handle(handle: &File) -> io::Result<()> {
    match handle.sync_all() {
        // Some filesystems cannot sync a directory handle; there is nothing more to do there.
        Err(err) if err.kind() == io::ErrorKind::InvalidInput => Ok(()),
        other => other,
    }
}
