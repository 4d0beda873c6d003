//! Reading lock files for `sync`: exact pins with their hashes and
//! markers, from one or several requirements.txt files (pip-sync's input).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use axle_standards::requirements_txt::Location;
use axle_standards::{
    MarkerEnvironment, Operator, PackageName, RequirementsTxt, Version, VersionOrUrl, ViaKind, evaluate,
};

use super::SyncError;
use crate::index::IndexSettings;

/// One distribution a lock names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    pub name: PackageName,
    /// `None` for a direct URL requirement.
    pub version: Option<Version>,
    pub url: Option<String>,
    /// Lower-case hex SHA-256 digests; any of them may match.
    pub hashes: BTreeSet<String>,
    /// `file:line` of the pin, for messages.
    pub origin: String,
}

#[derive(Debug, Default)]
pub struct LockedSet {
    pub dists: BTreeMap<PackageName, Locked>,
    /// Index options written in the lock files.
    pub index: Vec<IndexSettings>,
    /// Whether any pin carries hashes (then every pin must).
    pub hashed: bool,
}

/// Reads and merges `files`, keeping the pins whose markers hold for
/// `markers`. Two files pinning one package differently is an error.
pub fn read(
    files: &[PathBuf],
    env: &HashMap<String, String>,
    markers: &MarkerEnvironment,
) -> Result<LockedSet, SyncError> {
    let mut set = LockedSet::default();
    for file in files {
        if file.extension().is_some_and(|extension| extension == "in") {
            return Err(SyncError::Usage(format!(
                "{} is a .in file: sync takes the lock made from it (run `axle lock` and pass the .txt)",
                file.display()
            )));
        }
        let parsed = RequirementsTxt::read(file, ViaKind::Requirement, env)?;
        if let Some(editable) = parsed.editables.first() {
            return Err(SyncError::Unsupported(format!(
                "{}:{}: editable requirements need a source build, which axle cannot do yet",
                editable.origin.file.display(),
                editable.origin.line
            )));
        }
        let location = |location: &Location| match location {
            Location::Url(url) => url.to_string(),
            Location::Path(path) => path.display().to_string(),
        };
        set.index.push(IndexSettings {
            index_url: parsed.options.index_url.as_ref().map(location),
            extra_index_urls: parsed.options.extra_index_urls.iter().map(location).collect(),
            find_links: parsed.options.find_links.iter().map(location).collect(),
            no_index: parsed.options.no_index,
        });
        for entry in parsed.requirements {
            let requirement = entry.requirement;
            if !evaluate(&requirement.marker, markers, &[]) {
                continue;
            }
            let origin = format!("{}:{}", shown(&entry.origin.file), entry.origin.line);
            let (version, url) = match &requirement.version_or_url {
                Some(VersionOrUrl::VersionSpecifier(specifiers)) => {
                    let exact = specifiers.iter().find(|specifier| {
                        matches!(specifier.operator(), Operator::Equal | Operator::ExactEqual)
                            && !specifier.version().to_string().contains('*')
                    });
                    match (exact, specifiers.len()) {
                        (Some(specifier), 1) => (Some(specifier.version().clone()), None),
                        _ => return Err(not_pinned(&origin, &requirement.name)),
                    }
                }
                Some(VersionOrUrl::Url(url)) => (None, Some(url.to_string())),
                None => return Err(not_pinned(&origin, &requirement.name)),
            };
            let mut hashes = BTreeSet::new();
            for hash in &entry.hashes {
                if let Some(digest) = hash.strip_prefix("sha256:") {
                    hashes.insert(digest.to_ascii_lowercase());
                }
            }
            if !entry.hashes.is_empty() && hashes.is_empty() {
                return Err(SyncError::Usage(format!(
                    "{origin}: {} has hashes but no sha256 one; axle verifies sha256",
                    requirement.name
                )));
            }
            set.hashed |= !hashes.is_empty();
            let locked = Locked {
                name: requirement.name.clone(),
                version,
                url,
                hashes,
                origin,
            };
            match set.dists.get_mut(&locked.name) {
                Some(known) if known.version != locked.version || known.url != locked.url => {
                    return Err(SyncError::Conflict(format!(
                        "{} is pinned to {} at {} and to {} at {}",
                        locked.name,
                        describe(known),
                        known.origin,
                        describe(&locked),
                        locked.origin
                    )));
                }
                Some(known) => known.hashes.extend(locked.hashes),
                None => {
                    set.dists.insert(locked.name.clone(), locked);
                }
            }
        }
    }
    if set.hashed
        && let Some(unhashed) = set.dists.values().find(|locked| locked.hashes.is_empty())
    {
        return Err(SyncError::Usage(format!(
            "{}: {} has no hash while other pins do; a hashed lock must hash every pin",
            unhashed.origin, unhashed.name
        )));
    }
    Ok(set)
}

fn not_pinned(origin: &str, name: &PackageName) -> SyncError {
    SyncError::Usage(format!(
        "{origin}: {name} is not pinned with ==; sync installs exactly what a lock names (make one with `axle lock`)"
    ))
}

fn describe(locked: &Locked) -> String {
    match (&locked.version, &locked.url) {
        (Some(version), _) => format!("=={version}"),
        (None, Some(url)) => url.clone(),
        (None, None) => "nothing".to_string(),
    }
}

fn shown(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
