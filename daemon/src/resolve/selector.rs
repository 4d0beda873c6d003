//! Candidate selection: the files and metadata of each package's versions for this resolution,
//! and which version to try next — a preferred one (an earlier decision, another fork's, the
//! existing lock's), else the newest that fits, by PEP 440's pre-release rule, pip's rule for
//! yanked releases (only when pinned exactly), the target's files (`--only-binary` and tags,
//! through `candidates::group`) and, in a universal fork, `Requires-Python`.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use axle_standards::{Metadata, Operator, PackageName, Requirement, Version, VersionOrUrl};
use pubgrub::Ranges;

use super::candidates::{self, BinaryPolicy, CandidateCache, Candidates, VersionFiles};
use super::direct::{self, direct_version};
use super::environment::{self, Environment, Fork};
use super::{Direct, ResolveError, ResolveRequest};
use crate::dist::{ArchiveSource, BuildContext, Builds, SourceDist};
use crate::index::{FetchContext, IndexClient, IndexedFile, Sources};
use crate::target::Target;

pub(super) type Range = Ranges<Version>;

/// What the selector answers for a package and the range the solver allows.
pub(super) enum Choice {
    /// The one version of a package named by location.
    Direct(Version),
    /// A version an earlier decision, another fork or the existing lock prefers.
    Preferred(Version),
    /// The newest version that fits, found by walking down the candidates.
    Newest(Version, Arc<Candidates>),
    /// No version fits.
    Nothing,
    /// The newest release needs a newer Python than the universal fork's lowest: the fork
    /// splits there. `below` is the release the fork under that Python would take next.
    Fork { forks: Vec<Fork>, below: Option<Version> },
}

/// How a version's `Requires-Python` fits a fork of a universal resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PythonFit {
    Fits,
    /// It needs this Python or later, above the fork's lowest.
    Above(Version),
}

pub(super) struct Selector {
    pub(super) index: Arc<IndexClient>,
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) sources: Sources,
    pub(super) fetch: FetchContext,
    pub(super) target: Target,
    pub(super) exclude_newer: Option<jiff::Timestamp>,
    pub(super) binaries: BinaryPolicy,
    pub(super) cache: Arc<CandidateCache>,
    /// Packages the root names by location: their one candidate.
    pub(super) direct: HashMap<PackageName, Direct>,
    pub(super) builds: Option<(Arc<dyn Builds>, Arc<BuildContext>)>,
    /// Identifies the target for the candidate cache; `target_key` adds a universal
    /// resolution's lowest Python to it.
    base_key: u64,
    target_key: Cell<u64>,
    candidates: RefCell<HashMap<PackageName, Arc<Candidates>>>,
    metadata: RefCell<HashMap<(PackageName, Version), Arc<Metadata>>>,
    /// The lower bounds of `Requires-Python` strings.
    python_floors: RefCell<HashMap<Arc<str>, Option<Version>>>,
    /// `--pre`: pre-releases are as good as final releases.
    prereleases: bool,
    /// Packages some requirement names a pre-release of.
    prerelease_named: RefCell<HashSet<PackageName>>,
    /// Versions some requirement pins with `==`/`===` (yanked ones are allowed only then).
    exact_pins: RefCell<HashMap<PackageName, HashSet<Version>>>,
}

impl Selector {
    pub(super) fn new(
        request: &ResolveRequest,
        index: Arc<IndexClient>,
        runtime: tokio::runtime::Handle,
        env: &Environment,
    ) -> Result<Selector, ResolveError> {
        let named: Vec<&Requirement> = request
            .requirements
            .iter()
            .chain(&request.constraints)
            .map(|root| &root.requirement)
            .collect();
        let selector = Selector {
            index,
            runtime,
            sources: request.sources.clone(),
            fetch: request.fetch.clone(),
            target: request.target.clone(),
            exclude_newer: request.exclude_newer,
            binaries: request.binaries.clone(),
            cache: request.candidate_cache.clone(),
            direct: direct::direct_files(request)?,
            builds: request.builds.clone(),
            base_key: target_key(request),
            target_key: Cell::new(keyed(target_key(request), env.universal_python())),
            candidates: RefCell::new(HashMap::new()),
            metadata: RefCell::new(HashMap::new()),
            python_floors: RefCell::new(HashMap::new()),
            prereleases: request.prereleases,
            prerelease_named: RefCell::new(super::prerelease_named(&named)),
            exact_pins: RefCell::new(HashMap::new()),
        };
        for constraint in request.constraints.iter().map(|root| &root.requirement) {
            selector.note_exact_pins(constraint);
        }
        Ok(selector)
    }

    /// The candidate cache's key for the current fork.
    pub(super) fn target_key(&self) -> u64 {
        self.target_key.get()
    }

    /// Files are grouped for a universal resolution's lowest Python: when a fork raises it,
    /// the fork sees other candidates (and likely other versions).
    pub(super) fn enter_python(&self, python: Option<Version>) {
        self.candidates.borrow_mut().clear();
        self.target_key.set(keyed(self.base_key, python));
    }

