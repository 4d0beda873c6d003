//! Prepare: a verified, unpacked wheel in the store for every distribution a
//! sync installs, before the environment is touched.
//!
//! Each pin is looked for in the store by the lock's hashes first (no index
//! asked). Otherwise its file comes from what the lock names (a pylock's
//! file, a `name @ url` requirement) or from the index, where each package's
//! page, choice and download run as one chain, and all chains at once: a
//! wheel downloads as soon as its own page is read.

use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

use axle_install::Manifest;
use axle_standards::{DistFilename, Tags, WheelFilename};
use futures::future::BoxFuture;

use super::environment::Environment;
use super::{Services, SyncError};
use crate::context::Invocation;
use crate::index::{
    DistFile, FetchContext, IndexSettings, IndexStrategy, IndexedFile, Refresh, RequestSettings, SourceLayers,
    file_link,
};
use crate::interpreter::InterpreterInfo;
use crate::lockfile::{Locked, LockedSet};
use crate::progress::{Phase, Reporter};

/// Where files may come from, as the request says.
pub struct Sources<'a> {
    pub invocation: &'a Invocation,
    /// Index options of the command line.
    pub cli: &'a IndexSettings,
    pub strategy: IndexStrategy,
    pub offline: bool,
}

/// A pin with its wheel in the store.
pub struct Prepared {
    pub locked: Locked,
    pub manifest: Manifest,
}

/// Gets a verified, unpacked wheel for every pin of `install`.
pub async fn prepare(
    services: &Services<'_>,
    environment: &Environment,
    sources: &Sources<'_>,
    wanted: &LockedSet,
    install: &[Locked],
    reporter: &dyn Reporter,
) -> Result<Vec<Prepared>, SyncError> {
    let tags = &environment.target.tags;
    let mut fetch = FetchContext::new(
        sources.offline,
        Refresh::None,
        RequestSettings::from_invocation(sources.invocation),
    );
    let mut ready = Vec::new();
    let mut named_files = Vec::new();
    let mut from_index: Vec<&Locked> = Vec::new();
    for locked in install {
        if let Some(manifest) = services.store.find(&locked.hashes, tags).await? {
            ready.push(Prepared {
                locked: locked.clone(),
                manifest,
            });
            continue;
        }
        match named_file(locked, wanted, tags, &sources.invocation.cwd)? {
            Some(file) => named_files.push((locked, file)),
            None => from_index.push(locked),
        }
    }

    let index_sources = if from_index.is_empty() {
        None
    } else {
        let pip_default = pip_default_index(services, &environment.info).await;
        let resolved = SourceLayers {
            invocation: sources.invocation,
            cli: sources.cli,
            files: &wanted.index,
            strategy: sources.strategy,
            pip_default: pip_default.as_deref(),
            site_prefix: Some(&environment.info.prefix),
        }
        .resolve()?;
        fetch = fetch.with_credentials(&resolved);
        Some(resolved)
    };
    let download_dir = services.store.download_dir();
    let mut chains: Vec<BoxFuture<'_, Result<Fetched, SyncError>>> = Vec::new();
    for (locked, file) in named_files {
        chains.push(Box::pin(fetch_into_store(
            services,
            &fetch,
            &download_dir,
            tags,
            locked.clone(),
            file,
        )));
    }
    if let Some(index_sources) = &index_sources {
        for locked in from_index {
            let (fetch, download_dir) = (&fetch, &download_dir);
            chains.push(Box::pin(async move {
                let files = if locked.hashes.is_empty() {
                    services
                        .index
                        .project(index_sources, &locked.name, fetch)
                        .await?
                        .to_vec()
                } else {
                    services
                        .index
                        .files_with_hashes(index_sources, &locked.name, &locked.hashes, fetch)
                        .await?
                };
                let chosen = choose_file(locked, &files, tags)?;
                fetch_into_store(services, fetch, download_dir, tags, locked.clone(), chosen).await
            }));
        }
    }
    let total = install.len() as u64;
    let mut done = ready.len() as u64;
    for result in futures::future::join_all(chains).await {
        let (prepared, filename) = result?;
        done += 1;
        reporter.progress(Phase::Download, &filename, done, total);
        ready.push(prepared);
    }
    Ok(ready)
}

/// The file the lock itself names for `locked`, if it names one: a
/// pylock.toml's wheel with one of the pin's hashes, or the wheel of a
/// `name @ url` requirement.
fn named_file(locked: &Locked, wanted: &LockedSet, tags: &Tags, cwd: &Path) -> Result<Option<DistFile>, SyncError> {
    let listed = locked
        .hashes
        .iter()
        .filter_map(|hash| wanted.files.get(hash).map(|file| (hash, file)))
        .filter_map(|(hash, file)| Some(((hash, file), WheelFilename::from_str(&file.filename).ok()?)))
        .collect::<Vec<_>>();
    if let Some((hash, file)) = tags.best_wheel(listed.iter().map(|(item, wheel)| (*item, wheel))) {
        return Ok(Some(DistFile::direct(
            file.filename.clone(),
            location_url(&file.location, cwd),
            Some(hash.clone()),
        )));
    }
    let Some(url) = &locked.url else {
        return Ok(None);
    };
    let parsed =
        url::Url::parse(url).map_err(|error| SyncError::Usage(format!("{}: {url}: {error}", locked.origin)))?;
    let (parsed, filename, sha256) = file_link(parsed);
    let fits = WheelFilename::from_str(&filename).is_ok_and(|wheel| tags.is_compatible(&wheel));
    if !fits {
        return Err(SyncError::Unsupported(format!(
            "{} comes from {url}, which is not a wheel for this environment (a source build would be needed)",
            locked.name
        )));
    }
    Ok(Some(DistFile::direct(filename, parsed.to_string(), sha256)))
}

