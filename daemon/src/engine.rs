//! The engine: the daemon's shared state (database, caches, store, activity)
//! and the operations it offers, in domain types. The wire layers (`rpc`,
//! and later the HTTP server) translate requests into calls on [`Engine`];
//! the engine knows nothing of them.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axle_proto::location::Location;
use futures::future::BoxFuture;
use tokio::sync::Notify;

use crate::builds::BuildService;
use crate::context::Invocation;
use crate::db::{self, Pool};
use crate::error::Error;
use crate::flights::Flights;
use crate::index::IndexClient;
use crate::interpreter::{Interpreter, Interpreters};
use crate::jobs::{JobEvent, JobKind, JobStep, Jobs};
use crate::lock::{self, LockOutcome, LockRequest, Memo};
use crate::progress::{Reporter, Silent};
use crate::project::{LockState, ProjectStatus, Projects, VenvState, VenvStatus};
use crate::services::{Residency, Services};
use crate::sync::{self, SyncOutcome, SyncRequest, SyncState};
use crate::target::TargetCache;
use crate::venv::{self, VenvOptions};
use crate::wheels::{GcOutcome, StoreStats, WheelStore};

/// A venv the daemon knows, with where it stands against its last sync's locks.
#[derive(Debug, Clone)]
pub struct EnvironmentStanding {
    pub info: crate::project::EnvironmentInfo,
    pub state: VenvState,
    /// What differs, or why the state is unknown.
    pub detail: String,
}

pub struct Engine {
    pub location: Location,
    /// The parts the pipelines share (their `builds` is `builds`).
    pub services: Services,
    pub builds: Arc<BuildService>,
    pub lock_memo: Memo,
    pub sync_state: SyncState,
    pub projects: Projects,
    pub jobs: Arc<Jobs>,
    /// Locks running, by request: a second identical request attaches to the first.
    locks: Flights<String, Result<LockOutcome, Arc<Error>>>,
    pub watches: crate::watch::Watches,
    pub activity: Arc<Activity>,
    /// See `axle_proto::handshake`.
    pub build_id: String,
    pub sqlite_version: String,
    pub started: Instant,
    pub idle_timeout: Duration,
    /// Notified when a client asks the daemon to stop.
    pub shutdown_requested: Notify,
}

impl Engine {
    /// The engine over `pool` and the store under `location`, running where `residency` says.
    pub fn new(
        location: Location,
        pool: Pool,
        build_id: String,
        idle_timeout: Duration,
        residency: Residency,
    ) -> Result<Arc<Engine>, Error> {
        let index = IndexClient::new(pool.clone()).map_err(|error| Error::Internal(error.to_string()))?;
        let store = Arc::new(WheelStore::open(&location.home.join("store"), pool.clone())?);
        let parts = Services {
            pool: pool.clone(),
            interpreters: Arc::new(Interpreters::new(pool.clone())),
            targets: Arc::new(TargetCache::default()),
            index,
            store,
            candidates: Arc::default(),
            builds: Arc::new(crate::dist::NoBuilds),
            team: Arc::default(),
            residency,
        };
        let builds = BuildService::new(location.home.clone(), parts.clone());
        Ok(Arc::new(Engine {
            services: parts.with_builds(builds.clone()),
            builds,
            lock_memo: Memo::new(pool.clone()),
            sync_state: SyncState::default(),
            projects: Projects::new(pool.clone()),
            jobs: Arc::default(),
            locks: Flights::default(),
            watches: crate::watch::Watches::default(),
            location,
            activity: Arc::new(Activity::new()),
            build_id,
            sqlite_version: String::new(),
            started: Instant::now(),
            idle_timeout,
            shutdown_requested: Notify::new(),
        }))
    }

