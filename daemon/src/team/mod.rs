//! The team store: a second tier of the content-addressed store on any S3-compatible object
//! store (AWS S3, MinIO, Ceph, SeaweedFS, R2, ...), shared by any number of daemons that never
//! talk to each other — CI runners and teammates that would otherwise each download every wheel
//! and build every sdist again.
//!
//! - What it holds (`keys`): wheel files, keyed by their SHA-256, and signed build records
//!   (`records`) that say which wheel a build produced.
//! - How it is read: a lookup goes local store → team store → index or build. A wheel whose
//!   bytes do not hash to its key is a miss and one warning naming the key, never an install;
//!   a record counts only when a trusted key signed it. What is read enters the local store
//!   through `wheels::WheelStore::add`, like any download.
//! - How it is written: after a fetch or a build, uploads are queued (`uploads`) and run in
//!   the background, a few at once, create-only: racing writers never overwrite each other and
//!   an existing key is success. A store that refuses a write is used read-only from then on,
//!   said once.
//! - Faults: every request is bounded (`bucket`); after repeated failures the store is skipped
//!   for a while, as Gradle's remote cache is. A team store never fails a job the local store
//!   and the index could do.
//!
//! [`TeamStores`] keeps one [`TeamStore`] per bucket and credentials (its client, health and
//! statistics); each request gets a [`TeamTier`]: that store with the request's own keys and
//! push policy.

mod bucket;
pub mod config;
mod keys;
pub mod records;
mod uploads;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axle_standards::{PackageName, Tags, Version, WheelFilename};

use crate::context::Invocation;
use crate::progress::{NoticeLevel, Reporter};
use bucket::{Bucket, Fault, Fetched};
pub use config::{Push, TeamConfig};
pub use records::{BuildRecord, SigningKey, TrustedKeys, keygen};
pub use uploads::JobGuard;
use uploads::{Quiet, Uploads};

/// Requests to one store at once (listings and reads): a sync asks for every pin at once,
/// and a hundred parallel reads make a store (and this machine) thrash rather than go faster,
/// as the index's client bounds its own.
const CONCURRENT_READS: usize = 16;

/// Failures in a row after which the store is skipped for a while.
const FAILURES_BEFORE_SKIP: u32 = 3;
/// How long a failing store is skipped.
const SKIP_FOR: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, thiserror::Error)]
pub enum TeamError {
    #[error("team store: {0}")]
    Config(String),
}

/// The daemon's team stores, one per bucket and credentials.
#[derive(Default)]
pub struct TeamStores {
    stores: Mutex<HashMap<config::Remote, Arc<TeamStore>>>,
    /// Jobs running: uploads wait for them to end (see `uploads`).
    quiet: Arc<Quiet>,
}

impl TeamStores {
    /// Counts a job (a sync, a lock, an image) as running until the guard drops: uploads to
    /// every team store wait for it.
    pub fn job(&self) -> JobGuard {
        self.quiet.job()
    }

    /// The request's team tier, or `None` when it names no team store.
    pub fn for_request(
        &self,
        invocation: &Invocation,
        reporter: Arc<dyn Reporter>,
    ) -> Result<Option<Arc<TeamTier>>, TeamError> {
        let Some(config) = TeamConfig::from_invocation(invocation)? else {
            return Ok(None);
        };
        let store = {
            let mut stores = lock(&self.stores);
            match stores.get(&config.remote) {
                Some(store) => store.clone(),
                None => {
                    let bucket = Bucket::open(&config.remote)
                        .map_err(|fault| TeamError::Config(format!("{}: {fault}", config.remote.url())))?;
                    let store = Arc::new(TeamStore::new(config.remote.clone(), bucket, self.quiet.clone()));
                    stores.insert(config.remote.clone(), store.clone());
                    store
                }
            }
        };
        let tier = TeamTier {
            store,
            signing: config.signing_key.map(Arc::new),
            trusted: config.trusted,
            push: config.push,
            reporter,
        };
        tier.tell_mode_once();
        Ok(Some(Arc::new(tier)))
    }

