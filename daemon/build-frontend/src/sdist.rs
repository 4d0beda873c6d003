//! Unpacking a source distribution (`.tar.gz`, `.tgz`, `.tar`, `.zip`) into a fresh directory,
//! with the guarantees of Python's `tarfile` "data" filter (PEP 706):
//!
//! - no entry is absolute or has a `..` component, so none names a path outside the target;
//! - links are checked: a symbolic link must point inside the target (followed through the
//!   archive's own links), a hard link must name a regular file extracted before it; links are
//!   created after every file and directory, so nothing is ever written through one;
//! - device files and FIFOs are refused;
//! - modes keep only the permission bits, minus group/other write (and group/other execute
//!   when the owner has none), plus owner read/write; owners are not restored.
//!
//! A refused archive is an error that names the entry; the caller removes the half-filled
//! target (this module writes nowhere else). Sizes are bounded ([`UnpackLimits`]).
//!
//! An sdist's files sit under one top-level `name-version/` directory; [`unpack`] returns that
//! directory (or the target itself when the archive has no single top level), as pip does.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// Bounds on what one archive may unpack to (decompression bombs).
#[derive(Debug, Clone, Copy)]
pub struct UnpackLimits {
    pub max_total_size: u64,
    pub max_entries: usize,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            max_total_size: 8 * 1024 * 1024 * 1024,
            max_entries: 200_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("cannot read the source distribution {}: {source}", .archive.display())]
    Read { archive: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{}: entry `{entry}` {problem}", .archive.display())]
    Entry {
        archive: PathBuf,
        entry: String,
        problem: EntryRefusal,
    },
    #[error(
        "{}: not a source distribution axle can unpack (it reads .tar.gz, .tgz, .tar and .zip)",
        .0.display()
    )]
    Format(PathBuf),
    #[error("{}: unpacks to more than {limit} bytes; refusing to go on", .archive.display())]
    TooLarge { archive: PathBuf, limit: u64 },
    #[error("{}: has more than {limit} entries; refusing to go on", .archive.display())]
    TooManyEntries { archive: PathBuf, limit: usize },
}

/// Why one entry is refused. The messages complete "entry `name` ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryRefusal {
    #[error("is an absolute path")]
    Absolute,
    #[error("has a `..` component")]
    ParentComponent,
    #[error("has a name that is not valid text")]
    BadName,
    #[error("is a device file or a FIFO")]
    Special,
    #[error("is a link to an absolute path ({0})")]
    AbsoluteLink(String),
    #[error("is a link that points outside the archive ({0})")]
    LinkOutside(String),
    #[error("is a hard link to `{0}`, which is not a file extracted before it")]
    HardLinkTarget(String),
    #[error("is written through a link, or replaces a directory with a link")]
    ThroughLink,
}

/// Unpacks `archive` into `target` (created; it must not exist yet) and returns the project's
/// root inside it.
pub fn unpack(archive: &Path, target: &Path, limits: UnpackLimits) -> Result<PathBuf, UnpackError> {
    let name = archive
        .file_name()
        .map(|name| name.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    fs::create_dir(target).map_err(|source| UnpackError::Write {
        path: target.to_path_buf(),
        source,
    })?;
    let read_error = |source| UnpackError::Read {
        archive: archive.to_path_buf(),
        source,
    };
    let mut writer = Writer::new(archive, target, limits);
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        let file = File::open(archive).map_err(read_error)?;
        unpack_tar(flate2::read::GzDecoder::new(BufReader::new(file)), &mut writer)?;
    } else if name.ends_with(".tar") {
        let file = File::open(archive).map_err(read_error)?;
        unpack_tar(BufReader::new(file), &mut writer)?;
    } else if name.ends_with(".zip") {
        let file = File::open(archive).map_err(read_error)?;
        unpack_zip(file, &mut writer)?;
    } else {
        return Err(UnpackError::Format(archive.to_path_buf()));
    }
    writer.finish()
}

/// A tar entry as this module sees it.
enum Kind {
    File {
        mode: u32,
    },
    Directory,
    Symlink(String),
    HardLink(String),
    Special,
    /// Metadata entries the reader already applied (pax, GNU long names).
    Skip,
}

