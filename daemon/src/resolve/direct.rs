//! Packages the root requirements name by location (`name @ url`, a path, `git+…`): each has
//! one candidate, read before the solve — a source the caller read, or a wheel URL whose one
//! file is its candidate.

use std::collections::HashMap;
use std::sync::Arc;

use axle_standards::{PackageName, Version, VersionOrUrl};

use super::{Direct, ResolveError, ResolveRequest};
use crate::dist::{SourceDist, SourceMetadata};
use crate::index::{IndexedFile, Sha256Digest};

/// The candidates of root requirements named by location: those the caller read (sources)
/// and the wheel URLs, whose one file is their candidate.
pub(super) fn direct_files(request: &ResolveRequest) -> Result<HashMap<PackageName, Direct>, ResolveError> {
    let mut direct = request.direct.clone();
    for root in &request.requirements {
        let Some(VersionOrUrl::Url(url)) = &root.requirement.version_or_url else {
            continue;
        };
        let name = &root.requirement.name;
        if direct.contains_key(name) {
            continue;
        }
        let text = url.to_string();
        let parsed =
            url::Url::parse(&text).map_err(|error| ResolveError::Invalid(format!("{name} @ {text}: {error}")))?;
        let (parsed, filename, sha256) = crate::index::file_link(parsed);
        let Ok(dist) = axle_standards::DistFilename::try_from_filename(&filename, Some(name)) else {
            return Err(ResolveError::Invalid(format!(
                "{name} @ {text}: not a wheel or source distribution of {name}"
            )));
        };
        if !matches!(dist, axle_standards::DistFilename::Wheel(_)) {
            return Err(ResolveError::Index(crate::index::IndexError::NeedsBuild { filename }));
        }
        let sha256 = match sha256.as_deref().map(Sha256Digest::from_hex) {
            None => None,
            Some(Some(digest)) => Some(digest),
            Some(None) => {
                return Err(ResolveError::Invalid(format!(
                    "{name} @ {text}: its `#sha256=` is not a SHA-256 digest (64 hexadecimal digits)"
                )));
            }
        };
        let file = crate::index::DistFile::direct(filename, parsed.to_string(), sha256);
        direct.insert(
            name.clone(),
            Direct::Wheel(IndexedFile {
                file: Arc::new(file),
                filename: dist,
                source: Arc::from("direct"),
            }),
        );
    }
    Ok(direct)
}

/// The version a direct candidate has.
pub(super) fn direct_version(direct: &Direct) -> Version {
    match direct {
        Direct::Wheel(file) => file.filename.version().clone(),
        Direct::Source { metadata, .. } => metadata.metadata.version.clone(),
    }
}

/// The files whose hashes a lock lists for a source pin: its archive, if it is one.
pub(super) fn source_files(source: &SourceDist, metadata: &SourceMetadata) -> Vec<IndexedFile> {
    let SourceDist::Archive(archive) = source else {
        return Vec::new();
    };
    let Ok(filename) = axle_standards::DistFilename::try_from_filename(&archive.filename, None) else {
        return Vec::new();
    };
    let file = crate::index::DistFile::direct(
        archive.filename.clone(),
        archive.url.clone(),
        metadata.sha256.as_deref().and_then(Sha256Digest::from_hex),
    );
    vec![IndexedFile {
        file: Arc::new(file),
        filename,
        source: Arc::from("direct"),
    }]
}