    /// What each team store used since the daemon started has done.
    pub fn stats(&self) -> Vec<TeamStats> {
        let mut stats: Vec<TeamStats> = lock(&self.stores).values().map(|store| store.stats()).collect();
        stats.sort_by(|left, right| left.url.cmp(&right.url));
        stats
    }

    /// Waits until no upload is queued or running, at most `limit`; whether they all ended.
    pub async fn drain(&self, limit: Duration) -> bool {
        let stores: Vec<Arc<TeamStore>> = lock(&self.stores).values().cloned().collect();
        let deadline = Instant::now() + limit;
        for store in stores {
            let left = deadline.saturating_duration_since(Instant::now());
            if !store.uploads.drained(left).await {
                return false;
            }
        }
        true
    }
}

/// The tier's state as `axle store stats` and the status page show it.
#[derive(Debug, Clone, Default)]
pub struct TeamStats {
    pub url: String,
    /// `read-write`, `read-only` (anonymous, or a write was refused), or `skipped` (failing).
    pub mode: String,
    pub hits: u64,
    pub misses: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub uploaded: u64,
    /// Uploads that found their key already written (by this or another writer).
    pub already_there: u64,
    pub failures: u64,
    pub queued: u64,
}

/// One bucket as this daemon uses it.
pub struct TeamStore {
    remote: config::Remote,
    bucket: Arc<Bucket>,
    uploads: Uploads,
    /// A write was refused: nothing more is uploaded.
    read_only: AtomicBool,
    /// The refusal was said to a client.
    told_read_only: AtomicBool,
    told_anonymous: AtomicBool,
    failures_in_a_row: AtomicU32,
    skipped_until: Mutex<Option<Instant>>,
    /// Keys whose bytes did not hash to their name: not read again (one warning each).
    damaged: Mutex<std::collections::HashSet<String>>,
    reads: tokio::sync::Semaphore,
    hits: AtomicU64,
    misses: AtomicU64,
    bytes_read: AtomicU64,
    failures: AtomicU64,
}

impl TeamStore {
    fn new(remote: config::Remote, bucket: Bucket, quiet: Arc<Quiet>) -> TeamStore {
        TeamStore {
            remote,
            bucket: Arc::new(bucket),
            uploads: Uploads::new(quiet),
            read_only: AtomicBool::new(false),
            told_read_only: AtomicBool::new(false),
            told_anonymous: AtomicBool::new(false),
            failures_in_a_row: AtomicU32::new(0),
            skipped_until: Mutex::new(None),
            damaged: Mutex::new(std::collections::HashSet::new()),
            reads: tokio::sync::Semaphore::new(CONCURRENT_READS),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    fn stats(&self) -> TeamStats {
        let uploads = self.uploads.counts();
        TeamStats {
            url: self.remote.url(),
            mode: if self.skipped() {
                "skipped".to_string()
            } else if self.writable() {
                "read-write".to_string()
            } else {
                "read-only".to_string()
            },
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            bytes_written: uploads.bytes,
            uploaded: uploads.done,
            already_there: uploads.existing,
            failures: self.failures.load(Ordering::Relaxed) + uploads.failed,
            queued: uploads.pending,
        }
    }

    fn writable(&self) -> bool {
        !self.remote.anonymous() && !self.read_only.load(Ordering::Relaxed)
    }

    /// Whether the store is being skipped after repeated failures.
    fn skipped(&self) -> bool {
        lock(&self.skipped_until).is_some_and(|until| Instant::now() < until)
    }

    /// Counts a request's outcome towards the store's health.
    fn outcome<T>(&self, result: &Result<T, Fault>) {
        match result {
            Ok(_) | Err(Fault::Missing | Fault::Exists | Fault::Denied(_)) => {
                self.failures_in_a_row.store(0, Ordering::Relaxed);
            }
            Err(Fault::Failed(reason)) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                let in_a_row = self.failures_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
                if in_a_row >= FAILURES_BEFORE_SKIP {
                    self.failures_in_a_row.store(0, Ordering::Relaxed);
                    *lock(&self.skipped_until) = Some(Instant::now() + SKIP_FOR);
                    tracing::warn!(
                        store = %self.remote.url(),
                        %reason,
                        "the team store keeps failing; it is skipped for {} s",
                        SKIP_FOR.as_secs()
                    );
                } else {
                    tracing::info!(store = %self.remote.url(), %reason, "a team store request failed");
                }
            }
        }
    }

    /// A write was refused: no more writes, said in the log now and to the next client.
    fn refused_write(&self, reason: &str) {
        if !self.read_only.swap(true, Ordering::Relaxed) {
            tracing::warn!(store = %self.remote.url(), %reason, "the team store refused a write; it is used read-only from now on");
        }
    }
}

/// A request's view of a team store: the store, the request's keys and push policy, and where
/// its notices go.
pub struct TeamTier {
    store: Arc<TeamStore>,
    signing: Option<Arc<SigningKey>>,
    trusted: TrustedKeys,
    push: Push,
    reporter: Arc<dyn Reporter>,
}

/// A wheel the team store holds.
#[derive(Debug, Clone)]
pub struct TeamWheel {
    pub sha256: String,
    pub filename: String,
}

/// What the team store holds of a pinned version.
#[derive(Debug)]
pub enum Found {
    /// A wheel with one of the lock's hashes, the best of them for the target.
    Wheel(TeamWheel),
    /// Wheels, but none the lock names: maybe the build of an sdist it names.
    Others,
    /// Nothing (or the store could not say).
    Nothing,
}

impl TeamTier {
    pub fn url(&self) -> String {
        self.store.remote.url()
    }

