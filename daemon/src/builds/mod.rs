//! Source builds, the daemon's side of `axle-build-frontend`: which sources to build, where their trees
//! come from (`source`, `git`), the isolated environments they build in (`environment`), and
//! what was built (`cache`) — so that each source is built once per interpreter, however many
//! clients ask at once and across restarts.
//!
//! [`BuildService`] implements [`Builds`] for the resolver (metadata) and sync (wheels):
//!
//! - metadata: from the source itself when the standards allow (PEP 643 `PKG-INFO`, a static
//!   `[project]` table), else `prepare_metadata_for_build_*`, else a full build (whose wheel is
//!   kept for the sync that usually follows);
//! - wheels: looked up by build key, else built (`build_wheel`, or PEP 660 `build_editable`
//!   for editables) and added to the store like any downloaded wheel.
//!
//! Concurrent requests for one build share it. Hooks run at most about one per core; a build
//! waiting for its own build requirements holds no slot, so nested builds cannot starve.
//! Building runs the project's code: see `axle_build_frontend::hooks` for what is confined.

mod cache;
mod environment;
mod git;
mod shared;
mod source;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Weak};

use axle_build_frontend::{BuildKind, SourceTree};
use axle_standards::{Metadata, WheelFilename};
use futures::FutureExt;
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};

use git::{GitRepositories, editable_checkout};

use crate::dist::{BuildContext, BuildError, Builds, Built, GitSource, SourceDist, SourceMetadata};
use crate::flights::Flights;
use crate::progress::{Phase, Reporter};
use crate::services::Services;
use crate::wheels::WheelStore;
use cache::BuildCache;
use source::Identity;

pub struct BuildService {
    me: Weak<BuildService>,
    home: PathBuf,
    /// The daemon's parts; their `builds` is not this service (see `services`).
    parts: Services,
    cache: BuildCache,
    git: GitRepositories,
    metadata_flights: Flights<String, Result<SourceMetadata, BuildError>>,
    wheel_flights: Flights<String, Result<Built, BuildError>>,
    hooks: tokio::sync::Semaphore,
    /// Set when the daemon stops: running hooks are killed, none starts.
    stopping: Arc<axle_build_frontend::Cancel>,
}

impl BuildService {
    /// A build service keeping its builds under `home`, over the daemon's `parts` (whose
    /// `builds` it replaces with itself wherever it hands them on).
    pub fn new(home: PathBuf, parts: Services) -> Arc<BuildService> {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Arc::new_cyclic(|me| BuildService {
            me: me.clone(),
            cache: BuildCache::new(parts.pool.clone()),
            home,
            parts,
            git: GitRepositories::default(),
            metadata_flights: Flights::default(),
            wheel_flights: Flights::default(),
            hooks: tokio::sync::Semaphore::new(cores),
            stopping: Arc::default(),
        })
    }

    /// Stops every running hook (killing its process group) and refuses new ones: the daemon
    /// is stopping and must not wait for builds.
    pub fn stop(&self) {
        self.stopping.stop();
        self.hooks.close();
    }

    fn this(&self) -> Result<Arc<BuildService>, BuildError> {
        self.me
            .upgrade()
            .ok_or_else(|| BuildError::Source("the daemon is stopping".to_string()))
    }

    /// The daemon's parts with this service as their builds: what build environments are
    /// synced with.
    fn services(self: &Arc<Self>) -> Services {
        self.parts.with_builds(self.clone())
    }

    /// A slot to run a hook in (about one per core).
    async fn hook_permit(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.hooks.acquire().await.ok()
    }

    /// A temporary directory under `$AXLE_HOME/builds`, removed when dropped.
    fn scratch_dir(&self, prefix: &str) -> Result<tempfile::TempDir, BuildError> {
        let parent = self.home.join("builds");
        std::fs::create_dir_all(&parent)
            .and_then(|()| tempfile::Builder::new().prefix(prefix).tempdir_in(&parent))
            .map_err(|error| {
                BuildError::Source(format!(
                    "cannot make a build directory in {}: {error}",
                    parent.display()
                ))
            })
    }

