//! The PubGrub dependency provider: candidates, version choice (preferences,
//! pre-release and yanked rules), dependencies (markers, extras,
//! constraints, requires-python), and prefetching.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use axle_standards::{
    ExtraName, MarkerTree, Metadata, Operator, PackageName, Requirement, Version, VersionOrUrl, evaluate,
};
use pubgrub::{Dependencies, DependencyProvider, PackageResolutionStatistics, Ranges};

use super::candidates::{self, BinaryPolicy, CandidateCache, Candidates};
use super::environment::{self, Environment, Fork};
use super::package::PubPackage;
use super::speculation::Speculation;
use super::{Direct, Pin, PinSource, RequiredBy, Resolution, ResolveError, ResolveRequest};
use crate::dist::{ArchiveSource, BuildContext, Builds, SourceDist, SourceMetadata};
use crate::index::{FetchContext, IndexClient, IndexedFile, Sha256Digest, Sources};
use crate::progress::{Phase, Reporter};
use crate::target::Target;

type Range = Ranges<Version>;

pub struct Provider {
    index: Arc<IndexClient>,
    runtime: tokio::runtime::Handle,
    reporter: Arc<dyn Reporter>,
    sources: Sources,
    fetch: FetchContext,
    target: Target,
    exclude_newer: Option<jiff::Timestamp>,
    binaries: BinaryPolicy,
    prereleases: bool,
    prerelease_named: RefCell<HashSet<PackageName>>,
    constraints: HashMap<PackageName, Range>,
    preferences: HashMap<PackageName, Version>,
    /// The root requirements (their markers are read per solve: a universal resolution's
    /// forks see different ones).
    root_requirements: Vec<Requirement>,
    /// What this solve is for: the target, or a fork of a universal resolution.
    env: RefCell<Environment>,
    /// Where the last solve forked (a universal resolution only).
    forks: RefCell<Option<Vec<Fork>>>,
    /// Versions some requirement pins with `==`/`===` (yanked ones are
    /// allowed only then).
    exact_pins: RefCell<HashMap<PackageName, HashSet<Version>>>,
    candidates: RefCell<HashMap<PackageName, Arc<Candidates>>>,
    metadata: RefCell<HashMap<(PackageName, Version), Arc<Metadata>>>,
    /// The order packages were discovered in: requirements in the order written, then each
    /// package's dependencies in the order its metadata lists them (uv decides in this order
    /// too, so ties between equally constrained packages fall the same way). Names are
    /// numbered once for a package and all its extras (which are decided together, as uv
    /// decides them), each (virtual) package again to order those.
    first_seen: RefCell<HashMap<PubPackage, usize>>,
    name_seen: RefCell<HashMap<PackageName, usize>>,
    cache: Arc<CandidateCache>,
    /// Identifies the target for the candidate cache; `target_key` adds a universal
    /// resolution's lowest Python to it.
    base_key: u64,
    target_key: Cell<u64>,
    /// The lower bounds of `Requires-Python` strings.
    python_floors: RefCell<HashMap<Arc<str>, Option<Version>>>,
    /// The versions solved forks chose: the forks after them prefer these.
    fork_preferences: RefCell<HashMap<PackageName, Version>>,
    prefetched: Arc<Mutex<Prefetched>>,
    /// Packages the root names by location: their one candidate.
    direct: HashMap<PackageName, Direct>,
    builds: Option<(Arc<dyn Builds>, Arc<BuildContext>)>,
    decided: Cell<u64>,
    /// The version last chosen for each package: its extras' proxies try it first (any other
    /// is refused at once while the package keeps it).
    last_chosen: RefCell<HashMap<PackageName, Version>>,
    /// How many versions of each package were chosen so far: a package walking down its
    /// versions gets the metadata of the next ones fetched in a batch (see `batch_prefetch`).
    tried: RefCell<HashMap<PackageName, HashSet<Version>>>,
    /// Fetches the batch prefetches' guesses.
    speculation: Arc<Speculation>,
    /// The lowest version of each package whose metadata was prefetched.
    prefetched_below: RefCell<HashMap<PackageName, Version>>,
    /// How often a version of each package was refused because its dependencies exclude
    /// another package's decided version (`affected`), and how often each package's decision
    /// caused such a refusal (`caused`).
    affected: RefCell<HashMap<PackageName, u32>>,
    caused: RefCell<HashMap<PackageName, u32>>,
    /// Packages decided before others (they kept being refused) and after others (they kept
    /// causing refusals), as uv reorders them.
    early: RefCell<HashSet<PackageName>>,
    late: RefCell<HashSet<PackageName>>,
    restart_requested: Cell<bool>,
    restarts: Cell<u32>,
    /// Every version chosen for a package in this solve, in order.
    decisions: RefCell<Vec<(PackageName, Version)>>,
    /// What was decided before the culprit of the last reordering: kept by the next solve
    /// where it still fits, so a restart undoes only what uv's backtracking would undo.
    replay: RefCell<HashMap<PackageName, Version>>,
    /// The solve after a restart keeps the decisions made before this package's.
    replay_until: RefCell<Option<PackageName>>,
    /// What the requirements on each package allow, intersected over every requirement seen
    /// (not the solver's current range, which also excludes what conflicts refused): pre-
    /// releases are taken when no final release fits this, as pip takes them.
    declared: RefCell<HashMap<PackageName, Range>>,
}

/// How often a package must be refused (or cause a refusal) before it is decided earlier (or
/// later): uv's threshold.
const CONFLICT_THRESHOLD: u32 = 5;

