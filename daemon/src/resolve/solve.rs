//! The solve loop: PubGrub run to a solution, or stopped where a universal resolution forks
//! (see `universal`); and the state one solve keeps: what it is for, what it decided, what it
//! prefers.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

use axle_standards::{MarkerTree, PackageName, Requirement, Version};

use super::environment::{self, Environment, Fork};
use super::package::PubPackage;
use super::priority::Priorities;
use super::provider::Provider;
use super::selector::Range;
use super::{ResolveError, ResolveRequest};

/// How a solve ended.
pub enum Solve {
    Solved(pubgrub::SelectedDependencies<PubPackage, Version>),
    /// A universal resolution's fork split: solve each of `forks` instead, starting from what
    /// was `decided` before the split (in the order it was decided).
    Forked {
        forks: Vec<Fork>,
        decided: Vec<(PubPackage, Version)>,
        /// The ranks and conflict counts at the split, each fork's to start from.
        priorities: Box<Priorities>,
    },
}

/// The decisions PubGrub holds, in the order it made them: what uv's partial solution would
/// show. The provider is not told when PubGrub undoes a decision, but PubGrub asks for the
/// priority of a package exactly when it is undecided and wanted again — after a version of it
/// was refused, or after backtracking undid its decision and (decisions being a stack) every
/// later one. So a decision is pushed when `choose_version` answers, and cut, with everything
/// after it, when its package is prioritized again.
#[derive(Default)]
pub(super) struct Decisions {
    order: Vec<(PubPackage, Version)>,
    position: HashMap<PubPackage, usize>,
}

impl Decisions {
    fn push(&mut self, package: &PubPackage, version: &Version) {
        self.undo(package);
        self.position.insert(package.clone(), self.order.len());
        self.order.push((package.clone(), version.clone()));
    }

    /// Undoes `package`'s decision and every one made after it.
    fn undo(&mut self, package: &PubPackage) {
        if let Some(at) = self.position.get(package).copied() {
            for (undone, _) in self.order.drain(at..) {
                self.position.remove(&undone);
            }
        }
    }

    /// The version `name` (the package itself, not an extra) is decided at.
    pub(super) fn version_of(&self, name: &PackageName) -> Option<&Version> {
        let at = self.position.get(&PubPackage::base(name.clone()))?;
        self.order.get(*at).map(|(_, version)| version)
    }

    fn clear(&mut self) {
        self.order.clear();
        self.position.clear();
    }
}

/// Decisions a fork makes again first, in their order, before any other: its parent's.
#[derive(Default)]
struct Replay {
    /// Each package's place in the order, until it is decided again.
    rank: HashMap<PubPackage, usize>,
    /// The versions, by name (an extra's proxy follows its package's).
    versions: HashMap<PackageName, Version>,
}

impl Replay {
    fn of(decisions: Vec<(PubPackage, Version)>) -> Replay {
        let mut replay = Replay::default();
        for (rank, (package, version)) in decisions.into_iter().enumerate() {
            if package.is_base()
                && let Some(name) = package.name()
            {
                replay.versions.insert(name.clone(), version);
            }
            replay.rank.insert(package, rank);
        }
        replay
    }
}

/// Solves in the provider's current environment.
pub(super) fn solve(provider: &Provider) -> Result<Solve, ResolveError> {
    match pubgrub::resolve(provider, PubPackage::Root, Version::new([0])) {
        Ok(solution) => Ok(Solve::Solved(solution)),
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
            let decided = provider.state.decisions.borrow().order.clone();
            Ok(Solve::Forked {
                forks,
                decided,
                priorities: Box::new(provider.priorities_now()),
            })
        }
        Err(error) => Err(explain(error, provider)),
    }
}

/// Explains a failed resolution.
fn explain(error: pubgrub::PubGrubError<Provider>, provider: &Provider) -> ResolveError {
    match error {
        pubgrub::PubGrubError::NoSolution(tree) => ResolveError::NoSolution(super::report::explain(tree, provider)),
        pubgrub::PubGrubError::ErrorChoosingVersion { source, .. }
        | pubgrub::PubGrubError::ErrorRetrievingDependencies { source, .. }
        | pubgrub::PubGrubError::ErrorInShouldCancel(source) => source,
    }
}