fn unpack_tar(reader: impl Read, writer: &mut Writer<'_>) -> Result<(), UnpackError> {
    let mut tar = tar::Archive::new(reader);
    let entries = tar.entries().map_err(|source| writer.read_error(source))?;
    for entry in entries {
        let mut entry = entry.map_err(|source| writer.read_error(source))?;
        let header = entry.header();
        let link_name = || -> Result<String, UnpackError> {
            let bytes = entry.link_name_bytes().unwrap_or_default();
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => Kind::File {
                mode: header.mode().unwrap_or(0o644),
            },
            tar::EntryType::Directory => Kind::Directory,
            tar::EntryType::Symlink => Kind::Symlink(link_name()?),
            tar::EntryType::Link => Kind::HardLink(link_name()?),
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => Kind::Special,
            _ => Kind::Skip,
        };
        let raw = entry.path_bytes().into_owned();
        writer.entry(&raw, kind, &mut entry)?;
    }
    Ok(())
}

fn unpack_zip(file: File, writer: &mut Writer<'_>) -> Result<(), UnpackError> {
    let mut zip =
        zip::ZipArchive::new(BufReader::new(file)).map_err(|error| writer.read_error(io::Error::other(error)))?;
    for index in 0..zip.len() {
        let mut entry = zip
            .by_index(index)
            .map_err(|error| writer.read_error(io::Error::other(error)))?;
        let raw = entry.name_raw().to_vec();
        let mode = entry.unix_mode();
        let kind = if entry.is_dir() {
            Kind::Directory
        } else if mode.is_some_and(|mode| mode & 0o170000 == 0o120000) {
            let mut target = String::new();
            entry
                .by_ref()
                .take(4096)
                .read_to_string(&mut target)
                .map_err(|source| writer.read_error(source))?;
            Kind::Symlink(target)
        } else {
            Kind::File {
                mode: mode.unwrap_or(0o644),
            }
        };
        writer.entry(&raw, kind, &mut entry)?;
    }
    Ok(())
}

/// Writes checked entries below the target and keeps what the checks need.
struct Writer<'a> {
    archive: &'a Path,
    target: &'a Path,
    limits: UnpackLimits,
    written: u64,
    entries: usize,
    /// Regular files extracted so far (hard links may name them).
    files: HashSet<String>,
    /// Symbolic links, created at the end: path → target.
    links: HashMap<String, String>,
    /// First components of every entry (for the single top-level directory).
    tops: HashSet<String>,
    /// Whether some entry sits directly at the top (then there is no single root directory).
    loose_at_top: bool,
}