    /// A new log file for one build of `package`.
    fn log_file(&self, package: &str) -> Result<PathBuf, BuildError> {
        let directory = self.home.join("logs").join("builds");
        std::fs::create_dir_all(&directory)
            .map_err(|error| BuildError::Source(format!("cannot create {}: {error}", directory.display())))?;
        let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S").to_string();
        let safe: String = package
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let unique = std::process::id() ^ rand_suffix();
        Ok(directory.join(format!("{safe}-{stamp}-{unique:x}.log")))
    }

    async fn metadata_of(
        self: Arc<Self>,
        source: SourceDist,
        context: Arc<BuildContext>,
        identity: Identity,
    ) -> Result<SourceMetadata, BuildError> {
        let answer = |metadata: Arc<Metadata>| SourceMetadata {
            metadata,
            commit: identity.commit.clone(),
            sha256: identity.sha256.clone(),
        };
        let build_key = cache::build_key(&identity.key, is_editable(&source), &context);
        if let Some(known) = self.cache.metadata(&identity.key).await {
            return Ok(answer(known));
        }
        if let Some(known) = self.cache.metadata(&build_key).await {
            return Ok(answer(known));
        }
        let (tree, read) = self.tree(&source, &identity, &context).await?;
        if let Some(metadata) = read.static_metadata() {
            check_identity(&source, &metadata)?;
            let text = metadata_text(&metadata);
            let metadata = Arc::new(metadata);
            self.cache.remember_metadata(&identity.key, &text, &metadata).await;
            return Ok(answer(metadata));
        }
        // Before any hook runs: the wheel another machine built, if the team store shares it.
        let text = match self
            .built_by_the_team(&identity, is_editable(&source), &build_key, &context)
            .await?
        {
            Some(built) => metadata_of_wheel(&self.parts.store, &built).await?,
            None => {
                self.metadata_by_hooks(&source, &context, &identity, &build_key, tree, read)
                    .await?
            }
        };
        let metadata = Metadata::parse(&text).map_err(|error| BuildError::Hook {
            package: source.to_string(),
            version: String::new(),
            reason: format!("its backend wrote unreadable metadata: {error}"),
        })?;
        check_identity(&source, &metadata)?;
        let metadata = Arc::new(metadata);
        self.cache.remember_metadata(&build_key, &text, &metadata).await;
        Ok(answer(metadata))
    }

    /// The metadata the backend's hooks give: `prepare_metadata_for_build_*`, else a whole
    /// build (whose wheel is kept for the install that usually follows).
    async fn metadata_by_hooks(
        self: &Arc<Self>,
        source: &SourceDist,
        context: &Arc<BuildContext>,
        identity: &Identity,
        build_key: &str,
        tree: source::Tree,
        read: SourceTree,
    ) -> Result<String, BuildError> {
        let build = self.start_build(source, context, tree, read).await?;
        let metadata_dir = build.scratch.path().join("metadata");
        std::fs::create_dir_all(&metadata_dir).map_err(|error| BuildError::Source(error.to_string()))?;
        report(&context.reporter, &build.package, "prepare_metadata");
        let (runner, read, config, kind) = (
            build.runner.clone(),
            build.read.clone(),
            context.options.config_settings.clone(),
            build.kind,
        );
        let directory = metadata_dir.clone();
        let prepared = self
            .run_hook(&build.package, move || {
                runner.prepare_metadata(&read, kind, &directory, &config)
            })
            .await?;
        match prepared {
            Some(dist_info) => std::fs::read_to_string(dist_info.join("METADATA")).map_err(|error| {
                BuildError::Source(format!(
                    "cannot read the prepared metadata of {}: {error}",
                    build.package
                ))
            }),
            None => {
                // Only a build tells: build the wheel, keep it for the install that follows.
                let built = self.build_wheel(&build, source, context, identity, build_key).await?;
                metadata_of_wheel(&self.parts.store, &built).await
            }
        }
    }

