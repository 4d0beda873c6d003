//! The store as a package index (`axle serve`): what a project page lists and where each
//! file's bytes come from.
//!
//! A page lists what the configured indexes offer for the project and what the store holds,
//! each file addressed by its SHA-256 (`files/<sha256>/<name>`). A file the store holds is
//! answered from its kept archive; one it lacks is fetched once from the index that listed it,
//! verified against that index's hash, stored (unpacked, archive kept) and then answered, so
//! every later request — and every later sync — finds it stored. Offline, pages list only
//! what the store holds.
//!
//! Only wheels pass through the store; an sdist is answered from a verified download that is
//! not kept. Core metadata (PEP 658) is offered for stored wheels, read from the store.
//!
//! This module knows nothing of HTTP: `http` renders what it returns.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use axle_standards::{DistFilename, PackageName};
use sha2::{Digest, Sha256};

use crate::index::{DistFile, FetchContext, IndexClient, IndexError, Sources};
use crate::sync::SyncError;
use crate::wheels::{StoredFile, WheelStore, WheelStoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Store(#[from] WheelStoreError),
    #[error("{0}")]
    Fetch(String),
}

/// One file on a served project page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedFile {
    pub filename: String,
    pub sha256: String,
    pub requires_python: Option<String>,
    /// `Some("")` when yanked without a reason.
    pub yanked: Option<String>,
    pub upload_time: Option<String>,
    pub size: Option<u64>,
    /// The SHA-256 of the file's core metadata, when it is served (stored wheels).
    pub metadata_sha256: Option<String>,
}

/// The index one `axle serve` offers.
pub struct ServedIndex {
    store: Arc<WheelStore>,
    index: Arc<IndexClient>,
    /// Where missing files come from; `None` offline.
    upstream: Option<(Sources, FetchContext)>,
    /// Files pages listed and the store lacks, by SHA-256: the only files fetched on request.
    listed: Mutex<HashMap<String, DistFile>>,
}

impl ServedIndex {
    pub fn new(
        store: Arc<WheelStore>,
        index: Arc<IndexClient>,
        upstream: Option<(Sources, FetchContext)>,
    ) -> ServedIndex {
        ServedIndex {
            store,
            index,
            upstream,
            listed: Mutex::default(),
        }
    }

    pub fn offline(&self) -> bool {
        self.upstream.is_none()
    }

