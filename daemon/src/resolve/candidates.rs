//! A project's files grouped by version, with what the target can use.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axle_standards::{DistFilename, PackageName, Version, WheelRank, requires_python_allows, usable_at_or_above};

use crate::index::IndexedFile;
use crate::target::Target;

/// `--only-binary` / `--no-binary`, as pip reads them.
#[derive(Debug, Clone, Default)]
pub struct BinaryPolicy {
    pub only_binary_all: bool,
    pub only_binary: HashSet<PackageName>,
    pub no_binary_all: bool,
    pub no_binary: HashSet<PackageName>,
}

impl BinaryPolicy {
    fn allows_wheel(&self, name: &PackageName) -> bool {
        // A package named in --only-binary overrides --no-binary :all:.
        self.only_binary.contains(name) || !(self.no_binary_all || self.no_binary.contains(name))
    }

    fn allows_sdist(&self, name: &PackageName) -> bool {
        self.no_binary.contains(name) || !(self.only_binary_all || self.only_binary.contains(name))
    }
}

/// The files of one version, as positions in the project's file list.
#[derive(Debug, Clone)]
pub struct VersionFiles {
    /// Every file of the version (all platforms), for hashes.
    pub all: Vec<usize>,
    /// The wheel the target would install, if any (in a universal resolution, when the target
    /// would install none: a wheel some other environment would).
    pub best_wheel: Option<usize>,
    /// Some wheel, compatible or not (its metadata stands in for the
    /// version's when no compatible wheel exists).
    pub any_wheel: Option<usize>,
    pub sdist: Option<usize>,
    /// Every usable file is yanked.
    pub yanked: bool,
    /// In a universal resolution, what the version's files declare as `Requires-Python`.
    pub requires_python: Option<Arc<str>>,
    /// In a universal resolution, the wheel the target itself would take, whatever the fork:
    /// its metadata stands for the version's in every fork, so each version's is fetched once.
    pub target_wheel: Option<usize>,
}

impl VersionFiles {
    /// Whether the target can install this version at all.
    pub fn installable(&self) -> bool {
        self.best_wheel.is_some() || self.sdist.is_some()
    }
}

/// A project's files grouped by version, for one target.
#[derive(Debug, Default)]
pub struct Candidates {
    pub files: Arc<Vec<IndexedFile>>,
    pub versions: BTreeMap<Version, VersionFiles>,
}

impl Candidates {
    /// The file whose metadata describes `version` for the target.
    pub fn metadata_file(&self, version: &Version) -> Option<&IndexedFile> {
        let files = self.versions.get(version)?;
        self.metadata_wheel(version)
            .or_else(|| files.sdist.and_then(|index| self.files.get(index)))
    }

    /// The wheel whose metadata describes `version` for the target, if it has one: what
    /// `metadata_file` reads without a build.
    pub fn metadata_wheel(&self, version: &Version) -> Option<&IndexedFile> {
        let files = self.versions.get(version)?;
        files
            .target_wheel
            .or(files.best_wheel)
            .or(files.any_wheel)
            .and_then(|index| self.files.get(index))
    }

