//! The upload queue: writes to the team store run after the job that made them has answered,
//! a few at a time, each retried with backoff when the store failed (not when it refused or
//! already had the key), and can be waited for (`axle store push`, an in-process job's end).
//!
//! Uploads wait while a job runs ([`Quiet`]: a sync, a lock, an image): reading wheels and
//! sending them competes with the job for the disk, the network and (with a store on the
//! same machine) the cores, and a job must not be slower for what it shares. Someone waiting
//! for the queue (a push) lets them go at once; no upload waits longer than [`MAX_DEFER`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

/// Uploads at once.
const CONCURRENT: usize = 4;
/// Tries of one upload at most, and the wait before the second (doubled after each).
const TRIES: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest an upload waits for the jobs running to end (a daemon that is never idle still
/// uploads).
pub const MAX_DEFER: Duration = Duration::from_secs(30);

/// Whether jobs are running, shared by the daemon's team stores: uploads wait for quiet.
#[derive(Default)]
pub struct Quiet {
    jobs: AtomicU64,
    /// Callers waiting for a queue to drain: they want the uploads now.
    waiters: AtomicU64,
    changed: Notify,
}

impl Quiet {
    /// Counts a job as running until the guard drops.
    pub fn job(self: &Arc<Self>) -> JobGuard {
        self.jobs.fetch_add(1, Ordering::SeqCst);
        JobGuard { quiet: self.clone() }
    }

    fn open(&self) -> bool {
        self.jobs.load(Ordering::SeqCst) == 0 || self.waiters.load(Ordering::SeqCst) > 0
    }

    /// Returns once no job runs or someone waits for the uploads, at most `limit` later.
    async fn wait(&self, limit: Duration) {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                if self.open() {
                    return;
                }
                changed.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
    }
}

/// A running job (see [`Quiet::job`]).
pub struct JobGuard {
    quiet: Arc<Quiet>,
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        self.quiet.jobs.fetch_sub(1, Ordering::SeqCst);
        self.quiet.changed.notify_waiters();
    }
}

/// Someone waiting for the queue: the gate stays open meanwhile.
struct Waiting<'a>(&'a Quiet);

