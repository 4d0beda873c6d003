//! Keeping the store: what it holds (`stats`, and the totals counted once per change of its
//! files), dropping what nothing uses (`gc`), and squaring the database with the files at
//! start (`reconcile`).

use std::collections::HashSet;
use std::path::Path;

use axle_install::ObjectStoreError;

use super::{GcOutcome, StoreStats, StoredWheel, WheelStore, WheelStoreError, lock};
use crate::db;

impl WheelStore {
    pub async fn stats(&self) -> Result<StoreStats, WheelStoreError> {
        self.flush().await?;
        let (wheels,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM store_wheels")
            .fetch_one(&self.pool)
            .await?;
        let (venvs,): (i64,) = sqlx::query_as("SELECT COUNT(DISTINCT venv) FROM venv_dists")
            .fetch_one(&self.pool)
            .await?;
        let (linked,): (i64,) = sqlx::query_as(
            "SELECT COALESCE(SUM(w.unpacked_size), 0) FROM venv_dists d JOIN store_wheels w ON w.sha256 = d.wheel_sha256",
        )
        .fetch_one(&self.pool)
        .await?;
        let (objects, bytes) = self.totals().await?;
        Ok(StoreStats {
            wheels: wheels as u64,
            objects,
            bytes_stored: bytes,
            bytes_linked: linked as u64,
            venvs: venvs as u64,
            path: self.store.root().to_path_buf(),
        })
    }

    /// Drops wheels no existing environment uses and nobody used for `older_than_days` (and
    /// with `max_size`, the least recently used others until the store fits in it), then
    /// objects no remaining wheel references.
    pub async fn gc(
        &self,
        older_than_days: u32,
        max_size: Option<u64>,
        dry_run: bool,
    ) -> Result<GcOutcome, WheelStoreError> {
        self.flush().await?;
        // Environments that were deleted no longer hold their wheels.
        let venvs: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT venv FROM venv_dists")
            .fetch_all(&self.pool)
            .await?;
        for (venv,) in venvs {
            if !Path::new(&venv).join("pyvenv.cfg").is_file() && !dry_run {
                sqlx::query("DELETE FROM venv_dists WHERE venv = ?")
                    .bind(&venv)
                    .execute(&self.pool)
                    .await?;
            }
        }
        let cutoff = db::now() - i64::from(older_than_days) * 86_400;
        let linked: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT wheel_sha256 FROM venv_dists")
            .fetch_all(&self.pool)
            .await?;
        let linked: HashSet<String> = linked.into_iter().map(|(sha,)| sha).collect();
        let wheels: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT sha256, unpacked_size, last_used_at FROM store_wheels ORDER BY last_used_at DESC")
                .fetch_all(&self.pool)
                .await?;
        let keep = kept_wheels(&wheels, &linked, cutoff, max_size);
        let (all,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM store_wheels")
            .fetch_one(&self.pool)
            .await?;
        if dry_run {
            return Ok(GcOutcome {
                wheels_removed: (all as u64).saturating_sub(keep.len() as u64),
                ..GcOutcome::default()
            });
        }
        let store = self.store.clone();
        let kept = keep.clone();
        let report = tokio::task::spawn_blocking(move || store.gc(&kept))
            .await
            .map_err(|error| WheelStoreError::Task(error.to_string()));
        self.changed();
        let report = report??;
        crash_point!("gc-after-files");
        let rows: Vec<(String,)> = sqlx::query_as("SELECT sha256 FROM store_wheels")
            .fetch_all(&self.pool)
            .await?;
        for (sha,) in rows {
            if !keep.contains(&sha) {
                self.forget(&sha).await?;
            }
        }
        Ok(GcOutcome {
            wheels_removed: report.manifests_removed as u64,
            files_removed: report.objects_removed as u64,
            bytes_freed: report.bytes_freed,
        })
    }

    /// Says the store's files changed: the counted totals no longer hold.
    pub fn changed(&self) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn counted(&self) -> std::sync::MutexGuard<'_, Option<u64>> {
        self.counted.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the totals must be counted again (the idle upkeep does it).
    pub fn totals_stale(&self) -> bool {
        *self.counted() != Some(self.generation.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Objects and bytes on disk: from `store_totals` while the store is unchanged since they
    /// were counted (a query), else counted now.
    async fn totals(&self) -> Result<(u64, u64), WheelStoreError> {
        if !self.totals_stale() {
            let row: Option<(i64, i64)> = sqlx::query_as("SELECT objects, bytes FROM store_totals WHERE id = 0")
                .fetch_optional(&self.pool)
                .await?;
            if let Some((objects, bytes)) = row {
                return Ok((objects as u64, bytes as u64));
            }
        }
        self.count_totals().await
    }

    /// Walks the objects (and the kept wheel files) and records the totals.
    pub async fn count_totals(&self) -> Result<(u64, u64), WheelStoreError> {
        let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        let store = self.store.clone();
        let (objects, bytes) = tokio::task::spawn_blocking(move || -> Result<(u64, u64), ObjectStoreError> {
            let mut count = 0;
            let mut bytes = 0;
            for object in store.objects()? {
                let object = object?;
                count += 1;
                bytes += object.size;
            }
            // The wheel files kept for `serve` and `export` take space too.
            bytes += store.archives_size();
            Ok((count, bytes))
        })
        .await
        .map_err(|error| WheelStoreError::Task(error.to_string()))??;
        sqlx::query(
            "INSERT INTO store_totals (id, objects, bytes, counted_at) VALUES (0, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET objects = excluded.objects, bytes = excluded.bytes,
                counted_at = excluded.counted_at",
        )
        .bind(objects as i64)
        .bind(bytes as i64)
        .bind(db::now())
        .execute(&self.pool)
        .await?;
        *self.counted() = Some(generation);
        Ok((objects, bytes))
    }

    /// The unpacked size of what the store holds, from the database.
    pub async fn unpacked_size(&self) -> Result<u64, WheelStoreError> {
        let (size,): (i64,) = sqlx::query_as("SELECT COALESCE(SUM(unpacked_size), 0) FROM store_wheels")
            .fetch_one(&self.pool)
            .await?;
        Ok(size.max(0) as u64)
    }

    /// At start: rows whose manifests are gone are dropped, so nothing is
    /// ever linked from a wheel that is not really there.
    pub async fn reconcile(&self) -> Result<u64, WheelStoreError> {
        // The store changes only through a daemon (or an in-process engine), which keeps the
        // totals it counted: a row from the last run holds at start.
        let counted: Option<(i64,)> = sqlx::query_as("SELECT objects FROM store_totals WHERE id = 0")
            .fetch_optional(&self.pool)
            .await?;
        if counted.is_some() {
            *self.counted() = Some(self.generation.load(std::sync::atomic::Ordering::SeqCst));
        }
        let rows: Vec<(String,)> = sqlx::query_as("SELECT sha256 FROM store_wheels")
            .fetch_all(&self.pool)
            .await?;
        let mut dropped = 0;
        for (sha,) in rows {
            if self.manifest(&sha).await?.is_none() {
                self.forget(&sha).await?;
                dropped += 1;
            }
        }
        // Wheels on disk without a row (a deleted or rebuilt database) are the store's all the
        // same: their rows are written again from their manifests, so nothing is fetched twice.
        let recorded: HashSet<String> = sqlx::query_as::<_, (String,)>("SELECT sha256 FROM store_wheels")
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|(sha,)| sha)
            .collect();
        let files = self.store.clone();
        let on_disk = tokio::task::spawn_blocking(move || files.manifests())
            .await
            .map_err(|error| WheelStoreError::Task(error.to_string()))??;
        let mut restored = 0;
        for sha in on_disk.into_iter().filter(|sha| !recorded.contains(sha)) {
            let Some(manifest) = self.manifest(&sha).await? else {
                continue;
            };
            let size = self
                .store
                .archive_path(&sha)
                .ok()
                .and_then(|path| std::fs::metadata(path).ok())
                .map_or(0, |meta| meta.len());
            lock(&self.unrecorded).push(StoredWheel {
                sha256: sha.clone(),
                filename: manifest.filename.clone(),
                name: manifest.name.clone(),
                version: manifest.version.clone(),
                size: size as i64,
                unpacked_size: manifest.files.iter().map(|file| file.size).sum::<u64>() as i64,
                source_url: String::new(),
                added_at: db::now(),
            });
            lock(self.known().await?).insert(sha, manifest.filename);
            restored += 1;
        }
        if restored > 0 {
            tracing::warn!(restored, "recorded again the stored wheels the database had lost");
            self.flush().await?;
        }
        // Downloads a killed daemon left half-done are never trusted.
        let downloads = self.download_dir();
        if let Ok(entries) = std::fs::read_dir(&downloads) {
            for entry in entries.flatten() {
                let path = entry.path();
                let _ = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        }
        Ok(dropped)
    }
}

/// The wheels a gc keeps, of `wheels` (sha256, unpacked size, last used; most recently used
/// first): every wheel a venv links; of the others, those used since `cutoff`, most recent
/// first, while the total stays within `max_size` (linked wheels count first, and are kept
/// even when they alone exceed it).
fn kept_wheels(
    wheels: &[(String, i64, i64)],
    linked: &HashSet<String>,
    cutoff: i64,
    max_size: Option<u64>,
) -> HashSet<String> {
    let size = |bytes: i64| u64::try_from(bytes).unwrap_or(0);
    let mut total: u64 = wheels
        .iter()
        .filter(|(sha, _, _)| linked.contains(sha))
        .map(|(_, bytes, _)| size(*bytes))
        .sum();
    let mut keep: HashSet<String> = linked.clone();
    for (sha, bytes, last_used) in wheels {
        if linked.contains(sha) || *last_used < cutoff {
            continue;
        }
        if max_size.is_some_and(|cap| total + size(*bytes) > cap) {
            continue;
        }
        total += size(*bytes);
        keep.insert(sha.clone());
    }
    keep
}

#[cfg(test)]
mod gc_tests {
    use super::*;

    fn wheel(sha: &str, bytes: i64, last_used: i64) -> (String, i64, i64) {
        (sha.to_string(), bytes, last_used)
    }

    #[test]
    fn a_cap_evicts_the_least_recently_used_unlinked_wheels_and_never_a_linked_one() {
        // Most recently used first, as the query orders them.
        let wheels = [
            wheel("d", 40, 400),
            wheel("c", 30, 300),
            wheel("b", 20, 200),
            wheel("a", 100, 100),
        ];
        let linked: HashSet<String> = ["a".to_string()].into();
        let kept = |cutoff, cap| {
            let mut kept: Vec<String> = kept_wheels(&wheels, &linked, cutoff, cap).into_iter().collect();
            kept.sort();
            kept
        };
        assert_eq!(kept(0, None), ["a", "b", "c", "d"]);
        // The age rule alone.
        assert_eq!(kept(250, None), ["a", "c", "d"]);
        // 100 linked + 40 + 30 = 170 fits in 175; b (20) would not.
        assert_eq!(kept(0, Some(175)), ["a", "c", "d"]);
        assert_eq!(kept(0, Some(150)), ["a", "d"]);
        // A cap smaller than the linked wheels keeps exactly them.
        assert_eq!(kept(0, Some(1)), ["a"]);
        assert_eq!(kept(250, Some(145)), ["a", "d"]);
    }
}