    /// The projects the store holds wheels of (normalised names, sorted).
    pub async fn projects(&self) -> Result<Vec<String>, ServeError> {
        let mut names: Vec<String> = self
            .store
            .stored()
            .await?
            .into_iter()
            .filter_map(|file| PackageName::from_str(&file.name).ok().map(|name| name.to_string()))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The files of `name`: the upstream page's (unless offline) and the store's, one entry per
    /// file, sorted by file name.
    pub async fn project(&self, name: &str) -> Result<(String, Vec<ServedFile>), ServeError> {
        let name = PackageName::from_str(name).map_err(|_| ServeError::NotFound(format!("no project {name}")))?;
        let stored: Vec<StoredFile> = self
            .store
            .stored()
            .await?
            .into_iter()
            .filter(|file| PackageName::from_str(&file.name).is_ok_and(|stored| stored == name))
            .collect();
        let mut files: BTreeMap<String, ServedFile> = BTreeMap::new();
        if let Some((sources, fetch)) = &self.upstream {
            // A project the index does not have is an empty list: it may still be stored.
            let upstream = self.index.project(sources, &name, fetch).await?;
            let mut listed = lock(&self.listed);
            for indexed in upstream.iter() {
                // A file is addressed by its hash; one the index gives none for cannot be.
                let Some(sha256) = indexed.file.sha256.map(|sha| sha.to_hex()) else {
                    continue;
                };
                listed.insert(sha256.clone(), indexed.file.as_ref().clone());
                files.insert(
                    sha256.clone(),
                    ServedFile {
                        filename: indexed.file.filename.clone(),
                        sha256,
                        requires_python: indexed.file.requires_python.as_deref().map(str::to_string),
                        yanked: indexed.file.yanked.clone(),
                        upload_time: indexed.file.upload_time.map(|time| time.to_string()),
                        size: indexed.file.size,
                        metadata_sha256: None,
                    },
                );
            }
        }
        for file in stored {
            let Some(metadata) = self.metadata(&file.sha256).await? else {
                continue;
            };
            let metadata_sha256 = hex::encode(Sha256::digest(metadata.as_bytes()));
            let entry = files.entry(file.sha256.clone()).or_insert_with(|| ServedFile {
                filename: file.filename.clone(),
                sha256: file.sha256.clone(),
                requires_python: requires_python(&metadata),
                yanked: None,
                upload_time: None,
                size: Some(file.size),
                metadata_sha256: None,
            });
            entry.metadata_sha256 = Some(metadata_sha256);
        }
        if files.is_empty() {
            return Err(ServeError::NotFound(format!("no project {name}")));
        }
        let mut files: Vec<ServedFile> = files.into_values().collect();
        files.sort_by(|a, b| a.filename.cmp(&b.filename));
        Ok((name.to_string(), files))
    }

    /// The bytes of the file `filename` with SHA-256 `sha256`: the stored archive, else fetched
    /// (a file a page listed), verified and stored first.
    pub async fn file(&self, sha256: &str, filename: &str) -> Result<ServedBytes, ServeError> {
        let not_found = || ServeError::NotFound(format!("no file {filename} with SHA-256 {sha256}"));
        if let Some((path, stored_name)) = self.store.archive(sha256).await? {
            if stored_name != filename {
                return Err(not_found());
            }
            return Ok(ServedBytes::Stored(path));
        }
        let Some((_, fetch)) = &self.upstream else {
            return Err(not_found());
        };
        let listed = lock(&self.listed).get(sha256).cloned();
        let Some(file) = listed.filter(|file| file.filename == filename) else {
            return Err(not_found());
        };
        let expected = [sha256.to_string()];
        let dir = self.store.download_dir();
        if matches!(
            DistFilename::try_from_filename(filename, None),
            Ok(DistFilename::Wheel(_))
        ) {
            let guard = self.store.fetch_guard(sha256);
            let _held = guard.lock().await;
            if self.store.archive(sha256).await?.is_none() {
                crate::sync::intake::download_into_store(&self.store, &self.index, fetch, &dir, &file, &expected)
                    .await
                    .map_err(|error: SyncError| ServeError::Fetch(error.to_string()))?;
            }
            return match self.store.archive(sha256).await? {
                Some((path, _)) => Ok(ServedBytes::Stored(path)),
                None => Err(ServeError::Fetch(format!("{filename} was stored without its archive"))),
            };
        }
        let downloaded = self.index.download(&file, &expected, &dir, fetch).await?;
        Ok(ServedBytes::Temporary(downloaded.path))
    }

    /// Whether the store holds the wheel `filename` with SHA-256 `sha256`.
    pub async fn is_stored_as(&self, sha256: &str, filename: &str) -> bool {
        self.store
            .filename_of(sha256)
            .await
            .is_ok_and(|stored| stored.as_deref() == Some(filename))
    }

    /// The core metadata of a stored wheel.
    pub async fn metadata(&self, sha256: &str) -> Result<Option<String>, ServeError> {
        let Some(manifest) = self.store.manifest(sha256).await? else {
            return Ok(None);
        };
        Ok(self.store.file_text(&manifest, "METADATA").await)
    }
}

/// Where a served file's bytes are.
#[derive(Debug)]
pub enum ServedBytes {
    /// A stored archive: read-only, never removed while served (gc waits for no reader, but
    /// an open file outlives its unlinking).
    Stored(PathBuf),
    /// A verified download of a file the store does not keep; the reader removes it.
    Temporary(PathBuf),
}

/// `Requires-Python` of core metadata.
fn requires_python(metadata: &str) -> Option<String> {
    metadata
        .lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| line.strip_prefix("Requires-Python:"))
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::requires_python;

    #[test]
    fn requires_python_is_read_from_the_headers_only() {
        let cases = [
            ("Name: a\nRequires-Python: >=3.9\n\nbody", Some(">=3.9")),
            ("Name: a\n\nRequires-Python: >=3.9\n", None),
            ("Name: a\nRequires-Python:\n", None),
            ("Name: a\n", None),
        ];
        for (metadata, expected) in cases {
            assert_eq!(requires_python(metadata).as_deref(), expected, "{metadata:?}");
        }
    }
}