    async fn wheel_of(
        self: Arc<Self>,
        source: SourceDist,
        context: Arc<BuildContext>,
        identity: Identity,
        build_key: String,
    ) -> Result<Built, BuildError> {
        if let Some(built) = self.known_wheel(&identity, &build_key).await? {
            return Ok(built);
        }
        if let Some(built) = self
            .built_by_the_team(&identity, is_editable(&source), &build_key, &context)
            .await?
        {
            return Ok(built);
        }
        let (tree, read) = self.tree(&source, &identity, &context).await?;
        let build = self.start_build(&source, &context, tree, read).await?;
        self.build_wheel(&build, &source, &context, &identity, &build_key).await
    }

    /// The source's tree, read.
    async fn tree(
        self: &Arc<Self>,
        source: &SourceDist,
        identity: &Identity,
        context: &BuildContext,
    ) -> Result<(source::Tree, SourceTree), BuildError> {
        let tree = source::materialize(self, source, identity, context).await?;
        let root = tree.root.clone();
        let read = tokio::task::spawn_blocking(move || SourceTree::read(&root))
            .await
            .map_err(|error| BuildError::Source(error.to_string()))?
            .map_err(|error| BuildError::Source(error.to_string()))?;
        Ok((tree, read))
    }

    /// A build under way: its environment ready and a runner for its hooks.
    async fn start_build(
        self: &Arc<Self>,
        source: &SourceDist,
        context: &Arc<BuildContext>,
        tree: source::Tree,
        read: SourceTree,
    ) -> Result<Build, BuildError> {
        let package = source.to_string();
        let kind = if is_editable(source) {
            BuildKind::Editable
        } else {
            BuildKind::Wheel
        };
        let log = self.log_file(&package)?;
        let scratch = self.scratch_dir("hook-")?;
        report(&context.reporter, &package, "preparing the build environment");
        let environment = environment::prepare(self, &read, kind, &package, context, &log, scratch.path()).await?;
        let runner = environment.runner(log, scratch.path().to_path_buf(), context, &self.stopping);
        Ok(Build {
            package,
            kind,
            read,
            runner,
            scratch,
            _environment: environment,
            _tree: tree,
        })
    }

