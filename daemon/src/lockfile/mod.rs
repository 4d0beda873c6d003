//! Lock files: the formats `axle lock` writes — pip-compile's
//! `requirements.txt` and PEP 751's `pylock.toml` — and what `axle sync`
//! reads back from them: exact pins with their hashes, for one environment,
//! and the target each was made for (`target`).

pub mod pylock;
pub mod requirements_txt;
pub mod target;

pub use target::{LockTarget, Settled, TargetMismatch};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use axle_standards::{MarkerEnvironment, PackageName, Version};

use crate::index::IndexSettings;

#[derive(Debug, thiserror::Error)]
pub enum LockfileError {
    #[error(
        "{} is a .in file: sync takes the lock made from it (run `axle lock` and pass the .txt)",
        .0.display()
    )]
    NotALock(PathBuf),
    #[error(
        "{origin}: {name} is not pinned with ==; sync installs exactly what a lock names (make one with `axle lock`)"
    )]
    NotPinned { origin: String, name: PackageName },
    #[error("{origin}: {reason}")]
    Invalid { origin: String, reason: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("conflicting pins: {name} is pinned to {first} at {first_origin} and to {second} at {second_origin}")]
    Conflict {
        name: PackageName,
        first: String,
        first_origin: String,
        second: String,
        second_origin: String,
    },
    #[error(transparent)]
    Requirements(#[from] axle_standards::RequirementsTxtError),
    #[error(transparent)]
    Pylock(#[from] pylock::PylockError),
    #[error("{0}")]
    Target(#[from] TargetMismatch),
    #[error("cannot read {}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// One distribution a lock names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    pub name: PackageName,
    /// `None` for a distribution named by where it is (a URL, a directory, a repository).
    pub version: Option<Version>,
    pub source: LockedSource,
    /// Lower-case hex SHA-256 digests; any of them may match.
    pub hashes: BTreeSet<String>,
    /// `file:line` of the pin, for messages.
    pub origin: String,
}

/// Where a pinned distribution comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LockedSource {
    /// An index (or find-links), by name and version.
    #[default]
    Registry,
    /// `name @ https://…/file`: one wheel or sdist archive.
    Url(String),
    /// A project directory: `name @ file:///path`, or `-e path` when editable.
    Directory { path: PathBuf, editable: bool },
    /// A Git repository at a commit: `name @ git+…@commit`, or `-e git+…` when editable.
    Git { url: String, editable: bool },
}

impl LockedSource {
    /// Whether a hash can pin it: only archives have one file to hash (pip, too, cannot hash
    /// directories, repositories or editables).
    pub fn is_hashable(&self) -> bool {
        matches!(self, LockedSource::Registry | LockedSource::Url(_))
    }
}

impl Locked {
    /// `name==version`, `name @ url`, `-e path`, as users read a pin.
    pub fn describe(&self) -> String {
        match (&self.version, &self.source) {
            (Some(version), _) => format!("{}=={version}", self.name),
            (None, LockedSource::Directory { path, editable: true }) => format!("-e {}", path.display()),
            (None, LockedSource::Git { url, editable: true }) => format!("-e {url}"),
            (None, other) => format!("{} @ {}", self.name, other.location()),
        }
    }

    /// What the pin says, without the name (for conflicts).
    fn pinned_to(&self) -> String {
        match &self.version {
            Some(version) => format!("=={version}"),
            None => self.source.location(),
        }
    }
}

impl LockedSource {
    /// The URL or path, as a lock writes it.
    pub fn location(&self) -> String {
        match self {
            LockedSource::Registry => "an index".to_string(),
            LockedSource::Url(url) | LockedSource::Git { url, .. } => url.clone(),
            LockedSource::Directory { path, .. } => path.display().to_string(),
        }
    }
}

/// An editable the lock names without a name (`-e ./proj`): only its metadata says which
/// project it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnnamedLocked {
    pub source: LockedSource,
    pub origin: String,
}

/// What a set of lock files asks of one environment.
#[derive(Debug, Default)]
pub struct LockedSet {
    pub dists: BTreeMap<PackageName, Locked>,
    /// Index options written in the lock files.
    pub index: Vec<IndexSettings>,
    /// Whether any pin carries hashes (then every pin must).
    pub hashed: bool,
    /// Files a `pylock.toml` names directly, by the hash that identifies
    /// them: they need no index.
    pub files: HashMap<String, pylock::LockedFile>,
    /// Editables named only by their location.
    pub unnamed: Vec<UnnamedLocked>,
}

impl LockedSet {
    /// Adds a pin; the same pin from another file adds its hashes, a
    /// different one is a conflict.
    pub fn insert(&mut self, locked: Locked) -> Result<(), LockfileError> {
        self.hashed |= !locked.hashes.is_empty();
        match self.dists.get_mut(&locked.name) {
            Some(known) if known.version != locked.version || known.source != locked.source => {
                Err(LockfileError::Conflict {
                    name: locked.name.clone(),
                    first: known.pinned_to(),
                    first_origin: known.origin.clone(),
                    second: locked.pinned_to(),
                    second_origin: locked.origin,
                })
            }
            Some(known) => {
                known.hashes.extend(locked.hashes);
                Ok(())
            }
            None => {
                self.dists.insert(locked.name.clone(), locked);
                Ok(())
            }
        }
    }
}

/// Reads and merges the lock files `files` (requirements.txt files and
/// `pylock.toml`s), keeping the pins whose markers hold for `markers`.
/// Two files pinning one package differently is an error, and so is a lock
/// that hashes some pins and not others.
pub fn read(
    files: &[PathBuf],
    env: &HashMap<String, String>,
    markers: &MarkerEnvironment,
) -> Result<LockedSet, LockfileError> {
    let mut set = LockedSet::default();
    for file in files {
        let extension = file.extension().and_then(|extension| extension.to_str());
        match extension {
            Some("in") => return Err(LockfileError::NotALock(file.clone())),
            Some("toml") => pylock::read_locked(file, markers, &mut set)?,
            _ => requirements_txt::read_locked(file, env, markers, &mut set)?,
        }
    }
    if set.hashed
        && let Some(unhashed) = set
            .dists
            .values()
            .find(|locked| locked.hashes.is_empty() && locked.source.is_hashable())
    {
        return Err(LockfileError::Invalid {
            origin: unhashed.origin.clone(),
            reason: format!(
                "{} has no hash while other pins do; a hashed lock must hash every pin",
                unhashed.name
            ),
        });
    }
    Ok(set)
}

/// A file as messages name it: its file name alone.
fn shown(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