    /// What this request may upload.
    pub fn push(&self) -> Push {
        self.push
    }

    /// Whether uploads are made at all (not anonymous, no write refused so far).
    pub fn writable(&self) -> bool {
        self.store.writable()
    }

    pub fn stats(&self) -> TeamStats {
        self.store.stats()
    }

    /// Waits until no upload to this store is queued or running, at most `limit`.
    pub async fn drained(&self, limit: Duration) -> bool {
        self.store.uploads.drained(limit).await
    }

    /// Says once per daemon what a client should know of the store's mode.
    fn tell_mode_once(&self) {
        let store = &self.store;
        if store.remote.anonymous() && !store.told_anonymous.swap(true, Ordering::Relaxed) {
            self.reporter.notice(
                NoticeLevel::Info,
                &format!(
                    "team store {}: read anonymously; nothing is uploaded",
                    store.remote.url()
                ),
            );
        }
        if store.read_only.load(Ordering::Relaxed) && !store.told_read_only.swap(true, Ordering::Relaxed) {
            self.reporter.notice(
                NoticeLevel::Warning,
                &format!(
                    "team store {}: it refused a write with these credentials, so it is only read",
                    store.remote.url()
                ),
            );
        }
    }

    /// The wheel of `name` at `version` the store holds for `tags`, among those whose hash is
    /// one of `hashes` (a lock's: a wheel nobody pinned is never taken by name alone).
    pub async fn find_wheel(
        &self,
        name: &PackageName,
        version: &Version,
        hashes: &BTreeSet<String>,
        tags: &Tags,
    ) -> Found {
        let Some(prefix) = keys::wheels_of(name, version) else {
            return Found::Nothing;
        };
        if hashes.is_empty() || self.store.skipped() {
            return Found::Nothing;
        }
        let listed = {
            let _slot = self.store.reads.acquire().await;
            self.store.bucket.list(&prefix).await
        };
        self.store.outcome(&listed);
        let Ok(listed) = listed else {
            return Found::Nothing;
        };
        let stored: Vec<(String, String)> = listed
            .iter()
            .filter_map(|key| keys::parse_wheel(key, &prefix))
            .collect();
        let candidates: Vec<(TeamWheel, WheelFilename)> = stored
            .iter()
            .filter(|(sha256, _)| hashes.contains(sha256))
            .filter_map(|(sha256, filename)| {
                let parsed: WheelFilename = filename.parse().ok()?;
                Some((
                    TeamWheel {
                        sha256: sha256.clone(),
                        filename: filename.clone(),
                    },
                    parsed,
                ))
            })
            .collect();
        match tags.best_wheel(candidates.iter().map(|(wheel, parsed)| (wheel, parsed))) {
            Some(wheel) => {
                self.count(true);
                Found::Wheel(wheel.clone())
            }
            None if stored.is_empty() => {
                self.count(false);
                Found::Nothing
            }
            // Counted when the records are looked at.
            None => Found::Others,
        }
    }