    /// `axle sync`, announced to watchers and remembered for the project it runs from.
    pub async fn sync(&self, request: SyncRequest, reporter: Arc<dyn Reporter>) -> Result<SyncOutcome, Error> {
        // Team store uploads wait for the job to end (they are not what the caller waits for).
        let _job = self.services.team.job();
        let dir = request.invocation.cwd.clone();
        self.jobs.announce(&dir, JobKind::Sync, JobStep::Started);
        let reporter = self.jobs.reporter(&dir, JobKind::Sync, reporter);
        let result = sync::sync(&self.services, &self.sync_state, request.clone(), reporter).await;
        if let Ok(outcome) = &result
            && !outcome.dry_run
            && let Err(error) = self
                .projects
                .remember_sync(&request, &outcome.venv, &outcome.lock_files)
                .await
        {
            tracing::warn!(%error, "could not remember the sync");
        }
        self.jobs.announce_end(&dir, JobKind::Sync, &result, |outcome| {
            format!(
                "{} installed, {} removed{}",
                outcome.installed.len(),
                outcome.removed.len(),
                if outcome.dry_run { " (dry run)" } else { "" }
            )
        });
        Ok(result?)
    }

    pub async fn store_stats(&self) -> Result<StoreStats, Error> {
        Ok(self.services.store.stats().await?)
    }

    /// `axle store gc`: runs alone, no sync meanwhile.
    pub async fn store_gc(
        &self,
        older_than_days: u32,
        max_size: Option<u64>,
        dry_run: bool,
    ) -> Result<GcOutcome, Error> {
        let _exclusive = self.services.store.exclusive().await;
        Ok(self.services.store.gc(older_than_days, max_size, dry_run).await?)
    }

    /// Evicts least recently used wheels no venv links until the store fits in `cap` (the
    /// daemon's `AXLE_STORE_MAX_SIZE`, applied when it is idle). Returns what went, if anything.
    pub async fn keep_store_within(&self, cap: u64) -> Result<Option<GcOutcome>, Error> {
        if self.services.store.unpacked_size().await? <= cap {
            return Ok(None);
        }
        Ok(Some(self.store_gc(u32::MAX, Some(cap), false).await?))
    }

    /// `axle lock`. An identical request already running is joined rather than run again (two
    /// editors asking at once get one lock, not two racing writers); the job is announced to
    /// watchers and remembered for the project it runs from.
    pub async fn lock(
        self: &Arc<Self>,
        request: LockRequest,
        reporter: Arc<dyn Reporter>,
    ) -> Result<LockOutcome, Error> {
        let _job = self.services.team.job();
        let engine = self.clone();
        let key = coalescing_key(&request);
        let dir = request.invocation.cwd.clone();
        self.locks
            .join_reporting(
                key,
                move || Box::pin(async move { engine.lock_alone(request, reporter).await.map_err(Arc::new) }),
                || tracing::info!(dir = %dir.display(), "joined the lock already running for the same request"),
            )
            .await
            .map_err(|shared| match Arc::try_unwrap(shared) {
                Ok(error) => error,
                Err(shared) => Error::Shared(shared),
            })
    }

    async fn lock_alone(&self, request: LockRequest, reporter: Arc<dyn Reporter>) -> Result<LockOutcome, Error> {
        let dir = request.invocation.cwd.clone();
        self.jobs.announce(&dir, JobKind::Lock, JobStep::Started);
        let reporter = self.jobs.reporter(&dir, JobKind::Lock, reporter);
        let result = lock::lock(&self.services, &self.lock_memo, request.clone(), reporter).await;
        if let Ok(outcome) = &result
            && !request.dry_run
            && (outcome.written || outcome.fresh)
            && let Err(error) = self.projects.remember_lock(&request, outcome).await
        {
            tracing::warn!(%error, "could not remember the lock");
        }
        self.jobs.announce_end(&dir, JobKind::Lock, &result, |outcome| {
            format!(
                "{} packages{}",
                outcome.packages,
                if outcome.fresh { ", unchanged" } else { "" }
            )
        });
        Ok(result?)
    }

