//! The wheel store as the daemon runs it: which wheels it holds (SQLite,
//! mirrored in memory), which environments use them, getting a verified
//! download into it, stats and gc.
//!
//! The files themselves are `axle_install::ObjectStore`'s business, under
//! `$AXLE_HOME/store`: content-addressed objects and one manifest per wheel.
//! A wheel is known here only after its manifest was written, so a row
//! always names a complete, verified unpacking.

mod upkeep;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use axle_install::{Manifest, ObjectStore, ObjectStoreError};
use axle_standards::{Tags, WheelFilename};

use crate::db::{self, Pool};

#[derive(Debug, thiserror::Error)]
pub enum WheelStoreError {
    #[error(transparent)]
    Store(#[from] ObjectStoreError),
    #[error("the store database failed: {0}")]
    Db(#[from] sqlx::Error),
    #[error("the store task stopped unexpectedly: {0}")]
    Task(String),
    #[error(
        "the store at {} is in use by another axle daemon (another AXLE_HOME sharing it); one store serves one daemon",
        .0.display()
    )]
    InUse(PathBuf),
    #[error("cannot prepare the store at {}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

pub struct WheelStore {
    store: Arc<ObjectStore>,
    pool: Pool,
    /// Held for the daemon's life: a second daemon pointed at this store
    /// (two homes sharing it by mistake) is refused rather than racing.
    _owner: std::fs::File,
    /// `sha256 → filename` of every stored wheel, loaded once: a hashed lock
    /// names hundreds of hashes, and each lookup must not be a query.
    known: tokio::sync::OnceCell<std::sync::Mutex<std::collections::HashMap<String, String>>>,
    /// One download at a time per file, however many syncs want it.
    fetching: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Wheels unpacked but not yet in `store_wheels`. A row per wheel, each
    /// in its own write, queued behind the index cache's large page writes
    /// for SQLite's one write lock: that wait, not the unpacking, was most of
    /// a cold sync. They are written in one transaction with the install
    /// records (`record_installs`), or by `flush`. One lost in a crash costs
    /// a download: the manifest without a row is not trusted or found.
    unrecorded: std::sync::Mutex<Vec<StoredWheel>>,
    /// Bumped whenever the store's files change (an unpack, a gc, a repair): the totals in
    /// `store_totals` hold for the generation they were counted at.
    generation: std::sync::atomic::AtomicU64,
    /// The generation `store_totals` was counted at, if it holds now.
    counted: std::sync::Mutex<Option<u64>>,
    /// Syncs and builds read the store; `gc` writes it and must run alone.
    use_guard: tokio::sync::RwLock<()>,
    /// Unpacks at once, about one per core: unpacking is file creation,
    /// and twenty threads creating files on one filesystem mostly wait for
    /// each other's locks in the kernel.
    unpacking: tokio::sync::Semaphore,
}

/// A `store_wheels` row waiting to be written.
#[derive(Debug, Clone)]
struct StoredWheel {
    sha256: String,
    filename: String,
    name: String,
    version: String,
    size: i64,
    unpacked_size: i64,
    source_url: String,
    added_at: i64,
}

/// What a sync installed: a distribution of a venv and its wheel.
#[derive(Debug, Clone)]
pub struct InstalledDist {
    pub name: String,
    pub version: String,
    pub wheel_sha256: String,
    /// What the wheel was built from, or the URL it came from (see `sync::plan::Present`).
    pub source_identity: Option<String>,
}

/// Totals for `axle store stats`.
#[derive(Debug, Default, Clone)]
pub struct StoreStats {
    pub wheels: u64,
    pub objects: u64,
    pub bytes_stored: u64,
    /// What the environments' files would take without sharing.
    pub bytes_linked: u64,
    pub venvs: u64,
    pub path: PathBuf,
}

/// A wheel the store holds, as `serve` lists it.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub sha256: String,
    pub filename: String,
    pub name: String,
    pub version: String,
    /// The wheel file's size.
    pub size: u64,
}

#[derive(Debug, Default, Clone)]
pub struct GcOutcome {
    pub wheels_removed: u64,
    pub files_removed: u64,
    pub bytes_freed: u64,
}

/// Whether the store and installs flush to disk (`AXLE_DURABLE=1`), read
/// from the daemon's environment.
pub fn durable() -> bool {
    std::env::var(axle_proto::env_vars::AXLE_DURABLE).is_ok_and(|value| value == "1" || value == "true")
}

