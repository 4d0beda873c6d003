//! Putting a store object at a path in an environment: hard link, reflink clone, copy or
//! symbolic link, each atomic (a file appears complete under its final name, replacing any file
//! there), with the fallbacks filesystems force on us.
//!
//! - Hard links fail across filesystems (`EXDEV`) and on filesystems without them; the rest of
//!   the install then clones, or copies where cloning fails too, and the fallback is reported
//!   once ([`LinkFallback`]) instead of retrying a failing call per file.
//! - A file can only have so many links (`EMLINK`, 65 000 on ext4): the store then replaces the
//!   object by a copy on a fresh inode, and linking is retried once before copying.
//! - Linked and symlinked files are the store's read-only objects; copies and clones are new
//!   files of their own, made 0644 (0755 if executable) like a fresh `pip install`.

use std::fs::{self, File};
use std::io;
use std::path::Path;

use crate::durable::{self, TEMP_PREFIX};
use crate::objects::ObjectStore;

/// How installed files are made from store objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkMode {
    /// Hard links: no bytes copied, and every environment shares one inode per object.
    #[default]
    Hardlink,
    /// Independent copies.
    Copy,
    /// Copy-on-write clones (reflinks) where the filesystem has them, else copies.
    Clone,
    /// Symbolic links to the objects.
    Symlink,
}

/// Why files were not made the way [`LinkMode`] asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkFallback {
    /// The store and the environment are on different filesystems, so files were cloned or
    /// copied instead of hard linked.
    CrossDevice,
    /// The environment's filesystem refused hard links, so files were cloned or copied.
    HardLinksRefused,
    /// The filesystem cannot clone, so files were copied.
    CloneUnsupported,
}

/// One install's way of placing files, downgraded when a filesystem forces a fallback.
pub(crate) struct Linker<'a> {
    store: &'a ObjectStore,
    mode: LinkMode,
    pub(crate) fallback: Option<LinkFallback>,
    pub(crate) bytes_linked: u64,
    pub(crate) bytes_copied: u64,
}

/// A failure to place one file: the store's, or the filesystem's.
pub(crate) enum PlaceError {
    Store(crate::objects::ObjectStoreError),
    Io(io::Error),
}

impl From<io::Error> for PlaceError {
    fn from(err: io::Error) -> Self {
        PlaceError::Io(err)
    }
}

