//! Intake: a wheel's bytes into the store — from the team store (by a hash that names them),
//! or downloaded from where a file is (verified against the lock's hashes before the store
//! sees it) — and which file of a pinned version to take. Every path into the store goes
//! through `WheelStore::add`, which hashes the wheel again and checks each entry against its
//! RECORD: the one verification point, whatever the tier.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use axle_install::Manifest;
use axle_standards::{DistFilename, Tags, WheelFilename};

use super::SyncError;
use crate::index::{DistFile, FetchContext, IndexError, IndexedFile, Sources};
use crate::lockfile::Locked;
use crate::services::Services;
use crate::team::{TeamTier, TeamWheel};

/// The wheel `wheel` from the team store into the local store (verified twice: as it is read,
/// and by the store as any download is); `None` when it cannot be had.
pub(crate) async fn from_the_team(
    services: &Services,
    team: &TeamTier,
    download_dir: &Path,
    wheel: &TeamWheel,
) -> Result<Option<Manifest>, SyncError> {
    let guard = services.store.fetch_guard(&wheel.sha256);
    let _held = guard.lock().await;
    if let Some(manifest) = services.store.manifest(&wheel.sha256).await? {
        return Ok(Some(manifest));
    }
    std::fs::create_dir_all(download_dir).map_err(|source| SyncError::Io {
        path: download_dir.to_path_buf(),
        source,
    })?;
    let Some(path) = team.fetch_wheel(wheel, download_dir).await else {
        return Ok(None);
    };
    // The store reads the wheel's name from its file: give it its own, in a directory no
    // other download uses.
    let named_dir = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(download_dir)
        .map_err(|source| SyncError::Io {
            path: download_dir.to_path_buf(),
            source,
        })?;
    let named = named_dir.path().join(&wheel.filename);
    if let Err(source) = std::fs::rename(&path, &named) {
        let _ = std::fs::remove_file(&path);
        return Err(SyncError::Io { path: named, source });
    }
    let origin = format!("{}#{}", team.url(), wheel.filename);
    Ok(Some(
        services
            .store
            .add(&named, &wheel.sha256, &wheel.filename, &origin)
            .await?,
    ))
}

/// Downloads `file` for `locked`, verified against the lock's hashes before the store sees
/// it, and unpacks it into the store — from the team store when it holds this very file,
/// else from where the file is, and then offers it to the team store. Two syncs that need one
/// wheel share its download: the second finds it stored.
pub(crate) async fn fetch_into_store(
    services: &Services,
    fetch: &FetchContext,
    team: Option<&TeamTier>,
    dir: &Path,
    tags: &Tags,
    locked: &Locked,
    file: &DistFile,
) -> Result<Manifest, SyncError> {
    let store = &services.store;
    let expected: Vec<String> = locked.hashes.iter().cloned().collect();
    let known = file
        .sha256
        .map(|sha| sha.to_hex())
        .filter(|sha| expected.is_empty() || expected.contains(sha));
    if let (Some(team), Some(sha256)) = (team, &known) {
        let wheel = TeamWheel {
            sha256: sha256.clone(),
            filename: file.filename.clone(),
        };
        if let Some(manifest) = from_the_team(services, team, dir, &wheel).await? {
            return Ok(manifest);
        }
    }
    let key = file.sha256.map_or_else(|| file.url().into_owned(), |sha| sha.to_hex());
    let guard = store.fetch_guard(&key);
    let _held = guard.lock().await;
    if let Some(manifest) = store.find(&locked.hashes, tags).await? {
        return Ok(manifest);
    }
    let manifest = download_into_store(store, &services.index, fetch, dir, file, &expected).await?;
    if let Some(team) = team
        && let Ok(archive) = store.files().archive_path(&manifest.wheel_sha256)
    {
        team.offer_fetched(archive, &manifest.wheel_sha256, &manifest.filename);
    }
    Ok(manifest)
}