    /// Every venv the daemon knows, each with where it stands against the locks of its last
    /// sync (whoever ran it, from wherever).
    pub async fn environments(&self) -> Result<Vec<EnvironmentStanding>, Error> {
        let projects = self.projects.venv_projects().await?;
        let mut listed = Vec::new();
        for info in crate::project::environments(&self.services.pool, &projects).await? {
            let (state, detail) = self.venv_standing(&info).await;
            listed.push(EnvironmentStanding { info, state, detail });
        }
        Ok(listed)
    }

    /// Where a venv stands against the locks of its last sync: `in-sync` or `drifted`, as
    /// `status` tells it (the sync memo, else sync's plan as `--dry-run` makes it); `unknown`
    /// only when no sync is on record, or its locks can no longer be read.
    async fn venv_standing(&self, info: &crate::project::EnvironmentInfo) -> (VenvState, String) {
        let Some(first) = info.lock_files.first() else {
            return (VenvState::Unknown, "no sync by axle on record".to_string());
        };
        if let Some(absent) = info.lock_files.iter().find(|file| !file.is_file()) {
            return (
                VenvState::Unknown,
                format!("{} (its last sync's lock) does not exist", absent.display()),
            );
        }
        // The locks name absolute paths; what a lock includes is read from beside it.
        let invocation = Invocation {
            cwd: info
                .project
                .clone()
                .or_else(|| first.parent().map(std::path::Path::to_path_buf))
                .unwrap_or_else(|| PathBuf::from("/")),
            ..Invocation::default()
        };
        let request = SyncRequest {
            invocation,
            lock_files: info
                .lock_files
                .iter()
                .map(|file| file.to_string_lossy().into_owned())
                .collect(),
            venv: Some(info.path.to_string_lossy().into_owned()),
            ..SyncRequest::default()
        };
        match sync::drift(&self.services, &self.sync_state, request).await {
            Ok(drift) if drift.is_empty() => (VenvState::InSync, String::new()),
            Ok(drift) => (VenvState::Drifted, drift.summary()),
            Err(error) => (VenvState::Unknown, error.to_string()),
        }
    }

    /// The distributions in the venv at `root`, with what its project asked for.
    pub async fn packages(
        &self,
        root: &std::path::Path,
        invocation: &Invocation,
    ) -> Result<Vec<crate::project::PackageInfo>, Error> {
        if !venv::is_venv(root) {
            return Err(Error::InvalidInput(format!(
                "{} is not a virtual environment (it has no pyvenv.cfg)",
                root.display()
            )));
        }
        let info = self
            .services
            .interpreters
            .query_environment(root)
            .await
            .map_err(|error| Error::InvalidInput(format!("{}: {error}", root.display())))?;
        let site_packages = info.venv_path("purelib", root).ok_or_else(|| {
            Error::InvalidInput(format!(
                "{}: its interpreter reports no purelib directory",
                root.display()
            ))
        })?;
        let last_sync = crate::project::last_sync_locks(&self.services.pool, root).await?;
        let lock_file = match self.projects.venv_projects().await?.get(root) {
            _ if last_sync.is_some() => last_sync.and_then(|files| files.first().cloned()),
            Some(dir) => self
                .projects
                .layout(dir, invocation)
                .await
                .ok()
                .and_then(|layout| layout.lock_files.first().cloned()),
            None => None,
        };
        let found = tokio::task::spawn_blocking(move || crate::project::packages(&site_packages, lock_file.as_deref()))
            .await
            .map_err(|error| Error::Internal(error.to_string()))??;
        Ok(found)
    }

