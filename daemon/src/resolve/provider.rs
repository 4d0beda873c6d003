//! The PubGrub dependency provider: a thin façade over the rooms that do the work —
//! `selector` (which version to try), `dependencies` (what a version requires here),
//! `priority` (the order of decisions and the conflict counts that change it), `solve` (the
//! loop, its forks, what it decided) and `prefetch` (the network ahead of the
//! solver). It wires them together and reports progress; it holds no rule of its own.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axle_standards::{ExtraName, MarkerTree, PackageName, Requirement, Version};
use pubgrub::{Dependencies, DependencyProvider, PackageResolutionStatistics};

use super::dependencies::Expander;
use super::environment::{Environment, Fork};
use super::package::PubPackage;
use super::prefetch::Prefetcher;
use super::priority::{Priorities, Priority};
use super::report::Context;
use super::selector::{Choice, Range, Selector};
use super::solve::{self, Solve, SolveState};
use super::{Origin, ResolveError, ResolveRequest};
use crate::index::IndexClient;
use crate::progress::{Phase, Reporter};

pub struct Provider {
    pub(super) selector: Selector,
    /// Where the root requirements and constraints on each package are written, for errors.
    origins: HashMap<PackageName, Vec<String>>,
    expander: Expander,
    priorities: Priorities,
    pub(super) state: SolveState,
    prefetcher: Prefetcher,
    reporter: Arc<dyn Reporter>,
}

impl Provider {
    pub fn new(
        request: &ResolveRequest,
        index: Arc<IndexClient>,
        runtime: tokio::runtime::Handle,
        reporter: Arc<dyn Reporter>,
    ) -> Result<Provider, ResolveError> {
        let env = match &request.universal {
            Some(lowest) => Environment::Universal(Fork::at_least(lowest)),
            None => Environment::Specific {
                markers: request.target.markers.clone(),
                python_full_version: request.target.python_full_version.clone(),
            },
        };
        let selector = Selector::new(request, index, runtime, &env)?;
        let provider = Provider {
            origins: origins(request),
            expander: Expander::new(request, &env)?,
            priorities: Priorities::default(),
            prefetcher: Prefetcher::new(&selector),
            selector,
            state: SolveState::new(request, env),
            reporter,
        };
        let env = provider.state.env.borrow().clone();
        let dependencies = provider
            .expander
            .root_dependencies(&provider.expander.root(&env), &provider.selector)?;
        provider.prefetch(&dependencies);
        Ok(provider)
    }

    /// Solves in the current environment (see `solve::solve`).
    pub fn solve(&self) -> Result<Solve, ResolveError> {
        solve::solve(self)
    }

    /// Makes the next solve one for `env`, making `replay`'s decisions first where they fit (a
    /// fork starts from what its parent had decided), keeping everything learned about packages.
    pub(super) fn enter(&self, env: Environment, replay: Vec<(PubPackage, Version)>, priorities: Priorities) {
        let python = env.universal_python();
        let python_changed = python != self.state.env.borrow().universal_python();
        if python_changed {
            self.selector.enter_python(python);
        }
        self.prefetcher.enter_fork(python_changed);
        self.state.enter(env, replay);
        self.priorities.restore(priorities);
    }

    /// The ranks and conflict counts now (a fork's to start from).
    pub(super) fn priorities_now(&self) -> Priorities {
        self.priorities.clone()
    }

    /// Prefers `versions` from now on (see `SolveState::prefer`).
    pub fn prefer(&self, versions: &BTreeMap<PackageName, Version>) {
        self.state.prefer(versions);
    }

    /// The requirements of `name` (with `extra`) at `version` in the current environment.
    pub(super) fn requirements_of(
        &self,
        name: &PackageName,
        extra: Option<&ExtraName>,
        version: &Version,
    ) -> Result<Result<Vec<(Requirement, MarkerTree)>, String>, ResolveError> {
        let env = self.state.env.borrow();
        self.expander
            .requirements_of(name, extra, version, &self.selector, &env)
    }

    /// Takes note of requirements read, for the order of decisions.
    fn note_required(&self, dependencies: &[(PubPackage, Range)]) {
        self.priorities
            .note_required(dependencies, |name| self.selector.direct.contains_key(name));
    }

    fn prefetch(&self, dependencies: &[(PubPackage, Range)]) {
        let env = self.state.env.borrow();
        self.prefetcher
            .follow(dependencies, &self.selector, &env, &self.state.preferences);
    }
}

impl DependencyProvider for Provider {
    type P = PubPackage;
    type V = Version;
    type VS = Range;
    type M = String;
    type Err = ResolveError;
    type Priority = Priority;

    fn prioritize(
        &self,
        package: &PubPackage,
        // uv's order depends on what requirements said of a package, not on what is left.
        _range: &Range,
        _statistics: &PackageResolutionStatistics,
    ) -> Self::Priority {
        // Asked only of a package that is undecided now.
        self.state.undecided(package);
        self.priorities.priority(package, self.state.replay_rank(package))
    }

    fn note_conflict(&self, affected: &PubPackage, _version: Option<&Version>, incompatibility: &[&PubPackage]) {
        self.priorities.note_conflict(affected, incompatibility);
    }

    fn take_backtracks(&self) -> Vec<PubPackage> {
        self.priorities.take_backtracks()
    }

    fn proxy_base(&self, package: &PubPackage) -> Option<PubPackage> {
        match package {
            PubPackage::Package { .. } => package.proxied(),
            _ => None,
        }
    }