    /// Runs one hook on a blocking thread, in one of the hook slots.
    async fn run_hook<T: Send + 'static>(
        &self,
        package: &str,
        hook: impl FnOnce() -> Result<T, axle_build_frontend::HookError> + Send + 'static,
    ) -> Result<T, BuildError> {
        let Some(_permit) = self.hook_permit().await else {
            return Err(BuildError::Source("axled is stopping".to_string()));
        };
        tokio::task::spawn_blocking(hook)
            .await
            .map_err(|error| BuildError::Source(error.to_string()))?
            .map_err(|error| BuildError::Hook {
                package: package.to_string(),
                version: String::new(),
                reason: error.to_string(),
            })
    }

    /// A wheel this build key produced before, if the store still has it.
    async fn known_wheel(&self, identity: &Identity, build_key: &str) -> Result<Option<Built>, BuildError> {
        let Some((sha256, _filename)) = self.cache.wheel(build_key).await else {
            return Ok(None);
        };
        match self.parts.store.manifest(&sha256).await {
            Ok(Some(manifest)) => Ok(Some(Built {
                manifest,
                source_identity: identity.key.clone(),
            })),
            _ => {
                self.cache.forget_wheel(build_key).await;
                Ok(None)
            }
        }
    }

    /// Runs the build hook and puts the wheel into the store.
    async fn build_wheel(
        &self,
        build: &Build,
        source: &SourceDist,
        context: &BuildContext,
        identity: &Identity,
        build_key: &str,
    ) -> Result<Built, BuildError> {
        let package = &build.package;
        let out = build.scratch.path().join("wheel");
        std::fs::create_dir_all(&out).map_err(|error| BuildError::Source(error.to_string()))?;
        report(&context.reporter, package, "building");
        let (runner, tree, config, kind, directory) = (
            build.runner.clone(),
            build.read.clone(),
            context.options.config_settings.clone(),
            build.kind,
            out.clone(),
        );
        let wheel = self
            .run_hook(package, move || runner.build(&tree, kind, &directory, None, &config))
            .await?;
        let filename = wheel
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parsed = WheelFilename::from_str(&filename).map_err(|error| BuildError::Hook {
            package: package.clone(),
            version: String::new(),
            reason: format!("its backend wrote `{filename}`, not a wheel: {error}"),
        })?;
        if !context.target.tags.is_compatible(&parsed) {
            return Err(BuildError::Hook {
                package: package.clone(),
                version: parsed.version.to_string(),
                reason: format!("its backend built `{filename}`, which this interpreter cannot install"),
            });
        }
        let bytes = std::fs::read(&wheel).map_err(|error| BuildError::Source(error.to_string()))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let origin = match source {
            SourceDist::Archive(archive) => archive.url.clone(),
            other => other.to_string(),
        };
        // Nothing half-stored: the store takes the wheel whole or not at all, and the cache
        // row is written only after it did.
        let _store_in_use = self.parts.store.shared().await;
        let manifest = self
            .parts
            .store
            .add(&wheel, &sha256, &filename, &origin)
            .await
            .map_err(|error| BuildError::Hook {
                package: package.clone(),
                version: parsed.version.to_string(),
                reason: format!("its wheel is not installable: {error}"),
            })?;
        let editable = build.kind == BuildKind::Editable;
        let shared = shared::team_identity(identity, editable, context);
        self.cache
            .remember_wheel(build_key, &sha256, &filename, shared.as_deref())
            .await;
        let built = Built {
            manifest,
            source_identity: identity.key.clone(),
        };
        self.share(identity, editable, context, &built);
        Ok(built)
    }
}

/// A build under way; its directories are removed when it is dropped.
struct Build {
    package: String,
    kind: BuildKind,
    read: SourceTree,
    runner: axle_build_frontend::HookRunner,
    scratch: tempfile::TempDir,
    _environment: environment::BuildEnvironment,
    _tree: source::Tree,
}

fn is_editable(source: &SourceDist) -> bool {
    match source {
        SourceDist::Directory { editable, .. } => *editable,
        SourceDist::Git(git) => git.editable,
        SourceDist::Archive(_) => false,
    }
}

impl Builds for BuildService {
    fn metadata<'a>(
        &'a self,
        source: &'a SourceDist,
        context: &'a Arc<BuildContext>,
    ) -> BoxFuture<'a, Result<SourceMetadata, BuildError>> {
        Box::pin(async move {
            check_chain(source, context)?;
            let this = self.this()?;
            let identity = source::identify(&this, source, context).await?;
            let key = identity.key.clone();
            let (source, context) = (source.clone(), context.clone());
            self.metadata_flights
                .join(key, move || this.metadata_of(source, context, identity).boxed())
                .await
        })
    }

    fn wheel<'a>(
        &'a self,
        source: &'a SourceDist,
        context: &'a Arc<BuildContext>,
    ) -> BoxFuture<'a, Result<Built, BuildError>> {
        Box::pin(async move {
            check_chain(source, context)?;
            let this = self.this()?;
            let identity = source::identify(&this, source, context).await?;
            let build_key = cache::build_key(&identity.key, is_editable(source), context);
            if let Some(built) = self.known_wheel(&identity, &build_key).await? {
                return Ok(built);
            }
            let (source, context) = (source.clone(), context.clone());
            self.wheel_flights
                .join(build_key.clone(), move || {
                    this.wheel_of(source, context, identity, build_key).boxed()
                })
                .await
        })
    }

    fn prebuilt<'a>(
        &'a self,
        sha256s: &'a std::collections::BTreeSet<String>,
        context: &'a Arc<BuildContext>,
    ) -> BoxFuture<'a, Result<Option<Built>, BuildError>> {
        Box::pin(async move { self.this()?.prebuilt_from(sha256s, context).await })
    }

    fn editable_checkout<'a>(
        &'a self,
        git: &'a GitSource,
        commit: &'a str,
        directory: &'a Path,
        context: &'a Arc<BuildContext>,
    ) -> BoxFuture<'a, Result<PathBuf, BuildError>> {
        self.checkout_for_editable(git, commit, directory, context)
    }
}