/// Restarts of one resolution at most: past them, the order stays as it is.
const MAX_RESTARTS: u32 = 16;

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
        let active = |requirement: &Requirement| env.applies(&requirement.marker, None).is_some();
        let named: Vec<&Requirement> = request
            .requirements
            .iter()
            .chain(&request.constraints)
            .map(|root| &root.requirement)
            .collect();
        let mut constraints: HashMap<PackageName, Range> = HashMap::new();
        for constraint in request
            .constraints
            .iter()
            .map(|root| &root.requirement)
            .filter(|r| active(r))
        {
            let range = match &constraint.version_or_url {
                Some(VersionOrUrl::VersionSpecifier(specifiers)) => Range::from(specifiers.clone()),
                Some(VersionOrUrl::Url(_)) => {
                    return Err(ResolveError::Invalid(format!(
                        "the constraint on {} is a URL; constraints must be version specifiers",
                        constraint.name
                    )));
                }
                None => Range::full(),
            };
            let entry = constraints.entry(constraint.name.clone()).or_insert_with(Range::full);
            *entry = entry.intersection(&range);
        }

        let speculation = Speculation::new(index.clone(), request.fetch.clone(), runtime.clone());
        let provider = Provider {
            index,
            runtime,
            reporter,
            sources: request.sources.clone(),
            fetch: request.fetch.clone(),
            target: request.target.clone(),
            exclude_newer: request.exclude_newer,
            binaries: request.binaries.clone(),
            prereleases: request.prereleases,
            prerelease_named: RefCell::new(super::prerelease_named(&named)),
            constraints,
            preferences: request.preferences.clone(),
            root_requirements: request
                .requirements
                .iter()
                .map(|root| root.requirement.clone())
                .collect(),
            base_key: target_key(request),
            target_key: Cell::new(keyed(target_key(request), env.universal_python())),
            fork_preferences: RefCell::new(HashMap::new()),
            python_floors: RefCell::new(HashMap::new()),
            env: RefCell::new(env),
            forks: RefCell::new(None),
            exact_pins: RefCell::new(HashMap::new()),
            candidates: RefCell::new(HashMap::new()),
            metadata: RefCell::new(HashMap::new()),
            first_seen: RefCell::new(HashMap::new()),
            name_seen: RefCell::new(HashMap::new()),
            cache: request.candidate_cache.clone(),
            prefetched: Arc::default(),
            direct: direct_files(request)?,
            builds: request.builds.clone(),
            decided: Cell::new(0),
            last_chosen: RefCell::new(HashMap::new()),
            tried: RefCell::new(HashMap::new()),
            speculation,
            prefetched_below: RefCell::new(HashMap::new()),
            affected: RefCell::new(HashMap::new()),
            caused: RefCell::new(HashMap::new()),
            early: RefCell::new(HashSet::new()),
            late: RefCell::new(HashSet::new()),
            restart_requested: Cell::new(false),
            restarts: Cell::new(0),
            decisions: RefCell::new(Vec::new()),
            replay: RefCell::new(HashMap::new()),
            replay_until: RefCell::new(None),
            declared: RefCell::new(HashMap::new()),
        };
        for constraint in request.constraints.iter().map(|root| &root.requirement) {
            provider.note_exact_pins(constraint);
        }
        let root = provider.requirements_of_root();
        let mut dependencies = Vec::new();
        for (requirement, _) in &root {
            provider.add_requirement(requirement, &mut dependencies)?;
        }
        let dependencies = merge(dependencies);
        provider.note_discovered(&dependencies);
        provider.prefetch(&dependencies);
        Ok(provider)
    }

    /// Solves in the current environment, starting over when the order of decisions changes
    /// (see `note_conflicts`); what was learned about packages is kept across restarts.
    pub fn solve(&self) -> Result<Solve, ResolveError> {
        loop {
            match pubgrub::resolve(self, PubPackage::Root, Version::new([0])) {
                Ok(solution) => return Ok(Solve::Solved(solution)),
                Err(pubgrub::PubGrubError::ErrorInShouldCancel(ResolveError::Restart)) => self.restart(),
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
                    let forks = self.forks.borrow_mut().take().unwrap_or_default();
                    let decided = self.decisions.borrow().iter().cloned().collect();
                    return Ok(Solve::Forked { forks, decided });
                }
                Err(error) => return Err(self.explain(error)),
            }
        }
    }

    /// Makes the next solve one for `env`, keeping `replay`'s versions where they fit (a fork
    /// starts from what its parent had decided) and everything learned about packages.
    pub fn enter(&self, env: Environment, replay: HashMap<PackageName, Version>) {
        let python = env.universal_python();
        if python != self.env.borrow().universal_python() {
            // Files are grouped for the lowest Python: a fork raising it sees other candidates,
            // and likely other versions, whose metadata the prefetcher fetches anew.
            self.candidates.borrow_mut().clear();
            self.target_key.set(keyed(self.base_key, python));
            *self.prefetched.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Prefetched::default();
        }
        *self.env.borrow_mut() = env;
        // Another fork choosing other versions is no walk down a package's releases.
        self.tried.borrow_mut().clear();
        self.prefetched_below.borrow_mut().clear();
        self.last_chosen.borrow_mut().clear();
        self.decisions.borrow_mut().clear();
        *self.replay.borrow_mut() = replay;
    }

    /// Prefers `versions` from now on (a solved fork's pins, for the forks after it: a package
    /// gets one version in every fork where it can).
    pub fn prefer(&self, versions: &BTreeMap<PackageName, Version>) {
        let mut replay = self.fork_preferences.borrow_mut();
        for (name, version) in versions {
            replay.entry(name.clone()).or_insert_with(|| version.clone());
        }
    }

    /// The root requirements that apply in the current environment, with where they do.
    fn requirements_of_root(&self) -> Vec<(Requirement, MarkerTree)> {
        let env = self.env.borrow();
        self.root_requirements
            .iter()
            .filter_map(|requirement| Some((requirement.clone(), env.applies(&requirement.marker, None)?)))
            .collect()
    }

    /// Adds `requirement` (its base package and one package per extra).
    fn add_requirement(
        &self,
        requirement: &Requirement,
        out: &mut Vec<(PubPackage, Range)>,
    ) -> Result<(), ResolveError> {
        let mut range = match &requirement.version_or_url {
            None => Range::full(),
            Some(VersionOrUrl::VersionSpecifier(specifiers)) => {
                if axle_standards::allows_prerelease(specifiers) {
                    self.prerelease_named.borrow_mut().insert(requirement.name.clone());
                }
                Range::from(specifiers.clone())
            }
            Some(VersionOrUrl::Url(url)) => match self.direct.get(&requirement.name) {
                Some(direct) => Range::singleton(direct_version(direct)),
                None => {
                    return Err(ResolveError::Invalid(format!(
                        "{} is required from {url}, which a dependency cannot pin; name it in your requirements",
                        requirement.name
                    )));
                }
            },
        };
        self.note_exact_pins(requirement);
        if let Some(constraint) = self.constraints.get(&requirement.name) {
            range = range.intersection(constraint);
        }
        {
            let mut declared = self.declared.borrow_mut();
            let known = declared.entry(requirement.name.clone()).or_insert_with(Range::full);
            *known = known.intersection(&range);
        }
        out.push((PubPackage::base(requirement.name.clone()), range.clone()));
        for extra in &requirement.extras {
            out.push((
                PubPackage::Package {
                    name: requirement.name.clone(),
                    extra: Some(extra.clone()),
                },
                range.clone(),
            ));
        }
        Ok(())
    }

    fn note_exact_pins(&self, requirement: &Requirement) {
        if let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url {
            for specifier in specifiers.iter() {
                if matches!(specifier.operator(), Operator::Equal | Operator::ExactEqual) {
                    self.exact_pins
                        .borrow_mut()
                        .entry(requirement.name.clone())
                        .or_default()
                        .insert(specifier.version().clone());
                }
            }
        }
    }

    fn exactly_pinned(&self, name: &PackageName, version: &Version) -> bool {
        self.exact_pins
            .borrow()
            .get(name)
            .is_some_and(|versions| versions.contains(version))
    }

    fn candidates(&self, name: &PackageName) -> Result<Arc<Candidates>, ResolveError> {
        if let Some(known) = self.candidates.borrow().get(name) {
            return Ok(known.clone());
        }
        // A direct URL requirement is the package's only candidate.
        let files = match self.direct.get(name) {
            Some(Direct::Wheel(file)) => Arc::new(vec![file.clone()]),
            Some(Direct::Source { .. }) => Arc::new(Vec::new()),
            None => {
                let waited = std::time::Instant::now();
                let files = self
                    .runtime
                    .block_on(self.index.project(&self.sources, name, &self.fetch))?;
                let waited = waited.elapsed();
                if waited > std::time::Duration::from_millis(50) {
                    tracing::debug!(%name, waited_ms = waited.as_millis() as u64, "waited for a page");
                }
                files
            }
        };
        if files.is_empty() {
            tracing::debug!(%name, "no files found");
        }
        let universal = self.env.borrow().universal_python();
        let grouped = self.cache.get_or_group(name, files, self.target_key.get(), |files| {
            candidates::group(
                name,
                files,
                &self.target,
                universal.as_ref(),
                self.exclude_newer,
                &self.binaries,
            )
        });
        self.candidates.borrow_mut().insert(name.clone(), grouped.clone());
        Ok(grouped)
    }

    fn metadata(&self, name: &PackageName, version: &Version) -> Result<Arc<Metadata>, ResolveError> {
        let key = (name.clone(), version.clone());
        if let Some(known) = self.metadata.borrow().get(&key) {
            return Ok(known.clone());
        }
        if let Some(Direct::Source { metadata, .. }) = self.direct.get(name) {
            return Ok(metadata.metadata.clone());
        }
        let candidates = self.candidates(name)?;
        let file = candidates
            .metadata_file(version)
            .ok_or_else(|| ResolveError::Invalid(format!("{name} {version} has no files")))?
            .clone();
        let waited = std::time::Instant::now();
        let metadata = self
            .runtime
            .block_on(file_metadata(&self.index, self.builds.as_ref(), &file, &self.fetch))?;
        let waited = waited.elapsed();
        if waited > std::time::Duration::from_millis(50) {
            tracing::debug!(%name, %version, file = %file.file.filename, waited_ms = waited.as_millis() as u64, "waited for metadata");
        }
        self.metadata.borrow_mut().insert(key, metadata.clone());
        Ok(metadata)
    }

    /// Backtracking must not be paid in round trips: from the third version of a package tried,
    /// the metadata of the next versions below it (20 at a time, whatever the current range,
    /// which backtracking keeps changing) is fetched in the background, so a package walking
    /// down its releases finds each one's metadata there (uv prefetches in batches too). Only
    /// wheels: an sdist's metadata may need a build, which waits until a version is chosen.
    fn batch_prefetch(&self, name: &PackageName, chosen: &Version, candidates: &Candidates) {
        const AHEAD: usize = 20;
        // Distinct versions: forks and restarts choosing one version again are no walk.
        let tried = {
            let mut tried = self.tried.borrow_mut();
            let versions = tried.entry(name.clone()).or_default();
            versions.insert(chosen.clone());
            versions.len()
        };
        if tried < 3 {
            return;
        }
        let mut below = self.prefetched_below.borrow_mut();
        let frontier = below.get(name).cloned();
        // Still well ahead of the walk: nothing to add yet.
        let remaining = match &frontier {
            Some(frontier) if frontier < chosen => candidates.versions.range(frontier..chosen).count(),
            _ => 0,
        };
        if remaining > AHEAD / 2 {
            return;
        }
        let start = match &frontier {
            Some(frontier) if frontier < chosen => frontier.clone(),
            _ => chosen.clone(),
        };
        let batch: Vec<(&Version, IndexedFile)> = candidates
            .versions
            .range(..start)
            .rev()
            .filter(|(_, files)| files.installable())
            // The very file the solver will ask for, or the fetch is wasted.
            .filter_map(|(version, _)| Some((version, candidates.metadata_wheel(version)?.clone())))
            .take(AHEAD)
            .collect();
        let Some((lowest, _)) = batch.last() else {
            return;
        };
        below.insert(name.clone(), (*lowest).clone());
        tracing::debug!(%name, tried, batch = batch.len(), "prefetching the next versions' metadata");
        self.speculation
            .guess(batch.into_iter().map(|(_, file)| file).collect());
    }

    /// How a version's `Requires-Python` (as its files declare it) fits a universal resolution's
    /// fork (see `Environment::allows_python`); files were already judged for a specific target.
    fn python_fit(&self, files: &candidates::VersionFiles) -> PythonFit {
        let (Environment::Universal(fork), Some(text)) = (&*self.env.borrow(), &files.requires_python) else {
            return PythonFit::Fits;
        };
        let floor = self
            .python_floors
            .borrow_mut()
            .entry(text.clone())
            .or_insert_with(|| {
                axle_standards::VersionSpecifiers::from_str(text)
                    .ok()
                    .and_then(|specifiers| environment::python_floor(&specifiers))
            })
            .clone();
        match floor {
            Some(floor) if floor > fork.python => PythonFit::Above(floor),
            _ => PythonFit::Fits,
        }
    }

    /// Counts the conflicts `name`'s dependencies have with decisions already made.
    ///
    /// When the newest allowed A is accepted by no recent release of B, deciding A first makes
    /// B walk back through every release to one from years ago that has no bound on A; uv and
    /// pip step A back instead and keep a recent B. uv gets there by counting, for each
    /// package, how often it is refused because of another's decision: past a threshold the
    /// refused package is decided earlier and the culprit later. A version of `name` whose
    /// dependency excludes the decided version of another package is refused by the solver,
    /// so the provider can count without the solver's internals; and since upstream PubGrub
    /// cannot undo one decision on request, the resolution restarts with the new order (what
    /// was fetched and learned about packages is kept).
    fn note_conflicts(&self, name: &PackageName, dependencies: &[(PubPackage, Range)]) {
        let last_chosen = self.last_chosen.borrow();
        for (dependency, range) in dependencies {
            let PubPackage::Package {
                name: culprit,
                extra: None,
            } = dependency
            else {
                continue;
            };
            let Some(decided) = last_chosen.get(culprit) else {
                continue;
            };
            if culprit == name || range.contains(decided) {
                continue;
            }
            // Counted per package, as uv counts.
            let bump = |counts: &RefCell<HashMap<PackageName, u32>>, package: &PackageName| {
                let mut counts = counts.borrow_mut();
                let count = counts.entry(package.clone()).or_insert(0);
                *count += 1;
                *count
            };
            let affected = bump(&self.affected, name);
            let caused = bump(&self.caused, culprit);
            if affected >= CONFLICT_THRESHOLD {
                self.early.borrow_mut().insert(name.clone());
            }
            // A package refused often itself is not pushed back for the refusals it causes.
            if caused >= CONFLICT_THRESHOLD
                && self.restarts.get() < MAX_RESTARTS
                && !self.early.borrow().contains(culprit)
                && self.late.borrow_mut().insert(culprit.clone())
            {
                tracing::debug!(affected = %name, %culprit, "deciding the culprit later, and solving again");
                self.restart_requested.set(true);
                *self.replay_until.borrow_mut() = Some(culprit.clone());
            }
        }
    }

    /// Prepares a new solve after a reordering: what was decided before the culprit's
    /// decision is kept where it still fits (uv backtracks to just before the culprit), the
    /// rest is decided again; knowledge of packages is kept.
    pub fn restart(&self) {
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

    /// Remembers a version chosen for a package (not for its extras' proxies).
    fn record_decision(&self, package: &PubPackage, name: &PackageName, version: &Version) {
        if let PubPackage::Package { extra: None, .. } = package {
            self.last_chosen.borrow_mut().insert(name.clone(), version.clone());
            self.decisions.borrow_mut().push((name.clone(), version.clone()));
        }
    }

    /// Numbers packages not seen before, in the order given.
    fn note_discovered(&self, dependencies: &[(PubPackage, Range)]) {
        for (package, _) in dependencies {
            self.discovery_order(package);
        }
    }

    /// Where `package` comes in the order of discovery: its name's place, and its own (numbered
    /// now if it was not seen before).
    fn discovery_order(&self, package: &PubPackage) -> (usize, usize) {
        let mut seen = self.first_seen.borrow_mut();
        let next = seen.len();
        let order = *seen.entry(package.clone()).or_insert(next);
        let Some(name) = package.name() else {
            return (order, order);
        };
        let mut names = self.name_seen.borrow_mut();
        let next = names.len();
        (*names.entry(name.clone()).or_insert(next), order)
    }

    /// Starts fetching pages and the likely metadata of `dependencies`,
    /// and, as that metadata arrives, of their dependencies in turn: the
    /// network works down the tree while the solver is still deciding.
    fn prefetch(&self, dependencies: &[(PubPackage, Range)]) {
        let context = Arc::new(Prefetch {
            index: self.index.clone(),
            sources: self.sources.clone(),
            fetch: self.fetch.clone(),
            target: self.target.clone(),
            env: self.env.borrow().clone(),
            binaries: self.binaries.clone(),
            exclude_newer: self.exclude_newer,
            preferences: self.preferences.clone(),
            cache: self.cache.clone(),
            target_key: self.target_key.get(),
            seen: self.prefetched.clone(),
            runtime: self.runtime.clone(),
            builds: self.builds.clone(),
        });
        for (package, range) in dependencies {
            if let PubPackage::Package { name, extra: None } = package
                && !self.direct.contains_key(name)
            {
                context.clone().start(name.clone(), range.clone());
            }
        }
    }

    /// The requirements of `name` (with `extra`: what the extra adds) at `version` that apply
    /// in the current environment, with where they do; `Err` with the reason when the version
    /// cannot be used here at all.
    fn requirements_of(
        &self,
        name: &PackageName,
        extra: Option<&ExtraName>,
        version: &Version,
    ) -> Result<Result<Vec<(Requirement, MarkerTree)>, String>, ResolveError> {
        let metadata = self.metadata(name, version)?;
        let env = self.env.borrow();
        if let Some(requires_python) = &metadata.requires_python
            && !env.allows_python(requires_python)
        {
            return Ok(Err(format!(
                "requires Python {requires_python}, not {}",
                env.python_checked()
            )));
        }
        Ok(Ok(metadata
            .requires_dist
            .iter()
            .filter_map(|requirement| Some((requirement.clone(), env.applies(&requirement.marker, extra)?)))
            .collect()))
    }

    /// The solver's view of `requirements` of `dependent`.
    fn dependencies(
        &self,
        dependent: &PackageName,
        requirements: &[(Requirement, MarkerTree)],
    ) -> Result<Vec<(PubPackage, Range)>, ResolveError> {
        let mut dependencies = Vec::new();
        for (requirement, _) in requirements {
            self.add_dependency(dependent, requirement, &mut dependencies)?;
        }
        Ok(merge(dependencies))
    }

    /// In a universal resolution, whether `requirements` split the current fork (then the
    /// solve stops, and its forks are solved in its place).
    fn forks_at(&self, requirements: &[(Requirement, MarkerTree)]) -> bool {
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
                *self.forks.borrow_mut() = Some(forks);
                true
            }
            None => false,
        }
    }

    fn add_dependency(
        &self,
        dependent: &PackageName,
        requirement: &Requirement,
        out: &mut Vec<(PubPackage, Range)>,
    ) -> Result<(), ResolveError> {
        // A package that requires itself (usually with extras) only adds the extras.
        if &requirement.name == dependent && requirement.extras.is_empty() {
            return Ok(());
        }
        if let Some(VersionOrUrl::Url(url)) = &requirement.version_or_url {
            return Err(ResolveError::Invalid(format!(
                "{dependent} requires {} from a URL ({url}), which a lock cannot pin",
                requirement.name
            )));
        }
        self.add_requirement(requirement, out)
    }

    /// Explains a failed resolution.
    pub fn explain(&self, error: pubgrub::PubGrubError<Self>) -> ResolveError {
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

    /// What a solve chose: versions, extras, what requires each package, and where (within
    /// the solve's environment) each is needed — followed from the roots along requirements
    /// and their markers.
    pub fn solved(
        &self,
        request: &ResolveRequest,
        solution: &pubgrub::SelectedDependencies<PubPackage, Version>,
    ) -> Result<Solved, ResolveError> {
        let mut versions: BTreeMap<PackageName, Version> = BTreeMap::new();
        let mut extras: BTreeMap<PackageName, BTreeSet<ExtraName>> = BTreeMap::new();
        for (package, version) in solution.iter() {
            match package {
                PubPackage::Root | PubPackage::ExtraRequirements { .. } => {}
                PubPackage::Package { name, extra: None } => {
                    versions.insert(name.clone(), version.clone());
                }
                PubPackage::Package {
                    name,
                    extra: Some(extra),
                } => {
                    extras.entry(name.clone()).or_default().insert(extra.clone());
                }
            }
        }

        // One node per package and per extra requested of it.
        type Node = (PackageName, Option<ExtraName>);
        let nodes_of = |requirement: &Requirement| -> Vec<Node> {
            let mut nodes = vec![(requirement.name.clone(), None)];
            if let Some(selected) = extras.get(&requirement.name) {
                for extra in requirement.extras.iter().filter(|extra| selected.contains(*extra)) {
                    nodes.push((requirement.name.clone(), Some(extra.clone())));
                }
            }
            nodes
        };
        let mut reach: HashMap<Node, MarkerTree> = HashMap::new();
        let mut queue: VecDeque<Node> = VecDeque::new();
        fn widen(reach: &mut HashMap<Node, MarkerTree>, queue: &mut VecDeque<Node>, node: Node, marker: MarkerTree) {
            let known = reach.entry(node.clone()).or_insert(MarkerTree::FALSE);
            let mut wider = known.clone();
            wider.or(marker);
            if wider != *known {
                *known = wider;
                queue.push_back(node);
            }
        }

        let base = self.env.borrow().marker();
        let mut required_by: BTreeMap<PackageName, BTreeSet<RequiredBy>> = BTreeMap::new();
        for root in &request.requirements {
            let requirement = &root.requirement;
            let Some(marker) = self.env.borrow().applies(&requirement.marker, None) else {
                continue;
            };
            if !versions.contains_key(&requirement.name) {
                continue;
            }
            required_by
                .entry(requirement.name.clone())
                .or_default()
                .insert(RequiredBy::Origin(root.origin.clone()));
            let mut at = base.clone();
            at.and(marker);
            for node in nodes_of(requirement) {
                widen(&mut reach, &mut queue, node, at.clone());
            }
        }
        for constraint in &request.constraints {
            if versions.contains_key(&constraint.requirement.name) {
                required_by
                    .entry(constraint.requirement.name.clone())
                    .or_default()
                    .insert(RequiredBy::Origin(constraint.origin.clone()));
            }
        }

        let mut edges: HashMap<Node, Vec<(Node, MarkerTree)>> = HashMap::new();
        while let Some(node) = queue.pop_front() {
            if !edges.contains_key(&node) {
                let (name, extra) = &node;
                let mut out = Vec::new();
                if extra.is_some() {
                    out.push(((name.clone(), None), MarkerTree::TRUE));
                }
                if let Some(version) = versions.get(name)
                    && let Ok(requirements) = self.requirements_of(name, extra.as_ref(), version)?
                {
                    for (requirement, marker) in requirements {
                        let itself = requirement.name == *name && requirement.extras.is_empty();
                        if itself || !versions.contains_key(&requirement.name) {
                            continue;
                        }
                        out.extend(nodes_of(&requirement).into_iter().map(|node| (node, marker.clone())));
                    }
                }
                edges.insert(node.clone(), out);
            }
            let from = reach.get(&node).cloned().unwrap_or(MarkerTree::FALSE);
            for (target, marker) in edges.get(&node).cloned().unwrap_or_default() {
                let mut at = from.clone();
                at.and(marker);
                widen(&mut reach, &mut queue, target, at);
            }
        }
        for ((name, _), targets) in &edges {
            for ((dependency, _), _) in targets {
                if dependency != name {
                    required_by
                        .entry(dependency.clone())
                        .or_default()
                        .insert(RequiredBy::Package(name.clone()));
                }
            }
        }
        let needed = reach
            .into_iter()
            .filter(|((_, extra), _)| extra.is_none())
            .map(|((name, _), marker)| (name, marker))
            .collect();
        Ok(Solved {
            versions,
            extras,
            required_by,
            needed,
        })
    }

    /// Turns a solve for one environment into pins with files and annotations.
    pub fn pins(
        &self,
        request: &ResolveRequest,
        solution: pubgrub::SelectedDependencies<PubPackage, Version>,
    ) -> Result<Resolution, ResolveError> {
        let Solved {
            versions,
            mut extras,
            mut required_by,
            ..
        } = self.solved(request, &solution)?;
        let markers = &self.target.markers;
        let mut root_markers: BTreeMap<PackageName, Vec<Option<String>>> = BTreeMap::new();
        for root in &request.requirements {
            let requirement = &root.requirement;
            if !evaluate(&requirement.marker, markers, &[]) || !versions.contains_key(&requirement.name) {
                continue;
            }
            root_markers
                .entry(requirement.name.clone())
                .or_default()
                .push(match &root.marker_text {
                    Some(text) => Some(text.clone()),
                    None => requirement.marker.contents().map(|contents| contents.to_string()),
                });
        }
        let mut pins = Vec::with_capacity(versions.len());
        for (name, version) in versions {
            // pip-compile writes a top-level requirement's marker only when
            // every root requirement of the package has one.
            let root_marker = root_markers.get(&name).and_then(|markers| {
                let all_marked = markers.iter().all(Option::is_some);
                if all_marked {
                    markers.first().cloned().flatten()
                } else {
                    None
                }
            });
            let extras = extras.remove(&name).unwrap_or_default();
            let required_by = required_by.remove(&name).unwrap_or_default();
            pins.push(self.pin(name, version, extras, required_by, root_marker)?);
        }
        Ok(Resolution { pins })
    }

    /// The pin of `name` at `version`: its files (all of them, for hashes) and how a lock
    /// writes it.
    pub fn pin(
        &self,
        name: PackageName,
        version: Version,
        extras: BTreeSet<ExtraName>,
        required_by: BTreeSet<RequiredBy>,
        root_marker: Option<String>,
    ) -> Result<Pin, ResolveError> {
        let files = self.candidates(&name)?.files_of(&version);
        let (source, files) = match self.direct.get(&name) {
            Some(Direct::Wheel(file)) => (PinSource::Url(file.file.url().into_owned()), files),
            Some(Direct::Source { source, metadata, pin }) => (pin.clone(), source_files(source, metadata)),
            None => (PinSource::Registry, files),
        };
        Ok(Pin {
            source,
            extras,
            required_by,
            name,
            version,
            files,
            root_marker,
        })
    }
}

