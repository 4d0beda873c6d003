//! Prefetching: the network works ahead of the solver.
//!
//! - Down the tree: whenever dependencies are learned, their pages and likely metadata are
//!   fetched in the background, and, as that metadata arrives, their dependencies' in turn
//!   (again for each new range a dependent asks, so an exact pin in a release chosen later is
//!   fetched before the solver reaches it).
//! - Down a package's releases: a package walking down its versions gets the next ones'
//!   metadata fetched in a batch (`Speculation`), so backtracking is not paid in round trips.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axle_standards::{PackageName, Version, VersionOrUrl};

use super::candidates::{self, BinaryPolicy, CandidateCache, Candidates};
use super::environment::Environment;
use super::package::PubPackage;
use super::selector::{Range, Selector, file_metadata};
use super::speculation::Speculation;
use crate::dist::{BuildContext, Builds};
use crate::index::{FetchContext, IndexClient, IndexedFile, Sources};
use crate::target::Target;

pub(super) struct Prefetcher {
    /// What the tree prefetch started, shared by its tasks.
    started: Arc<Mutex<Prefetched>>,
    /// Which versions of each package were chosen so far: from the third, the batch prefetch
    /// starts.
    tried: RefCell<HashMap<PackageName, HashSet<Version>>>,
    /// The lowest version of each package whose metadata was prefetched in a batch.
    prefetched_below: RefCell<HashMap<PackageName, Version>>,
    /// Fetches the batch prefetches' guesses.
    speculation: Arc<Speculation>,
}

impl Prefetcher {
    pub(super) fn new(selector: &Selector) -> Prefetcher {
        Prefetcher {
            started: Arc::default(),
            tried: RefCell::new(HashMap::new()),
            prefetched_below: RefCell::new(HashMap::new()),
            speculation: Speculation::new(selector.index.clone(), selector.fetch.clone(), selector.runtime.clone()),
        }
    }

    /// Another fork choosing other versions is no walk down a package's releases; a fork
    /// with another lowest Python (`python_changed`) groups files anew, so the tree is
    /// followed again.
    pub(super) fn enter_fork(&self, python_changed: bool) {
        if python_changed {
            *self.started.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Prefetched::default();
        }
        self.tried.borrow_mut().clear();
        self.prefetched_below.borrow_mut().clear();
    }

    /// Starts fetching pages and the likely metadata of `dependencies`, and, as that metadata
    /// arrives, of their dependencies in turn.
    pub(super) fn follow(
        &self,
        dependencies: &[(PubPackage, Range)],
        selector: &Selector,
        env: &Environment,
        preferences: &HashMap<PackageName, Version>,
    ) {
        let context = Arc::new(Prefetch {
            index: selector.index.clone(),
            sources: selector.sources.clone(),
            fetch: selector.fetch.clone(),
            target: selector.target.clone(),
            env: env.clone(),
            binaries: selector.binaries.clone(),
            exclude_newer: selector.exclude_newer,
            preferences: preferences.clone(),
            cache: selector.cache.clone(),
            target_key: selector.target_key(),
            seen: self.started.clone(),
            runtime: selector.runtime.clone(),
            builds: selector.builds.clone(),
        });
        for (package, range) in dependencies {
            // A proxy's package is what is fetched; proxies of one package start it once.
            if let PubPackage::Package { name, .. } = package
                && !selector.direct.contains_key(name)
            {
                context.clone().start(name.clone(), range.clone());
            }
        }
    }

    /// From the third version of a package tried, the metadata of the next versions below it
    /// (20 at a time, whatever the current range, which backtracking keeps changing) is fetched
    /// in the background, so a package walking down its releases finds each one's metadata
    /// there (uv prefetches in batches too). Only wheels: an sdist's metadata may need a build,
    /// which waits until a version is chosen.
    pub(super) fn walking(&self, name: &PackageName, chosen: &Version, candidates: &Candidates) {
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