impl BuildService {
    fn checkout_for_editable<'a>(
        &'a self,
        git: &'a GitSource,
        commit: &'a str,
        directory: &'a Path,
        context: &'a Arc<BuildContext>,
    ) -> BoxFuture<'a, Result<PathBuf, BuildError>> {
        Box::pin(editable_checkout(
            &self.git,
            &self.home,
            git,
            commit,
            directory,
            &context.env,
        ))
    }
}

/// Refuses a build that its own build chain already contains, and any build under
/// `--no-build` (before anything is fetched).
fn check_chain(source: &SourceDist, context: &BuildContext) -> Result<(), BuildError> {
    let name = source.to_string();
    if context.options.no_build {
        return Err(BuildError::Refused {
            package: name.clone(),
            source_dist: name,
        });
    }
    if context.chain.iter().any(|known| known == &name) || context.chain.len() > 8 {
        return Err(BuildError::Cycle {
            package: name,
            chain: context.chain.join(" → "),
        });
    }
    Ok(())
}

/// Metadata must describe what the source says it is (an sdist's file name).
fn check_identity(source: &SourceDist, metadata: &Metadata) -> Result<(), BuildError> {
    let SourceDist::Archive(archive) = source else {
        return Ok(());
    };
    let Ok(axle_standards::DistFilename::SourceDist(sdist)) =
        axle_standards::DistFilename::try_from_filename(&archive.filename, None)
    else {
        return Ok(());
    };
    if sdist.name != metadata.name || sdist.version != metadata.version {
        return Err(BuildError::Hook {
            package: archive.filename.clone(),
            version: sdist.version.to_string(),
            reason: format!(
                "its metadata describes {} {}, not what the file name says",
                metadata.name, metadata.version
            ),
        });
    }
    Ok(())
}

/// METADATA text for metadata read from a static source (what the cache keeps).
fn metadata_text(metadata: &Metadata) -> String {
    let mut text = format!(
        "Metadata-Version: 2.2\nName: {}\nVersion: {}\n",
        metadata.name, metadata.version
    );
    if let Some(requires_python) = &metadata.requires_python {
        text.push_str(&format!("Requires-Python: {requires_python}\n"));
    }
    for extra in &metadata.provides_extra {
        text.push_str(&format!("Provides-Extra: {extra}\n"));
    }
    for requirement in &metadata.requires_dist {
        text.push_str(&format!("Requires-Dist: {requirement}\n"));
    }
    text
}

/// The METADATA of a wheel in the store.
async fn metadata_of_wheel(store: &WheelStore, built: &Built) -> Result<String, BuildError> {
    store
        .file_text(&built.manifest, "METADATA")
        .await
        .ok_or_else(|| BuildError::Source(format!("the wheel built for {} has no METADATA", built.manifest.name)))
}

fn report(reporter: &Arc<dyn Reporter>, package: &str, step: &str) {
    reporter.progress(Phase::Build, &format!("{package}: {step}"), 0, 0);
}

/// A few bits that differ between two log files made in one second.
fn rand_suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(jiff::Timestamp::now().as_nanosecond() as u64);
    hasher.finish() as u32
}