    /// Where the project in `dir` stands: its lock against its inputs, its venv against its
    /// locks. Nothing is changed.
    pub async fn project_status(&self, dir: &std::path::Path, invocation: &Invocation) -> Result<ProjectStatus, Error> {
        let layout = self.projects.layout(dir, invocation).await?;
        let lock = self.projects.lock_status(&layout).await?;
        let mut venv = VenvStatus {
            state: VenvState::InSync,
            python: layout.venv.join("bin").join("python"),
            path: layout.venv.clone(),
            lock_files: layout.lock_files.clone(),
            missing: Vec::new(),
            extra: Vec::new(),
            changed: Vec::new(),
            detail: String::new(),
        };
        if !venv::is_venv(&layout.venv) {
            venv.state = VenvState::Missing;
        } else if let Some(absent) = layout.lock_files.iter().find(|file| !file.is_file()) {
            venv.state = VenvState::Unknown;
            venv.detail = format!("{} does not exist", absent.display());
        } else {
            let request = self.projects.sync_request(&layout, invocation).await?;
            match sync::drift(&self.services, &self.sync_state, request).await {
                Ok(drift) => {
                    if !drift.is_empty() {
                        venv.state = VenvState::Drifted;
                    }
                    venv.missing = drift.missing;
                    venv.extra = drift.extra;
                    venv.changed = drift.changed;
                }
                // The venv cannot be compared (a lock that does not read, an interpreter
                // gone): a status, not a failed request.
                Err(error) => {
                    venv.state = VenvState::Unknown;
                    venv.detail = error.to_string();
                }
            }
        }
        Ok(ProjectStatus {
            dir: layout.dir,
            lock,
            venv,
        })
    }

    /// `axle venv`: finds the interpreter, lays out the environment and
    /// records it in the venv registry.
    pub async fn create_venv(&self, request: CreateVenv, reporter: Arc<dyn Reporter>) -> Result<VenvCreated, Error> {
        let started = Instant::now();
        let interpreter = self
            .services
            .interpreters
            .find(request.python.as_deref(), &request.invocation)
            .await?;
        let options = VenvOptions {
            path: request.invocation.absolute(&request.path),
            prompt: request.prompt,
            system_site_packages: request.system_site_packages,
            clear: request.clear,
        };
        let info = interpreter.info.clone();
        let cwd = request.invocation.cwd.clone();
        let created = tokio::task::spawn_blocking(move || venv::create(&info, &options, &cwd))
            .await
            .map_err(|error| Error::Internal(error.to_string()))??;
        // The registry is bookkeeping: the caller need not wait for it.
        let pool = self.services.pool.clone();
        let (root, registered) = (created.root.clone(), interpreter.clone());
        tokio::spawn(async move {
            if let Err(error) = register_venv(&pool, &root, &registered).await {
                tracing::warn!(%error, venv = %root.display(), "could not record the environment");
            }
        });
        let mut seeded = Vec::new();
        if request.seed {
            seeded.push(sync::seed(&self.services, &request.invocation, &created.root, reporter).await?);
        }
        Ok(VenvCreated {
            root: created.root,
            python: created.python,
            interpreter,
            seeded,
            elapsed: started.elapsed(),
        })
    }

    /// `axle store verify [--repair]`.
    pub async fn store_verify(
        &self,
        repair: bool,
        reporter: Arc<dyn Reporter>,
    ) -> Result<crate::integrity::VerifyReport, Error> {
        Ok(crate::integrity::verify(
            &self.services.store,
            &self.services.index,
            &self.services.pool,
            repair,
            reporter,
        )
        .await?)
    }

    /// `axle store push`: what the locks install, to the request's team store; then waits for
    /// the store's uploads to end.
    pub async fn store_push(
        &self,
        request: crate::push::PushRequest,
        reporter: Arc<dyn Reporter>,
    ) -> Result<crate::push::PushOutcome, Error> {
        Ok(crate::push::push(&self.services, &self.builds, request, reporter).await?)
    }

    /// `axle store keygen`: a new signing key; its secret into `secret_file`, its public line
    /// returned.
    pub fn store_keygen(&self, invocation: &Invocation, name: &str, secret_file: &str) -> Result<String, Error> {
        if secret_file.is_empty() {
            return Err(Error::InvalidInput(
                "name the file for the secret key (--secret-key FILE)".to_string(),
            ));
        }
        crate::team::keygen(name, &invocation.absolute(secret_file))
            .map_err(|error| Error::InvalidInput(error.to_string()))
    }

