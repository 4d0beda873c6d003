//! `axle lock`: loose inputs to a fully pinned, hashed lock file, as
//! `pip-compile --generate-hashes` writes it — and instantly when nothing
//! changed.
//!
//! The pipeline reads top to bottom in [`lock`]:
//!
//! 1. `Job::read`: the inputs (`inputs`), the target (`crate::target`), the
//!    sources and the header (`options`) — everything that decides the
//!    result, and so the memo key.
//! 2. `memo`: unchanged inputs and an untouched lock file → answer now.
//! 3. resolve, with the existing lock as preferences (`crate::resolve`).
//! 4. hash what the index did not.
//! 5. render (`crate::lockfile`), write atomically, remember.

mod cooldown;
mod inputs;
mod memo;
mod options;
mod sources;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axle_standards::PackageName;
use sha2::{Digest, Sha256};

pub use memo::Memo;

use crate::context::Invocation;
use crate::dist::{ArchiveSource, BuildContext, BuildFlags, Builds, GitSource, SourceDist};
use crate::index::{
    ConfigError, FetchContext, IndexClient, IndexError, IndexSettings, IndexStrategy, Refresh, RequestSettings,
    Sha256Digest, SourceLayers, Sources,
};
use crate::interpreter::InterpreterError;
use crate::lockfile::pylock;
use crate::lockfile::requirements_txt::{self, AnnotationStyle, WriteOptions, read_pins};
use crate::progress::Reporter;
use crate::resolve::{self, Origin, PinSource, ResolveError, ResolveRequest, RootRequirement};
use crate::services::Services;
use crate::target::{self, Target, TargetError};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(transparent)]
    Requirements(#[from] axle_standards::RequirementsTxtError),
    #[error(transparent)]
    PyProject(#[from] axle_standards::PyProjectError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Interpreter(#[from] InterpreterError),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("the lock memo failed: {0}")]
    Memo(String),
    #[error(transparent)]
    Build(#[from] crate::dist::BuildError),
    #[error(transparent)]
    Team(#[from] crate::team::TeamError),
}

/// The lock file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum LockFormat {
    #[default]
    Requirements,
    Pylock,
}

/// `axle lock`'s request, in domain terms.
#[derive(Debug, Clone, Default)]
pub struct LockRequest {
    pub invocation: Invocation,
    pub src_files: Vec<String>,
    pub constraints: Vec<String>,
    pub output_file: Option<String>,
    pub extras: Vec<String>,
    pub all_extras: bool,
    pub groups: Vec<String>,
    pub generate_hashes: bool,
    pub strip_extras: bool,
    pub allow_unsafe: bool,
    pub upgrade: bool,
    pub upgrade_packages: Vec<String>,
    pub header: bool,
    pub annotate: bool,
    pub annotation_style: AnnotationStyle,
    pub emit_index_url: bool,
    pub emit_find_links: bool,
    pub dry_run: bool,
    pub pre: bool,
    pub python: Option<String>,
    pub python_version: Option<String>,
    pub python_platform: Option<String>,
    /// One lock for every platform and every Python from the target's version on.
    pub universal: bool,
    pub exclude_newer: Option<String>,
    pub offline: bool,
    pub index: IndexSettings,
    pub strategy: IndexStrategy,
    pub format: LockFormat,
    pub refresh: bool,
    pub refresh_packages: Vec<String>,
    pub build: BuildFlags,
    /// `--only-binary` / `--no-binary` of the command line (`:all:`, `:none:` or names).
    pub only_binary: Vec<String>,
    pub no_binary: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct LockOutcome {
    pub output_file: PathBuf,
    pub content: String,
    pub packages: usize,
    /// Answered from the memo: inputs and output unchanged.
    pub fresh: bool,
    pub written: bool,
    pub elapsed: Duration,
    pub http_requests: u64,
    pub bytes_fetched: u64,
    pub cache_hits: u64,
    /// Every file the inputs were read from (requirement files and their includes).
    pub input_files: Vec<PathBuf>,
}

pub async fn lock(
    services: &Services,
    memo: &Memo,
    request: LockRequest,
    reporter: Arc<dyn Reporter>,
) -> Result<LockOutcome, LockError> {
    let started = Instant::now();
    let job = Job::read(services, &request).await?;

    let bypass_memo = request.upgrade
        || !request.upgrade_packages.is_empty()
        || request.refresh
        || !request.refresh_packages.is_empty();
    if !bypass_memo && let Some(hit) = memo.lookup(&job.memo_key, &job.output_file).await {
        return Ok(LockOutcome {
            output_file: job.output_file,
            packages: hit.packages,
            content: hit.content,
            fresh: true,
            written: false,
            elapsed: started.elapsed(),
            http_requests: 0,
            bytes_fetched: 0,
            cache_hits: 1,
            input_files: job.inputs.files.iter().cloned().collect(),
        });
    }

    let fetch = FetchContext::new(
        request.offline,
        refresh(&request),
        RequestSettings::from_invocation(&request.invocation),
    )
    .for_sources(&job.sources);
    let builds = build_context(services, &request, &job, &fetch, &reporter)?;
    let direct = sources::read(services, &request, &job, builds.as_ref()).await?;
    let mut resolution = resolve(services, &request, &job, direct, &fetch, builds.clone(), reporter).await?;
    if request.generate_hashes {
        hash_unhashed(&services.index, &mut resolution, &fetch).await?;
    }
    let content = match request.format {
        LockFormat::Requirements => requirements_txt::render(&resolution, &job.options),
        LockFormat::Pylock => {
            let requires_python = request.universal.then(|| {
                let (major, minor) = target::major_minor(&job.target.python_full_version);
                format!(">={major}.{minor}")
            });
            pylock::render(&resolution, requires_python.as_deref(), &job.options.command)
        }
    };
    let written = !request.dry_run;
    if written {
        crash_point!("lock-before-write");
        write_atomically(&job.output_file, &content)?;
        memo.store(&job.memo_key, &job.output_file, &content, resolution.pins.len())
            .await;
        // A lock for this interpreter is usually followed by a sync: its sources start
        // building now, so the sync finds their wheels ready.
        if let Some(context) = builds
            && services.background()
            && request.python_version.is_none()
            && request.python_platform.is_none()
        {
            prebuild(&services.builds, &resolution, &context, &job.target);
        }
    }
    let (http_requests, bytes_fetched, cache_hits, _) = fetch.counters.snapshot();
    Ok(LockOutcome {
        input_files: job.inputs.files.iter().cloned().collect(),
        output_file: job.output_file,
        packages: resolution.pins.len(),
        content,
        fresh: false,
        written,
        elapsed: started.elapsed(),
        http_requests,
        bytes_fetched,
        cache_hits,
    })
}

/// A lock request with everything read that decides its result.
struct Job {
    output_file: PathBuf,
    inputs: inputs::Inputs,
    /// The interpreter builds run with (and whose target it is, unless overridden).
    interpreter: Option<crate::interpreter::Interpreter>,
    target: Target,
    sources: Sources,
    options: WriteOptions,
    /// `--exclude-newer`, as the moment it means now.
    exclude_newer: Option<jiff::Timestamp>,
    memo_key: String,
}

impl Job {
    async fn read(services: &Services, request: &LockRequest) -> Result<Job, LockError> {
        let invocation = &request.invocation;
        let src_files = inputs::source_files(request)?;
        let output_file = inputs::output_file(request, &src_files)?;
        let constraint_files: Vec<PathBuf> = request
            .constraints
            .iter()
            .map(|file| invocation.absolute(file))
            .collect();
        let mut inputs = inputs::read(&inputs::InputSpec {
            invocation,
            src_files: &src_files,
            constraint_files: &constraint_files,
            extras: &request.extras,
            all_extras: request.all_extras,
            groups: &request.groups,
        })?;
        inputs::apply_binary_options(&mut inputs.binaries, request)?;

        // The interpreter gives the target and pip's default index. Locking
        // for another platform does not need one, unless no index is
        // configured.
        let explicit_target = request.python_platform.is_some() && request.python_version.is_some();
        let interpreter = match services.interpreters.find(request.python.as_deref(), invocation).await {
            Ok(found) => Some(found),
            Err(error) if explicit_target => {
                tracing::debug!(%error, "no interpreter; locking for the named target only");
                None
            }
            Err(error) => return Err(error.into()),
        };
        let target = match &interpreter {
            Some(interpreter) => services.targets.get(
                &interpreter.info,
                request.python_version.as_deref(),
                request.python_platform.as_deref(),
            )?,
            None => target::target_without_interpreter(
                request.python_version.as_deref().unwrap_or("3"),
                request.python_platform.as_deref().unwrap_or("linux"),
            )?,
        };
        let sources = SourceLayers {
            invocation,
            cli: &request.index,
            files: &inputs.index_settings,
            strategy: request.strategy,
            pip_default: interpreter
                .as_ref()
                .and_then(|found| found.info.pip_default_index.as_deref()),
            site_prefix: None,
        }
        .resolve()?;
        let exclude_newer = request
            .exclude_newer
            .as_deref()
            .map(|text| cooldown::cutoff(text, jiff::Timestamp::now()))
            .transpose()?;
        let write_options = |exclude_newer: Option<&str>| {
            options::write_options(
                request,
                &src_files,
                &output_file,
                &sources,
                &inputs,
                &target.python_version,
                exclude_newer,
            )
        };
        // The memo keys on what was asked: a duration is the same request as time passes (an
        // unchanged lock stands, as an existing lock's pins are kept); the header records the
        // moment it meant.
        let asked = write_options(request.exclude_newer.as_deref());
        let memo_key = memo::key(request, &inputs, &asked, &sources, &target, &output_file);
        let options = write_options(exclude_newer.as_ref().map(|(_, shown)| shown.as_str()));
        Ok(Job {
            output_file,
            inputs,
            interpreter,
            target,
            sources,
            options,
            exclude_newer: exclude_newer.map(|(moment, _)| moment),
            memo_key,
        })
    }
}

/// Resolves the job's inputs, keeping the existing lock's pins where they
/// still fit (`--upgrade` drops them, `-P` drops one).
#[allow(clippy::too_many_arguments)]
async fn resolve(
    services: &Services,
    request: &LockRequest,
    job: &Job,
    direct: sources::Direct,
    fetch: &FetchContext,
    builds: Option<Arc<BuildContext>>,
    reporter: Arc<dyn Reporter>,
) -> Result<resolve::Resolution, LockError> {
    let mut preferences: HashMap<PackageName, axle_standards::Version> = HashMap::new();
    let mut constraints = job.inputs.constraints.clone();
    let mut requirements = job.inputs.requirements.clone();
    requirements.extend(direct.requirements);
    if !request.upgrade
        && let Ok(existing) = std::fs::read_to_string(&job.output_file)
    {
        preferences.extend(read_pins(&existing));
    }
    for item in &request.upgrade_packages {
        let requirement = axle_standards::parse_requirement(item)
            .map_err(|error| LockError::Usage(format!("--upgrade-package {item}: {error}")))?;
        preferences.remove(&requirement.name);
        if requirement.version_or_url.is_some() {
            constraints.push(RootRequirement {
                requirement,
                marker_text: None,
                origin: Origin::Constraints("--upgrade-package".to_string()),
                line: None,
            });
        }
    }
    let resolve_request = ResolveRequest {
        requirements,
        constraints,
        preferences,
        target: job.target.clone(),
        sources: job.sources.clone(),
        fetch: fetch.clone(),
        prereleases: request.pre || job.inputs.pre,
        exclude_newer: job.exclude_newer,
        binaries: job.inputs.binaries.clone(),
        candidate_cache: services.candidates.clone(),
        builds: builds.map(|context| (services.builds.clone(), context)),
        direct: direct.candidates,
        universal: request.universal.then(|| {
            let (major, minor) = target::major_minor(&job.target.python_full_version);
            axle_standards::Version::new([u64::from(major), u64::from(minor)])
        }),
    };
    let index = services.index.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || resolve::resolve(resolve_request, index, runtime, reporter))
        .await
        .map_err(|error| LockError::Unsupported(format!("the resolver stopped unexpectedly: {error}")))?
        .map_err(LockError::from)
}

/// The context of the builds this lock may need: its interpreter builds (for another
/// platform too: sdists are built here, as uv builds them), fetching as the lock fetches.
fn build_context(
    services: &Services,
    request: &LockRequest,
    job: &Job,
    fetch: &FetchContext,
    reporter: &Arc<dyn Reporter>,
) -> Result<Option<Arc<BuildContext>>, LockError> {
    let Some(interpreter) = &job.interpreter else {
        return Ok(None);
    };
    let target = services.targets.get(&interpreter.info, None, None)?;
    let options = request
        .build
        .options(&request.invocation, Some(&interpreter.path))
        .map_err(LockError::Requirements)?;
    Ok(Some(Arc::new(BuildContext {
        interpreter: interpreter.info.clone(),
        target,
        sources: job.sources.clone(),
        fetch: fetch.clone(),
        options,
        env: request.invocation.env.clone(),
        reporter: reporter.clone(),
        chain: Vec::new(),
        team: services.team.for_request(&request.invocation, reporter.clone())?,
    })))
}

/// Starts building, in the background, the wheels a sync of `resolution` with this lock's
/// interpreter will need: its sdist-only pins and its non-editable sources.
fn prebuild(builds: &Arc<dyn Builds>, resolution: &resolve::Resolution, context: &Arc<BuildContext>, target: &Target) {
    let quiet = Arc::new(BuildContext {
        reporter: Arc::new(crate::progress::Silent),
        interpreter: context.interpreter.clone(),
        target: context.target.clone(),
        sources: context.sources.clone(),
        fetch: context.fetch.clone(),
        options: context.options.clone(),
        env: context.env.clone(),
        chain: Vec::new(),
        team: context.team.clone(),
    });
    for pin in &resolution.pins {
        // A universal lock also pins what other environments need.
        if let Some(marker) = &pin.root_marker
            && axle_standards::parse_requirement(&format!("{} ; {marker}", pin.name))
                .is_ok_and(|requirement| !axle_standards::evaluate(&requirement.marker, &target.markers, &[]))
        {
            continue;
        }
        let source = match &pin.source {
            PinSource::Registry | PinSource::Url(_) => {
                let has_wheel = pin.files.iter().any(|file| match &file.filename {
                    axle_standards::DistFilename::Wheel(wheel) => context.target.tags.is_compatible(wheel),
                    axle_standards::DistFilename::SourceDist(_) => false,
                });
                let sdist = pin
                    .files
                    .iter()
                    .find(|file| matches!(file.filename, axle_standards::DistFilename::SourceDist(_)));
                match sdist {
                    Some(sdist) if !has_wheel => SourceDist::Archive(ArchiveSource::from_indexed(sdist)),
                    _ => continue,
                }
            }
            PinSource::Git { url, editable: false } => match GitSource::parse(url, false) {
                Ok(git) => SourceDist::Git(git),
                Err(_) => continue,
            },
            PinSource::Directory { .. } | PinSource::Git { .. } => continue,
        };
        let (builds, context) = (builds.clone(), quiet.clone());
        tokio::spawn(async move {
            if let Err(error) = builds.wheel(&source, &context).await {
                tracing::info!(%source, %error, "building ahead of a sync failed; the sync will say why");
            }
        });
    }
}

/// Which cached pages the request must look at again.
fn refresh(request: &LockRequest) -> Refresh {
    if request.refresh {
        Refresh::All
    } else if request.refresh_packages.is_empty() {
        Refresh::None
    } else {
        Refresh::Packages(
            request
                .refresh_packages
                .iter()
                .filter_map(|name| PackageName::from_str(name).ok())
                .collect(),
        )
    }
}

/// Files without an index hash (find-links, some indexes) are hashed here,
/// so every pin of a `--generate-hashes` lock has all its hashes.
async fn hash_unhashed(
    index: &Arc<IndexClient>,
    resolution: &mut resolve::Resolution,
    fetch: &FetchContext,
) -> Result<(), LockError> {
    for pin in &mut resolution.pins {
        for file in &mut pin.files {
            if file.file.sha256.is_some() {
                continue;
            }
            if let Some(path) = file.file.url().strip_prefix("file://") {
                let bytes = std::fs::read(path).map_err(|error| IndexError::Io {
                    path: path.to_string(),
                    reason: error.to_string(),
                })?;
                Arc::make_mut(&mut file.file).sha256 = Some(Sha256Digest::from_bytes(Sha256::digest(&bytes).into()));
                continue;
            }
            let scratch = tempfile::tempdir().map_err(|error| IndexError::Io {
                path: "a temporary directory".to_string(),
                reason: error.to_string(),
            })?;
            let downloaded = index.download(&file.file, &[], scratch.path(), fetch).await?;
            Arc::make_mut(&mut file.file).sha256 = Sha256Digest::from_hex(&downloaded.sha256);
        }
    }
    Ok(())
}

/// Writes `content` to `path` through a temporary file and a rename, so a
/// reader never sees half a lock.
fn write_atomically(path: &Path, content: &str) -> Result<(), LockError> {
    let error = |source| LockError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".axle-lock-")
        .tempfile_in(dir)
        .map_err(error)?;
    use std::io::Write;
    temp.write_all(content.as_bytes()).map_err(error)?;
    temp.as_file().sync_all().map_err(error)?;
    // Keep the permissions of the file being replaced; a new lock is
    // world-readable like any file pip-compile writes.
    let permissions = std::fs::metadata(path)
        .map(|meta| meta.permissions())
        .unwrap_or_else(|_| std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let _ = std::fs::set_permissions(temp.path(), permissions);
    crash_point!("lock-mid-write");
    temp.persist(path).map_err(|persist| error(persist.error))?;
    Ok(())
}