    /// Every file of `version`.
    pub fn files_of(&self, version: &Version) -> Vec<IndexedFile> {
        self.versions
            .get(version)
            .map(|files| {
                files
                    .all
                    .iter()
                    .filter_map(|&index| self.files.get(index).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Groups `files` by version, with what `target` can install — or, for a universal resolution
/// (`universal`: its lowest Python), what some Python at or above it can install on some
/// platform, preferring for metadata the wheel the target itself would take.
pub fn group(
    name: &PackageName,
    files: Arc<Vec<IndexedFile>>,
    target: &Target,
    universal: Option<&Version>,
    exclude_newer: Option<jiff::Timestamp>,
    binaries: &BinaryPolicy,
) -> Candidates {
    // A universal resolution checks `Requires-Python` when it chooses a version (it may fork
    // there, see `Provider::choose_version`), and only the Python tags of wheels here.
    let universal = universal.map(|version| {
        let release = version.release();
        let part = |index: usize| {
            release
                .get(index)
                .map_or(0, |&number| u32::try_from(number).unwrap_or(u32::MAX))
        };
        (part(0), part(1))
    });
    let mut versions: BTreeMap<Version, VersionFiles> = BTreeMap::new();
    let mut best_rank: BTreeMap<Version, WheelRank> = BTreeMap::new();
    let mut target_rank: BTreeMap<Version, WheelRank> = BTreeMap::new();
    // Many files share one requires-python string: judge each string once.
    let mut python_verdicts: HashMap<&str, bool> = HashMap::new();
    for (index, file) in files.iter().enumerate() {
        if let (Some(limit), Some(uploaded)) = (exclude_newer, file.file.upload_time)
            && uploaded > limit
        {
            continue;
        }
        let version = file.filename.version();
        let entry = versions.entry(version.clone()).or_insert_with(|| VersionFiles {
            all: Vec::new(),
            best_wheel: None,
            any_wheel: None,
            sdist: None,
            yanked: true,
            requires_python: None,
            target_wheel: None,
        });
        entry.all.push(index);
        let python_ok = match file.file.requires_python.as_deref() {
            None => true,
            Some(_) if universal.is_some() => true,
            Some(specifiers) => *python_verdicts
                .entry(specifiers)
                .or_insert_with(|| requires_python_allows(specifiers, &target.python_full_version)),
        };
        let mut usable = false;
        match &file.filename {
            DistFilename::Wheel(wheel) => {
                if entry.any_wheel.is_none() {
                    entry.any_wheel = Some(index);
                }
                if universal.is_some()
                    && let Some(rank) = target.tags.rank(wheel)
                    && target_rank.get(version).is_none_or(|known| rank < *known)
                {
                    target_rank.insert(version.clone(), rank);
                    entry.target_wheel = Some(index);
                }
                let possible = universal.is_none_or(|lowest| usable_at_or_above(wheel, lowest));
                if python_ok && possible && binaries.allows_wheel(name) {
                    match target.tags.rank(wheel) {
                        Some(rank) => {
                            usable = true;
                            if best_rank.get(version).is_none_or(|known| rank < *known) {
                                best_rank.insert(version.clone(), rank);
                                entry.best_wheel = Some(index);
                            }
                        }
                        None if universal.is_some() => {
                            usable = true;
                            entry.best_wheel = entry.best_wheel.or(Some(index));
                        }
                        None => {}
                    }
                }
            }
            DistFilename::SourceDist(_) => {
                if python_ok && binaries.allows_sdist(name) {
                    usable = true;
                    if entry.sdist.is_none() {
                        entry.sdist = Some(index);
                    }
                }
            }
        }
        if usable && file.file.yanked.is_none() {
            entry.yanked = false;
        }
        if usable && universal.is_some() && entry.requires_python.is_none() {
            entry.requires_python = file.file.requires_python.clone();
        }
    }
    Candidates { files, versions }
}

/// Grouped candidates, kept across resolutions while the project's file
/// list (the very same list, by pointer) and the target are unchanged.
#[derive(Default)]
pub struct CandidateCache {
    entries: Mutex<HashMap<(PackageName, u64), Arc<Candidates>>>,
}

impl CandidateCache {
    /// Forgets the groupings of file lists no cached page holds any more (an idle daemon's
    /// trim): they would keep those lists alive, and are quick to make again.
    pub fn forget_unshared(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.retain(|_, candidates| Arc::strong_count(&candidates.files) > 1);
        entries.shrink_to_fit();
    }

    pub fn get_or_group(
        &self,
        name: &PackageName,
        files: Arc<Vec<IndexedFile>>,
        target_key: u64,
        group_with: impl FnOnce(Arc<Vec<IndexedFile>>) -> Candidates,
    ) -> Arc<Candidates> {
        let key = (name.clone(), target_key);
        if let Some(known) = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&key)
            && Arc::ptr_eq(&known.files, &files)
        {
            return known.clone();
        }
        let grouped = Arc::new(group_with(files));
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key, grouped.clone());
        grouped
    }
}