impl<'a> Writer<'a> {
    fn new(archive: &'a Path, target: &'a Path, limits: UnpackLimits) -> Writer<'a> {
        Writer {
            archive,
            target,
            limits,
            written: 0,
            entries: 0,
            files: HashSet::new(),
            links: HashMap::new(),
            tops: HashSet::new(),
            loose_at_top: false,
        }
    }

    fn read_error(&self, source: io::Error) -> UnpackError {
        UnpackError::Read {
            archive: self.archive.to_path_buf(),
            source,
        }
    }

    fn refuse(&self, entry: &str, problem: EntryRefusal) -> UnpackError {
        UnpackError::Entry {
            archive: self.archive.to_path_buf(),
            entry: entry.to_string(),
            problem,
        }
    }

    fn write_error(path: PathBuf) -> impl FnOnce(io::Error) -> UnpackError {
        move |source| UnpackError::Write { path, source }
    }

    fn entry(&mut self, raw: &[u8], kind: Kind, data: &mut dyn Read) -> Result<(), UnpackError> {
        if matches!(kind, Kind::Skip) {
            return Ok(());
        }
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(UnpackError::TooManyEntries {
                archive: self.archive.to_path_buf(),
                limit: self.limits.max_entries,
            });
        }
        let shown = String::from_utf8_lossy(raw).into_owned();
        let text = std::str::from_utf8(raw).map_err(|_| self.refuse(&shown, EntryRefusal::BadName))?;
        let Some(path) = normalize(text).map_err(|problem| self.refuse(&shown, problem))? else {
            return Ok(()); // `./` itself
        };
        let mut components = path.split('/');
        let top = components.next().unwrap_or_default().to_string();
        let nested = components.next().is_some();
        if !nested && !matches!(kind, Kind::Directory) {
            self.loose_at_top = true;
        }
        self.tops.insert(top);
        if self.under_link(&path) {
            return Err(self.refuse(&path, EntryRefusal::ThroughLink));
        }
        let destination = self.target.join(&path);
        match kind {
            Kind::Skip => {}
            Kind::Special => return Err(self.refuse(&path, EntryRefusal::Special)),
            Kind::Directory => {
                fs::create_dir_all(&destination).map_err(Self::write_error(destination.clone()))?;
            }
            Kind::File { mode } => {
                self.make_parent(&destination)?;
                // A later file replaces an earlier link of the same name, as tarfile does.
                self.links.remove(&path);
                let _ = fs::remove_file(&destination);
                let mut out = File::create(&destination).map_err(Self::write_error(destination.clone()))?;
                let budget = self.limits.max_total_size.saturating_sub(self.written);
                let copied =
                    io::copy(&mut data.take(budget + 1), &mut out).map_err(|source| self.read_error(source))?;
                self.written += copied;
                if copied > budget {
                    return Err(UnpackError::TooLarge {
                        archive: self.archive.to_path_buf(),
                        limit: self.limits.max_total_size,
                    });
                }
                out.flush().map_err(Self::write_error(destination.clone()))?;
                set_mode(&destination, file_mode(mode))?;
                self.files.insert(path);
            }
            Kind::HardLink(target) => {
                let Ok(Some(source)) = normalize(&target) else {
                    return Err(self.refuse(&path, EntryRefusal::HardLinkTarget(target)));
                };
                if !self.files.contains(&source) {
                    return Err(self.refuse(&path, EntryRefusal::HardLinkTarget(target)));
                }
                self.make_parent(&destination)?;
                let _ = fs::remove_file(&destination);
                let from = self.target.join(&source);
                let copied = fs::copy(&from, &destination).map_err(Self::write_error(destination.clone()))?;
                self.written += copied;
                self.files.insert(path);
            }
            Kind::Symlink(target) => {
                if target.starts_with('/') {
                    return Err(self.refuse(&path, EntryRefusal::AbsoluteLink(target)));
                }
                self.files.remove(&path);
                self.links.insert(path, target);
            }
        }
        Ok(())
    }

    /// Whether `path` lies below one of the archive's links.
    fn under_link(&self, path: &str) -> bool {
        let mut prefix = String::new();
        for component in path.split('/') {
            if !prefix.is_empty() && self.links.contains_key(&prefix) {
                return true;
            }
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(component);
        }
        false
    }

    fn make_parent(&self, destination: &Path) -> Result<(), UnpackError> {
        if let Some(parent) = destination.parent() {
            fs::create_dir_all(parent).map_err(Self::write_error(parent.to_path_buf()))?;
        }
        Ok(())
    }

    /// Creates the links (each checked to resolve inside the target) and finds the root.
    fn finish(self) -> Result<PathBuf, UnpackError> {
        let mut links: Vec<(&String, &String)> = self.links.iter().collect();
        links.sort();
        for (path, target) in links {
            if !resolves_inside(path, &self.links) {
                return Err(self.refuse(path, EntryRefusal::LinkOutside(target.clone())));
            }
            let destination = self.target.join(path);
            if destination.symlink_metadata().is_ok_and(|meta| meta.is_dir()) {
                return Err(self.refuse(path, EntryRefusal::ThroughLink));
            }
            self.make_parent(&destination)?;
            let _ = fs::remove_file(&destination);
            std::os::unix::fs::symlink(target, &destination).map_err(Self::write_error(destination.clone()))?;
        }
        let single_top = (self.tops.len() == 1 && !self.loose_at_top)
            .then(|| self.tops.iter().next().cloned())
            .flatten();
        Ok(match single_top {
            Some(top) if self.target.join(&top).is_dir() => self.target.join(top),
            _ => self.target.to_path_buf(),
        })
    }
}