    /// Takes note of what `requirement` says of its package: whether it names a pre-release,
    /// which versions it pins exactly.
    pub(super) fn note_requirement(&self, requirement: &Requirement) {
        if let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url
            && axle_standards::allows_prerelease(specifiers)
        {
            self.prerelease_named.borrow_mut().insert(requirement.name.clone());
        }
        self.note_exact_pins(requirement);
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

    pub(super) fn exactly_pinned(&self, name: &PackageName, version: &Version) -> bool {
        self.exact_pins
            .borrow()
            .get(name)
            .is_some_and(|versions| versions.contains(version))
    }

    /// The versions of `name` and their files, for the current fork.
    pub(super) fn candidates(&self, name: &PackageName, env: &Environment) -> Result<Arc<Candidates>, ResolveError> {
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
        let universal = env.universal_python();
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

    /// The metadata of `name` at `version`: from its wheel, else its sdist's build.
    pub(super) fn metadata(
        &self,
        name: &PackageName,
        version: &Version,
        env: &Environment,
    ) -> Result<Arc<Metadata>, ResolveError> {
        let key = (name.clone(), version.clone());
        if let Some(known) = self.metadata.borrow().get(&key) {
            return Ok(known.clone());
        }
        if let Some(Direct::Source { metadata, .. }) = self.direct.get(name) {
            return Ok(metadata.metadata.clone());
        }
        let candidates = self.candidates(name, env)?;
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

    /// The version of `name` to try within `range`: the first of `preferred` that fits, else
    /// the newest that fits (pre-releases only where PEP 440 allows them, yanked releases
    /// only where pinned exactly, and — in a universal fork — only releases whose
    /// `Requires-Python` admits the fork's lowest Python: a newer one splits the fork).
    /// `declared`: what the requirements of the packages decided so far allow of `name`.
    pub(super) fn choose<'a>(
        &self,
        name: &PackageName,
        range: &Range,
        preferred: impl IntoIterator<Item = &'a Version>,
        env: &Environment,
        declared: impl FnOnce() -> Range,
    ) -> Result<Choice, ResolveError> {
        if let Some(direct) = self.direct.get(name) {
            let version = direct_version(direct);
            return Ok(if range.contains(&version) {
                Choice::Direct(version)
            } else {
                Choice::Nothing
            });
        }
        let candidates = self.candidates(name, env)?;
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
                .map_or(PythonFit::Fits, |files| self.python_fit(files, env))
        };
        let usable = |version: &Version| installable(version) && fit(version) == PythonFit::Fits;
        for preferred in preferred {
            if range.contains(preferred) && usable(preferred) {
                return Ok(Choice::Preferred(preferred.clone()));
            }
        }
        // PEP 440: pre-releases only when asked for, or when no final release fits what the
        // requirements say — the requirements of the packages decided now, as pip gathers
        // them; not merely what the solver has left after refusing versions (which would
        // trade backtracking for a pre-release), nor what every requirement ever read says
        // (a release walked past, with its old bounds, says nothing of this resolution). Asked
        // only when a pre-release would be the choice.
        let newest_final = candidates
            .versions
            .keys()
            .rev()
            .find(|version| !version.any_prerelease() && range.contains(version) && installable(version));
        let pre_is_newer = candidates.versions.keys().rev().any(|version| {
            version.any_prerelease()
                && range.contains(version)
                && newest_final.is_none_or(|newest| version > newest)
                && installable(version)
        });
        let allow_pre = pre_is_newer
            && (self.prereleases || self.prerelease_named.borrow().contains(name) || {
                let declared = declared();
                !candidates
                    .versions
                    .keys()
                    .any(|version| !version.any_prerelease() && declared.contains(version) && usable(version))
            });
        for version in candidates.versions.keys().rev().filter(|version| {
            range.contains(version) && (allow_pre || !version.any_prerelease()) && installable(version)
        }) {
            match fit(version) {
                PythonFit::Fits => return Ok(Choice::Newest(version.clone(), candidates.clone())),
                // uv's default fork strategy: the newest version for every Python the lock
                // supports. A release needing a newer Python than the fork's lowest splits the
                // fork there; below, an older release is chosen.
                PythonFit::Above(lowest) => {
                    if let Environment::Universal(fork) = env
                        && let Some(forks) = fork.split_at_python(&lowest)
                    {
                        tracing::debug!(%name, %version, %lowest, "the resolution forks at a Requires-Python bound");
                        // The release the fork below `lowest` starts with: the next older one
                        // that Python can use.
                        let below = candidates.versions.range(..version).rev().find(|(older, _)| {
                            range.contains(older)
                                && (allow_pre || !older.any_prerelease())
                                && installable(older)
                                && match fit(older) {
                                    PythonFit::Fits => true,
                                    PythonFit::Above(floor) => floor < lowest,
                                }
                        });
                        return Ok(Choice::Fork {
                            forks: forks.to_vec(),
                            below: below.map(|(older, _)| older.clone()),
                        });
                    }
                }
            }
        }
        Ok(Choice::Nothing)
    }

    /// How a version's `Requires-Python` (as its files declare it) fits a universal resolution's
    /// fork (see `Environment::allows_python`); files were already judged for a specific target.
    fn python_fit(&self, files: &VersionFiles, env: &Environment) -> PythonFit {
        let (Environment::Universal(fork), Some(text)) = (env, &files.requires_python) else {
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
}

/// The metadata of an index file: from the index for a wheel, from a build for an sdist.
pub(super) async fn file_metadata(
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
