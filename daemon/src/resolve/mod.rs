//! Resolution: from root requirements to one version of each package, with
//! PubGrub (the `pubgrub` crate) as the solver.
//!
//! The solver is synchronous and runs on a blocking thread; the provider asks
//! the async [`IndexClient`] through a runtime handle and, whenever it learns
//! a package's dependencies, starts fetching their pages and likely metadata
//! in the background, so that network latency overlaps with solving.
//!
//! Architecture invariant: this module does no IO of its own; everything it
//! knows about packages comes from the index client.

mod candidates;
mod dependencies;
mod direct;
mod environment;
mod package;
mod prefetch;
mod priority;
mod provider;
mod report;
mod selector;
mod solution;
mod solve;
mod speculation;
mod unavailable;
mod universal;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use axle_standards::{ExtraName, PackageName, Requirement, Version};

pub use candidates::{BinaryPolicy, CandidateCache, VersionFiles};
pub use package::PubPackage;

use crate::dist::{BuildContext, BuildError, Builds, SourceDist, SourceMetadata};
use crate::index::{FetchContext, IndexClient, IndexError, IndexedFile, Sources};
use crate::progress::Reporter;
use crate::target::Target;

/// Where a root requirement came from, for `# via` annotations.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// `-r file` (a requirements input).
    Requirements(String),
    /// `-c file` (a constraints file).
    Constraints(String),
    /// A `pyproject.toml` (annotated with its project name and path).
    Project(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Requirements(file) => write!(f, "-r {file}"),
            Origin::Constraints(file) => write!(f, "-c {file}"),
            Origin::Project(text) => f.write_str(text),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RootRequirement {
    pub requirement: Requirement,
    /// The marker as the user wrote it, when known (echoed in the lock).
    pub marker_text: Option<String>,
    pub origin: Origin,
    /// The line of the requirement file it is on, when it is on one (named in errors).
    pub line: Option<usize>,
}

/// A root requirement named by location (`name @ url`, a path, `-e path`, `git+…`), read
/// before resolving: its one candidate.
#[derive(Debug, Clone)]
pub enum Direct {
    /// A wheel: its one file.
    Wheel(IndexedFile),
    /// A source whose metadata was read (or built).
    Source {
        source: SourceDist,
        metadata: SourceMetadata,
        /// How the lock writes it.
        pin: PinSource,
    },
}

/// How a pin is written in a lock.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PinSource {
    /// `name==version`, from an index.
    #[default]
    Registry,
    /// `name @ url` (an archive; a local one as a `file://` URL).
    Url(String),
    /// A project directory: an editable as the input spelled it (`-e ./proj`), anything else
    /// by its absolute path (`name @ file:///…/proj`), as pip-compile writes them.
    Directory {
        given: String,
        path: std::path::PathBuf,
        editable: bool,
    },
    /// `name @ git+…@commit`, `-e git+…@commit#egg=name`.
    Git { url: String, editable: bool },
}

/// Everything a resolution needs.
pub struct ResolveRequest {
    pub requirements: Vec<RootRequirement>,
    pub constraints: Vec<RootRequirement>,
    /// Pins to keep when they still fit (from an existing lock).
    pub preferences: HashMap<PackageName, Version>,
    pub target: Target,
    pub sources: Sources,
    pub fetch: FetchContext,
    /// `--pre`: pre-releases are as good as final releases.
    pub prereleases: bool,
    /// Files uploaded after this time are ignored (`--exclude-newer`).
    pub exclude_newer: Option<jiff::Timestamp>,
    pub binaries: BinaryPolicy,
    /// Grouped candidates shared with other resolutions of the daemon.
    pub candidate_cache: Arc<CandidateCache>,
    /// Where metadata that no index serves comes from (sdists are built); `None`: nowhere,
    /// an sdist without a wheel is an error.
    pub builds: Option<(Arc<dyn Builds>, Arc<BuildContext>)>,
    /// Root requirements named by location, read beforehand.
    pub direct: HashMap<PackageName, Direct>,
    /// A universal lock for every platform and every Python from this version on, instead of
    /// one for the target (whose tags still choose the wheels metadata is read from).
    pub universal: Option<Version>,
}

/// One pinned package.
#[derive(Debug, Clone)]
pub struct Pin {
    pub name: PackageName,
    pub version: Version,
    /// Extras some requirement asked for.
    pub extras: BTreeSet<ExtraName>,
    /// Every file of this version on the source it came from (hashes of all
    /// of them go into the lock, as pip-compile writes them).
    pub files: Vec<IndexedFile>,
    /// How the lock writes it.
    pub source: PinSource,
    /// The roots and packages that require it.
    pub required_by: BTreeSet<RequiredBy>,
    /// The marker written after the pin: in a lock for one environment, the root
    /// requirements' (as pip-compile writes it); in a universal lock, where the pin is needed.
    pub root_marker: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RequiredBy {
    Origin(Origin),
    Package(PackageName),
}

impl std::fmt::Display for RequiredBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequiredBy::Origin(origin) => origin.fmt(f),
            RequiredBy::Package(name) => name.fmt(f),
        }
    }
}

/// The result: pins sorted by name.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub pins: Vec<Pin>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    #[error("no set of versions satisfies the requirements:\n{0}")]
    NoSolution(String),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("{0}")]
    Invalid(String),
    /// Not an error: a universal resolution splits into forks, solved one by one.
    #[error("the resolution forked")]
    Fork,
}

/// Resolves `request`. Blocking: call it from a blocking thread.
pub fn resolve(
    request: ResolveRequest,
    index: Arc<IndexClient>,
    runtime: tokio::runtime::Handle,
    reporter: Arc<dyn Reporter>,
) -> Result<Resolution, ResolveError> {
    let provider = provider::Provider::new(&request, index, runtime, reporter)?;
    if let Some(lowest) = &request.universal {
        return universal::resolve(&provider, &request, lowest);
    }
    match provider.solve()? {
        solve::Solve::Solved(solution) => provider.pins(&request, solution),
        solve::Solve::Forked { .. } => Err(ResolveError::Invalid(
            "a resolution for one environment cannot fork".to_string(),
        )),
    }
}

/// Names whose requirement or constraint names a pre-release explicitly.
fn prerelease_named(requirements: &[&Requirement]) -> HashSet<PackageName> {
    requirements
        .iter()
        .filter(|requirement| match &requirement.version_or_url {
            Some(axle_standards::VersionOrUrl::VersionSpecifier(specifiers)) => {
                axle_standards::allows_prerelease(specifiers)
            }
            _ => false,
        })
        .map(|requirement| requirement.name.clone())
        .collect()
}