/// How a version's `Requires-Python` fits a fork of a universal resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PythonFit {
    Fits,
    /// It needs this Python or later, above the fork's lowest.
    Above(Version),
}

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

/// What one solve chose.
pub struct Solved {
    pub versions: BTreeMap<PackageName, Version>,
    pub extras: BTreeMap<PackageName, BTreeSet<ExtraName>>,
    pub required_by: BTreeMap<PackageName, BTreeSet<RequiredBy>>,
    /// Where each package is needed, within the solve's environment.
    pub needed: HashMap<PackageName, MarkerTree>,
}

/// The candidates of root requirements named by location: those the caller read (sources)
/// and the wheel URLs, whose one file is their candidate.
fn direct_files(request: &ResolveRequest) -> Result<HashMap<PackageName, Direct>, ResolveError> {
    let mut direct = request.direct.clone();
    for root in &request.requirements {
        let Some(VersionOrUrl::Url(url)) = &root.requirement.version_or_url else {
            continue;
        };
        let name = &root.requirement.name;
        if direct.contains_key(name) {
            continue;
        }
        let text = url.to_string();
        let parsed =
            url::Url::parse(&text).map_err(|error| ResolveError::Invalid(format!("{name} @ {text}: {error}")))?;
        let (parsed, filename, sha256) = crate::index::file_link(parsed);
        let Ok(dist) = axle_standards::DistFilename::try_from_filename(&filename, Some(name)) else {
            return Err(ResolveError::Invalid(format!(
                "{name} @ {text}: not a wheel or source distribution of {name}"
            )));
        };
        if !matches!(dist, axle_standards::DistFilename::Wheel(_)) {
            return Err(ResolveError::Index(crate::index::IndexError::NeedsBuild { filename }));
        }
        let sha256 = match sha256.as_deref().map(Sha256Digest::from_hex) {
            None => None,
            Some(Some(digest)) => Some(digest),
            Some(None) => {
                return Err(ResolveError::Invalid(format!(
                    "{name} @ {text}: its `#sha256=` is not a SHA-256 digest (64 hexadecimal digits)"
                )));
            }
        };
        let file = crate::index::DistFile::direct(filename, parsed.to_string(), sha256);
        direct.insert(
            name.clone(),
            Direct::Wheel(IndexedFile {
                file: Arc::new(file),
                filename: dist,
                source: Arc::from("direct"),
            }),
        );
    }
    Ok(direct)
}