impl<'a> Linker<'a> {
    pub(crate) fn new(store: &'a ObjectStore, mode: LinkMode) -> Linker<'a> {
        Linker {
            store,
            mode,
            fallback: None,
            bytes_linked: 0,
            bytes_copied: 0,
        }
    }

    /// Makes `dest` (whose directory exists) the object `sha256`/`executable` of `size` bytes.
    pub(crate) fn place(&mut self, sha256: &str, executable: bool, size: u64, dest: &Path) -> Result<(), PlaceError> {
        let object = self.store.object_path(sha256, executable).map_err(PlaceError::Store)?;
        loop {
            match self.mode {
                LinkMode::Hardlink => match hard_link(&object, dest) {
                    Ok(()) => {
                        self.bytes_linked += size;
                        return Ok(());
                    }
                    Err(err) if err.kind() == io::ErrorKind::TooManyLinks => {
                        self.store
                            .refresh_object(sha256, executable)
                            .map_err(PlaceError::Store)?;
                        match hard_link(&object, dest) {
                            Ok(()) => self.bytes_linked += size,
                            Err(err) if err.kind() == io::ErrorKind::TooManyLinks => {
                                copy(&object, dest, executable)?;
                                self.bytes_copied += size;
                            }
                            Err(err) => return Err(err.into()),
                        }
                        return Ok(());
                    }
                    Err(err) => {
                        let reason = match err.kind() {
                            io::ErrorKind::CrossesDevices => LinkFallback::CrossDevice,
                            io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied => {
                                LinkFallback::HardLinksRefused
                            }
                            _ => return Err(err.into()),
                        };
                        self.fall_back(reason, LinkMode::Clone, &err);
                    }
                },
                LinkMode::Clone => match clone(&object, dest, executable) {
                    Ok(()) => {
                        self.bytes_linked += size;
                        return Ok(());
                    }
                    Err(err) if clone_unsupported(&err) => {
                        self.fall_back(LinkFallback::CloneUnsupported, LinkMode::Copy, &err);
                    }
                    Err(err) => return Err(err.into()),
                },
                LinkMode::Copy => {
                    copy(&object, dest, executable)?;
                    self.bytes_copied += size;
                    return Ok(());
                }
                LinkMode::Symlink => {
                    symlink(&object, dest)?;
                    self.bytes_linked += size;
                    return Ok(());
                }
            }
        }
    }

    fn fall_back(&mut self, reason: LinkFallback, mode: LinkMode, err: &io::Error) {
        if self.fallback.is_none() {
            tracing::warn!(
                ?reason,
                %err,
                "cannot {} files from the store; using {mode:?} for the rest of the install",
                match self.mode {
                    LinkMode::Hardlink => "hard link",
                    LinkMode::Clone => "clone",
                    LinkMode::Copy => "copy",
                    LinkMode::Symlink => "symlink",
                }
            );
            self.fallback = Some(reason);
        }
        self.mode = mode;
    }
}

/// Runs `create` on a fresh temporary name next to `dest`, then renames it over `dest`.
pub(crate) fn replace_with(dest: &Path, create: impl FnMut(&Path) -> io::Result<()>) -> io::Result<()> {
    let directory = dest
        .parent()
        .ok_or_else(|| io::Error::other("a file path without a parent directory"))?;
    let temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .make_in(directory, create)?;
    temp.into_temp_path().persist(dest)?;
    Ok(())
}

fn hard_link(object: &Path, dest: &Path) -> io::Result<()> {
    match fs::hard_link(object, dest) {
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            // Renaming a link over another link to the same inode does nothing and would leave
            // the temporary name behind, so an already linked file is simply kept.
            if same_file(object, dest) {
                return Ok(());
            }
            replace_with(dest, |temp| fs::hard_link(object, temp))
        }
        other => other,
    }
}

#[cfg(unix)]
fn same_file(left: &Path, right: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::symlink_metadata(left), fs::symlink_metadata(right)) {
        (Ok(left), Ok(right)) => left.dev() == right.dev() && left.ino() == right.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &Path, _: &Path) -> bool {
    false
}

fn new_file_mode(executable: bool) -> u32 {
    if executable { 0o755 } else { 0o644 }
}

fn copy(object: &Path, dest: &Path, executable: bool) -> io::Result<()> {
    replace_with(dest, |temp| {
        fill_new_file(temp, |out| {
            io::copy(&mut File::open(object)?, &mut &*out)?;
            out.set_permissions(durable::permissions(out, new_file_mode(executable))?)
        })
    })
}

fn clone(object: &Path, dest: &Path, executable: bool) -> io::Result<()> {
    replace_with(dest, |temp| {
        fill_new_file(temp, |out| {
            clone_into(&File::open(object)?, out)?;
            out.set_permissions(durable::permissions(out, new_file_mode(executable))?)
        })
    })
}

/// Creates `path` (which must not exist) and fills it; removes it again if filling fails, since
/// a temporary name that never got a [`tempfile::TempPath`] is not cleaned up otherwise.
fn fill_new_file(path: &Path, fill: impl FnOnce(&File) -> io::Result<()>) -> io::Result<()> {
    let out = File::create_new(path)?;
    let result = fill(&out);
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

#[cfg(target_os = "linux")]
fn clone_into(source: &File, out: &File) -> io::Result<()> {
    rustix::fs::ioctl_ficlone(out, source)?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn clone_into(_: &File, _: &File) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The errors `FICLONE` gives when the filesystem (or the pair of them) cannot clone.
fn clone_unsupported(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::Unsupported | io::ErrorKind::CrossesDevices | io::ErrorKind::InvalidInput
    )
}

fn symlink(object: &Path, dest: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        match std::os::unix::fs::symlink(object, dest) {
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                replace_with(dest, |temp| std::os::unix::fs::symlink(object, temp))
            }
            other => other,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (object, dest);
        Err(io::ErrorKind::Unsupported.into())
    }
}