/// Downloads the wheel `file`, verified against `expected` (empty: the index's own hash)
/// before the store sees it, and unpacks it into the store, keeping its archive. The caller
/// holds the file's `fetch_guard`.
pub(crate) async fn download_into_store(
    store: &crate::wheels::WheelStore,
    index: &Arc<crate::index::IndexClient>,
    fetch: &FetchContext,
    dir: &Path,
    file: &DistFile,
    expected: &[String],
) -> Result<Manifest, SyncError> {
    // A file name becomes a path below; one that could climb out of the download directory
    // is refused before anything is built.
    if !is_plain_wheel_name(&file.filename) {
        return Err(SyncError::Unsupported(format!(
            "refusing the file name `{}`: not a plain wheel file name",
            file.filename.escape_debug(),
        )));
    }
    let clock = Instant::now();
    let downloaded = index.download(file, expected, dir, fetch).await?;
    crash_point!("sync-after-download");
    let download_ms = clock.elapsed().as_millis() as u64;
    // The store reads the wheel's name from its file: give it its own, in a directory no
    // other download uses.
    let named_dir = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(dir)
        .map_err(|source| SyncError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    let named = named_dir.path().join(&file.filename);
    if let Err(source) = std::fs::rename(&downloaded.path, &named) {
        let _ = std::fs::remove_file(&downloaded.path);
        return Err(SyncError::Io { path: named, source });
    }
    let manifest = store
        .add(&named, &downloaded.sha256, &file.filename, &file.url())
        .await?;
    crash_point!("sync-after-unpack");
    tracing::debug!(
        file = %file.filename,
        download_ms,
        unpack_ms = clock.elapsed().as_millis() as u64 - download_ms,
        "stored"
    );
    Ok(manifest)
}

pub(crate) enum Choice {
    Wheel(DistFile),
    Sdist(IndexedFile),
}

/// The wheel of the pinned version that this environment installs, among the files the
/// lock's hashes allow; else the version's sdist, to build.
/// The files the index lists that `locked` may install: those with the lock's hashes; for an
/// unhashed pin, its version's (without parsing the project's whole list); without a
/// version, the project's.
pub(crate) async fn files_of_pin(
    services: &Services,
    sources: &Sources,
    locked: &Locked,
    fetch: &FetchContext,
) -> Result<Vec<IndexedFile>, IndexError> {
    if !locked.hashes.is_empty() {
        return services
            .index
            .files_with_hashes(sources, &locked.name, &locked.hashes, fetch)
            .await;
    }
    match &locked.version {
        Some(version) => {
            services
                .index
                .files_of_version(sources, &locked.name, version, fetch)
                .await
        }
        None => Ok(services.index.project(sources, &locked.name, fetch).await?.to_vec()),
    }
}

pub(crate) fn choose_file(locked: &Locked, files: &[IndexedFile], tags: &Tags) -> Result<Choice, SyncError> {
    let Some(version) = &locked.version else {
        return Err(SyncError::Usage(format!(
            "{} has neither a version nor a location",
            locked.name
        )));
    };
    let of_version: Vec<&IndexedFile> = files.iter().filter(|file| file.filename.version() == version).collect();
    if of_version.is_empty() {
        return Err(SyncError::NoWheel {
            name: locked.name.to_string(),
            version: version.to_string(),
            detail: if locked.hashes.is_empty() {
                ": the index has no files of this version".to_string()
            } else {
                ": no file on the index has one of the lock's hashes".to_string()
            },
        });
    }
    // A file of unknown hash (a local find-links file) may still be the one: the download is
    // checked against the lock either way.
    let allowed = |file: &&&IndexedFile| {
        locked.hashes.is_empty() || file.file.sha256.is_none_or(|sha| locked.hashes.contains(&sha.to_hex()))
    };
    let wheels = of_version
        .iter()
        .filter(allowed)
        .filter_map(|file| match &file.filename {
            DistFilename::Wheel(wheel) => Some((*file, wheel)),
            DistFilename::SourceDist(_) => None,
        });
    if let Some(best) = tags.best_wheel(wheels) {
        return Ok(Choice::Wheel(best.file.as_ref().clone()));
    }
    if let Some(sdist) = of_version
        .iter()
        .filter(allowed)
        .find(|file| matches!(file.filename, DistFilename::SourceDist(_)))
    {
        return Ok(Choice::Sdist((*sdist).clone()));
    }
    Err(SyncError::NoWheel {
        name: locked.name.to_string(),
        version: version.to_string(),
        detail: if !locked.hashes.is_empty() {
            " whose hash the lock allows".to_string()
        } else {
            String::new()
        },
    })
}

/// A distribution file name (wheel or sdist) that is safe as one path component.
pub(crate) fn is_plain_file_name(filename: &str) -> bool {
    !filename.is_empty()
        && !filename.starts_with('.')
        && !filename.contains(['/', '\\', '\0', '%'])
        && !filename.chars().any(char::is_control)
        && DistFilename::try_from_filename(filename, None).is_ok()
}

/// A wheel file name that is safe as one path component.
fn is_plain_wheel_name(filename: &str) -> bool {
    is_plain_file_name(filename) && WheelFilename::from_str(filename).is_ok()
}

#[cfg(test)]
mod tests {
    use super::is_plain_wheel_name;

    /// The last guard before a file name becomes a path in the download directory. (Index
    /// pages cannot reach it with such names today — their file names must parse as wheel or
    /// sdist names first — so it has its own test: removing it fails this one.)
    #[test]
    fn only_plain_wheel_names_become_paths() {
        let cases = [
            ("demo-1.0-py3-none-any.whl", true),
            ("../demo-1.0-py3-none-any.whl", false),
            ("a/demo-1.0-py3-none-any.whl", false),
            ("demo-1.0-py3-none-any.whl/..", false),
            ("..%2Fdemo-1.0-py3-none-any.whl", false),
            (".demo-1.0-py3-none-any.whl", false),
            ("demo-1.0-py3-none-any.whl\0", false),
            ("demo\\..-1.0-py3-none-any.whl", false),
            ("demo-1.0.tar.gz", false),
            ("", false),
        ];
        for (name, expected) in cases {
            assert_eq!(is_plain_wheel_name(name), expected, "{name:?}");
        }
    }
}