/// The version a direct candidate has.
fn direct_version(direct: &Direct) -> Version {
    match direct {
        Direct::Wheel(file) => file.filename.version().clone(),
        Direct::Source { metadata, .. } => metadata.metadata.version.clone(),
    }
}

/// The files whose hashes a lock lists for a source pin: its archive, if it is one.
fn source_files(source: &SourceDist, metadata: &SourceMetadata) -> Vec<IndexedFile> {
    let SourceDist::Archive(archive) = source else {
        return Vec::new();
    };
    let Ok(filename) = axle_standards::DistFilename::try_from_filename(&archive.filename, None) else {
        return Vec::new();
    };
    let file = crate::index::DistFile::direct(
        archive.filename.clone(),
        archive.url.clone(),
        metadata.sha256.as_deref().and_then(Sha256Digest::from_hex),
    );
    vec![IndexedFile {
        file: Arc::new(file),
        filename,
        source: Arc::from("direct"),
    }]
}

/// The metadata of an index file: from the index for a wheel, from a build for an sdist.
async fn file_metadata(
    index: &Arc<IndexClient>,
    builds: Option<&(Arc<dyn Builds>, Arc<BuildContext>)>,
    file: &IndexedFile,
    fetch: &FetchContext,
) -> Result<Arc<Metadata>, ResolveError> {
    match (&file.filename, builds) {
        (axle_standards::DistFilename::SourceDist(_), Some((builds, context))) => {
            let source = SourceDist::Archive(ArchiveSource::from_indexed(file));
            let found = builds.metadata(&source, context).await?;
            Ok(found.metadata)
        }
        _ => Ok(index.metadata(file, fetch).await?),
    }
}

