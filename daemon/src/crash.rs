//! Crash points: the steps of lock, sync, gc and repair where a crash matters, named so that
//! tests can crash the daemon exactly there and prove that the next run repairs.
//!
//! Compiled in only with the `failpoints` feature, which only the end-to-end tests turn on (a
//! dev-dependency's feature: `cargo test --workspace` builds `axled` with it, `cargo build
//! --release` without). There, `FAILPOINTS=<point>=return` in the daemon's environment (the
//! `fail` crate's syntax) makes the daemon abort at that point, as a `kill -9` would — no
//! destructors, no buffered writes. Without the feature a crash point is nothing.
//!
//! The points (the tests have one case each):
//! - `sync-after-download`: a wheel verified in the download directory, not yet in the store.
//! - `sync-after-unpack`: a wheel's objects and manifest written, its row not yet.
//! - `sync-mid-uninstall`: the first distribution removed, the rest of the plan not applied.
//! - `sync-mid-link`: the first distribution linked, the others not.
//! - `sync-before-commit`: everything linked, the records' transaction not committed.
//! - `sync-after-commit`: the records committed, the sync memo not written.
//! - `lock-before-write`: resolved, the lock file not written.
//! - `lock-mid-write`: the lock's temporary file written, not renamed into place.
//! - `gc-after-files`: the store's files removed, their rows not yet.
//! - `repair-mid`: bad objects removed, their wheel not yet unpacked again.

/// Aborts the process at the named point when the tests' configuration says so.
#[macro_export]
macro_rules! crash_point {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        {
            if fail::eval($name, |_| ()).is_some() {
                $crate::crash::now($name);
            }
        }
    };
}

/// Reads the crash points configured in `FAILPOINTS` (once, at start).
pub fn configure() {
    #[cfg(feature = "failpoints")]
    std::mem::forget(fail::FailScenario::setup());
}

/// Dies here, as a `kill -9` would.
#[cfg(feature = "failpoints")]
pub fn now(point: &str) -> ! {
    eprintln!("axled: crash point {point}");
    std::process::abort()
}
