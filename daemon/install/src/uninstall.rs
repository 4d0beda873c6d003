//! Removing an installed distribution by its RECORD, and nothing outside its environment.
//!
//! RECORD is text anyone could have written (a wheel's own, another installer's, a tampered
//! one), so each path in it is resolved relative to site-packages, normalised lexically, and
//! must stay inside the environment's root; then its parent directory is resolved on disk
//! (following symlinks) and must still be inside the (resolved) root. Anything else — absolute
//! paths elsewhere, `..` climbing out, a symlinked directory leading out — is skipped and
//! reported, never deleted: the bug class of pip's RECORD traversal reports and
//! GHSA-pjjw-68hj-v9mw. The file itself is removed without following it, so a symlink is
//! unlinked, not its target.
//!
//! Besides the listed files: a removed `.py` file's bytecode in `__pycache__`, directories left
//! empty (bottom-up, never the environment's own skeleton: its root, `bin`, `include`, `lib`,
//! site-packages and the directories above it), and the `.dist-info` directory itself. A
//! `.dist-info` without RECORD (an install interrupted by another tool) cannot say what else is
//! its, so only the directory is removed and the result says so.
//!
//! A concurrent process swapping a checked directory for a symlink between the check and the
//! removal is out of scope: the environment's owner is the one party who could do that, and
//! they can delete their own files anyway.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::paths;
use crate::record;

/// What an uninstall removed, and what it would not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    pub dist_info: PathBuf,
    /// Files removed (RECORD's entries, their bytecode, and the `.dist-info` contents).
    pub files: Vec<PathBuf>,
    /// Directories removed because they were left empty, and the `.dist-info` directory.
    pub dirs: Vec<PathBuf>,
    /// RECORD entries that were already gone.
    pub missing: Vec<PathBuf>,
    /// RECORD entries that were not removed, and why.
    pub skipped: Vec<Skipped>,
    /// The `.dist-info` had no RECORD: only the directory was removed.
    pub record_missing: bool,
}

/// A RECORD entry left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The path as RECORD spells it.
    pub entry: String,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The path lies outside the environment.
    OutsideEnvironment,
    /// The path's directory resolves (through a symlink) to outside the environment.
    SymlinkOutsideEnvironment,
    /// The path is a directory, which RECORD does not list.
    Directory,
    /// The path could not be inspected or removed.
    Io(String),
}

/// An uninstall that could not start.
#[derive(Debug, thiserror::Error)]
pub enum UninstallError {
    #[error("`{}` is not a `.dist-info` directory in `{}`", dist_info.display(), site_packages.display())]
    NotADistInfo { dist_info: PathBuf, site_packages: PathBuf },
    #[error("site-packages `{}` is not inside the environment `{}`", site_packages.display(), venv_root.display())]
    SiteOutsideEnvironment { site_packages: PathBuf, venv_root: PathBuf },
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> UninstallError + use<> {
    let path = path.to_path_buf();
    move |source| UninstallError::Io { action, path, source }
}

/// Uninstalls the distribution whose `.dist-info` is `dist_info_dir` (absolute, or relative to
/// `site_packages`), in the environment rooted at `venv_root`.
pub fn uninstall(site_packages: &Path, venv_root: &Path, dist_info_dir: &Path) -> Result<Removed, UninstallError> {
    let root = paths::absolute(venv_root)
        .ok_or_else(|| io_error("resolve", venv_root)(io::Error::other("not a usable path")))?;
    let root_real = fs::canonicalize(&root).map_err(io_error("resolve", &root))?;
    let site = paths::absolute(site_packages)
        .ok_or_else(|| io_error("resolve", site_packages)(io::Error::other("not a usable path")))?;
    let site_real = fs::canonicalize(&site).map_err(io_error("resolve", &site))?;
    if !site.starts_with(&root) || !site_real.starts_with(&root_real) {
        return Err(UninstallError::SiteOutsideEnvironment {
            site_packages: site,
            venv_root: root,
        });
    }

    let dist_info = paths::absolute(&site.join(dist_info_dir)).unwrap_or_default();
    let not_a_dist_info = || UninstallError::NotADistInfo {
        dist_info: dist_info_dir.to_path_buf(),
        site_packages: site.clone(),
    };
    let is_dist_info = dist_info.parent() == Some(site.as_path())
        && dist_info
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.ends_with(".dist-info"))
        && fs::symlink_metadata(&dist_info).is_ok_and(|meta| meta.is_dir());
    if !is_dist_info {
        return Err(not_a_dist_info());
    }

