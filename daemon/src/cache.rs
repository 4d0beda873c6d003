//! In-memory caches sized in bytes: whatever a job reads stays while the daemon is busy, and
//! when it is idle [`WeighedCache::trim`] forgets the least recently used entries beyond a
//! budget (they are in SQLite, a read away). Bounding them only when idle means a large lock
//! never re-reads what it is still using, and an idle daemon holds little.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Entries by key, each with an estimate of the bytes it holds and when it was last used.
pub struct WeighedCache<V> {
    entries: Mutex<HashMap<String, Entry<V>>>,
    clock: AtomicU64,
}

struct Entry<V> {
    value: Arc<V>,
    weight: usize,
    used: u64,
}

impl<V> Default for WeighedCache<V> {
    fn default() -> Self {
        WeighedCache {
            entries: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
        }
    }
}

impl<V> WeighedCache<V> {
    fn entries(&self) -> MutexGuard<'_, HashMap<String, Entry<V>>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        let used = self.tick();
        let mut entries = self.entries();
        let entry = entries.get_mut(key)?;
        entry.used = used;
        Some(entry.value.clone())
    }

    /// Keeps `value`, estimated to hold `weight` bytes.
    pub fn insert(&self, key: String, value: Arc<V>, weight: usize) {
        let used = self.tick();
        self.entries().insert(key, Entry { value, weight, used });
    }

    /// The bytes held, by the entries' estimates.
    pub fn weight(&self) -> usize {
        self.entries().values().map(|entry| entry.weight).sum()
    }

    /// Forgets the least recently used entries until the rest weigh at most `budget`; returns
    /// how many it forgot.
    pub fn trim(&self, budget: usize) -> usize {
        let mut entries = self.entries();
        let mut total: usize = entries.values().map(|entry| entry.weight).sum();
        if total <= budget {
            return 0;
        }
        let mut by_use: Vec<(u64, String, usize)> = entries
            .iter()
            .map(|(key, entry)| (entry.used, key.clone(), entry.weight))
            .collect();
        by_use.sort_unstable();
        let mut forgotten = 0;
        for (_, key, weight) in by_use {
            if total <= budget {
                break;
            }
            entries.remove(&key);
            total -= weight;
            forgotten += 1;
        }
        entries.shrink_to_fit();
        forgotten
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_forgets_the_least_recently_used_first() {
        let cache = WeighedCache::default();
        for (key, weight) in [("a", 10), ("b", 20), ("c", 30)] {
            cache.insert(key.to_string(), Arc::new(key.to_string()), weight);
        }
        assert!(cache.get("a").is_some());
        assert_eq!(cache.weight(), 60);
        // `b` is the least recently used now, then `c`.
        let cases = [
            (60, 0, vec!["a", "b", "c"]),
            (45, 1, vec!["a", "c"]),
            (10, 1, vec!["a"]),
            (0, 1, vec![]),
        ];
        for (budget, forgotten, kept) in cases {
            assert_eq!(cache.trim(budget), forgotten, "budget {budget}");
            for key in ["a", "b", "c"] {
                assert_eq!(
                    cache.entries().contains_key(key),
                    kept.contains(&key),
                    "{key} at {budget}"
                );
            }
        }
    }
}
