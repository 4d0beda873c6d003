//! `axle export --wheelhouse DIR LOCK…`: every file a lock installs on a target, in one
//! directory, so that `pip install --no-index --find-links DIR --require-hashes -r LOCK` needs
//! no network (inside an image, say).
//!
//! Stages, as for a sync: read the locks for the target's markers → plan each pin's file (the
//! store's archive when it holds one the lock's hashes allow for the target's tags, else the
//! index's best file for the target) → fetch what is missing into the store → place each file
//! in the wheelhouse (a hard link from the store, a copy across filesystems). The target is
//! what `--python-version`/`--python-platform` name, else what the locks were made for (their
//! headers: a lock for CPython 3.12 on manylinux, made on a laptop, exports cp312 manylinux
//! wheels without repeating the flags), else an interpreter's. Flags or an interpreter that
//! are not what a lock was made for are refused, naming both (`lockfile::target`).
//!
//! A pin the index offers only as an sdist goes into the wheelhouse as that sdist, verified:
//! pip builds it in the image. (A wheel built here would not do: its hash is not the lock's,
//! and pip's `--require-hashes` skips it.) Pins named by location (a directory, a Git URL) are
//! refused by name: a wheelhouse cannot carry them.
//!
//! The wheelhouse may hold other files: none is removed or replaced; a file of the same name
//! and other content is an error that names it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use axle_standards::WheelFilename;

use crate::context::Invocation;
use crate::index::{FetchContext, IndexSettings, IndexStrategy, Refresh, RequestSettings, SourceLayers};
use crate::lockfile::{self, Locked, LockedSource, LockfileError};
use crate::progress::{NoticeLevel, Phase, Reporter};
use crate::services::Services;
use crate::sync::SyncError;
use crate::sync::intake::{Choice, choose_file, download_into_store, files_of_pin, is_plain_file_name};
use crate::target;
use crate::wheels::WheelStore;

pub struct ExportRequest {
    pub invocation: Invocation,
    pub lock_files: Vec<PathBuf>,
    pub wheelhouse: PathBuf,
    pub python: Option<String>,
    pub python_version: Option<String>,
    pub python_platform: Option<String>,
    pub index: IndexSettings,
    pub strategy: IndexStrategy,
    pub offline: bool,
}

#[derive(Debug, Default)]
pub struct ExportOutcome {
    pub wheelhouse: PathBuf,
    /// File names placed (or already there, identical), sorted.
    pub files: Vec<String>,
    /// Of them, fetched from an index for this export.
    pub downloaded: u64,
    /// Of them, sdists pip will build in the image.
    pub sdists: Vec<String>,
}