    /// Reads `wheel` into a new file in `dir`, verified against its hash; `None` when it cannot
    /// be had (a mismatch is also said as a warning naming the key).
    pub async fn fetch_wheel(&self, wheel: &TeamWheel, dir: &Path) -> Option<PathBuf> {
        if self.store.skipped() {
            return None;
        }
        let key = keys::wheel(&wheel.filename, &wheel.sha256)?;
        if lock(&self.store.damaged).contains(&key) {
            return None;
        }
        let named = tempfile::Builder::new().prefix(".team-").tempdir_in(dir).ok()?;
        let fetched = {
            let _slot = self.store.reads.acquire().await;
            self.store
                .bucket
                .fetch_verified(&key, &wheel.sha256, named.path(), &wheel.filename)
                .await
        };
        self.store.outcome(&fetched);
        match fetched {
            Ok(Fetched::Verified { path, bytes }) => {
                self.store.bytes_read.fetch_add(bytes, Ordering::Relaxed);
                // Kept beside the temporary directory, which goes when this returns.
                let kept = dir.join(format!(".team-{}-{}", wheel.sha256, wheel.filename));
                std::fs::rename(&path, &kept).ok()?;
                Some(kept)
            }
            Ok(Fetched::Mismatch { actual }) => {
                self.store.failures.fetch_add(1, Ordering::Relaxed);
                lock(&self.store.damaged).insert(key.clone());
                let message = format!(
                    "team store: {} does not hold what its name says (its bytes hash to {actual}); not used",
                    self.store.remote.object_url(&key)
                );
                tracing::warn!("{message}");
                self.reporter.notice(NoticeLevel::Warning, &message);
                None
            }
            Err(_) => None,
        }
    }

    /// The record of the build `identity` that a trusted key signed, if the store has one.
    pub async fn find_record(&self, identity: &str) -> Option<BuildRecord> {
        if self.trusted.is_empty() || self.store.skipped() {
            return None;
        }
        let listed = self.store.bucket.list(&keys::records_of(identity)).await;
        self.store.outcome(&listed);
        for key in listed.ok()? {
            let read = self.store.bucket.read_small(&key).await;
            self.store.outcome(&read);
            let Ok(bytes) = read else {
                continue;
            };
            match serde_json::from_slice::<BuildRecord>(&bytes) {
                Ok(record) if record.trusted_for(identity, &self.trusted) => {
                    self.count(true);
                    return Some(record);
                }
                // Unsigned, signed by a key this reader does not trust, or altered: ignored.
                _ => tracing::debug!(%key, "a build record no trusted key signed; ignored"),
            }
        }
        self.count(false);
        None
    }

    /// Queues the upload of a wheel fetched from an index (when the policy is to push all).
    pub fn offer_fetched(&self, archive: PathBuf, sha256: &str, filename: &str) {
        if self.push != Push::All {
            return;
        }
        self.offer_wheel(archive, sha256, filename);
    }