/// What decides how a project's files group for a resolution.
fn target_key(request: &ResolveRequest) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    request.target.python_full_version.to_string().hash(&mut hasher);
    request.target.tags.len().hash(&mut hasher);
    for tag in request.target.tags.iter().take(16) {
        tag.to_string().hash(&mut hasher);
    }
    request
        .exclude_newer
        .map(|time| time.as_millisecond())
        .hash(&mut hasher);
    format!("{:?}", request.binaries).hash(&mut hasher);
    hasher.finish()
}

/// The candidate cache's key for a target and a universal resolution's lowest Python.
fn keyed(base: u64, universal: Option<Version>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (base, universal).hash(&mut hasher);
    hasher.finish()
}

/// Combines repeated dependencies on one package into one range.
fn merge(dependencies: Vec<(PubPackage, Range)>) -> Vec<(PubPackage, Range)> {
    let mut merged: Vec<(PubPackage, Range)> = Vec::with_capacity(dependencies.len());
    for (package, range) in dependencies {
        match merged.iter_mut().find(|(known, _)| *known == package) {
            Some((_, known)) => *known = known.intersection(&range),
            None => merged.push((package, range)),
        }
    }
    merged
}

impl DependencyProvider for Provider {
    type P = PubPackage;
    type V = Version;
    type VS = Range;
    type M = String;
    type Err = ResolveError;
    /// Exact pins first (they cannot move), then the packages that kept being refused, then
    /// those whose decisions kept refusing others (still before the rest, so that they conflict
    /// before unrelated packages are decided: uv's order), then the rest, each group in the
    /// order its packages were discovered: a breadth-first walk that keeps results stable.
    /// PubGrub's own conflict counts are left out: uv's order has none, and with them (or with
    /// the culprits decided last) `apache-airflow[all]` locked 25 pins away from uv's.
    type Priority = (u8, std::cmp::Reverse<usize>, std::cmp::Reverse<usize>);