pub async fn export(
    services: &Services,
    request: ExportRequest,
    reporter: &dyn Reporter,
) -> Result<ExportOutcome, SyncError> {
    let invocation = &request.invocation;
    if request.lock_files.is_empty() {
        return Err(SyncError::Usage("name at least one lock file to export".to_string()));
    }
    let lock_files: Vec<PathBuf> = request
        .lock_files
        .iter()
        .map(|file| invocation.absolute(file))
        .collect();
    let wheelhouse = invocation.absolute(&request.wheelhouse);

    // The target: the one named, else the one the locks were made for (their headers), else an
    // interpreter's. A flag or an interpreter that is not what a lock was made for is refused:
    // its pins and wheels would be another target's, found out only when pip fails in the image.
    let lock_targets = lockfile::target::read_all(&lock_files)?;
    let settled = lockfile::target::settle(
        &lock_targets,
        request.python_version.as_deref(),
        request.python_platform.as_deref(),
    )
    .map_err(LockfileError::from)?;
    let explicit = settled.python_version.is_some() && settled.python_platform.is_some();
    let interpreter = match services.interpreters.find(request.python.as_deref(), invocation).await {
        Ok(found) => Some(found),
        Err(_) if explicit => None,
        Err(error) => return Err(error.into()),
    };
    let target = match &interpreter {
        Some(found) => services.targets.get(
            &found.info,
            settled.python_version.as_deref(),
            settled.python_platform.as_deref(),
        ),
        None => target::target_without_interpreter(
            settled.python_version.as_deref().unwrap_or("3"),
            settled.python_platform.as_deref().unwrap_or("linux"),
        ),
    }
    .map_err(|error| SyncError::Usage(error.to_string()))?;
    let described = target::describe(&target);
    let what = match (&interpreter, explicit) {
        (Some(found), false) => format!("the interpreter {} is {described}", found.info.executable.display()),
        _ => format!("the export's target is {described}"),
    };
    if let Some(mismatch) = lockfile::target::first_mismatch(&lock_targets, &target, &what) {
        return Err(LockfileError::from(mismatch).into());
    }
    if let Some(from_lock) = lock_targets.first()
        && (request.python_version.is_none() || request.python_platform.is_none())
        && (settled.python_version != request.python_version || settled.python_platform != request.python_platform)
    {
        reporter.notice(
            NoticeLevel::Info,
            &format!(
                "exporting for {described}, the target {} was locked for",
                lockfile::target::shown(&from_lock.file)
            ),
        );
    }

    // Plan: the pins this target installs, and where each one's file comes from.
    let env: std::collections::HashMap<String, String> = invocation
        .env
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let wanted = lockfile::read(&lock_files, &env, &target.markers)?;
    let mut pins: Vec<&Locked> = Vec::new();
    for locked in wanted.dists.values() {
        match &locked.source {
            LockedSource::Registry => pins.push(locked),
            other => {
                return Err(SyncError::Unsupported(format!(
                    "{} ({}) is named by its location ({}); a wheelhouse carries only what an index serves",
                    locked.name,
                    locked.origin,
                    other.location()
                )));
            }
        }
    }
    if let Some(unnamed) = wanted.unnamed.first() {
        return Err(SyncError::Unsupported(format!(
            "{} names a project by its location; a wheelhouse carries only what an index serves",
            unnamed.origin
        )));
    }
    let sources = SourceLayers {
        invocation,
        cli: &request.index,
        files: &wanted.index,
        strategy: request.strategy,
        pip_default: interpreter
            .as_ref()
            .and_then(|found| found.info.pip_default_index.as_deref()),
        site_prefix: None,
    }
    .resolve()?;
    let fetch = FetchContext::new(
        request.offline,
        Refresh::None,
        RequestSettings::from_invocation(invocation),
    )
    .for_sources(&sources);

    std::fs::create_dir_all(&wheelhouse).map_err(|source| SyncError::Io {
        path: wheelhouse.clone(),
        source,
    })?;
    let download_dir = services.store.download_dir();
    let total = pins.len() as u64;
    let mut outcome = ExportOutcome {
        wheelhouse: wheelhouse.clone(),
        ..ExportOutcome::default()
    };
    // Prepare, all pins at once.
    let prepared = futures::future::join_all(
        pins.iter()
            .map(|locked| prepare_pin(services, &sources, &fetch, &download_dir, &target.tags, locked)),
    )
    .await;
    // Apply: place each file; nothing in the wheelhouse is replaced.
    for (done, result) in prepared.into_iter().enumerate() {
        let file = result?;
        place(&file.path, &wheelhouse.join(&file.filename))?;
        if file.temporary {
            let _ = std::fs::remove_file(&file.path);
        }
        if file.downloaded {
            outcome.downloaded += 1;
        }
        if file.sdist {
            outcome.sdists.push(file.filename.clone());
        }
        reporter.progress(Phase::Download, &file.filename, done as u64 + 1, total);
        outcome.files.push(file.filename);
    }
    outcome.files.sort();
    outcome.sdists.sort();
    Ok(outcome)
}

/// A pin's file, ready to be placed.
struct PinFile {
    filename: String,
    path: PathBuf,
    /// A verified download the store does not keep (an sdist): removed once placed.
    temporary: bool,
    downloaded: bool,
    sdist: bool,
}

