//! The solve loop: PubGrub run to a solution, started over when the order of decisions changes
//! (a restart, see `priority`), or stopped where a universal resolution forks (see
//! `universal`); and the state one solve keeps: what it is for, what it decided, what it
//! prefers.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

use axle_standards::{MarkerTree, PackageName, Requirement, Version};

use super::environment::{self, Environment, Fork};
use super::package::PubPackage;
use super::provider::Provider;
use super::{ResolveError, ResolveRequest};

/// Restarts of one resolution at most: past them, the order stays as it is.
const MAX_RESTARTS: u32 = 16;

/// How a solve ended.
pub enum Solve {
    Solved(pubgrub::SelectedDependencies<PubPackage, Version>),
    /// A universal resolution's fork split: solve each of `forks` instead, starting from what
    /// was `decided` before the split.
    Forked {
        forks: Vec<Fork>,
        decided: HashMap<PackageName, Version>,
    },
}

/// Solves in the provider's current environment, starting over when the order of decisions
/// changes; what was learned about packages is kept across restarts.
pub(super) fn solve(provider: &Provider) -> Result<Solve, ResolveError> {
    loop {
        match pubgrub::resolve(provider, PubPackage::Root, Version::new([0])) {
            Ok(solution) => return Ok(Solve::Solved(solution)),
            Err(pubgrub::PubGrubError::ErrorInShouldCancel(ResolveError::Restart)) => provider.state.restart(),
            Err(
                pubgrub::PubGrubError::ErrorRetrievingDependencies {
                    source: ResolveError::Fork,
                    ..
                }
                | pubgrub::PubGrubError::ErrorChoosingVersion {
                    source: ResolveError::Fork,
                    ..
                },
            ) => {
                let forks = provider.state.forks.borrow_mut().take().unwrap_or_default();
                let decided = provider.state.decisions.borrow().iter().cloned().collect();
                return Ok(Solve::Forked { forks, decided });
            }
            Err(error) => return Err(explain(error)),
        }
    }
}

/// Explains a failed resolution.
fn explain(error: pubgrub::PubGrubError<Provider>) -> ResolveError {
    match error {
        pubgrub::PubGrubError::NoSolution(mut tree) => {
            tree.collapse_no_versions();
            ResolveError::NoSolution(super::report::explain(&tree))
        }
        pubgrub::PubGrubError::ErrorChoosingVersion { source, .. }
        | pubgrub::PubGrubError::ErrorRetrievingDependencies { source, .. }
        | pubgrub::PubGrubError::ErrorInShouldCancel(source) => source,
    }
}

/// What one solve is for and what it decided.
pub(super) struct SolveState {
    /// What this solve is for: the target, or a fork of a universal resolution.
    pub(super) env: RefCell<Environment>,
    /// Where the last solve forked (a universal resolution only).
    forks: RefCell<Option<Vec<Fork>>>,
    /// Pins to keep when they still fit (from an existing lock).
    pub(super) preferences: HashMap<PackageName, Version>,
    /// The versions solved forks chose: the forks after them prefer these.
    fork_preferences: RefCell<HashMap<PackageName, Version>>,
    /// The version last chosen for each package: its extras' proxies try it first (any other
    /// is refused at once while the package keeps it).
    pub(super) last_chosen: RefCell<HashMap<PackageName, Version>>,
    /// Every version chosen for a package in this solve, in order.
    decisions: RefCell<Vec<(PackageName, Version)>>,
    /// What was decided before the culprit of the last reordering: kept by the next solve
    /// where it still fits, so a restart undoes only what uv's backtracking would undo.
    replay: RefCell<HashMap<PackageName, Version>>,
    /// The solve after a restart keeps the decisions made before this package's.
    replay_until: RefCell<Option<PackageName>>,
    restart_requested: Cell<bool>,
    restarts: Cell<u32>,
    /// Versions decided over every solve, for progress.
    pub(super) decided: Cell<u64>,
}