impl<'a> Waiting<'a> {
    fn new(quiet: &'a Quiet) -> Waiting<'a> {
        quiet.waiters.fetch_add(1, Ordering::SeqCst);
        quiet.changed.notify_waiters();
        Waiting(quiet)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How one try ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Written, this many bytes.
    Written(u64),
    /// The key was there already: written by an earlier upload or another writer.
    Existing,
    /// Not tried (the store is read-only, or the file went away).
    Skipped,
    /// Not sent: the store is being skipped after repeated failures. Counted as failed, not
    /// tried again (a push says so, rather than that there was nothing to send).
    NotSent,
    /// The store failed; worth another try.
    Failed,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct UploadCounts {
    pub pending: u64,
    pub done: u64,
    pub existing: u64,
    pub failed: u64,
    pub bytes: u64,
}

pub struct Uploads {
    inner: Arc<Inner>,
}

impl Uploads {
    pub fn new(quiet: Arc<Quiet>) -> Uploads {
        Uploads {
            inner: Arc::new(Inner {
                quiet,
                slots: Semaphore::new(CONCURRENT),
                pending: AtomicU64::new(0),
                done: AtomicU64::new(0),
                existing: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                bytes: AtomicU64::new(0),
                idle: Notify::new(),
            }),
        }
    }
}

struct Inner {
    quiet: Arc<Quiet>,
    slots: Semaphore,
    pending: AtomicU64,
    done: AtomicU64,
    existing: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    idle: Notify,
}

impl Uploads {
    /// Runs `attempt` in the background (again, after a pause, while it fails); returns at once.
    pub fn queue<F, Fut>(&self, attempt: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = Ended> + Send,
    {
        let inner = self.inner.clone();
        inner.pending.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            inner.quiet.wait(MAX_DEFER).await;
            let ended = match inner.slots.acquire().await {
                Ok(_slot) => {
                    let mut backoff = FIRST_BACKOFF;
                    let mut ended = attempt().await;
                    for _ in 1..TRIES {
                        if ended != Ended::Failed {
                            break;
                        }
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                        ended = attempt().await;
                    }
                    ended
                }
                Err(_) => Ended::Skipped,
            };
            match ended {
                Ended::Written(bytes) => {
                    inner.done.fetch_add(1, Ordering::Relaxed);
                    inner.bytes.fetch_add(bytes, Ordering::Relaxed);
                }
                Ended::Existing => {
                    inner.existing.fetch_add(1, Ordering::Relaxed);
                }
                Ended::Failed | Ended::NotSent => {
                    inner.failed.fetch_add(1, Ordering::Relaxed);
                }
                Ended::Skipped => {}
            }
            if inner.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
                inner.idle.notify_waiters();
            }
        });
    }

    /// Waits until nothing is queued or running, at most `limit`; whether that happened.
    pub async fn drained(&self, limit: Duration) -> bool {
        let _waiting = Waiting::new(&self.inner.quiet);
        let wait = async {
            loop {
                let idle = self.inner.idle.notified();
                if self.inner.pending.load(Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }

    pub fn counts(&self) -> UploadCounts {
        UploadCounts {
            pending: self.inner.pending.load(Ordering::SeqCst),
            done: self.inner.done.load(Ordering::Relaxed),
            existing: self.inner.existing.load(Ordering::Relaxed),
            failed: self.inner.failed.load(Ordering::Relaxed),
            bytes: self.inner.bytes.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[tokio::test(start_paused = true)]
    async fn a_failing_upload_is_tried_again_and_drained_waits_for_the_last() {
        let uploads = Uploads::new(Arc::default());
        let tries = Arc::new(AtomicU32::new(0));
        let counted = tries.clone();
        uploads.queue(move || {
            let counted = counted.clone();
            async move {
                if counted.fetch_add(1, Ordering::SeqCst) < 2 {
                    Ended::Failed
                } else {
                    Ended::Written(10)
                }
            }
        });
        uploads.queue(|| async { Ended::Existing });
        assert!(uploads.drained(Duration::from_secs(30)).await);
        assert_eq!(tries.load(Ordering::SeqCst), 3);
        let counts = uploads.counts();
        assert_eq!(
            (counts.pending, counts.done, counts.existing, counts.bytes),
            (0, 1, 1, 10)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_upload_that_keeps_failing_ends_counted_as_failed() {
        let uploads = Uploads::new(Arc::default());
        uploads.queue(|| async { Ended::Failed });
        assert!(uploads.drained(Duration::from_secs(60)).await);
        assert_eq!(uploads.counts().failed, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn uploads_wait_for_the_jobs_running_unless_someone_waits_for_them() {
        let quiet = Arc::new(Quiet::default());
        let uploads = Uploads::new(quiet.clone());
        let job = quiet.job();
        uploads.queue(|| async { Ended::Written(1) });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(uploads.counts().done, 0, "not while a job runs");
        drop(job);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(uploads.counts().done, 1, "once it ends");

        let _job = quiet.job();
        uploads.queue(|| async { Ended::Written(1) });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(uploads.counts().done, 1);
        // A push waits for the queue: the upload goes now, with the job still running.
        assert!(uploads.drained(Duration::from_secs(1)).await);
        assert_eq!(uploads.counts().done, 2);

        // And none waits past MAX_DEFER.
        uploads.queue(|| async { Ended::Written(1) });
        tokio::time::sleep(MAX_DEFER + Duration::from_secs(1)).await;
        assert_eq!(uploads.counts().done, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn an_upload_not_sent_is_counted_as_failed_without_another_try() {
        let uploads = Uploads::new(Arc::default());
        let tries = Arc::new(AtomicU32::new(0));
        let counted = tries.clone();
        uploads.queue(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ended::NotSent }
        });
        uploads.queue(|| async { Ended::Skipped });
        assert!(uploads.drained(Duration::from_secs(1)).await);
        assert_eq!(tries.load(Ordering::SeqCst), 1);
        let counts = uploads.counts();
        assert_eq!((counts.failed, counts.done), (1, 0));
    }
}
