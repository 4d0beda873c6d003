//! Handing memory back to the system once jobs are done.
//!
//! A cold lock of a large set parses megabytes of index pages and metadata; when it ends, its
//! data is dropped, but glibc's allocator keeps the freed pages in its arenas for reuse, so
//! the idle daemon would go on holding its peak. A few seconds after the last request of a
//! burst ends, `upkeep` asks the allocator to return what it does not use (`malloc_trim`):
//! the caches that are kept stay, the garbage goes.
//!
//! glibc also gives each thread that allocates under contention an arena of its own; the
//! runtime's workers and its blocking threads (page parsing, unpacking) made a dozen of them,
//! each keeping freed pages that the others cannot reuse. [`tune_allocator`] caps them at one
//! per core before any thread starts: measured on a FastAPI set's cold lock, the idle daemon
//! held 138 MB with the default and 105 MB with this cap (a 0.6 s lock either way).
//!
//! It also fixes the size from which glibc gives a block its own mapping at 128 KiB (its
//! starting value). Left to itself, glibc raises that bound after each large block is freed,
//! up to 32 MiB, so the big buffers of a lock (a page's file list as it grows, a wheel's central
//! directory) end up inside the heap, between small long-lived objects, where freeing them
//! returns nothing. Measured on a cold `airflow-lite` lock (139 pins, 116,000 files listed):
//! peak 104–111 MiB and idle 51–56 MiB with the moving bound, 95–98 MiB and 49–50 MiB with
//! it fixed, the lock as fast.

/// How long the runtime keeps a blocking thread without work (tokio's default is 10 s). A
/// thread gives the chunks its cache holds back to the allocator only as it ends, and a cold
/// sync runs a hundred and fifty of them (pages parsed, wheels unpacked): measured after one of
/// `airflow-lite`, 53 MiB while they lived, 46 MiB once they had ended and memory was trimmed
/// again. A thread costs tens of microseconds to start again.
pub const BLOCKING_THREAD_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(1);

/// Caps glibc's malloc arenas at one per core and fixes its mmap threshold; call before the
/// runtime starts its threads.
#[allow(unsafe_code)]
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const OWN_MAPPING_FROM: i32 = 128 * 1024;
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let arenas = i32::try_from(cores).unwrap_or(i32::MAX);
        // SAFETY: mallopt only sets allocator parameters; called once, before other threads.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
            libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_MAPPING_FROM);
        }
    }
}

/// Returns the allocator's free memory to the system.
#[allow(unsafe_code)]
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers and
    // is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