/// A version given to PubGrub and the dependencies it was answered with.
type Asked = (Version, Vec<(PubPackage, Range)>);

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
    /// The decisions PubGrub holds now, in order.
    pub(super) decisions: RefCell<Decisions>,
    /// What each package (the root too) asked of others at the version last given to PubGrub:
    /// with `decisions`, what the requirements in force say of a package.
    asked: RefCell<HashMap<PubPackage, Asked>>,
    /// What the parent of a universal fork had decided: made again first, in the same order
    /// and at the same versions where they still fit, so a fork starts where uv's would.
    replay: RefCell<Replay>,
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
            decisions: RefCell::new(Decisions::default()),
            asked: RefCell::new(HashMap::new()),
            replay: RefCell::new(Replay::default()),
            decided: Cell::new(0),
        }
    }

    /// Makes the next solve one for `env`, making `replay`'s decisions first where they fit (a
    /// fork starts from what its parent had decided).
    pub(super) fn enter(&self, env: Environment, replay: Vec<(PubPackage, Version)>) {
        *self.env.borrow_mut() = env;
        self.last_chosen.borrow_mut().clear();
        self.decisions.borrow_mut().clear();
        // A fork reads requirements under its own markers.
        self.asked.borrow_mut().clear();
        *self.replay.borrow_mut() = Replay::of(replay);
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
        let replayed = self.replay.borrow().versions.get(name).cloned();
        let other_forks = self.fork_preferences.borrow().get(name).cloned();
        replayed
            .into_iter()
            .chain(other_forks)
            .chain(self.preferences.get(name).cloned())
            .collect()
    }

    /// Remembers a version chosen for a package (PubGrub decides it unless its dependencies
    /// refuse it).
    pub(super) fn record(&self, package: &PubPackage, version: &Version) {
        if package.is_base()
            && let Some(name) = package.name()
        {
            self.last_chosen.borrow_mut().insert(name.clone(), version.clone());
        }
        self.replay.borrow_mut().rank.remove(package);
        self.decisions.borrow_mut().push(package, version);
    }

    /// Remembers what `package` at `version` requires.
    pub(super) fn note_asked(&self, package: &PubPackage, version: &Version, dependencies: &[(PubPackage, Range)]) {
        self.asked
            .borrow_mut()
            .insert(package.clone(), (version.clone(), dependencies.to_vec()));
    }

    /// What the requirements of the root and of the packages decided now allow of `name`.
    pub(super) fn declared(&self, name: &PackageName) -> Range {
        let asked = self.asked.borrow();
        let decisions = self.decisions.borrow();
        let root = asked.get(&PubPackage::Root).map(|(_, dependencies)| dependencies);
        let decided = decisions.order.iter().filter_map(|(package, version)| {
            asked
                .get(package)
                .filter(|(asked_at, _)| asked_at == version)
                .map(|(_, dependencies)| dependencies)
        });
        root.into_iter()
            .chain(decided)
            .flatten()
            // A requirement with extras is on the extras' packages only.
            .filter(|(dependency, _)| dependency.name() == Some(name))
            .fold(Range::full(), |declared, (_, range)| declared.intersection(range))
    }

    /// Whether some requirement read in this solve asked exactly `range` of `name`.
    pub(super) fn was_asked(&self, name: &PackageName, range: &Range) -> bool {
        self.asked
            .borrow()
            .values()
            .flat_map(|(_, dependencies)| dependencies)
            .any(|(dependency, asked)| dependency.name() == Some(name) && asked == range)
    }

    /// `package` is undecided (PubGrub asks for its priority): its decision, if it had one, and
    /// every later one were undone.
    pub(super) fn undecided(&self, package: &PubPackage) {
        self.decisions.borrow_mut().undo(package);
    }

    /// Where `package` comes among the decisions this solve makes again first.
    pub(super) fn replay_rank(&self, package: &PubPackage) -> Option<usize> {
        self.replay.borrow().rank.get(package).copied()
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