    let mut removed = Removed {
        dist_info: dist_info.clone(),
        ..Removed::default()
    };
    let record_path = dist_info.join("RECORD");
    let text = match fs::read(&record_path) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(io_error("read", &record_path)(err)),
    };
    let Some(text) = text else {
        tracing::warn!(dist_info = %dist_info.display(), "no RECORD: removing only the .dist-info directory");
        removed.record_missing = true;
        fs::remove_dir_all(&dist_info).map_err(io_error("remove", &dist_info))?;
        removed.dirs.push(dist_info);
        return Ok(removed);
    };

    // Directories that may have been emptied, by their resolved path.
    let mut touched: BTreeSet<PathBuf> = BTreeSet::new();
    for entry in record::paths(&text) {
        let skip = |removed: &mut Removed, reason| {
            tracing::warn!(%entry, ?reason, "not removing a RECORD entry");
            removed.skipped.push(Skipped {
                entry: entry.clone(),
                reason,
            });
        };
        let joined = site.join(&entry);
        let Some(lexical) = paths::normalize(&joined).filter(|path| path.starts_with(&root)) else {
            skip(&mut removed, SkipReason::OutsideEnvironment);
            continue;
        };
        let (Some(parent), Some(file_name)) = (lexical.parent(), lexical.file_name()) else {
            skip(&mut removed, SkipReason::OutsideEnvironment);
            continue;
        };
        let parent_real = match fs::canonicalize(parent) {
            Ok(real) => real,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                removed.missing.push(lexical);
                continue;
            }
            Err(err) => {
                skip(&mut removed, SkipReason::Io(err.to_string()));
                continue;
            }
        };
        if !parent_real.starts_with(&root_real) {
            skip(&mut removed, SkipReason::SymlinkOutsideEnvironment);
            continue;
        }
        let target = parent_real.join(file_name);
        match fs::symlink_metadata(&target) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                removed.missing.push(lexical);
                continue;
            }
            Err(err) => {
                skip(&mut removed, SkipReason::Io(err.to_string()));
                continue;
            }
            Ok(meta) if meta.is_dir() => {
                skip(&mut removed, SkipReason::Directory);
                continue;
            }
            Ok(_) => {}
        }
        if let Err(err) = fs::remove_file(&target) {
            skip(&mut removed, SkipReason::Io(err.to_string()));
            continue;
        }
        removed.files.push(lexical.clone());
        touched.insert(parent_real.clone());
        if let Some(stem) = file_name.to_str().and_then(|name| name.strip_suffix(".py")) {
            let cache = parent_real.join("__pycache__");
            remove_bytecode(&cache, stem, &mut removed);
            touched.insert(cache);
        }
    }

    fs::remove_dir_all(&dist_info).map_err(io_error("remove", &dist_info))?;
    removed.dirs.push(dist_info);

    // Deepest first, so a parent is tried after its children.
    let keep = skeleton(&root_real, &site_real);
    let mut candidates: Vec<PathBuf> = touched.into_iter().collect();
    candidates.sort_by_key(|path| std::cmp::Reverse(path.components().count()));
    for start in candidates {
        let mut directory = start.as_path();
        while directory.starts_with(&root_real) && !keep.contains(directory) {
            if fs::remove_dir(directory).is_err() {
                break;
            }
            removed.dirs.push(directory.to_path_buf());
            let Some(parent) = directory.parent() else {
                break;
            };
            directory = parent;
        }
    }
    Ok(removed)
}

/// The environment's own directories, never removed even when empty.
fn skeleton(root: &Path, site: &Path) -> BTreeSet<PathBuf> {
    let mut keep: BTreeSet<PathBuf> = ["bin", "Scripts", "include", "Include", "lib", "lib64", "Lib"]
        .iter()
        .map(|name| root.join(name))
        .collect();
    keep.insert(root.to_path_buf());
    keep.extend(site.ancestors().map(Path::to_path_buf));
    keep
}

/// Removes `{stem}.{tag}.pyc` and `{stem}.{tag}.opt-N.pyc` (PEP 3147/488) from `cache`.
fn remove_bytecode(cache: &Path, stem: &str, removed: &mut Removed) {
    let Ok(items) = fs::read_dir(cache) else {
        return;
    };
    for item in items.flatten() {
        let name = item.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|name| name.strip_prefix(stem))
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|rest| rest.strip_suffix(".pyc"))
        else {
            continue;
        };
        let parts: Vec<&str> = rest.split('.').collect();
        let matches = match parts.as_slice() {
            [tag] => !tag.is_empty(),
            [tag, optimization] => !tag.is_empty() && optimization.starts_with("opt-"),
            _ => false,
        };
        if matches && item.file_type().is_ok_and(|kind| kind.is_file()) {
            let path = item.path();
            if fs::remove_file(&path).is_ok() {
                removed.files.push(path);
            }
        }
    }
}