async fn prepare_pin(
    services: &Services,
    sources: &crate::index::Sources,
    fetch: &FetchContext,
    download_dir: &Path,
    tags: &axle_standards::Tags,
    locked: &Locked,
) -> Result<PinFile, SyncError> {
    let store = &services.store;
    let _store_in_use = store.shared().await;
    if let Some(file) = stored_archive(store, &locked.hashes, tags).await? {
        return Ok(file);
    }
    let files = files_of_pin(services, sources, locked, fetch).await?;
    let expected: Vec<String> = locked.hashes.iter().cloned().collect();
    match choose_file(locked, &files, tags)? {
        Choice::Wheel(file) => {
            let key = file.sha256.map_or_else(|| file.url().into_owned(), |sha| sha.to_hex());
            let guard = store.fetch_guard(&key);
            let _held = guard.lock().await;
            let manifest = match stored_archive(store, &locked.hashes, tags).await? {
                Some(file) => return Ok(file),
                None => download_into_store(store, &services.index, fetch, download_dir, &file, &expected).await?,
            };
            match store.archive(&manifest.wheel_sha256).await? {
                Some((path, filename)) => Ok(PinFile {
                    filename,
                    path,
                    temporary: false,
                    downloaded: true,
                    sdist: false,
                }),
                None => Err(SyncError::Unsupported(format!(
                    "{} was stored without its wheel file",
                    file.filename
                ))),
            }
        }
        Choice::Sdist(sdist) => {
            if !is_plain_file_name(&sdist.file.filename) {
                return Err(SyncError::Unsupported(format!(
                    "refusing the file name `{}` for {}",
                    sdist.file.filename.escape_debug(),
                    locked.name
                )));
            }
            let downloaded = services
                .index
                .download(&sdist.file, &expected, download_dir, fetch)
                .await?;
            Ok(PinFile {
                filename: sdist.file.filename.clone(),
                path: downloaded.path,
                temporary: true,
                downloaded: true,
                sdist: true,
            })
        }
    }
}

/// The kept archive of a stored wheel with one of `hashes` that `tags` install, best first.
async fn stored_archive(
    store: &WheelStore,
    hashes: &BTreeSet<String>,
    tags: &axle_standards::Tags,
) -> Result<Option<PinFile>, SyncError> {
    let mut found = Vec::new();
    for hash in hashes {
        if let Some(filename) = store.filename_of(hash).await?
            && let Ok(wheel) = WheelFilename::from_str(&filename)
        {
            found.push((hash.clone(), wheel));
        }
    }
    while let Some(best) = tags.best_wheel(found.iter().enumerate().map(|(at, (_, wheel))| (at, wheel))) {
        let (hash, _) = found.swap_remove(best);
        if let Some((path, filename)) = store.archive(&hash).await? {
            return Ok(Some(PinFile {
                filename,
                path,
                temporary: false,
                downloaded: false,
                sdist: false,
            }));
        }
    }
    Ok(None)
}

/// Puts `source` at `target`: a hard link, else a copy. A file already there is kept when it
/// has the same bytes, and is an error otherwise.
fn place(source: &Path, target: &Path) -> Result<(), SyncError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SyncError::Io { path, source }
    };
    if let Ok(existing) = std::fs::symlink_metadata(target) {
        if existing.is_file() && same_bytes(source, target).map_err(io(target))? {
            return Ok(());
        }
        return Err(SyncError::Usage(format!(
            "{} already exists with other content; axle replaces nothing it did not put there (remove it, or export into another directory)",
            target.display()
        )));
    }
    match std::fs::hard_link(source, target) {
        Ok(()) => Ok(()),
        Err(_) => {
            // Another filesystem, or the link limit: a copy, written then renamed.
            let parent = target.parent().unwrap_or(Path::new("."));
            let temp = tempfile::Builder::new()
                .prefix(".axle-export-")
                .tempfile_in(parent)
                .map_err(io(parent))?;
            std::fs::copy(source, temp.path()).map_err(io(target))?;
            temp.persist_noclobber(target).map_err(|error| SyncError::Io {
                path: target.to_path_buf(),
                source: error.error,
            })?;
            Ok(())
        }
    }
}

fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (meta_a, meta_b) = (std::fs::metadata(a)?, std::fs::metadata(b)?);
    if meta_a.len() != meta_b.len() {
        return Ok(false);
    }
    Ok(std::fs::read(a)? == std::fs::read(b)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placing_keeps_identical_files_and_refuses_to_replace_others() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source.whl");
        std::fs::write(&source, b"wheel bytes").unwrap();
        let house = dir.path().join("house");
        std::fs::create_dir(&house).unwrap();
        let target = house.join("a-1.0-py3-none-any.whl");
        place(&source, &target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"wheel bytes");
        // Again: the same bytes are already there.
        place(&source, &target).unwrap();
        let other = house.join("b-1.0-py3-none-any.whl");
        std::fs::write(&other, b"someone else's").unwrap();
        let error = place(&source, &other).unwrap_err().to_string();
        assert!(error.contains("already exists with other content"), "{error}");
        assert_eq!(std::fs::read(&other).unwrap(), b"someone else's");
    }
}