    fn choose_version(&self, package: &PubPackage, range: &Range) -> Result<Option<Version>, ResolveError> {
        let name = match package {
            PubPackage::Root => return Ok(Some(Version::new([0]))),
            // Always pinned by its proxy to one version; whether that version is usable was
            // the proxy's question.
            PubPackage::ExtraRequirements { .. } => {
                let version = range.as_singleton().cloned();
                if let Some(version) = &version {
                    self.state.record(package, version);
                }
                return Ok(version);
            }
            PubPackage::Package { name, .. } => name,
        };
        // A proxy tries the version its package is decided at first: any other is refused at
        // once (uv tries them one by one, to the same end).
        let mut preferred = Vec::new();
        if !package.is_base()
            && let Some(base) = self.state.decisions.borrow().version_of(name)
        {
            preferred.push(base.clone());
        }
        preferred.extend(self.state.preferred(name));
        let choice = {
            let env = self.state.env.borrow();
            self.selector
                .choose(name, range, &preferred, &env, || self.state.declared(name))?
        };
        match choice {
            Choice::Direct(version) | Choice::Preferred(version) => {
                self.state.record(package, &version);
                Ok(Some(version))
            }
            Choice::Nothing => {
                tracing::trace!(%package, %range, "decision: none");
                Ok(None)
            }
            Choice::Fork { forks, below } => {
                // The fork below starts with `below`: its metadata (and its dependencies') is
                // fetched while the forks above are solved.
                if let Some(older) = below {
                    self.prefetch(&[(PubPackage::base(name.clone()), Range::singleton(older))]);
                }
                self.state.fork_into(forks);
                Err(ResolveError::Fork)
            }
            Choice::Newest(version, candidates) => {
                tracing::trace!(%package, %range, chosen = %version, "decision");
                self.state.record(package, &version);
                if package.is_base() {
                    self.prefetcher.walking(name, &version, &candidates);
                }
                let decided = self.state.decided.get() + 1;
                self.state.decided.set(decided);
                self.reporter
                    .progress(Phase::Resolve, &format!("{name}=={version}"), decided, 0);
                Ok(Some(version))
            }
        }
    }

    fn get_dependencies(
        &self,
        package: &PubPackage,
        version: &Version,
    ) -> Result<Dependencies<PubPackage, Range, String>, ResolveError> {
        let (name, extra) = match package {
            PubPackage::Root => {
                let requirements = self.expander.root(&self.state.env.borrow());
                if self.state.forks_at(&requirements) {
                    return Err(ResolveError::Fork);
                }
                let dependencies = self.expander.root_dependencies(&requirements, &self.selector)?;
                self.note_required(&dependencies);
                self.state.note_asked(package, version, &dependencies);
                self.prefetch(&dependencies);
                return Ok(Dependencies::Available(dependencies.into_iter().collect()));
            }
            // A proxy: its package at the same version and, for an extra, the extra's
            // requirements at it, known without metadata.
            PubPackage::Package { name, extra, .. } if !package.is_base() => {
                let exactly = Range::singleton(version.clone());
                let mut dependencies = vec![(PubPackage::base(name.clone()), exactly.clone())];
                if let Some(extra) = extra {
                    let requirements = PubPackage::ExtraRequirements {
                        name: name.clone(),
                        extra: extra.clone(),
                    };
                    dependencies.push((requirements, exactly));
                }
                self.note_required(&dependencies);
                self.state.note_asked(package, version, &dependencies);
                return Ok(Dependencies::Available(dependencies.into_iter().collect()));
            }
            PubPackage::Package { name, .. } => (name, None),
            PubPackage::ExtraRequirements { name, extra } => (name, Some(extra)),
        };
        match self.requirements_of(name, extra, version)? {
            Ok(requirements) => {
                if self.state.forks_at(&requirements) {
                    return Err(ResolveError::Fork);
                }
                let dependencies = self.expander.dependencies(name, extra, &requirements, &self.selector)?;
                self.note_required(&dependencies);
                self.state.note_asked(package, version, &dependencies);
                self.prefetch(&dependencies);
                Ok(Dependencies::Available(dependencies.into_iter().collect()))
            }
            Err(reason) => Ok(Dependencies::Unavailable(reason)),
        }
    }
}

impl Context for Provider {
    fn origins(&self, name: &PackageName) -> Vec<String> {
        self.origins.get(name).cloned().unwrap_or_default()
    }

    fn why_none(&self, name: &PackageName, range: &Range) -> Option<super::unavailable::Why> {
        let env = self.state.env.borrow();
        self.selector
            .why_none(name, range, &env, self.state.was_asked(name, range))
    }
}

/// Where each root requirement and constraint is written: `requirements.in, line 3`,
/// `constrained in constraints.txt, line 2`, a project's name and path.
fn origins(request: &ResolveRequest) -> HashMap<PackageName, Vec<String>> {
    let mut origins: HashMap<PackageName, Vec<String>> = HashMap::new();
    for root in request.requirements.iter().chain(&request.constraints) {
        let text = match (&root.origin, root.line) {
            (Origin::Requirements(file), Some(line)) => format!("{file}, line {line}"),
            (Origin::Constraints(file), Some(line)) => format!("constrained in {file}, line {line}"),
            (Origin::Constraints(file), None) => format!("constrained by {file}"),
            (origin, _) => origin.to_string(),
        };
        let known = origins.entry(root.requirement.name.clone()).or_default();
        if !known.contains(&text) {
            known.push(text);
        }
    }
    origins
}