impl WheelStore {
    pub fn open(root: &Path, pool: Pool) -> Result<WheelStore, WheelStoreError> {
        // Flushing every unpacked wheel to disk costs more than the unpacking;
        // it only matters if the machine (not a process) crashes, so it is
        // opt-in, like the installs' (AXLE_DURABLE=1).
        let mut store = ObjectStore::open(root)?.with_durability(durable());
        // A daemon-wide cap on what one wheel may unpack to (zip bombs).
        if let Some(cap) = std::env::var(axle_proto::env_vars::AXLE_MAX_WHEEL_SIZE)
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
        {
            let defaults = axle_install::Limits::default();
            store = store.with_limits(axle_install::Limits {
                max_total_size: cap,
                max_entry_size: cap.min(defaults.max_entry_size),
                ..defaults
            });
        }
        let lock_path = root.join("daemon.lock");
        let owner = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| WheelStoreError::Io {
                path: lock_path.clone(),
                source,
            })?;
        match owner.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(WheelStoreError::InUse(root.to_path_buf())),
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(WheelStoreError::Io {
                    path: lock_path,
                    source,
                });
            }
        }
        Ok(WheelStore {
            store: Arc::new(store),
            pool,
            _owner: owner,
            known: tokio::sync::OnceCell::new(),
            fetching: std::sync::Mutex::new(std::collections::HashMap::new()),
            unrecorded: std::sync::Mutex::new(Vec::new()),
            generation: std::sync::atomic::AtomicU64::new(0),
            counted: std::sync::Mutex::new(None),
            use_guard: tokio::sync::RwLock::new(()),
            unpacking: tokio::sync::Semaphore::new(
                std::thread::available_parallelism()
                    .map_or(2, |count| count.get())
                    .clamp(2, 8),
            ),
        })
    }

    /// The lock that serialises fetching the file `key` (its sha256).
    /// Held while a sync or a build uses the store (many at once).
    pub async fn shared(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.use_guard.read().await
    }

    /// Held while gc changes the store (nothing else at the same time).
    pub async fn exclusive(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.use_guard.write().await
    }

    pub fn fetch_guard(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut fetching = lock(&self.fetching);
        fetching.entry(key.to_string()).or_default().clone()
    }

    pub fn files(&self) -> Arc<ObjectStore> {
        self.store.clone()
    }

    /// A stored wheel with one of `hashes` that `tags` can install, without
    /// asking any index.
    pub async fn find(&self, hashes: &BTreeSet<String>, tags: &Tags) -> Result<Option<Manifest>, WheelStoreError> {
        let known = self.known().await?;
        let candidates: Vec<(String, String)> = {
            let known = lock(known);
            hashes
                .iter()
                .filter_map(|hash| known.get(hash).map(|filename| (hash.clone(), filename.clone())))
                .collect()
        };
        let mut compatible: Vec<(String, WheelFilename)> = candidates
            .into_iter()
            .filter_map(|(hash, filename)| Some((hash, WheelFilename::from_str(&filename).ok()?)))
            .collect();
        // The best first, as any other wheel choice makes it.
        while let Some(best) = tags.best_wheel(compatible.iter().enumerate().map(|(at, (_, wheel))| (at, wheel))) {
            let (hash, _) = compatible.swap_remove(best);
            if let Some(manifest) = self.manifest(&hash).await? {
                return Ok(Some(manifest));
            }
            // The manifest is gone or damaged: forget the row, fetch again.
            self.forget(&hash).await?;
        }
        Ok(None)
    }

    /// The stored wheels among `hashes`, whatever their tags: `(sha256, file name)`.
    pub async fn held(&self, hashes: &BTreeSet<String>) -> Result<Vec<(String, String)>, WheelStoreError> {
        let known = lock(self.known().await?);
        Ok(hashes
            .iter()
            .filter_map(|hash| known.get(hash).map(|filename| (hash.clone(), filename.clone())))
            .collect())
    }

    /// The file name of the stored wheel with SHA-256 `wheel_sha256`.
    pub async fn filename_of(&self, wheel_sha256: &str) -> Result<Option<String>, WheelStoreError> {
        Ok(lock(self.known().await?).get(wheel_sha256).cloned())
    }

    /// Where a stored wheel was fetched from (a URL, or what it was built from).
    pub async fn source_url_of(&self, wheel_sha256: &str) -> Result<Option<String>, WheelStoreError> {
        Ok(self.row_of(wheel_sha256).await?.and_then(|(_, url)| url))
    }

    /// A stored wheel's row: its file name and origin (also for wheels lookups no longer find).
    async fn row_of(&self, wheel_sha256: &str) -> Result<Option<(String, Option<String>)>, WheelStoreError> {
        self.flush().await?;
        Ok(
            sqlx::query_as("SELECT filename, source_url FROM store_wheels WHERE sha256 = ?")
                .bind(wheel_sha256)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The download directory, created if needed.
    pub fn download_dir_created(&self) -> Result<PathBuf, WheelStoreError> {
        let dir = self.download_dir();
        std::fs::create_dir_all(&dir).map_err(|source| WheelStoreError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(dir)
    }

    /// The stored wheels, loaded from SQLite on first use.
    async fn known(&self) -> Result<&std::sync::Mutex<std::collections::HashMap<String, String>>, WheelStoreError> {
        self.known
            .get_or_try_init(|| async {
                let rows: Vec<(String, String)> = sqlx::query_as("SELECT sha256, filename FROM store_wheels")
                    .fetch_all(&self.pool)
                    .await?;
                Ok::<_, WheelStoreError>(std::sync::Mutex::new(rows.into_iter().collect()))
            })
            .await
    }

    /// Forgets a wheel whose manifest is gone or damaged: no lookup finds it any more. Its row
    /// stays while its kept wheel file does (served, exported, and what `store verify
    /// --repair` restores venv files from); gc removes both.
    async fn forget(&self, hash: &str) -> Result<(), WheelStoreError> {
        let kept = self.store.archive_path(hash).is_ok_and(|path| path.is_file());
        if !kept {
            sqlx::query("DELETE FROM store_wheels WHERE sha256 = ?")
                .bind(hash)
                .execute(&self.pool)
                .await?;
            lock(&self.unrecorded).retain(|wheel| wheel.sha256 != hash);
        }
        lock(self.known().await?).remove(hash);
        Ok(())
    }

    /// The file name a stored wheel's row records (also for wheels lookups no longer find).
    pub async fn recorded_filename(&self, wheel_sha256: &str) -> Result<Option<String>, WheelStoreError> {
        Ok(self.row_of(wheel_sha256).await?.map(|(filename, _)| filename))
    }

    /// The manifest of a stored wheel, checked against its objects.
    pub async fn manifest(&self, wheel_sha256: &str) -> Result<Option<Manifest>, WheelStoreError> {
        let store = self.store.clone();
        let sha = wheel_sha256.to_string();
        tokio::task::spawn_blocking(move || store.manifest(&sha))
            .await
            .map_err(|error| WheelStoreError::Task(error.to_string()))?
            .map_err(WheelStoreError::from)
    }

    /// The text of `name` in a stored wheel's `.dist-info` directory.
    pub async fn file_text(&self, manifest: &Manifest, name: &str) -> Option<String> {
        let wanted = format!("{}/{name}", manifest.dist_info);
        let file = manifest.files.iter().find(|file| file.path == wanted)?;
        let path = self.store.object_path(&file.sha256, file.executable).ok()?;
        std::fs::read_to_string(path).ok()
    }

    /// Unpacks a verified download into the store and forgets the download.
    pub async fn add(
        &self,
        download: &Path,
        wheel_sha256: &str,
        filename: &str,
        source_url: &str,
    ) -> Result<Manifest, WheelStoreError> {
        let store = self.store.clone();
        let (path, sha) = (download.to_path_buf(), wheel_sha256.to_string());
        let size = std::fs::metadata(download).map(|meta| meta.len()).unwrap_or(0);
        let permit = self.unpacking.acquire().await;
        let result = tokio::task::spawn_blocking(move || {
            let manifest = store.unpack(&path, &sha)?;
            // The wheel file itself stays too, for `serve` and `export` (the exact bytes a lock's
            // hash names). Without it the store still installs; it only serves less.
            if let Err(error) = store.keep_archive(&path, &sha) {
                tracing::debug!(%error, "wheel archive not kept");
            }
            Ok::<_, ObjectStoreError>(manifest)
        })
        .await
        .map_err(|error| WheelStoreError::Task(error.to_string()));
        drop(permit);
        let _ = std::fs::remove_file(download);
        self.changed();
        let manifest = result??;
        let unpacked: u64 = manifest.files.iter().map(|file| file.size).sum();
        lock(&self.unrecorded).push(StoredWheel {
            sha256: wheel_sha256.to_string(),
            filename: filename.to_string(),
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            size: size as i64,
            unpacked_size: unpacked as i64,
            source_url: source_url.to_string(),
            added_at: db::now(),
        });
        // Found by the next lookup at once, row or not: the manifest is on disk.
        lock(self.known().await?).insert(wheel_sha256.to_string(), filename.to_string());
        Ok(manifest)
    }

    /// Where downloads wait to be verified and unpacked (inside the store,
    /// so the rename into it never crosses a filesystem).
    pub fn download_dir(&self) -> PathBuf {
        self.store.root().join("downloads")
    }

    /// Records that `venv` now has `installed`, together with the wheels
    /// unpacked since the last write, in one transaction.
    pub async fn record_installs(&self, venv: &Path, installed: &[InstalledDist]) -> Result<(), WheelStoreError> {
        let pending = std::mem::take(&mut *lock(&self.unrecorded));
        let result = self.write(&pending, venv, installed).await;
        if result.is_err() {
            // Tried again by the next write.
            lock(&self.unrecorded).extend(pending);
        }
        result
    }

    /// Writes the rows of wheels unpacked since the last write.
    pub async fn flush(&self) -> Result<(), WheelStoreError> {
        self.record_installs(Path::new(""), &[]).await
    }

    async fn write(
        &self,
        added: &[StoredWheel],
        venv: &Path,
        installed: &[InstalledDist],
    ) -> Result<(), WheelStoreError> {
        if added.is_empty() && installed.is_empty() {
            return Ok(());
        }
        let mut transaction = self.pool.begin().await?;
        for wheel in added {
            sqlx::query(
                "INSERT INTO store_wheels (sha256, filename, name, version, size, unpacked_size, source_url, added_at, last_used_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (sha256) DO UPDATE SET last_used_at = excluded.last_used_at",
            )
            .bind(&wheel.sha256)
            .bind(&wheel.filename)
            .bind(&wheel.name)
            .bind(&wheel.version)
            .bind(wheel.size)
            .bind(wheel.unpacked_size)
            .bind(&wheel.source_url)
            .bind(wheel.added_at)
            .bind(wheel.added_at)
            .execute(&mut *transaction)
            .await?;
        }
        let now = db::now();
        for dist in installed {
            sqlx::query(
                "INSERT INTO venv_dists (venv, name, version, wheel_sha256, installed_at, source_identity)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (venv, name) DO UPDATE SET version = excluded.version,
                    wheel_sha256 = excluded.wheel_sha256, installed_at = excluded.installed_at,
                    source_identity = excluded.source_identity",
            )
            .bind(venv.to_string_lossy())
            .bind(&dist.name)
            .bind(&dist.version)
            .bind(&dist.wheel_sha256)
            .bind(now)
            .bind(&dist.source_identity)
            .execute(&mut *transaction)
            .await?;
            sqlx::query("UPDATE store_wheels SET last_used_at = ? WHERE sha256 = ?")
                .bind(now)
                .bind(&dist.wheel_sha256)
                .execute(&mut *transaction)
                .await?;
        }
        if !installed.is_empty() {
            crash_point!("sync-before-commit");
        }
        transaction.commit().await?;
        Ok(())
    }

    pub async fn record_removal(&self, venv: &Path, name: &str) -> Result<(), WheelStoreError> {
        sqlx::query("DELETE FROM venv_dists WHERE venv = ? AND name = ?")
            .bind(venv.to_string_lossy())
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The wheel each distribution of `venv` was installed from.
    pub async fn installed_from(&self, venv: &Path) -> Result<Vec<InstalledDist>, WheelStoreError> {
        let rows: Vec<(String, String, String, Option<String>)> =
            sqlx::query_as("SELECT name, version, wheel_sha256, source_identity FROM venv_dists WHERE venv = ?")
                .bind(venv.to_string_lossy())
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(name, version, wheel_sha256, source_identity)| InstalledDist {
                name,
                version,
                wheel_sha256,
                source_identity,
            })
            .collect())
    }

    /// Every stored wheel, for serving the store as an index.
    pub async fn stored(&self) -> Result<Vec<StoredFile>, WheelStoreError> {
        self.flush().await?;
        let rows: Vec<(String, String, String, String, i64)> =
            sqlx::query_as("SELECT sha256, filename, name, version, size FROM store_wheels ORDER BY filename")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(sha256, filename, name, version, size)| StoredFile {
                sha256,
                filename,
                name,
                version,
                size: u64::try_from(size).unwrap_or(0),
            })
            .collect())
    }

    /// A stored wheel's file and its name, if the store kept the archive whole. Counts as a
    /// use of the wheel for the size cap.
    pub async fn archive(&self, wheel_sha256: &str) -> Result<Option<(PathBuf, String)>, WheelStoreError> {
        self.flush().await?;
        let row: Option<(String, i64)> = sqlx::query_as("SELECT filename, size FROM store_wheels WHERE sha256 = ?")
            .bind(wheel_sha256)
            .fetch_optional(&self.pool)
            .await?;
        let Some((filename, size)) = row else {
            return Ok(None);
        };
        let Some(path) = self.store.archive(wheel_sha256, u64::try_from(size).unwrap_or(0)) else {
            return Ok(None);
        };
        sqlx::query("UPDATE store_wheels SET last_used_at = ? WHERE sha256 = ?")
            .bind(db::now())
            .bind(wheel_sha256)
            .execute(&self.pool)
            .await?;
        Ok(Some((path, filename)))
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