    fn prioritize(
        &self,
        package: &PubPackage,
        range: &Range,
        _statistics: &PackageResolutionStatistics,
    ) -> Self::Priority {
        let (name_order, order) = self.discovery_order(package);
        let kind = match package {
            PubPackage::Root => 5,
            _ if range.as_singleton().is_some() => 4,
            _ => match package.name() {
                Some(name) if self.early.borrow().contains(name) => 3,
                Some(name) if self.late.borrow().contains(name) => 2,
                _ => 1,
            },
        };
        (kind, std::cmp::Reverse(name_order), std::cmp::Reverse(order))
    }

    fn should_cancel(&self) -> Result<(), ResolveError> {
        if self.restart_requested.get() {
            return Err(ResolveError::Restart);
        }
        Ok(())
    }

    fn choose_version(&self, package: &PubPackage, range: &Range) -> Result<Option<Version>, ResolveError> {
        let name = match package {
            PubPackage::Root => return Ok(Some(Version::new([0]))),
            // Always pinned by its proxy to one version; whether that version is usable was
            // the proxy's question.
            PubPackage::ExtraRequirements { .. } => return Ok(range.as_singleton().cloned()),
            PubPackage::Package { name, .. } => name,
        };
        if let Some(direct) = self.direct.get(name) {
            let version = direct_version(direct);
            return Ok(range.contains(&version).then_some(version));
        }
        let candidates = self.candidates(name)?;
        let installable = |version: &Version| {
            candidates
                .versions
                .get(version)
                .is_some_and(|files| files.installable() && (!files.yanked || self.exactly_pinned(name, version)))
        };
        let fit = |version: &Version| {
            candidates
                .versions
                .get(version)
                .map_or(PythonFit::Fits, |files| self.python_fit(files))
        };
        let usable = |version: &Version| installable(version) && fit(version) == PythonFit::Fits;
        if let PubPackage::Package { extra: Some(_), .. } = package
            && let Some(base) = self.last_chosen.borrow().get(name)
            && range.contains(base)
            && usable(base)
        {
            return Ok(Some(base.clone()));
        }
        let replayed = self.replay.borrow().get(name).cloned();
        let other_forks = self.fork_preferences.borrow().get(name).cloned();
        for preferred in replayed.iter().chain(&other_forks).chain(self.preferences.get(name)) {
            if range.contains(preferred) && usable(preferred) {
                self.record_decision(package, name, preferred);
                return Ok(Some(preferred.clone()));
            }
        }
        // PEP 440: pre-releases only when asked for, or when no final release fits what the
        // requirements say — not merely what the solver has left after refusing versions,
        // which would trade backtracking for a pre-release.
        let allow_pre = self.prereleases || self.prerelease_named.borrow().contains(name) || {
            let declared = self.declared.borrow();
            let declared = declared.get(name);
            !candidates.versions.keys().any(|version| {
                !version.any_prerelease()
                    && declared.is_none_or(|declared| declared.contains(version))
                    && usable(version)
            })
        };
        let mut chosen = None;
        for version in candidates.versions.keys().rev().filter(|version| {
            range.contains(version) && (allow_pre || !version.any_prerelease()) && installable(version)
        }) {
            match fit(version) {
                PythonFit::Fits => {
                    chosen = Some(version.clone());
                    break;
                }
                // uv's default fork strategy: the newest version for every Python the lock
                // supports. A release needing a newer Python than the fork's lowest splits the
                // fork there; below, an older release is chosen.
                PythonFit::Above(lowest) => {
                    if let Environment::Universal(fork) = &*self.env.borrow()
                        && let Some(forks) = fork.split_at_python(&lowest)
                    {
                        tracing::debug!(%name, %version, %lowest, "the resolution forks at a Requires-Python bound");
                        // The fork below `lowest` starts with the next older release that
                        // Python can use: its metadata (and its dependencies') is fetched while
                        // the forks above are solved.
                        let below = candidates.versions.range(..version).rev().find(|(older, _)| {
                            range.contains(older)
                                && (allow_pre || !older.any_prerelease())
                                && installable(older)
                                && match fit(older) {
                                    PythonFit::Fits => true,
                                    PythonFit::Above(floor) => floor < lowest,
                                }
                        });
                        if let Some((older, _)) = below {
                            self.prefetch(&[(PubPackage::base(name.clone()), Range::singleton(older.clone()))]);
                        }
                        *self.forks.borrow_mut() = Some(forks.to_vec());
                        return Err(ResolveError::Fork);
                    }
                }
            }
        }
        tracing::trace!(%package, %range, chosen = ?chosen.as_ref().map(ToString::to_string), "decision");
        if let Some(version) = &chosen {
            self.record_decision(package, name, version);
            if let PubPackage::Package { extra: None, .. } = package {
                self.batch_prefetch(name, version, &candidates);
            }
            let decided = self.decided.get() + 1;
            self.decided.set(decided);
            self.reporter
                .progress(Phase::Resolve, &format!("{name}=={version}"), decided, 0);
        }
        Ok(chosen)
    }

