//! What the daemon does by itself once a burst of requests is over: trim its in-memory caches
//! to a budget and hand memory back to the system, and keep the store within its size cap
//! (`AXLE_STORE_MAX_SIZE`).
//!
//! It waits for a few seconds of quiet, so that it never competes with the next request of a
//! burst, and runs once per burst.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::Engine;

/// Quiet before the upkeep runs: the next request of a burst often follows within this.
const QUIET: Duration = Duration::from_secs(2);

/// Quiet before memory is handed back a second time: by then the runtime's blocking threads,
/// the upkeep's own included, have ended (`memory::BLOCKING_THREAD_KEEP_ALIVE`), and each
/// gave the chunks its thread cache held back to the allocator only as it ended.
const THREADS_GONE: Duration = Duration::from_secs(4);

/// What the in-memory index caches may hold once idle (by estimate): the pages and metadata
/// of fifty or so typical projects (about six thousand files); the rest is a SQLite read
/// away, a few milliseconds per page.
const CACHE_BUDGET: usize = 4 * 1024 * 1024;

/// The store's size cap from the daemon's environment, if set and readable.
pub fn store_cap_from_env() -> Option<u64> {
    let text = std::env::var(axle_proto::env_vars::AXLE_STORE_MAX_SIZE).ok()?;
    match text.parse::<bytesize::ByteSize>() {
        Ok(size) => Some(size.as_u64()),
        Err(error) => {
            tracing::warn!(value = %text, %error, "AXLE_STORE_MAX_SIZE is not a size; the store is not capped");
            None
        }
    }
}

/// Runs the upkeep after each burst of requests, for as long as the daemon runs.
pub fn spawn(engine: Arc<Engine>, store_cap: Option<u64>) {
    tokio::spawn(async move {
        let mut done_at = 0;
        let mut trimmed_again_at = 0;
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        loop {
            ticks.tick().await;
            let activity = &engine.activity;
            let served = activity.served();
            if activity.active() > 0 {
                continue;
            }
            if served == done_at {
                if trimmed_again_at != served && activity.idle_for() >= THREADS_GONE {
                    trimmed_again_at = served;
                    let _ = tokio::task::spawn_blocking(crate::memory::trim).await;
                }
                continue;
            }
            if activity.idle_for() < QUIET {
                continue;
            }
            done_at = served;
            if let Some(cap) = store_cap {
                match engine.keep_store_within(cap).await {
                    Ok(Some(outcome)) => tracing::info!(
                        cap,
                        wheels = outcome.wheels_removed,
                        bytes = outcome.bytes_freed,
                        "evicted least recently used wheels to keep the store within its cap"
                    ),
                    Ok(None) => {}
                    Err(error) => tracing::warn!(%error, "could not keep the store within its cap"),
                }
            }
            if engine.services.store.totals_stale()
                && let Err(error) = engine.services.store.count_totals().await
            {
                tracing::warn!(%error, "could not count the store's files");
            }
            let before = engine.services.index.cached_bytes();
            let forgotten = engine.services.index.trim(CACHE_BUDGET);
            if forgotten > 0 {
                engine.services.candidates.forget_unshared();
                tracing::debug!(
                    forgotten,
                    before,
                    after = engine.services.index.cached_bytes(),
                    "trimmed the index caches"
                );
            }
            let _ = tokio::task::spawn_blocking(crate::memory::trim).await;
        }
    });
}
