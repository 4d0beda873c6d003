//! The upload queue: writes to the team store run after the job that made them has answered,
//! a few at a time, each retried with backoff when the store failed (not when it refused or
//! already had the key), and can be waited for (`axle store push`, an in-process job's end).

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

/// How one try ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Written, this many bytes.
    Written(u64),
    /// The key was there already: written by an earlier upload or another writer.
    Existing,
    /// Not tried (the store is read-only).
    Skipped,
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

impl Default for Uploads {
    fn default() -> Uploads {
        Uploads {
            inner: Arc::new(Inner {
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
                Ended::Failed => {
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
        let uploads = Uploads::default();
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
        let uploads = Uploads::default();
        uploads.queue(|| async { Ended::Failed });
        assert!(uploads.drained(Duration::from_secs(60)).await);
        assert_eq!(uploads.counts().failed, 1);
    }
}