    fn get_dependencies(
        &self,
        package: &PubPackage,
        version: &Version,
    ) -> Result<Dependencies<PubPackage, Range, String>, ResolveError> {
        let (name, extra) = match package {
            PubPackage::Root => {
                let requirements = self.requirements_of_root();
                if self.forks_at(&requirements) {
                    return Err(ResolveError::Fork);
                }
                let mut dependencies = Vec::new();
                for (requirement, _) in &requirements {
                    self.add_requirement(requirement, &mut dependencies)?;
                }
                let dependencies = merge(dependencies);
                self.prefetch(&dependencies);
                return Ok(Dependencies::Available(dependencies.into_iter().collect()));
            }
            // The proxy: its package and the extra's requirements at the same version, known
            // without metadata.
            PubPackage::Package {
                name,
                extra: Some(extra),
            } => {
                let exactly = Range::singleton(version.clone());
                let dependencies = [
                    (PubPackage::base(name.clone()), exactly.clone()),
                    (
                        PubPackage::ExtraRequirements {
                            name: name.clone(),
                            extra: extra.clone(),
                        },
                        exactly,
                    ),
                ];
                self.note_discovered(&dependencies);
                return Ok(Dependencies::Available(dependencies.into_iter().collect()));
            }
            PubPackage::Package { name, extra: None } => (name, None),
            PubPackage::ExtraRequirements { name, extra } => (name, Some(extra)),
        };
        match self.requirements_of(name, extra, version)? {
            Ok(requirements) => {
                if self.forks_at(&requirements) {
                    return Err(ResolveError::Fork);
                }
                let dependencies = self.dependencies(name, &requirements)?;
                self.note_discovered(&dependencies);
                self.note_conflicts(name, &dependencies);
                self.prefetch(&dependencies);
                Ok(Dependencies::Available(dependencies.into_iter().collect()))
            }
            Err(reason) => Ok(Dependencies::Unavailable(reason)),
        }
    }
}