/// A wheel in the store for a pin, and the file name it came as.
type Fetched = (Prepared, String);

/// Downloads `file` for `locked`, verified against the lock's hashes before
/// the store sees it, and unpacks it into the store. Two syncs that need
/// one wheel share its download: the second finds it stored.
async fn fetch_into_store(
    services: &Services<'_>,
    fetch: &FetchContext,
    dir: &Path,
    tags: &Tags,
    locked: Locked,
    file: DistFile,
) -> Result<Fetched, SyncError> {
    // A file name becomes a path below; one that could climb out of the
    // download directory is refused before anything is built.
    if !is_plain_wheel_name(&file.filename) {
        return Err(SyncError::Unsupported(format!(
            "refusing the file name `{}` for {}: not a plain wheel file name",
            file.filename.escape_debug(),
            locked.name
        )));
    }
    let store = services.store;
    let key = file.sha256.clone().unwrap_or_else(|| file.url.clone());
    let guard = store.fetch_guard(&key);
    let _held = guard.lock().await;
    if let Some(manifest) = store.find(&locked.hashes, tags).await? {
        return Ok((Prepared { locked, manifest }, file.filename));
    }
    let expected: Vec<String> = locked.hashes.iter().cloned().collect();
    let clock = Instant::now();
    let downloaded = services.index.download(&file, &expected, dir, fetch).await?;
    let download_ms = clock.elapsed().as_millis() as u64;
    // The store reads the wheel's name from its file: give it its own, in a
    // directory no other download uses.
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
    let manifest = store.add(&named, &downloaded.sha256, &file.filename, &file.url).await?;
    tracing::debug!(
        file = %file.filename,
        download_ms,
        unpack_ms = clock.elapsed().as_millis() as u64 - download_ms,
        "stored"
    );
    Ok((Prepared { locked, manifest }, file.filename))
}

/// The wheel of the pinned version that this environment installs, among
/// the files the lock's hashes allow.
fn choose_file(locked: &Locked, files: &[IndexedFile], tags: &Tags) -> Result<DistFile, SyncError> {
    let Some(version) = &locked.version else {
        return Err(SyncError::Usage(format!(
            "{} has neither a version nor a URL",
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
    // A file of unknown hash (a local find-links file) may still be the
    // one: the download is checked against the lock either way.
    let allowed = |file: &&&IndexedFile| {
        locked.hashes.is_empty() || file.file.sha256.as_ref().is_none_or(|sha| locked.hashes.contains(sha))
    };
    let wheels = of_version
        .iter()
        .filter(allowed)
        .filter_map(|file| match &file.filename {
            DistFilename::Wheel(wheel) => Some((*file, wheel)),
            DistFilename::SourceDist(_) => None,
        });
    if let Some(best) = tags.best_wheel(wheels) {
        return Ok(best.file.clone());
    }
    let has_sdist = of_version
        .iter()
        .any(|file| matches!(file.filename, DistFilename::SourceDist(_)));
    Err(SyncError::NoWheel {
        name: locked.name.to_string(),
        version: version.to_string(),
        detail: if has_sdist {
            " (only a source distribution, which needs a build axle cannot do yet)".to_string()
        } else if !locked.hashes.is_empty() {
            " whose hash the lock allows".to_string()
        } else {
            String::new()
        },
    })
}

/// A wheel file name that is safe as one path component.
fn is_plain_wheel_name(filename: &str) -> bool {
    !filename.is_empty()
        && !filename.starts_with('.')
        && !filename.contains(['/', '\\', '\0', '%'])
        && !filename.chars().any(char::is_control)
        && WheelFilename::from_str(filename).is_ok()
}

/// A pylock `path` (relative to the working directory) or URL, as a URL.
fn location_url(location: &str, cwd: &Path) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let path = cwd.join(location);
    url::Url::from_file_path(&path)
        .map(|url| url.to_string())
        .unwrap_or_else(|()| location.to_string())
}

/// A venv's interpreter has no pip; its base interpreter's pip names the
/// default index.
pub async fn pip_default_index(services: &Services<'_>, info: &InterpreterInfo) -> Option<String> {
    if let Some(index) = &info.pip_default_index {
        return Some(index.clone());
    }
    let base = services.interpreters.query(&info.base_executable).await.ok()?;
    base.pip_default_index.clone()
}
