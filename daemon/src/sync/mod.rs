//! `axle sync`: make an environment match lock files exactly, as pip-sync
//! does, with every file hard-linked from the shared store.
//!
//! The pipeline reads top to bottom in [`sync`], one stage per module:
//!
//! 1. `memo`: the same locks and an untouched site-packages → answer now.
//! 2. `environment`: the venv, its interpreter, markers, tags and layout,
//!    built once.
//! 3. the locks (`crate::lockfile`) for those markers, and `plan`: pip-sync's
//!    rule against what is installed (pure).
//! 4. `prepare`: a verified, unpacked wheel in the store for everything to
//!    install — from the store by hash, else downloaded. Nothing in the venv
//!    has changed yet, so a failure here changes nothing.
//! 5. `apply`: remove, then link, then record what was installed.
//! 6. `bytecode` (when asked) and `memo` again, to remember the result.
//!
//! `seed` (`axle venv --seed`) runs stages 2–5 for a set it builds itself.
//!
//! Repair: an install that was cut off leaves a `.dist-info` without RECORD
//! (or none at all); the plan treats such a distribution as absent, so the
//! next sync replaces it.

mod apply;
mod bytecode;
pub(crate) mod environment;
pub mod intake;
mod memo;
pub mod plan;
pub(crate) mod prepare;
mod seed;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axle_install::LinkMode;
use axle_standards::PackageName;

pub use seed::seed;