/// What the background prefetch needs; shared by every prefetch task of one
/// resolution.
struct Prefetch {
    index: Arc<IndexClient>,
    sources: Sources,
    fetch: FetchContext,
    target: Target,
    env: Environment,
    binaries: BinaryPolicy,
    exclude_newer: Option<jiff::Timestamp>,
    preferences: HashMap<PackageName, Version>,
    cache: Arc<CandidateCache>,
    target_key: u64,
    seen: Arc<Mutex<Prefetched>>,
    runtime: tokio::runtime::Handle,
    builds: Option<(Arc<dyn Builds>, Arc<BuildContext>)>,
}

/// What the prefetcher started: a package is looked at again for each new range a dependent
/// asks of it (an exact pin in a release chosen later names another version than the newest),
/// and a version's metadata is fetched, and its dependencies followed, once.
#[derive(Default)]
struct Prefetched {
    ranges: HashSet<(PackageName, Range)>,
    versions: HashSet<(PackageName, Version)>,
}

impl Prefetch {
    fn seen(&self) -> std::sync::MutexGuard<'_, Prefetched> {
        self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn start(self: Arc<Self>, name: PackageName, range: Range) {
        if !self.seen().ranges.insert((name.clone(), range.clone())) {
            return;
        }
        let runtime = self.runtime.clone();
        runtime.spawn(async move { self.run(name, range).await });
    }

    async fn run(self: Arc<Self>, name: PackageName, range: Range) {
        let Ok(files) = self.index.project(&self.sources, &name, &self.fetch).await else {
            return;
        };
        let grouped = self.cache.get_or_group(&name, files, self.target_key, |files| {
            candidates::group(
                &name,
                files,
                &self.target,
                self.env.universal_python().as_ref(),
                self.exclude_newer,
                &self.binaries,
            )
        });
        let preferred = self
            .preferences
            .get(&name)
            .filter(|version| range.contains(version) && grouped.versions.contains_key(*version));
        let likely_version = preferred.cloned().or_else(|| {
            grouped
                .versions
                .iter()
                .rev()
                .find(|(version, files)| {
                    range.contains(version) && !version.any_prerelease() && files.installable() && !files.yanked
                })
                .map(|(version, _)| version.clone())
        });
        let Some(version) = likely_version else {
            return;
        };
        if !self.seen().versions.insert((name.clone(), version.clone())) {
            return;
        }
        let Some(file) = grouped.metadata_file(&version).cloned() else {
            return;
        };
        let Ok(metadata) = file_metadata(&self.index, self.builds.as_ref(), &file, &self.fetch).await else {
            return;
        };
        for requirement in &metadata.requires_dist {
            if self.env.applies(&requirement.marker, None).is_none() {
                continue;
            }
            let range = match &requirement.version_or_url {
                Some(VersionOrUrl::VersionSpecifier(specifiers)) => Range::from(specifiers.clone()),
                _ => Range::full(),
            };
            self.clone().start(requirement.name.clone(), range);
        }
    }
}