    /// `axle image`: an OCI image from the locks.
    pub async fn build_image(
        &self,
        request: crate::image::ImageRequest,
        reporter: Arc<dyn Reporter>,
    ) -> Result<crate::image::ImageOutcome, Error> {
        let _job = self.services.team.job();
        crate::image::build(&self.services, request, reporter)
            .await
            .map_err(Error::from)
    }

    /// `axle export`: every file a lock installs on a target, into a wheelhouse directory.
    pub async fn export(
        &self,
        request: crate::export::ExportRequest,
        reporter: Arc<dyn Reporter>,
    ) -> Result<crate::export::ExportOutcome, Error> {
        Ok(crate::export::export(&self.services, request, reporter.as_ref()).await?)
    }

    /// The index `axle serve` offers: the store, and unless `offline` the sources the client's
    /// configuration names (as a lock from its directory would use them) for what it lacks.
    pub async fn served_index(
        &self,
        invocation: &Invocation,
        cli: &crate::index::IndexSettings,
        strategy: crate::index::IndexStrategy,
        offline: bool,
    ) -> Result<crate::serve::ServedIndex, Error> {
        use crate::index::{FetchContext, Refresh, RequestSettings, SourceLayers};
        let upstream = if offline {
            None
        } else {
            let interpreter = self.services.interpreters.find(None, invocation).await.ok();
            let sources = SourceLayers {
                invocation,
                cli,
                files: &[],
                strategy,
                pip_default: interpreter
                    .as_ref()
                    .and_then(|found| found.info.pip_default_index.as_deref()),
                site_prefix: None,
            }
            .resolve()
            .map_err(|error| Error::InvalidInput(error.to_string()))?;
            let fetch = FetchContext::new(false, Refresh::None, RequestSettings::from_invocation(invocation))
                .for_sources(&sources);
            Some((sources, fetch))
        };
        Ok(crate::serve::ServedIndex::new(
            self.services.store.clone(),
            self.services.index.clone(),
            upstream,
        ))
    }
}

/// The engine owns the watch service: watches reach projects and jobs through this.
impl crate::watch::Host for Engine {
    fn watches(&self) -> &crate::watch::Watches {
        &self.watches
    }

    fn status<'a>(
        &'a self,
        dir: &'a std::path::Path,
        invocation: &'a Invocation,
    ) -> BoxFuture<'a, Result<ProjectStatus, Error>> {
        Box::pin(self.project_status(dir, invocation))
    }

    fn site_packages<'a>(&'a self, venv: &'a std::path::Path) -> BoxFuture<'a, Option<PathBuf>> {
        Box::pin(async move {
            if !venv::is_venv(venv) {
                return None;
            }
            let info = self.services.interpreters.query_environment(venv).await.ok()?;
            info.venv_path("purelib", venv)
        })
    }

    fn jobs(&self) -> tokio::sync::broadcast::Receiver<JobEvent> {
        self.jobs.subscribe()
    }

    fn relock(
        self: Arc<Self>,
        dir: PathBuf,
        invocation: Invocation,
        sync: bool,
    ) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(async move {
            let _activity = self.activity.begin();
            // A status seen before the last re-lock ended may arrive after it: look again.
            let layout = self.projects.layout(&dir, &invocation).await?;
            if self.projects.lock_status(&layout).await?.state == LockState::Fresh {
                return Ok(());
            }
            let (lock, remembered) = self.projects.lock_request(&dir, &invocation).await?;
            if !remembered {
                tracing::info!(dir = %dir.display(), "locking with pip-compile's defaults: no lock was made here since the daemon started");
            }
            self.lock(lock, Arc::new(Silent)).await?;
            if sync {
                // Laid out again: the lock just made may be one the project did not have.
                let layout = self.projects.layout(&dir, &invocation).await?;
                let request = self.projects.sync_request(&layout, &invocation).await?;
                self.sync(request, Arc::new(Silent)).await?;
            }
            Ok(())
        })
    }
}