/// An entry name as a plain relative path (`None` for the archive's `./` itself), or why not.
fn normalize(name: &str) -> Result<Option<String>, EntryRefusal> {
    if name.starts_with('/') {
        return Err(EntryRefusal::Absolute);
    }
    if name.contains('\0') {
        return Err(EntryRefusal::BadName);
    }
    let mut parts = Vec::new();
    for component in name.split('/') {
        match component {
            "" | "." => {}
            ".." => return Err(EntryRefusal::ParentComponent),
            other => parts.push(other),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

/// Whether the link at `path` resolves inside the target, following the archive's other links
/// the way the kernel will (only the archive's links exist there: every directory is real).
fn resolves_inside(path: &str, links: &HashMap<String, String>) -> bool {
    // The components of the directory being walked, and the components left to walk.
    let mut at: Vec<String> = path.split('/').map(str::to_string).collect();
    at.pop();
    let Some(target) = links.get(path) else {
        return true;
    };
    if target.starts_with('/') {
        return false;
    }
    let mut pending: Vec<String> = target.split('/').rev().map(str::to_string).collect();
    let mut expansions = 0;
    while let Some(component) = pending.pop() {
        match component.as_str() {
            "" | "." => {}
            ".." => {
                if at.pop().is_none() {
                    return false;
                }
            }
            name => {
                at.push(name.to_string());
                let here = at.join("/");
                if let Some(next) = links.get(&here) {
                    expansions += 1;
                    if expansions > 40 || next.starts_with('/') {
                        return false;
                    }
                    at.pop();
                    pending.extend(next.split('/').rev().map(str::to_string));
                }
            }
        }
    }
    true
}

/// PEP 706's "data" modes: permission bits only, owner read/write, no group/other write, and
/// no group/other execute unless the owner may execute.
fn file_mode(mode: u32) -> u32 {
    let mut mode = (mode & 0o777) | 0o600;
    mode &= !0o022;
    if mode & 0o100 == 0 {
        mode &= !0o011;
    }
    mode
}

fn set_mode(path: &Path, mode: u32) -> Result<(), UnpackError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|source| UnpackError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_relative_paths_or_refused() {
        let cases: [(&str, Result<Option<&str>, EntryRefusal>); 7] = [
            ("pkg-1.0/setup.py", Ok(Some("pkg-1.0/setup.py"))),
            ("./pkg-1.0//a/./b", Ok(Some("pkg-1.0/a/b"))),
            ("./", Ok(None)),
            ("/etc/passwd", Err(EntryRefusal::Absolute)),
            ("pkg/../../x", Err(EntryRefusal::ParentComponent)),
            ("..", Err(EntryRefusal::ParentComponent)),
            ("a\0b", Err(EntryRefusal::BadName)),
        ];
        for (name, expected) in cases {
            assert_eq!(normalize(name), expected.map(|ok| ok.map(str::to_string)), "{name}");
        }
    }

    #[test]
    fn links_must_resolve_inside_following_other_links() {
        let links = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
        };
        type Links<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Links<'_>, &str, bool); 6] = [
            (&[("p/README", "docs/README.md")], "p/README", true),
            (&[("p/up", "..")], "p/up", true),
            (&[("p/out", "../..")], "p/out", false),
            // `x` is the root itself, so `x/..` climbs out although it reads as staying in.
            (&[("x", "."), ("y", "x/../z")], "y", false),
            (&[("a", "b"), ("b", "a")], "a", false),
            (&[("p/a", "/etc")], "p/a", false),
        ];
        for (pairs, path, inside) in cases {
            assert_eq!(resolves_inside(path, &links(pairs)), inside, "{pairs:?}");
        }
    }

    #[test]
    fn modes_follow_the_data_filter() {
        let cases = [
            (0o4755, 0o755),
            (0o777, 0o755),
            (0o666, 0o644),
            (0o400, 0o600),
            (0o070, 0o640),
        ];
        for (given, expected) in cases {
            assert_eq!(file_mode(given), expected, "{given:o}");
        }
    }
}
