//! The no-op check: a sync is remembered by the digest of its locks and
//! options and a stamp of the site-packages directory it left. The same
//! digest and an untouched directory (same inode, same mtime: installing or
//! removing anything changes it) mean nothing to do — answered with a read
//! and a `stat`, before any interpreter or lock is read.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::{SyncError, SyncRequest};
use crate::db::{self, Pool};

/// The last sync of each environment, in memory over the `venv_sync` table.
#[derive(Default)]
pub struct SyncMemo {
    last: Mutex<HashMap<PathBuf, LastSync>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct LastSync {
    lock_digest: String,
    site_packages: PathBuf,
    site_stamp: String,
    /// Local project directories installed from, with their fingerprints then.
    trees: Vec<(PathBuf, String)>,
}

impl SyncMemo {
    fn memory(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, LastSync>> {
        self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the last sync of `venv_root` had this digest and its
    /// site-packages is untouched since.
    pub async fn is_unchanged(&self, pool: &Pool, venv_root: &Path, digest: &str) -> bool {
        let remembered = self.memory().get(venv_root).cloned();
        let last = match remembered {
            Some(last) => last,
            None => {
                let row: Option<(String, String, String, String)> = sqlx::query_as(
                    "SELECT lock_digest, site_packages, site_stamp, trees_json FROM venv_sync WHERE venv = ?",
                )
                .bind(venv_root.to_string_lossy())
                .fetch_optional(pool)
                .await
                .ok()
                .flatten();
                let Some((lock_digest, site_packages, site_stamp, trees)) = row else {
                    return false;
                };
                LastSync {
                    lock_digest,
                    site_packages: PathBuf::from(site_packages),
                    site_stamp,
                    trees: serde_json::from_str(&trees).unwrap_or_default(),
                }
            }
        };
        last.lock_digest == digest
            && site_stamp(&last.site_packages).as_deref() == Some(last.site_stamp.as_str())
            && last
                .trees
                .iter()
                .all(|(tree, fingerprint)| axle_build_frontend::SourceTree::fingerprint(tree) == *fingerprint)
    }

    /// Remembers a finished sync from `lock_files`, with the local project directories it
    /// installed from and their `fingerprints`. The lock files stay on record with the venv
    /// (whoever synced it, from wherever), so that its state can be told later.
    pub async fn remember(
        &self,
        pool: &Pool,
        venv_root: &Path,
        digest: &str,
        site_packages: &Path,
        trees: Vec<(PathBuf, String)>,
        lock_files: &[PathBuf],
    ) -> Result<(), SyncError> {
        let Some(stamp) = site_stamp(site_packages) else {
            return Ok(());
        };
        let trees_json = serde_json::to_string(&trees).unwrap_or_else(|_| "[]".to_string());
        let lock_files_json = serde_json::to_string(lock_files).unwrap_or_else(|_| "[]".to_string());
        sqlx::query(
            "INSERT INTO venv_sync (venv, lock_digest, site_packages, site_stamp, synced_at, trees_json, lock_files_json)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (venv) DO UPDATE SET lock_digest = excluded.lock_digest,
                site_packages = excluded.site_packages, site_stamp = excluded.site_stamp,
                synced_at = excluded.synced_at, trees_json = excluded.trees_json,
                lock_files_json = excluded.lock_files_json",
        )
        .bind(venv_root.to_string_lossy())
        .bind(digest)
        .bind(site_packages.to_string_lossy())
        .bind(&stamp)
        .bind(db::now())
        .bind(trees_json)
        .bind(lock_files_json)
        .execute(pool)
        .await?;
        self.memory().insert(
            venv_root.to_path_buf(),
            LastSync {
                lock_digest: digest.to_string(),
                site_packages: site_packages.to_path_buf(),
                site_stamp: stamp,
                trees,
            },
        );
        Ok(())
    }
}

/// What decides a sync's result besides the environment: the lock files'
/// bytes and the options.
pub fn lock_digest(request: &SyncRequest, files: &[PathBuf]) -> Result<String, SyncError> {
    let mut hasher = Sha256::new();
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(
        format!(
            "{:?}|{:?}|{}",
            request.link_mode, request.index, request.compile_bytecode
        )
        .as_bytes(),
    );
    for file in files {
        let bytes = std::fs::read(file).map_err(|source| SyncError::Io {
            path: file.clone(),
            source,
        })?;
        hasher.update(file.as_os_str().as_encoded_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn site_stamp(site_packages: &Path) -> Option<String> {
    let meta = std::fs::metadata(site_packages).ok()?;
    Some(format!(
        "{}:{}:{}.{}",
        meta.dev(),
        meta.ino(),
        meta.mtime(),
        meta.mtime_nsec()
    ))
}
