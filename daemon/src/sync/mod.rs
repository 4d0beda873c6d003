//! `axle sync`: make an environment match lock files exactly, as pip-sync
//! does, with every file hard-linked from the shared store.
//!
//! Pipeline: (no-op check: same lock, untouched site-packages → answer) →
//! read the locks for this environment's markers → plan against what is
//! installed → fetch what the store lacks (verified against the lock's
//! hashes before anything is stored) → remove, then install → remember.
//!
//! Repair: an install that was cut off leaves a `.dist-info` without RECORD
//! (or none at all); the plan treats such a distribution as absent, so the
//! next sync replaces it.

pub mod lockfile;
pub mod plan;

use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axle_install::{InstallOptions, Layout, LinkFallback, LinkMode, Manifest};
use axle_standards::{DistFilename, PackageName, Tags, Version, WheelFilename};
use sha2::{Digest, Sha256};

use crate::context::Invocation;
use crate::db::{self, Pool};
use crate::index::{
    ConfigError, FetchContext, IndexClient, IndexError, IndexSettings, IndexStrategy, Refresh, SourceLayers,
};
use crate::interpreter::{InterpreterError, InterpreterInfo, Interpreters};
use crate::lock::pylock;
use crate::progress::{NoticeLevel, Reporter};
use crate::store::{WheelStore, WheelStoreError};
use crate::venv;
use lockfile::{Locked, LockedSet};
use plan::Present;

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
    #[error("conflicting pins: {0}")]
    Conflict(String),
    #[error(transparent)]
    Requirements(#[from] axle_standards::RequirementsTxtError),
    #[error(transparent)]
    Pylock(#[from] pylock::PylockError),
    #[error("the environment's interpreter {}: {reason}", .path.display())]
    Interpreter { path: PathBuf, reason: String },
    #[error(transparent)]
    Discovery(#[from] InterpreterError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Config(#[from] ConfigError),
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
}

#[derive(Debug, Clone, Default)]
pub struct SyncOutcome {
    pub venv: PathBuf,
    pub installed: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
    /// Nothing to do, known without reading site-packages.
    pub fresh: bool,
    pub dry_run: bool,
    pub elapsed: Duration,
    pub bytes_linked: u64,
    pub bytes_copied: u64,
}

/// What `sync` needs from the daemon.
#[derive(Clone)]
pub struct Services<'a> {
    pub interpreters: &'a Interpreters,
    pub index: Arc<IndexClient>,
    pub store: &'a WheelStore,
    pub pool: &'a Pool,
    pub state: &'a SyncState,
}

/// Per-environment serialisation and the memory of last syncs.
#[derive(Default)]
pub struct SyncState {
    venv_locks: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    last: Mutex<HashMap<PathBuf, LastSync>>,
    /// Syncs read the store; `gc` writes it and must run alone.
    pub store_guard: tokio::sync::RwLock<()>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct LastSync {
    lock_digest: String,
    site_packages: PathBuf,
    site_stamp: String,
}

impl SyncState {
    fn venv_lock(&self, venv: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.venv_locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(venv.to_path_buf()).or_default().clone()
    }
}

pub async fn sync(
    services: Services<'_>,
    request: SyncRequest,
    reporter: Arc<dyn Reporter>,
) -> Result<SyncOutcome, SyncError> {
    let started = Instant::now();
    let invocation = &request.invocation;
    let venv_root = venv_root(&request)?;
    let lock_files = lock_files(&request)?;
    let digest = lock_digest(&request, &lock_files)?;

    if !request.dry_run && is_unchanged(&services, &venv_root, &digest).await {
        return Ok(SyncOutcome {
            venv: venv_root,
            fresh: true,
            elapsed: started.elapsed(),
            ..SyncOutcome::default()
        });
    }

    let guard = services.state.venv_lock(&venv_root);
    let _venv_guard = guard.lock().await;
    let _store_guard = services.state.store_guard.read().await;

    let python = venv_root.join("bin").join("python");
    let info = services
        .interpreters
        .query_environment(&venv_root)
        .await
        .map_err(|error| SyncError::Interpreter {
            path: python.clone(),
            reason: error.to_string(),
        })?;
    let markers = info.markers.to_environment().map_err(|error| SyncError::Interpreter {
        path: python.clone(),
        reason: error.to_string(),
    })?;
    let tags = Arc::new(crate::lock::tags_for(&info).map_err(|error| SyncError::Interpreter {
        path: python.clone(),
        reason: error.to_string(),
    })?);
    let site_packages = info
        .venv_path("purelib", &venv_root)
        .ok_or_else(|| SyncError::Interpreter {
            path: python.clone(),
            reason: "it reports no purelib directory".to_string(),
        })?;
    std::fs::create_dir_all(&site_packages).map_err(|source| SyncError::Io {
        path: site_packages.clone(),
        source,
    })?;

    let env: HashMap<String, String> = invocation.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let (wanted, direct_files) = read_locks(&lock_files, &env, &markers)?;

    let present = present_distributions(&services, &venv_root, &site_packages).await?;
    let plan = plan::plan(&wanted.dists, present);
    let mut outcome = SyncOutcome {
        venv: venv_root.clone(),
        installed: plan.install.iter().map(describe_locked).collect(),
        removed: plan
            .remove
            .iter()
            .map(|dist| format!("{}=={}", dist.name, dist.version))
            .collect(),
        unchanged: plan
            .keep
            .iter()
            .map(|dist| format!("{}=={}", dist.name, dist.version))
            .collect(),
        dry_run: request.dry_run,
        ..SyncOutcome::default()
    };
    if request.dry_run {
        outcome.elapsed = started.elapsed();
        return Ok(outcome);
    }

    let planned = started.elapsed();
    // Fetch what the store lacks before touching the environment: a
    // download or verification failure changes nothing.
    let manifests = prepare(
        &services,
        &request,
        &info,
        &tags,
        &wanted,
        &direct_files,
        &plan.install,
        reporter.as_ref(),
    )
    .await?;
    let prepared = started.elapsed();

    for dist in &plan.remove {
        let (site, root, dist_info) = (
            site_packages.clone(),
            venv_root.clone(),
            site_packages.join(&dist.dist_info),
        );
        let removed = tokio::task::spawn_blocking(move || axle_install::uninstall(&site, &root, &dist_info))
            .await
            .map_err(|error| SyncError::Task(error.to_string()))?
            .map_err(|source| SyncError::Uninstall {
                name: dist.name.to_string(),
                source: Box::new(source),
            })?;
        for skipped in &removed.skipped {
            reporter.notice(
                NoticeLevel::Warning,
                &format!("left {} of {} alone: {:?}", skipped.entry, dist.name, skipped.reason),
            );
        }
        services.store.record_removal(&venv_root, dist.name.as_ref()).await?;
    }

    let layout = layout(&info, &venv_root)?;
    let total = manifests.len() as u64;
    let mut fallback_reported = false;
    let mut tasks = Vec::new();
    for (locked, manifest) in manifests {
        let store = services.store.files();
        let layout = layout.clone();
        let options = InstallOptions {
            link_mode: request.link_mode,
            installer: "axle".to_string(),
            requested: true,
            direct_url: locked
                .url
                .as_ref()
                .map(|url| direct_url_json(url, &manifest.wheel_sha256)),
            durable: crate::store::durable(),
        };
        tasks.push(tokio::task::spawn_blocking(move || {
            let result = axle_install::install(&manifest, &store, &layout, &options);
            (locked, manifest, result)
        }));
    }
    let mut done = 0;
    let mut first_error = None;
    let mut recorded = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (locked, manifest, result) = task.await.map_err(|error| SyncError::Task(error.to_string()))?;
        done += 1;
        reporter.progress("install", locked.name.as_ref(), done, total);
        match result {
            Ok(installed) => {
                outcome.bytes_linked += installed.bytes_linked;
                outcome.bytes_copied += installed.bytes_copied;
                if let Some(fallback) = installed.link_fallback
                    && !fallback_reported
                {
                    fallback_reported = true;
                    reporter.notice(NoticeLevel::Warning, fallback_text(fallback));
                }
                recorded.push(crate::store::InstalledDist {
                    name: manifest.name.clone(),
                    version: manifest.version.clone(),
                    wheel_sha256: manifest.wheel_sha256.clone(),
                });
            }
            Err(source) => {
                first_error.get_or_insert(SyncError::Install {
                    name: locked.name.to_string(),
                    source: Box::new(source),
                });
            }
        }
    }
    // What did install is recorded even when something else failed.
    services.store.record_installs(&venv_root, &recorded).await?;
    if let Some(error) = first_error {
        return Err(error);
    }

    if request.compile_bytecode {
        compile_bytecode(&python, &site_packages, reporter.as_ref()).await;
    }

    remember(&services, &venv_root, &digest, &site_packages).await?;
    tracing::info!(
        venv = %venv_root.display(),
        installed = outcome.installed.len(),
        removed = outcome.removed.len(),
        planned_ms = planned.as_millis() as u64,
        prepared_ms = prepared.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "synced"
    );
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

/// `axle venv --seed`: pip, the newest release with a wheel for the
/// environment, installed through the same path as any sync (a one-line
/// hashed lock, written to `scratch`). Returns `pip==VERSION`.
pub async fn seed(
    services: Services<'_>,
    invocation: &Invocation,
    venv_root: &Path,
    scratch: &Path,
    reporter: Arc<dyn Reporter>,
) -> Result<String, SyncError> {
    let python = venv_root.join("bin").join("python");
    let unusable = |reason: String| SyncError::Interpreter {
        path: python.clone(),
        reason,
    };
    let info = services
        .interpreters
        .query_environment(venv_root)
        .await
        .map_err(|error| unusable(error.to_string()))?;
    let tags = crate::lock::tags_for(&info).map_err(|error| unusable(error.to_string()))?;
    let pip_default = pip_default_index(&services, &info).await;
    let sources = SourceLayers {
        invocation,
        cli: &IndexSettings::default(),
        files: &[],
        strategy: IndexStrategy::FirstIndex,
        pip_default: pip_default.as_deref(),
        site_prefix: Some(venv_root),
    }
    .resolve()?;
    let fetch =
        FetchContext::new(false, Refresh::None, crate::lock::request_settings(invocation)).with_credentials(&sources);
    let pip = PackageName::from_str("pip").map_err(|error| SyncError::Usage(error.to_string()))?;
    let files = services.index.project(&sources, &pip, &fetch).await?;
    let mut candidates: std::collections::BTreeMap<Version, Vec<String>> = std::collections::BTreeMap::new();
    for file in files.iter() {
        let DistFilename::Wheel(wheel) = &file.filename else {
            continue;
        };
        let usable = file.file.yanked.is_none()
            && !wheel.version.any_prerelease()
            && tags.compatibility(wheel).is_some()
            && file
                .file
                .requires_python
                .as_deref()
                .is_none_or(|specifiers| requires_python_allows(specifiers, &info.markers.python_full_version));
        if let (true, Some(sha)) = (usable, &file.file.sha256) {
            candidates.entry(wheel.version.clone()).or_default().push(sha.clone());
        }
    }
    let Some((version, hashes)) = candidates.into_iter().next_back() else {
        return Err(SyncError::NoWheel {
            name: "pip".to_string(),
            version: "any".to_string(),
            detail: " on the configured index".to_string(),
        });
    };
    let mut lock = format!("pip=={version}");
    for hash in &hashes {
        lock.push_str(&format!(" \\\n    --hash=sha256:{hash}"));
    }
    lock.push('\n');
    std::fs::create_dir_all(scratch).map_err(|source| SyncError::Io {
        path: scratch.to_path_buf(),
        source,
    })?;
    let file = tempfile::Builder::new()
        .prefix("seed-")
        .suffix(".txt")
        .tempfile_in(scratch)
        .map_err(|source| SyncError::Io {
            path: scratch.to_path_buf(),
            source,
        })?;
    std::fs::write(file.path(), lock).map_err(|source| SyncError::Io {
        path: file.path().to_path_buf(),
        source,
    })?;
    let request = SyncRequest {
        invocation: invocation.clone(),
        lock_files: vec![file.path().display().to_string()],
        venv: Some(venv_root.display().to_string()),
        ..SyncRequest::default()
    };
    sync(services, request, reporter).await?;
    Ok(format!("pip=={version}"))
}

fn requires_python_allows(specifiers: &str, python: &str) -> bool {
    match (
        axle_standards::VersionSpecifiers::from_str(specifiers),
        Version::from_str(python),
    ) {
        (Ok(specifiers), Ok(python)) => specifiers.contains(&python),
        _ => true,
    }
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
            return Err(SyncError::Usage(format!(
                "{} is a .in file: sync takes the lock made from it (run `axle lock` and pass the .txt)",
                file.display()
            )));
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

/// What decides a sync's result besides the environment: the lock files'
/// bytes, the files they include, and the options.
fn lock_digest(request: &SyncRequest, files: &[PathBuf]) -> Result<String, SyncError> {
    let mut hasher = Sha256::new();
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(
        format!(
            "{:?}|{:?}|{}",
            request.link_mode, request.index, request.compile_bytecode
        )
        .as_bytes(),
    );
    for file in files {
        let bytes = std::fs::read(file).map_err(|source| SyncError::Io {
            path: file.clone(),
            source,
        })?;
        hasher.update(file.as_os_str().as_encoded_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn site_stamp(site_packages: &Path) -> Option<String> {
    let meta = std::fs::metadata(site_packages).ok()?;
    Some(format!(
        "{}:{}:{}.{}",
        meta.dev(),
        meta.ino(),
        meta.mtime(),
        meta.mtime_nsec()
    ))
}

async fn is_unchanged(services: &Services<'_>, venv_root: &Path, digest: &str) -> bool {
    let remembered = services
        .state
        .last
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(venv_root)
        .cloned();
    let last = match remembered {
        Some(last) => last,
        None => {
            let row: Option<(String, String, String)> =
                sqlx::query_as("SELECT lock_digest, site_packages, site_stamp FROM venv_sync WHERE venv = ?")
                    .bind(venv_root.to_string_lossy())
                    .fetch_optional(services.pool)
                    .await
                    .ok()
                    .flatten();
            let Some((lock_digest, site_packages, site_stamp)) = row else {
                return false;
            };
            LastSync {
                lock_digest,
                site_packages: PathBuf::from(site_packages),
                site_stamp,
            }
        }
    };
    last.lock_digest == digest && site_stamp(&last.site_packages).as_deref() == Some(last.site_stamp.as_str())
}

async fn remember(
    services: &Services<'_>,
    venv_root: &Path,
    digest: &str,
    site_packages: &Path,
) -> Result<(), SyncError> {
    let Some(stamp) = site_stamp(site_packages) else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO venv_sync (venv, lock_digest, site_packages, site_stamp, synced_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (venv) DO UPDATE SET lock_digest = excluded.lock_digest,
            site_packages = excluded.site_packages, site_stamp = excluded.site_stamp, synced_at = excluded.synced_at",
    )
    .bind(venv_root.to_string_lossy())
    .bind(digest)
    .bind(site_packages.to_string_lossy())
    .bind(&stamp)
    .bind(db::now())
    .execute(services.pool)
    .await?;
    services
        .state
        .last
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(
            venv_root.to_path_buf(),
            LastSync {
                lock_digest: digest.to_string(),
                site_packages: site_packages.to_path_buf(),
                site_stamp: stamp,
            },
        );
    Ok(())
}

/// Files a pylock.toml names directly, by the hash that identifies them.
type DirectFiles = HashMap<String, pylock::LockedFile>;

fn read_locks(
    files: &[PathBuf],
    env: &HashMap<String, String>,
    markers: &axle_standards::MarkerEnvironment,
) -> Result<(LockedSet, DirectFiles), SyncError> {
    let (toml, text): (Vec<&PathBuf>, Vec<&PathBuf>) = files
        .iter()
        .partition(|file| file.extension().is_some_and(|extension| extension == "toml"));
    let text: Vec<PathBuf> = text.into_iter().cloned().collect();
    let mut set = lockfile::read(&text, env, markers)?;
    let mut direct = DirectFiles::new();
    for file in toml {
        let content = std::fs::read_to_string(file).map_err(|source| SyncError::Io {
            path: file.clone(),
            source,
        })?;
        for package in pylock::parse(&file.display().to_string(), &content)? {
            if let Some(marker) = &package.marker {
                let requirement = axle_standards::parse_requirement(&format!("{} ; {marker}", package.name))
                    .map_err(|error| SyncError::Usage(format!("{}: {error}", file.display())))?;
                if !axle_standards::evaluate(&requirement.marker, markers, &[]) {
                    continue;
                }
            }
            let name = PackageName::from_str(&package.name)
                .map_err(|error| SyncError::Usage(format!("{}: {error}", file.display())))?;
            let version = package
                .version
                .as_deref()
                .map(Version::from_str)
                .transpose()
                .map_err(|error| SyncError::Usage(format!("{}: {error}", file.display())))?;
            let mut hashes = BTreeSet::new();
            for locked_file in &package.files {
                if let Some(sha) = &locked_file.sha256 {
                    hashes.insert(sha.clone());
                    direct.insert(sha.clone(), locked_file.clone());
                }
            }
            let url = if version.is_none() {
                package.files.first().map(|file| file.location.clone())
            } else {
                None
            };
            let locked = Locked {
                name: name.clone(),
                version,
                url,
                hashes,
                origin: file.display().to_string(),
            };
            if let Some(known) = set.dists.get(&name)
                && (known.version != locked.version || known.url != locked.url)
            {
                return Err(SyncError::Conflict(format!(
                    "{name} is pinned differently at {} and {}",
                    known.origin, locked.origin
                )));
            }
            set.hashed |= !locked.hashes.is_empty();
            set.dists.insert(name, locked);
        }
    }
    Ok((set, direct))
}

async fn present_distributions(
    services: &Services<'_>,
    venv_root: &Path,
    site_packages: &Path,
) -> Result<Vec<Present>, SyncError> {
    let site = site_packages.to_path_buf();
    let found = tokio::task::spawn_blocking(move || axle_install::installed(&site))
        .await
        .map_err(|error| SyncError::Task(error.to_string()))??;
    let from_wheels: HashMap<(String, String), String> = services
        .store
        .installed_from(venv_root)
        .await?
        .into_iter()
        .map(|(name, version, sha)| ((name, version), sha))
        .collect();
    Ok(found
        .distributions
        .into_iter()
        .map(|dist| {
            let key = (dist.name.to_string(), dist.version.to_string());
            let dist_info = dist
                .dist_info
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            Present {
                complete: dist.has_record && dist.kind == axle_install::InstalledKind::DistInfo,
                wheel_sha256: from_wheels.get(&key).cloned(),
                name: dist.name,
                version: dist.version,
                dist_info,
            }
        })
        .collect())
}

/// Gets a verified, unpacked wheel for every distribution to install.
#[allow(clippy::too_many_arguments)]
async fn prepare(
    services: &Services<'_>,
    request: &SyncRequest,
    info: &InterpreterInfo,
    tags: &Arc<Tags>,
    wanted: &LockedSet,
    direct_files: &DirectFiles,
    install: &[Locked],
    reporter: &dyn Reporter,
) -> Result<Vec<(Locked, Manifest)>, SyncError> {
    let invocation = &request.invocation;
    let mut fetch = FetchContext::new(
        request.offline,
        Refresh::None,
        crate::lock::request_settings(invocation),
    );
    let mut ready = Vec::new();
    let total = install.len() as u64;
    let mut pending = Vec::new();
    let mut from_index: Vec<Locked> = Vec::new();
    for locked in install {
        if let Some(manifest) = services.store.find(&locked.hashes, tags).await? {
            ready.push((locked.clone(), manifest));
            continue;
        }
        // A file named by a pylock.toml needs no index.
        let named = locked
            .hashes
            .iter()
            .filter_map(|hash| direct_files.get(hash).map(|file| (hash, file)))
            .find(|(_, file)| wheel_fits(&file.filename, tags));
        let chosen = if let Some((hash, file)) = named {
            crate::index::DistFile {
                filename: file.filename.clone(),
                url: location_url(&file.location, &invocation.cwd),
                sha256: Some(hash.clone()),
                requires_python: None,
                yanked: None,
                upload_time: None,
                size: None,
                core_metadata: None,
            }
        } else if let Some(url) = &locked.url {
            let filename = url
                .rsplit('/')
                .next()
                .unwrap_or(url)
                .split('#')
                .next()
                .unwrap_or("")
                .to_string();
            if !wheel_fits(&filename, tags) {
                return Err(SyncError::Unsupported(format!(
                    "{} comes from {url}, which is not a wheel for this environment (a source build would be needed)",
                    locked.name
                )));
            }
            crate::index::DistFile {
                filename,
                url: url.clone(),
                sha256: None,
                requires_python: None,
                yanked: None,
                upload_time: None,
                size: None,
                core_metadata: None,
            }
        } else {
            // From an index: looked up together, below.
            from_index.push(locked.clone());
            continue;
        };
        pending.push((locked.clone(), chosen));
    }

    // Each package's page, choice and download run as one chain, and all
    // chains at once: a wheel downloads as soon as its own page is read.
    let sources = if from_index.is_empty() {
        None
    } else {
        let pip_default = pip_default_index(services, info).await;
        let resolved = SourceLayers {
            invocation,
            cli: &request.index,
            files: &wanted.index,
            strategy: request.strategy,
            pip_default: pip_default.as_deref(),
            site_prefix: Some(&info.prefix),
        }
        .resolve()?;
        fetch = fetch.with_credentials(&resolved);
        Some(resolved)
    };
    let download_dir = services.store.download_dir();
    let mut chains: Vec<futures::future::BoxFuture<'_, Result<Fetched, SyncError>>> = Vec::new();
    for (locked, file) in pending {
        chains.push(Box::pin(fetch_into_store(
            services,
            &fetch,
            &download_dir,
            tags,
            locked,
            file,
        )));
    }
    if let Some(sources) = &sources {
        for locked in from_index {
            let fetch = &fetch;
            let download_dir = &download_dir;
            chains.push(Box::pin(async move {
                let chosen = if locked.hashes.is_empty() {
                    let files = services.index.project(sources, &locked.name, fetch).await?;
                    choose_file(&locked, &files, tags)?
                } else {
                    let files = services
                        .index
                        .files_with_hashes(sources, &locked.name, &locked.hashes, fetch)
                        .await?;
                    choose_file(&locked, &files, tags)?
                };
                fetch_into_store(services, fetch, download_dir, tags, locked, chosen).await
            }));
        }
    }
    let results = futures::future::join_all(chains).await;
    let mut done = ready.len() as u64;
    for result in results {
        let (locked, filename, manifest) = result?;
        done += 1;
        reporter.progress("download", &filename, done, total);
        ready.push((locked, manifest));
    }
    Ok(ready)
}

/// A wheel in the store for a pin: the pin, the file name, the manifest.
type Fetched = (Locked, String, Manifest);

/// Downloads `file` for `locked`, verified against the lock's hashes before
/// the store sees it, and unpacks it into the store. Two syncs that need
/// one wheel share its download: the second finds it stored.
async fn fetch_into_store(
    services: &Services<'_>,
    fetch: &FetchContext,
    dir: &Path,
    tags: &Arc<Tags>,
    locked: Locked,
    file: crate::index::DistFile,
) -> Result<Fetched, SyncError> {
    // A file name becomes a path below; one that could climb out of the
    // download directory is refused before anything is built.
    if !is_plain_wheel_name(&file.filename) {
        return Err(SyncError::Unsupported(format!(
            "refusing the file name `{}` for {}: not a plain wheel file name",
            file.filename.escape_debug(),
            locked.name
        )));
    }
    let store = services.store;
    let key = file.sha256.clone().unwrap_or_else(|| file.url.clone());
    let guard = store.fetch_guard(&key);
    let _held = guard.lock().await;
    if let Some(manifest) = store.find(&locked.hashes, tags).await? {
        return Ok((locked, file.filename, manifest));
    }
    let expected: Vec<String> = locked.hashes.iter().cloned().collect();
    let clock = Instant::now();
    let downloaded = services.index.download(&file, &expected, dir, fetch).await?;
    let download_ms = clock.elapsed().as_millis() as u64;
    // The store reads the wheel's name from its file: give it its own, in a
    // directory no other download uses.
    let named_dir = tempfile::Builder::new()
        .prefix(".unpack-")
        .tempdir_in(dir)
        .map_err(|source| SyncError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    let named = named_dir.path().join(&file.filename);
    if let Err(source) = std::fs::rename(&downloaded.path, &named) {
        let _ = std::fs::remove_file(&downloaded.path);
        return Err(SyncError::Io { path: named, source });
    }
    let manifest = store.add(&named, &downloaded.sha256, &file.filename, &file.url).await?;
    tracing::debug!(
        file = %file.filename,
        download_ms,
        unpack_ms = clock.elapsed().as_millis() as u64 - download_ms,
        "stored"
    );
    Ok((locked, file.filename, manifest))
}

/// The best wheel of the pinned version that this environment can install
/// and the lock's hashes allow.
fn choose_file(
    locked: &Locked,
    files: &[crate::index::IndexedFile],
    tags: &Tags,
) -> Result<crate::index::DistFile, SyncError> {
    let Some(version) = &locked.version else {
        return Err(SyncError::Usage(format!(
            "{} has neither a version nor a URL",
            locked.name
        )));
    };
    let of_version: Vec<&crate::index::IndexedFile> =
        files.iter().filter(|file| file.filename.version() == version).collect();
    if of_version.is_empty() {
        return Err(SyncError::NoWheel {
            name: locked.name.to_string(),
            version: version.to_string(),
            detail: if locked.hashes.is_empty() {
                ": the index has no files of this version".to_string()
            } else {
                ": no file on the index has one of the lock's hashes".to_string()
            },
        });
    }
    // A file of unknown hash (a local find-links file) may still be the
    // one: the download is checked against the lock either way.
    let allowed = |file: &&&crate::index::IndexedFile| {
        locked.hashes.is_empty() || file.file.sha256.as_ref().is_none_or(|sha| locked.hashes.contains(sha))
    };
    let best = of_version
        .iter()
        .filter(allowed)
        .filter_map(|file| match &file.filename {
            DistFilename::Wheel(wheel) => tags.compatibility(wheel).map(|priority| (priority.0, *file)),
            DistFilename::SourceDist(_) => None,
        })
        .min_by_key(|(priority, _)| *priority)
        .map(|(_, file)| file.file.clone());
    best.ok_or_else(|| {
        let has_sdist = of_version
            .iter()
            .any(|file| matches!(file.filename, DistFilename::SourceDist(_)));
        SyncError::NoWheel {
            name: locked.name.to_string(),
            version: version.to_string(),
            detail: if has_sdist {
                " (only a source distribution, which needs a build axle cannot do yet)".to_string()
            } else if !locked.hashes.is_empty() {
                " whose hash the lock allows".to_string()
            } else {
                String::new()
            },
        }
    })
}

/// A wheel file name that is safe as one path component.
fn is_plain_wheel_name(filename: &str) -> bool {
    !filename.is_empty()
        && !filename.starts_with('.')
        && !filename.contains(['/', '\\', '\0', '%'])
        && !filename.chars().any(char::is_control)
        && WheelFilename::from_str(filename).is_ok()
}

fn wheel_fits(filename: &str, tags: &Tags) -> bool {
    WheelFilename::from_str(filename).is_ok_and(|wheel| tags.compatibility(&wheel).is_some())
}

/// A pylock `path` (relative to the working directory) or URL, as a URL.
fn location_url(location: &str, cwd: &Path) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let path = cwd.join(location);
    url::Url::from_file_path(&path)
        .map(|url| url.to_string())
        .unwrap_or_else(|()| location.to_string())
}

/// A venv's interpreter has no pip; its base interpreter's pip names the
/// default index.
async fn pip_default_index(services: &Services<'_>, info: &InterpreterInfo) -> Option<String> {
    if let Some(index) = &info.pip_default_index {
        return Some(index.clone());
    }
    let base = services.interpreters.query(&info.base_executable).await.ok()?;
    base.pip_default_index.clone()
}

fn layout(info: &InterpreterInfo, venv_root: &Path) -> Result<Layout, SyncError> {
    let (major, minor) = info.major_minor();
    let mut layout = Layout::for_venv(venv_root, (major, minor)).map_err(|source| SyncError::Io {
        path: venv_root.to_path_buf(),
        source,
    })?;
    // The interpreter's own venv scheme wins where it says something.
    if let Some(purelib) = info.venv_path("purelib", venv_root) {
        layout.purelib = purelib;
    }
    if let Some(platlib) = info.venv_path("platlib", venv_root) {
        layout.platlib = platlib;
    }
    if let Some(scripts) = info.venv_path("scripts", venv_root) {
        layout.scripts = scripts;
    }
    Ok(layout)
}

/// PEP 610 for a distribution installed from a URL.
fn direct_url_json(url: &str, sha256: &str) -> String {
    serde_json::json!({
        "url": url,
        "archive_info": { "hashes": { "sha256": sha256 }, "hash": format!("sha256={sha256}") },
    })
    .to_string()
}

fn describe_locked(locked: &Locked) -> String {
    match (&locked.version, &locked.url) {
        (Some(version), _) => format!("{}=={version}", locked.name),
        (None, Some(url)) => format!("{} @ {url}", locked.name),
        (None, None) => locked.name.to_string(),
    }
}

fn fallback_text(fallback: LinkFallback) -> &'static str {
    match fallback {
        LinkFallback::CrossDevice => {
            "the environment is on another filesystem than axle's store: files were cloned or copied, not hard-linked"
        }
        LinkFallback::HardLinksRefused => {
            "the environment's filesystem refuses hard links: files were cloned or copied"
        }
        LinkFallback::CloneUnsupported => "the filesystem cannot clone files: they were copied",
    }
}

/// `--compile-bytecode`: the environment's python compiles what is installed,
/// using every core. Failures are reported, not fatal (pip does the same).
async fn compile_bytecode(python: &Path, site_packages: &Path, reporter: &dyn Reporter) {
    reporter.progress("compile", "bytecode", 0, 0);
    let output = tokio::process::Command::new(python)
        .args(["-I", "-m", "compileall", "-q", "-j", "0"])
        .arg(site_packages)
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    match output {
        Ok(output) if output.status.success() => {}
        Ok(output) => reporter.notice(
            NoticeLevel::Warning,
            &format!(
                "compiling bytecode failed for some files: {}",
                String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or("")
            ),
        ),
        Err(error) => reporter.notice(
            NoticeLevel::Warning,
            &format!("cannot run {}: {error}", python.display()),
        ),
    }
}