    /// Queues the upload of a built wheel and its signed record; whether it did (not without a
    /// key to sign with, AXLE_TEAM_STORE_SIGNING_KEY: this machine's builds are then not shared).
    pub fn offer_built(&self, identity: &str, archive: PathBuf, sha256: &str, filename: &str) -> bool {
        if self.push == Push::Nothing || !self.store.writable() {
            return false;
        }
        let Some(signing) = &self.signing else {
            tracing::info!(store = %self.url(), "no signing key (AXLE_TEAM_STORE_SIGNING_KEY): a build is not shared");
            return false;
        };
        let record = BuildRecord::signed(identity, sha256, filename, signing);
        let Ok(bytes) = serde_json::to_vec_pretty(&record) else {
            return false;
        };
        // The record goes up only once its wheel is there: a record naming a wheel nobody
        // can read would send every reader to a failed fetch.
        self.queue_wheel(
            archive,
            sha256,
            filename,
            Some((keys::record(identity, &signing.name), bytes)),
        );
        true
    }

    /// Queues the upload of a stored wheel, whatever the push policy says of fetched wheels
    /// (`axle store push` names them).
    pub fn offer_wheel(&self, archive: PathBuf, sha256: &str, filename: &str) {
        self.queue_wheel(archive, sha256, filename, None);
    }

    /// Queues a wheel's upload, and `then` (a record's key and bytes) once the wheel is there.
    fn queue_wheel(&self, archive: PathBuf, sha256: &str, filename: &str, then: Option<(String, Vec<u8>)>) {
        if !self.store.writable() {
            return;
        }
        let Some(key) = keys::wheel(filename, sha256) else {
            return;
        };
        let store = self.store.clone();
        self.store.uploads.queue(move || {
            let (store, key, archive, then) = (store.clone(), key.clone(), archive.clone(), then.clone());
            async move {
                let ended = upload_wheel(&store, &key, &archive).await;
                if matches!(ended, uploads::Ended::Written(_) | uploads::Ended::Existing)
                    && let Some((record_key, bytes)) = then
                {
                    queue_record(&store, record_key, bytes);
                }
                ended
            }
        });
    }

    fn count(&self, hit: bool) {
        let counter = if hit { &self.store.hits } else { &self.store.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Uploads the wheel file `archive` at `key`, create-only.
async fn upload_wheel(store: &TeamStore, key: &str, archive: &Path) -> uploads::Ended {
    // A read-only store takes nothing; a failing one is not asked again and again (counted
    // as failed: the next push sends what a lock needs).
    if !store.writable() {
        return uploads::Ended::Skipped;
    }
    if store.skipped() {
        return uploads::Ended::NotSent;
    }
    // Someone else's upload may have made it meanwhile: a HEAD costs less than the bytes.
    match store.bucket.exists(key).await {
        Ok(true) => return uploads::Ended::Existing,
        Ok(false) => {}
        Err(fault) => return finish_upload(store, key, Err(fault)),
    }
    // The store's copy may have gone (a gc) since the upload was queued.
    if !archive.is_file() {
        return uploads::Ended::Skipped;
    }
    let result = store.bucket.create_from_file(key, archive).await;
    finish_upload(store, key, result)
}

/// Queues a record's upload, create-only: the first signer's record of a build stays.
fn queue_record(store: &Arc<TeamStore>, key: String, bytes: Vec<u8>) {
    let owner = store.clone();
    store.uploads.queue(move || {
        let (store, key, bytes) = (owner.clone(), key.clone(), bytes.clone());
        async move {
            if store.skipped() {
                return uploads::Ended::NotSent;
            }
            let size = bytes.len() as u64;
            let result = store.bucket.create(&key, bytes).await.map(|()| size);
            finish_upload(&store, &key, result)
        }
    });
}

/// What one upload's result means for the store.
fn finish_upload(store: &TeamStore, key: &str, result: Result<u64, Fault>) -> uploads::Ended {
    store.outcome(&result);
    match result {
        Ok(bytes) => uploads::Ended::Written(bytes),
        Err(Fault::Exists) => uploads::Ended::Existing,
        Err(Fault::Denied(reason)) => {
            store.refused_write(&reason);
            uploads::Ended::Skipped
        }
        Err(Fault::Missing) => uploads::Ended::Failed,
        Err(Fault::Failed(reason)) => {
            tracing::info!(%key, %reason, "a team store upload failed");
            uploads::Ended::Failed
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
