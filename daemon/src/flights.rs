//! One piece of work per key at a time: concurrent callers that ask for the same page, the
//! same metadata or the same build share the first caller's future instead of repeating it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

pub struct Flights<K, T: Clone> {
    running: Mutex<HashMap<K, Shared<BoxFuture<'static, T>>>>,
}

impl<K, T: Clone> Default for Flights<K, T> {
    fn default() -> Self {
        Flights {
            running: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone, T: Clone + Send + Sync + 'static> Flights<K, T> {
    /// The result of the work running for `key`, started with `start` when none is.
    pub async fn join(&self, key: K, start: impl FnOnce() -> BoxFuture<'static, T>) -> T {
        self.join_reporting(key, start, || {}).await
    }

    /// `join`, calling `joined` when the work was already running (another caller started it).
    pub async fn join_reporting(
        &self,
        key: K,
        start: impl FnOnce() -> BoxFuture<'static, T>,
        joined: impl FnOnce(),
    ) -> T {
        let (flight, running) = {
            let mut running = self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match running.get(&key) {
                Some(flight) => (flight.clone(), true),
                None => {
                    let flight = start().shared();
                    running.insert(key.clone(), flight.clone());
                    (flight, false)
                }
            }
        };
        if running {
            joined();
        }
        let result = flight.await;
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&key);
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_one_run_and_later_ones_start_anew() {
        let flights: Flights<&str, u32> = Flights::default();
        let runs = Arc::new(AtomicU32::new(0));
        let start = || {
            let runs = runs.clone();
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                runs.fetch_add(1, Ordering::SeqCst) + 1
            }
            .boxed()
        };
        let (a, b) = futures::join!(flights.join("k", start), flights.join("k", start));
        assert_eq!((a, b), (1, 1));
        assert_eq!(flights.join("k", start).await, 2);
    }
}
