//! [`Services`]: the daemon's shared parts as the pipelines use them — lock, sync, source
//! builds, export, and the image writer and team store to come. One type, built once by the
//! engine (and by the build service for build environments), so that a new pipeline takes
//! what the others take instead of another borrow struct of the same parts.
//!
//! What belongs to one pipeline alone (the lock memo, sync's per-venv serialisation and memo)
//! stays with that pipeline and is passed beside this.

use std::sync::Arc;

use crate::db::Pool;
use crate::dist::Builds;
use crate::index::IndexClient;
use crate::interpreter::Interpreters;
use crate::resolve::CandidateCache;
use crate::target::TargetCache;
use crate::team::TeamStores;
use crate::wheels::WheelStore;

#[derive(Clone)]
pub struct Services {
    pub pool: Pool,
    pub interpreters: Arc<Interpreters>,
    pub targets: Arc<TargetCache>,
    pub index: Arc<IndexClient>,
    pub store: Arc<WheelStore>,
    /// Grouped candidates, kept across resolutions.
    pub candidates: Arc<CandidateCache>,
    /// Source builds: metadata for the resolver, wheels for sync.
    pub builds: Arc<dyn Builds>,
    /// The team stores requests name (the second tier of the store).
    pub team: Arc<TeamStores>,
    /// Where the pipelines run, which decides whether work may go on after a job answered.
    pub residency: Residency,
}

/// Where the service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Residency {
    /// In `axled`, which outlives each job: work may go on after a job has answered (builds
    /// ahead of the sync that usually follows a lock, uploads).
    Daemon,
    /// In the client's process (`--no-daemon`), whose end is the job's: background work would
    /// be cut off, or keep the process from exiting, so none is started.
    InProcess,
}

impl Services {
    /// Whether work may go on after a job has answered (see [`Residency`]).
    pub fn background(&self) -> bool {
        self.residency == Residency::Daemon
    }

    /// The same parts with `builds` as the build service.
    pub fn with_builds(&self, builds: Arc<dyn Builds>) -> Services {
        Services { builds, ..self.clone() }
    }
}