impl SolveState {
    pub(super) fn new(request: &ResolveRequest, env: Environment) -> SolveState {
        SolveState {
            env: RefCell::new(env),
            forks: RefCell::new(None),
            preferences: request.preferences.clone(),
            fork_preferences: RefCell::new(HashMap::new()),
            last_chosen: RefCell::new(HashMap::new()),
            decisions: RefCell::new(Vec::new()),
            replay: RefCell::new(HashMap::new()),
            replay_until: RefCell::new(None),
            restart_requested: Cell::new(false),
            restarts: Cell::new(0),
            decided: Cell::new(0),
        }
    }

    /// Makes the next solve one for `env`, keeping `replay`'s versions where they fit (a fork
    /// starts from what its parent had decided).
    pub(super) fn enter(&self, env: Environment, replay: HashMap<PackageName, Version>) {
        *self.env.borrow_mut() = env;
        self.last_chosen.borrow_mut().clear();
        self.decisions.borrow_mut().clear();
        *self.replay.borrow_mut() = replay;
    }

    /// Prefers `versions` from now on (a solved fork's pins, for the forks after it: a package
    /// gets one version in every fork where it can).
    pub(super) fn prefer(&self, versions: &BTreeMap<PackageName, Version>) {
        let mut preferred = self.fork_preferences.borrow_mut();
        for (name, version) in versions {
            preferred.entry(name.clone()).or_insert_with(|| version.clone());
        }
    }

    /// The versions of `name` to try first, best first: the one this solve replays, the one
    /// another fork chose, the existing lock's.
    pub(super) fn preferred(&self, name: &PackageName) -> Vec<Version> {
        let replayed = self.replay.borrow().get(name).cloned();
        let other_forks = self.fork_preferences.borrow().get(name).cloned();
        replayed
            .into_iter()
            .chain(other_forks)
            .chain(self.preferences.get(name).cloned())
            .collect()
    }

    /// Remembers a version chosen for a package (not for its extras' proxies).
    pub(super) fn record(&self, package: &PubPackage, version: &Version) {
        if let PubPackage::Package { name, extra: None } = package {
            self.last_chosen.borrow_mut().insert(name.clone(), version.clone());
            self.decisions.borrow_mut().push((name.clone(), version.clone()));
        }
    }

    /// Whether a reordering may still start the solve over.
    pub(super) fn may_restart(&self) -> bool {
        self.restarts.get() < MAX_RESTARTS
    }

    /// Asks for a new solve keeping what was decided before `culprit`'s decision.
    pub(super) fn request_restart(&self, culprit: PackageName) {
        self.restart_requested.set(true);
        *self.replay_until.borrow_mut() = Some(culprit);
    }

    pub(super) fn restart_requested(&self) -> bool {
        self.restart_requested.get()
    }

    /// Prepares a new solve after a reordering: what was decided before the culprit's
    /// decision is kept where it still fits (uv backtracks to just before the culprit), the
    /// rest is decided again; knowledge of packages is kept.
    fn restart(&self) {
        self.restart_requested.set(false);
        self.restarts.set(self.restarts.get() + 1);
        self.last_chosen.borrow_mut().clear();
        let decisions = std::mem::take(&mut *self.decisions.borrow_mut());
        let until = self.replay_until.borrow_mut().take();
        let cut = until
            .and_then(|culprit| decisions.iter().position(|(name, _)| *name == culprit))
            .unwrap_or(decisions.len());
        let mut replay = self.replay.borrow_mut();
        replay.clear();
        replay.extend(decisions.into_iter().take(cut));
    }

    /// In a universal resolution, whether `requirements` split the current fork (then the
    /// solve stops, and its forks are solved in its place).
    pub(super) fn forks_at(&self, requirements: &[(Requirement, MarkerTree)]) -> bool {
        let Environment::Universal(fork) = &*self.env.borrow() else {
            return false;
        };
        let named: Vec<(PackageName, MarkerTree)> = requirements
            .iter()
            .map(|(requirement, marker)| (requirement.name.clone(), marker.clone()))
            .collect();
        match environment::split(fork, &named) {
            Some(forks) => {
                tracing::debug!(forks = forks.len(), "the resolution forks");
                self.fork_into(forks);
                true
            }
            None => false,
        }
    }

    /// Stops the solve to split it into `forks`.
    pub(super) fn fork_into(&self, forks: Vec<Fork>) {
        *self.forks.borrow_mut() = Some(forks);
    }
}