use crate::context::Invocation;
use crate::dist::{BuildContext, BuildError, BuildFlags, GitSource, SourceDist};
use crate::index::{ConfigError, IndexError, IndexSettings, IndexStrategy};
use crate::interpreter::InterpreterError;
use crate::lockfile::{self, Locked, LockedSet, LockedSource, LockfileError};
use crate::progress::{NoticeLevel, Reporter};
use crate::services::Services;
use crate::venv;
use crate::wheels::WheelStoreError;
use environment::Environment;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(
        "{} is not a virtual environment (it has no pyvenv.cfg); create one with `axle venv` first",
        .0.display()
    )]
    NotAVenv(PathBuf),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Lockfile(Box<LockfileError>),
    #[error("the environment's interpreter {}: {reason}", .path.display())]
    Interpreter { path: PathBuf, reason: String },
    #[error(transparent)]
    Discovery(#[from] InterpreterError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Team(#[from] crate::team::TeamError),
    #[error(transparent)]
    Store(#[from] WheelStoreError),
    #[error("cannot install {name}: {source}")]
    Install {
        name: String,
        source: Box<axle_install::InstallError>,
    },
    #[error("cannot remove {name}: {source}")]
    Uninstall {
        name: String,
        source: Box<axle_install::UninstallError>,
    },
    #[error(transparent)]
    Site(#[from] axle_install::SiteError),
    #[error("{name}=={version} has no wheel for this environment{detail}")]
    NoWheel {
        name: String,
        version: String,
        detail: String,
    },
    #[error("cannot read {}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the sync task stopped unexpectedly: {0}")]
    Task(String),
    #[error("the sync database failed: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Build(#[from] BuildError),
}

impl From<LockfileError> for SyncError {
    fn from(error: LockfileError) -> SyncError {
        SyncError::Lockfile(Box::new(error))
    }
}

#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    pub invocation: Invocation,
    pub lock_files: Vec<String>,
    pub venv: Option<String>,
    pub dry_run: bool,
    pub link_mode: LinkMode,
    pub compile_bytecode: bool,
    pub offline: bool,
    pub index: IndexSettings,
    pub strategy: IndexStrategy,
    pub build: BuildFlags,
}

#[derive(Debug, Clone, Default)]
pub struct SyncOutcome {
    pub venv: PathBuf,
    /// The lock files it synced from.
    pub lock_files: Vec<PathBuf>,
    pub installed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
    /// Nothing to do, known without reading site-packages.
    pub fresh: bool,
    pub dry_run: bool,
    pub elapsed: Duration,
    pub bytes_linked: u64,
    pub bytes_copied: u64,
    /// How the environment differed from the locks before this sync.
    pub drift: Drift,
}

/// How an environment differs from its locks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// Locked, not installed (`name==version`).
    pub missing: Vec<String>,
    /// Installed, not locked.
    pub extra: Vec<String>,
    /// Installed otherwise than locked (`name: installed -> locked`).
    pub changed: Vec<String>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.changed.is_empty()
    }

    /// One line for a reader: `missing six==1.17.0; extra attrs 25.1.0`, the first few of each.
    pub fn summary(&self) -> String {
        let part = |label: &str, items: &[String]| {
            let shown: Vec<&str> = items.iter().take(3).map(String::as_str).collect();
            let more = items.len().saturating_sub(shown.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            (!items.is_empty()).then(|| format!("{label} {}{more}", shown.join(", ")))
        };
        [
            part("missing", &self.missing),
            part("extra", &self.extra),
            part("changed", &self.changed),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ")
    }

    fn of(plan: &plan::Plan) -> Drift {
        let removed: HashMap<&PackageName, &plan::Present> =
            plan.remove.iter().map(|present| (&present.name, present)).collect();
        let mut drift = Drift::default();
        for locked in &plan.install {
            match removed.get(&locked.name) {
                Some(present) => {
                    drift
                        .changed
                        .push(format!("{}: {} -> {}", locked.name, present.version, locked.describe()))
                }
                None => drift.missing.push(locked.describe()),
            }
        }
        let installing: std::collections::HashSet<&PackageName> =
            plan.install.iter().map(|locked| &locked.name).collect();
        drift.extra = plan
            .remove
            .iter()
            .filter(|present| !installing.contains(&present.name))
            .map(plan::Present::describe)
            .collect();
        drift
    }
}

/// How the environment differs from the locks, changing nothing: the memo answers with a few
/// `stat`s when the same locks were synced into a site-packages untouched since; otherwise
/// sync's plan, as `--dry-run` makes it.
pub async fn drift(services: &Services, state: &SyncState, mut request: SyncRequest) -> Result<Drift, SyncError> {
    let venv_root = venv_root(&request)?;
    let lock_files = lock_files(&request)?;
    let digest = memo::lock_digest(&request, &lock_files)?;
    if state.memo.is_unchanged(&services.pool, &venv_root, &digest).await {
        return Ok(Drift::default());
    }
    request.dry_run = true;
    Ok(sync(services, state, request, Arc::new(crate::progress::Silent))
        .await?
        .drift)
}

/// Per-environment serialisation and the memory of last syncs.
#[derive(Default)]
pub struct SyncState {
    venv_locks: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    memo: memo::SyncMemo,
}

impl SyncState {
    fn venv_lock(&self, venv: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.venv_locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(venv.to_path_buf()).or_default().clone()
    }
}

pub async fn sync(
    services: &Services,
    state: &SyncState,
    request: SyncRequest,
    reporter: Arc<dyn Reporter>,
) -> Result<SyncOutcome, SyncError> {
    let started = Instant::now();
    let venv_root = venv_root(&request)?;
    let lock_files = lock_files(&request)?;
    let digest = memo::lock_digest(&request, &lock_files)?;
    if !request.dry_run && state.memo.is_unchanged(&services.pool, &venv_root, &digest).await {
        return Ok(SyncOutcome {
            venv: venv_root,
            lock_files,
            fresh: true,
            elapsed: started.elapsed(),
            ..SyncOutcome::default()
        });
    }

    let guard = state.venv_lock(&venv_root);
    let _venv_guard = guard.lock().await;
    let _store_guard = services.store.shared().await;

    let environment = Environment::open(services, &venv_root).await?;
    let env: HashMap<String, String> = request
        .invocation
        .env
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let mut wanted = lockfile::read(&lock_files, &env, &environment.target.markers)?;
    warn_of_another_target(&environment, &lock_files, reporter.as_ref())?;
    let build = request
        .build
        .options(&request.invocation, Some(&environment.python))
        .map_err(LockfileError::from)?;
    let fetching = prepare::Fetching::Request {
        invocation: &request.invocation,
        cli: &request.index,
        strategy: request.strategy,
        offline: request.offline,
        build,
        reporter: reporter.clone(),
    };
    name_unnamed(services, &environment, &fetching, &mut wanted).await?;
    let identities = identities(&wanted).await?;
    let plan = plan::plan(&wanted.dists, environment.installed(services).await?, &identities);
    let mut outcome = SyncOutcome {
        venv: venv_root.clone(),
        lock_files,
        installed: plan.install.iter().map(Locked::describe).collect(),
        removed: plan.remove.iter().map(plan::Present::describe).collect(),
        unchanged: plan.keep.iter().map(plan::Present::describe).collect(),
        drift: Drift::of(&plan),
        dry_run: request.dry_run,
        ..SyncOutcome::default()
    };
    if request.dry_run {
        outcome.elapsed = started.elapsed();
        return Ok(outcome);
    }

    let planned = started.elapsed();
    let prepared = prepare::prepare(
        services,
        &environment,
        &fetching,
        &wanted,
        &plan.install,
        reporter.as_ref(),
    )
    .await?;
    let prepared_at = started.elapsed();

    let applied = apply::apply(
        services,
        &environment,
        &plan.remove,
        prepared,
        request.link_mode,
        reporter.as_ref(),
    )
    .await?;
    outcome.bytes_linked = applied.bytes_linked;
    outcome.bytes_copied = applied.bytes_copied;

    if request.compile_bytecode {
        bytecode::compile(&environment, reporter.as_ref()).await;
    }
    record_kept(services, &environment, &venv_root, &plan.keep, &wanted).await?;
    crash_point!("sync-after-commit");
    state
        .memo
        .remember(
            &services.pool,
            &venv_root,
            &digest,
            &environment.site_packages,
            trees(&wanted, &identities),
            &outcome.lock_files,
        )
        .await?;
    tracing::info!(
        venv = %venv_root.display(),
        installed = outcome.installed.len(),
        removed = outcome.removed.len(),
        planned_ms = planned.as_millis() as u64,
        prepared_ms = prepared_at.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "synced"
    );
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

/// One warning line when the venv is not what a lock was made for (its header's target): the
/// markers and tags of the venv still decide what installs, and a pin with no wheel for it
/// still fails, but the reason is named before that.
fn warn_of_another_target(
    environment: &Environment,
    lock_files: &[PathBuf],
    reporter: &dyn Reporter,
) -> Result<(), SyncError> {
    let target = &environment.target;
    let what = format!("this venv is {}", crate::target::describe(target));
    let targets = lockfile::target::read_all(lock_files)?;
    if let Some(mismatch) = lockfile::target::first_mismatch(&targets, target, &what) {
        reporter.notice(NoticeLevel::Warning, &mismatch.to_string());
    }
    Ok(())
}

/// Records again which stored wheel each kept distribution came from when the records are gone
/// (a lost database): the lock's hashes name the wheel, and the store holds it. Without the
/// record a gc would take the venv's wheels for unused.
async fn record_kept(
    services: &Services,
    environment: &Environment,
    venv_root: &Path,
    keep: &[plan::Present],
    wanted: &LockedSet,
) -> Result<(), SyncError> {
    let mut found = Vec::new();
    for present in keep.iter().filter(|present| present.wheel_sha256.is_none()) {
        let Some(locked) = wanted.dists.get(&present.name) else {
            continue;
        };
        if locked.hashes.is_empty() {
            continue;
        }
        if let Some(manifest) = services.store.find(&locked.hashes, &environment.target.tags).await?
            && manifest.version == present.version.to_string()
        {
            found.push(crate::wheels::InstalledDist {
                name: present.name.to_string(),
                version: present.version.to_string(),
                wheel_sha256: manifest.wheel_sha256,
                source_identity: None,
            });
        }
    }
    if !found.is_empty() {
        tracing::info!(venv = %venv_root.display(), count = found.len(), "recorded kept distributions again");
        services.store.record_installs(venv_root, &found).await?;
    }
    Ok(())
}

/// Makes the environment at `root` hold exactly `wanted` — a build environment: the stages
/// of a sync without lock files or memo, fetching and building as `context` says.
pub async fn install_set(
    services: &Services,
    root: &Path,
    wanted: &LockedSet,
    context: &Arc<BuildContext>,
) -> Result<(), SyncError> {
    let environment = Environment::open(services, root).await?;
    let plan = plan::plan(&wanted.dists, environment.installed(services).await?, &HashMap::new());
    let fetching = prepare::Fetching::Build(context.clone());
    let reporter = context.reporter.as_ref();
    let prepared = prepare::prepare(services, &environment, &fetching, wanted, &plan.install, reporter).await?;
    apply::apply(
        services,
        &environment,
        &plan.remove,
        prepared,
        LinkMode::default(),
        reporter,
    )
    .await?;
    Ok(())
}

/// Names the editables a lock gives only by location (`-e ./proj`), from their metadata.
pub(crate) async fn name_unnamed(
    services: &Services,
    environment: &Environment,
    fetching: &prepare::Fetching<'_>,
    wanted: &mut LockedSet,
) -> Result<(), SyncError> {
    if wanted.unnamed.is_empty() {
        return Ok(());
    }
    let context = prepare::build_context(services, environment, fetching, wanted).await?;
    for unnamed in std::mem::take(&mut wanted.unnamed) {
        let source = match &unnamed.source {
            LockedSource::Directory { path, editable } => SourceDist::Directory {
                path: path.clone(),
                editable: *editable,
            },
            LockedSource::Git { url, editable } => SourceDist::Git(
                GitSource::parse(url, *editable)
                    .map_err(|reason| SyncError::Usage(format!("{}: {reason}", unnamed.origin)))?,
            ),
            LockedSource::Url(url) => {
                return Err(SyncError::Usage(format!(
                    "{}: {url} has no name; a lock names every package (`name @ url`)",
                    unnamed.origin
                )));
            }
            LockedSource::Registry => continue,
        };
        let found = services.builds.metadata(&source, &context).await?;
        wanted.insert(Locked {
            name: found.metadata.name.clone(),
            version: None,
            source: unnamed.source,
            hashes: Default::default(),
            origin: unnamed.origin,
        })?;
    }
    Ok(())
}

/// What identifies each pin named by location now: a URL, a directory's fingerprint, a
/// commit. An installed distribution of another identity is replaced.
async fn identities(wanted: &LockedSet) -> Result<HashMap<PackageName, String>, SyncError> {
    let mut identities = HashMap::new();
    for (name, locked) in &wanted.dists {
        let identity = match &locked.source {
            LockedSource::Registry => continue,
            LockedSource::Url(url) => format!("url:{url}"),
            LockedSource::Directory { path, .. } => {
                let root = path.clone();
                let fingerprint =
                    tokio::task::spawn_blocking(move || axle_build_frontend::SourceTree::fingerprint(&root))
                        .await
                        .map_err(|error| SyncError::Task(error.to_string()))?;
                format!("dir:{}:{fingerprint}", path.display())
            }
            LockedSource::Git { url, editable } => {
                let Ok(git) = GitSource::parse(url, *editable) else {
                    continue;
                };
                match &git.reference {
                    Some(commit) => prepare::git_identity(&git, commit),
                    None => continue,
                }
            }
        };
        identities.insert(name.clone(), identity);
    }
    Ok(identities)
}

/// The local project directories of `wanted`, with the fingerprints `identities` hold.
fn trees(wanted: &LockedSet, identities: &HashMap<PackageName, String>) -> Vec<(PathBuf, String)> {
    wanted
        .dists
        .iter()
        .filter_map(|(name, locked)| match &locked.source {
            LockedSource::Directory { path, .. } => {
                let identity = identities.get(name)?;
                let fingerprint = identity.rsplit(':').next()?;
                Some((path.clone(), fingerprint.to_string()))
            }
            _ => None,
        })
        .collect()
}

/// The environment: `--venv`, else `$VIRTUAL_ENV`, else `./.venv`; it must
/// be a virtual environment (axle never syncs an interpreter's own prefix).
fn venv_root(request: &SyncRequest) -> Result<PathBuf, SyncError> {
    let invocation = &request.invocation;
    let path = match (&request.venv, invocation.var("VIRTUAL_ENV")) {
        (Some(path), _) => invocation.absolute(path),
        (None, Some(active)) => invocation.absolute(active),
        (None, None) => invocation.cwd.join(".venv"),
    };
    if !venv::is_venv(&path) {
        return Err(SyncError::NotAVenv(path));
    }
    Ok(path)
}

/// The lock files: as given, else `./requirements.txt`. Each must exist and
/// none may be a `.in` file.
fn lock_files(request: &SyncRequest) -> Result<Vec<PathBuf>, SyncError> {
    let invocation = &request.invocation;
    let files: Vec<PathBuf> = if request.lock_files.is_empty() {
        vec![invocation.cwd.join("requirements.txt")]
    } else {
        request
            .lock_files
            .iter()
            .map(|file| invocation.absolute(file))
            .collect()
    };
    for file in &files {
        if file.extension().is_some_and(|extension| extension == "in") {
            return Err(LockfileError::NotALock(file.clone()).into());
        }
        if !file.is_file() {
            return Err(SyncError::Usage(format!(
                "the lock file {} does not exist",
                file.display()
            )));
        }
    }
    Ok(files)
}