/// Identifies a lock request for joining: everything but the command line's spelling.
fn coalescing_key(request: &LockRequest) -> String {
    use sha2::{Digest, Sha256};
    let mut request = request.clone();
    request.invocation.argv.clear();
    hex::encode(Sha256::digest(format!("{request:?}").as_bytes()))
}

async fn register_venv(pool: &Pool, root: &std::path::Path, interpreter: &Interpreter) -> Result<(), Error> {
    let now = db::now();
    sqlx::query(
        "INSERT INTO venvs (path, interpreter_executable, python_version, created_at, last_used_at)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (path) DO UPDATE SET
            interpreter_executable = excluded.interpreter_executable,
            python_version = excluded.python_version,
            created_at = excluded.created_at,
            last_used_at = excluded.last_used_at",
    )
    .bind(root.to_string_lossy())
    .bind(interpreter.info.base_executable.to_string_lossy())
    .bind(&interpreter.info.version)
    .bind(now)
    .bind(now)
    .execute(pool)
    .await
    .map_err(db::DbError::from)?;
    Ok(())
}

/// `axle venv`'s request, in domain terms.
#[derive(Debug, Clone)]
pub struct CreateVenv {
    pub invocation: Invocation,
    pub path: PathBuf,
    pub python: Option<String>,
    pub prompt: Option<String>,
    pub system_site_packages: bool,
    pub clear: bool,
    /// Install pip into it.
    pub seed: bool,
}

#[derive(Debug, Clone)]
pub struct VenvCreated {
    pub root: PathBuf,
    pub python: PathBuf,
    pub interpreter: Interpreter,
    /// What `seed` installed (`pip==VERSION`).
    pub seeded: Vec<String>,
    pub elapsed: Duration,
}

/// Counts requests in flight, for `status` and the idle timer.
pub struct Activity {
    active: AtomicU32,
    /// Services that keep the daemon up between requests (`axle serve`).
    held: AtomicU32,
    served: AtomicU64,
    /// Milliseconds since `origin` at the last request's end.
    last_change_ms: AtomicU64,
    origin: Instant,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            active: AtomicU32::new(0),
            held: AtomicU32::new(0),
            served: AtomicU64::new(0),
            last_change_ms: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    /// Marks a request as running until the guard drops.
    pub fn begin(self: &Arc<Self>) -> ActivityGuard {
        self.active.fetch_add(1, Ordering::SeqCst);
        self.touch();
        ActivityGuard { activity: self.clone() }
    }

    /// Keeps the daemon from stopping when idle until the guard drops, without counting as a
    /// request (the store's upkeep still runs in the quiet between requests).
    pub fn hold(self: &Arc<Self>) -> HoldGuard {
        self.held.fetch_add(1, Ordering::SeqCst);
        HoldGuard { activity: self.clone() }
    }

    /// Whether something holds the daemon up (see `hold`).
    pub fn held(&self) -> bool {
        self.held.load(Ordering::SeqCst) > 0
    }

    pub fn active(&self) -> u32 {
        self.active.load(Ordering::SeqCst)
    }

    pub fn served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }

    /// How long nothing has been running.
    pub fn idle_for(&self) -> Duration {
        if self.active() > 0 {
            return Duration::ZERO;
        }
        let now = self.origin.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_change_ms.load(Ordering::SeqCst)))
    }

    fn touch(&self) {
        self.last_change_ms
            .store(self.origin.elapsed().as_millis() as u64, Ordering::SeqCst);
    }
}

pub struct ActivityGuard {
    activity: Arc<Activity>,
}

impl Drop for ActivityGuard {
    fn drop(&mut self) {
        self.activity.served.fetch_add(1, Ordering::SeqCst);
        self.activity.touch();
        self.activity.active.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct HoldGuard {
    activity: Arc<Activity>,
}

impl Drop for HoldGuard {
    fn drop(&mut self) {
        self.activity.held.fetch_sub(1, Ordering::SeqCst);
        self.activity.touch();
    }
}
