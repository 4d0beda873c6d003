//! A project's files grouped by version, with what the target can use.

use std::collections::{BTreeMap, HashSet};

use axle_standards::{DistFilename, PackageName, Version};

use super::{Target, python_allows};
use crate::index::IndexedFile;

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

/// The files of one version.
#[derive(Debug, Clone)]
pub struct VersionFiles {
    /// Every file of the version (all platforms), for hashes.
    pub all: Vec<IndexedFile>,
    /// The wheel the target would install, if any (index into `all`).
    pub best_wheel: Option<usize>,
    /// Some wheel, compatible or not (its metadata stands in for the
    /// version's when no compatible wheel exists).
    pub any_wheel: Option<usize>,
    pub sdist: Option<usize>,
    /// Every usable file is yanked.
    pub yanked: bool,
}

impl VersionFiles {
    /// Whether the target can install this version at all.
    pub fn installable(&self) -> bool {
        self.best_wheel.is_some() || self.sdist.is_some()
    }

    /// The file whose metadata describes this version for the target.
    pub fn metadata_file(&self) -> Option<&IndexedFile> {
        self.best_wheel
            .or(self.any_wheel)
            .or(self.sdist)
            .and_then(|index| self.all.get(index))
    }
}

#[derive(Debug, Default)]
pub struct Candidates {
    pub versions: BTreeMap<Version, VersionFiles>,
}

pub fn group(
    name: &PackageName,
    files: Vec<IndexedFile>,
    target: &Target,
    exclude_newer: Option<jiff::Timestamp>,
    binaries: &BinaryPolicy,
) -> Candidates {
    let mut versions: BTreeMap<Version, VersionFiles> = BTreeMap::new();
    let mut best_priority: BTreeMap<Version, (usize, Option<(u64, String)>)> = BTreeMap::new();
    for file in files {
        if let (Some(limit), Some(uploaded)) = (exclude_newer, &file.file.upload_time)
            && uploaded
                .parse::<jiff::Timestamp>()
                .is_ok_and(|uploaded| uploaded > limit)
        {
            continue;
        }
        let version = file.filename.version().clone();
        let entry = versions.entry(version.clone()).or_insert_with(|| VersionFiles {
            all: Vec::new(),
            best_wheel: None,
            any_wheel: None,
            sdist: None,
            yanked: true,
        });
        let index = entry.all.len();
        let python_ok = file
            .file
            .requires_python
            .as_deref()
            .is_none_or(|specifiers| python_allows(specifiers, &target.python_full_version));
        let mut usable = false;
        match &file.filename {
            DistFilename::Wheel(wheel) => {
                if entry.any_wheel.is_none() {
                    entry.any_wheel = Some(index);
                }
                if python_ok
                    && binaries.allows_wheel(name)
                    && let Some(priority) = target.tags.compatibility(wheel)
                {
                    usable = true;
                    let build = wheel.build_tag.as_ref().map(|tag| (tag.number, tag.suffix.clone()));
                    // Lower priority is better; among equals, the higher build tag.
                    let better = match best_priority.get(&version) {
                        None => true,
                        Some((known, known_build)) => {
                            priority.0 < *known || (priority.0 == *known && build > *known_build)
                        }
                    };
                    if better {
                        best_priority.insert(version.clone(), (priority.0, build));
                        entry.best_wheel = Some(index);
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
        entry.all.push(file);
    }
    Candidates { versions }
}
