//! Metadata fetched on a guess: the next releases of a package whose versions the solver is
//! walking down.
//!
//! Guesses must never take the connections the solver waits on, and a stale guess (a walk
//! that ended long ago) must not delay a fresh one: a bounded number of workers take the
//! newest guesses first, and the oldest are dropped when too many pile up.

use std::sync::{Arc, Mutex};

use crate::index::{FetchContext, IndexClient, IndexedFile};

/// Guesses fetched at once.
const WORKERS: usize = 12;
/// Guesses kept waiting; beyond this the oldest are forgotten.
const QUEUED: usize = 240;

pub struct Speculation {
    index: Arc<IndexClient>,
    fetch: FetchContext,
    runtime: tokio::runtime::Handle,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Last in, first fetched.
    stack: Vec<IndexedFile>,
    workers: usize,
}

impl Speculation {
    pub fn new(index: Arc<IndexClient>, fetch: FetchContext, runtime: tokio::runtime::Handle) -> Arc<Self> {
        Arc::new(Speculation {
            index,
            fetch,
            runtime,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `files` (nearest first: the first is fetched first) ahead of older guesses.
    pub fn guess(self: &Arc<Self>, files: Vec<IndexedFile>) {
        let start = {
            let mut state = self.state();
            state.stack.extend(files.into_iter().rev());
            let excess = state.stack.len().saturating_sub(QUEUED);
            state.stack.drain(..excess);
            let start = WORKERS.saturating_sub(state.workers).min(state.stack.len());
            state.workers += start;
            start
        };
        for _ in 0..start {
            let this = self.clone();
            self.runtime.spawn(async move { this.work().await });
        }
    }

    async fn work(self: Arc<Self>) {
        loop {
            let next = {
                let mut state = self.state();
                let next = state.stack.pop();
                if next.is_none() {
                    state.workers -= 1;
                }
                next
            };
            let Some(file) = next else {
                return;
            };
            // Failures are the solver's to report, when it asks for this file itself.
            let _ = self.index.metadata(&file, &self.fetch).await;
        }
    }
}
