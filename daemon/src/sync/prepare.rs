//! Prepare: a verified, unpacked wheel in the store for every distribution a sync installs,
//! before the environment is touched.
//!
//! Each pin is looked for in the store by the lock's hashes first (no index asked). Otherwise,
//! when the request names a team store, there: a wheel with one of the lock's hashes, else the
//! wheel a trusted build record says one of them (an sdist) builds into — still no index.
//! Otherwise its file comes from what the lock names (a pylock's file, a `name @ url` wheel) or
//! from the index, where each package's page, choice and download run as one chain, and all
//! chains at once: a wheel downloads as soon as its own page is read (from the team store when
//! it has that very file). What has no wheel — an sdist the lock's hashes allow, a project
//! directory, a Git commit — is built ([`Builds::wheel`]), once per interpreter. Wheels fetched
//! from an index are offered to the team store afterwards.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use axle_install::Manifest;
use axle_standards::{Tags, WheelFilename};
use futures::future::BoxFuture;

use super::SyncError;
use super::environment::Environment;
use super::intake::{Choice, choose_file, fetch_into_store, files_of_pin, from_the_team};
use crate::context::Invocation;
use crate::dist::{ArchiveSource, BuildContext, BuildOptions, GitSource, SourceDist};
use crate::index::{
    DistFile, FetchContext, IndexSettings, IndexStrategy, Refresh, RequestSettings, Sha256Digest, SourceLayers,
    Sources, file_link,
};
use crate::interpreter::InterpreterInfo;
use crate::lockfile::{Locked, LockedSet, LockedSource};
use crate::progress::{Phase, Reporter};
use crate::services::Services;
use crate::team::{Found, TeamTier};

/// How prepare reaches indexes and builds.
pub enum Fetching<'a> {
    /// As a sync request says: sources decided the way pip decides them, builds as its
    /// options allow.
    Request {
        invocation: &'a Invocation,
        /// Index options of the command line.
        cli: &'a IndexSettings,
        strategy: IndexStrategy,
        offline: bool,
        build: BuildOptions,
        reporter: Arc<dyn Reporter>,
    },
    /// A build's own context (a build environment being filled).
    Build(Arc<BuildContext>),
}

/// A pin with its wheel in the store.
pub struct Prepared {
    pub locked: Locked,
    pub manifest: Manifest,
    /// What the wheel was built from, or the URL it came from (see `plan::Present`).
    pub source_identity: Option<String>,
    /// PEP 610 `direct_url.json` for a distribution named by its location.
    pub direct_url: Option<String>,
}

/// Gets a verified, unpacked wheel for every pin of `install`.
pub async fn prepare(
    services: &Services,
    environment: &Environment,
    fetching: &Fetching<'_>,
    wanted: &LockedSet,
    install: &[Locked],
    reporter: &dyn Reporter,
) -> Result<Vec<Prepared>, SyncError> {
    let tags = &environment.target.tags;
    let cwd = match fetching {
        Fetching::Request { invocation, .. } => invocation.cwd.clone(),
        Fetching::Build(_) => environment.root.clone(),
    };
    // The team tier is named once, even when the store has everything: a client hears once
    // what it should know of it (read-only, anonymous) at the first job that reaches it.
    let team = team_of(services, fetching)?;
    let mut ready = Vec::new();
    let mut named_files = Vec::new();
    let mut from_index: Vec<&Locked> = Vec::new();
    let mut to_build: Vec<(&Locked, SourceDist)> = Vec::new();
    for locked in install {
        if locked.source.is_hashable()
            && let Some(manifest) = services.store.find(&locked.hashes, tags).await?
        {
            ready.push(prepared_wheel(locked, manifest));
            continue;
        }
        match &locked.source {
            LockedSource::Registry => match named_file(locked, wanted, tags, &cwd) {
                Some(file) => named_files.push((locked, file)),
                None => from_index.push(locked),
            },
            LockedSource::Url(url) => match url_file(locked, url)? {
                UrlFile::Wheel(file) => {
                    if !WheelFilename::from_str(&file.filename).is_ok_and(|wheel| tags.is_compatible(&wheel)) {
                        return Err(SyncError::Unsupported(format!(
                            "{} comes from {url}, a wheel this environment cannot install",
                            locked.name
                        )));
                    }
                    named_files.push((locked, file));
                }
                UrlFile::Sdist(archive) => to_build.push((locked, SourceDist::Archive(archive))),
            },
            LockedSource::Directory { path, editable } => to_build.push((
                locked,
                SourceDist::Directory {
                    path: path.clone(),
                    editable: *editable,
                },
            )),
            LockedSource::Git { url, editable } => {
                let git = GitSource::parse(url, *editable)
                    .map_err(|reason| SyncError::Usage(format!("{}: {reason}", locked.origin)))?;
                to_build.push((locked, SourceDist::Git(git)));
            }
        }
    }

    let connection = if from_index.is_empty() && to_build.is_empty() && named_files.is_empty() {
        None
    } else {
        Some(
            Connection::open(
                services,
                environment,
                fetching,
                wanted,
                !from_index.is_empty() || !to_build.is_empty(),
                team,
            )
            .await?,
        )
    };
    let download_dir = services.store.download_dir();
    let mut chains: Vec<BoxFuture<'_, Result<(Prepared, String), SyncError>>> = Vec::new();
    if let Some(connection) = &connection {
        for (locked, file) in named_files {
            let download_dir = &download_dir;
            chains.push(Box::pin(async move {
                let manifest = connection
                    .fetch_into_store(services, download_dir, tags, locked, &file)
                    .await?;
                let mut prepared = prepared_wheel(locked, manifest);
                if let LockedSource::Url(url) = &locked.source {
                    prepared.source_identity = Some(format!("url:{url}"));
                    prepared.direct_url = Some(archive_direct_url(url, &prepared.manifest.wheel_sha256));
                }
                Ok((prepared, file.filename))
            }));
        }
        for locked in from_index {
            chains.push(Box::pin(from_the_team_or_index(
                services,
                connection,
                &download_dir,
                tags,
                locked,
            )));
        }
        for (locked, source) in to_build {
            chains.push(Box::pin(build(services, connection, environment, locked, source)));
        }
    }
    let total = install.len() as u64;
    let mut done = ready.len() as u64;
    for result in futures::future::join_all(chains).await {
        let (prepared, subject) = result?;
        done += 1;
        reporter.progress(Phase::Download, &subject, done, total);
        ready.push(prepared);
    }
    Ok(ready)
}

/// The build context `fetching` makes for `environment` (sources decided as for a prepare).
pub async fn build_context(
    services: &Services,
    environment: &Environment,
    fetching: &Fetching<'_>,
    wanted: &LockedSet,
) -> Result<Arc<BuildContext>, SyncError> {
    let team = team_of(services, fetching)?;
    Connection::open(services, environment, fetching, wanted, true, team)
        .await?
        .build
        .ok_or_else(|| SyncError::Task("no build context".to_string()))
}

/// The request's team tier (a build's is its context's).
fn team_of(services: &Services, fetching: &Fetching<'_>) -> Result<Option<Arc<TeamTier>>, SyncError> {
    Ok(match fetching {
        Fetching::Request {
            invocation, reporter, ..
        } => services.team.for_request(invocation, reporter.clone())?,
        Fetching::Build(context) => context.team.clone(),
    })
}

/// The sources, fetch settings, team store and build context of one prepare, decided once.
struct Connection {
    sources: Option<Sources>,
    fetch: FetchContext,
    build: Option<Arc<BuildContext>>,
    team: Option<Arc<TeamTier>>,
}

impl Connection {
    /// `file`'s wheel for `locked` into the store, through this prepare's team tier and fetch
    /// settings (see `intake::fetch_into_store`).
    async fn fetch_into_store(
        &self,
        services: &Services,
        dir: &Path,
        tags: &Tags,
        locked: &Locked,
        file: &DistFile,
    ) -> Result<Manifest, SyncError> {
        fetch_into_store(services, &self.fetch, self.team.as_deref(), dir, tags, locked, file).await
    }

    async fn open(
        services: &Services,
        environment: &Environment,
        fetching: &Fetching<'_>,
        wanted: &LockedSet,
        needs_sources: bool,
        team: Option<Arc<TeamTier>>,
    ) -> Result<Connection, SyncError> {
        let (invocation, cli, strategy, offline, build, reporter) = match fetching {
            Fetching::Build(context) => {
                return Ok(Connection {
                    sources: Some(context.sources.clone()),
                    fetch: context.fetch.clone(),
                    build: Some(context.clone()),
                    team,
                });
            }
            Fetching::Request {
                invocation,
                cli,
                strategy,
                offline,
                build,
                reporter,
            } => (invocation, cli, strategy, offline, build, reporter),
        };
        let fetch = FetchContext::new(*offline, Refresh::None, RequestSettings::from_invocation(invocation));
        if !needs_sources {
            return Ok(Connection {
                sources: None,
                fetch,
                build: None,
                team,
            });
        }
        let pip_default = pip_default_index(services, &environment.info).await;
        let sources = SourceLayers {
            invocation,
            cli,
            files: &wanted.index,
            strategy: *strategy,
            pip_default: pip_default.as_deref(),
            site_prefix: Some(&environment.info.prefix),
        }
        .resolve()?;
        let fetch = fetch.for_sources(&sources);
        let build = Arc::new(BuildContext {
            interpreter: environment.info.clone(),
            target: environment.target.clone(),
            sources: sources.clone(),
            fetch: fetch.clone(),
            options: build.clone(),
            env: invocation.env.clone(),
            reporter: reporter.clone(),
            chain: Vec::new(),
            team: team.clone(),
        });
        Ok(Connection {
            sources: Some(sources),
            fetch,
            build: Some(build),
            team,
        })
    }
}

/// A pin of a registry: from the team store when it has what the lock's hashes name (a wheel,
/// or an sdist's build), else from the index.
async fn from_the_team_or_index(
    services: &Services,
    connection: &Connection,
    download_dir: &Path,
    tags: &Arc<Tags>,
    locked: &Locked,
) -> Result<(Prepared, String), SyncError> {
    if let (Some(team), Some(version)) = (&connection.team, &locked.version) {
        match team.find_wheel(&locked.name, version, &locked.hashes, tags).await {
            Found::Wheel(wheel) => {
                if let Some(manifest) = from_the_team(services, team, download_dir, &wheel).await? {
                    return Ok((prepared_wheel(locked, manifest), wheel.filename));
                }
            }
            // Wheels of this version that the lock does not name: one may be an sdist's build.
            Found::Others => {
                if let Some(context) = &connection.build
                    && let Some(built) = services.builds.prebuilt(&locked.hashes, context).await?
                {
                    let subject = built.manifest.filename.clone();
                    return Ok((
                        Prepared {
                            locked: locked.clone(),
                            manifest: built.manifest,
                            source_identity: Some(built.source_identity),
                            direct_url: None,
                        },
                        subject,
                    ));
                }
            }
            Found::Nothing => {}
        }
    }
    from_the_index(services, connection, download_dir, tags, locked).await
}

/// A pin from the index: its page, the best wheel its hashes allow, else its sdist, built.
async fn from_the_index(
    services: &Services,
    connection: &Connection,
    download_dir: &Path,
    tags: &Arc<Tags>,
    locked: &Locked,
) -> Result<(Prepared, String), SyncError> {
    let sources = connection
        .sources
        .as_ref()
        .ok_or_else(|| SyncError::Task("no index sources were decided".to_string()))?;
    let fetch = &connection.fetch;
    let files = files_of_pin(services, sources, locked, fetch).await?;
    match choose_file(locked, &files, tags)? {
        Choice::Wheel(file) => {
            let manifest = connection
                .fetch_into_store(services, download_dir, tags, locked, &file)
                .await?;
            Ok((prepared_wheel(locked, manifest), file.filename))
        }
        Choice::Sdist(file) => {
            let mut archive = ArchiveSource::from_indexed(&file);
            if !locked.hashes.is_empty() {
                archive.sha256 = file
                    .file
                    .sha256
                    .map(|sha| sha.to_hex())
                    .into_iter()
                    .filter(|sha| locked.hashes.contains(sha))
                    .collect();
                if archive.sha256.is_empty() {
                    // A local file of unknown hash: the lock's hashes decide.
                    archive.sha256 = locked.hashes.iter().cloned().collect();
                }
            }
            let context = connection
                .build
                .as_ref()
                .ok_or_else(|| SyncError::Task("no build context".to_string()))?;
            let source = SourceDist::Archive(archive);
            let built = services.builds.wheel(&source, context).await?;
            Ok((
                Prepared {
                    locked: locked.clone(),
                    manifest: built.manifest,
                    source_identity: Some(built.source_identity),
                    direct_url: None,
                },
                file.file.filename.clone(),
            ))
        }
    }
}

/// A source named by its location, built into a wheel.
async fn build(
    services: &Services,
    connection: &Connection,
    environment: &Environment,
    locked: &Locked,
    source: SourceDist,
) -> Result<(Prepared, String), SyncError> {
    let context = connection
        .build
        .as_ref()
        .ok_or_else(|| SyncError::Task("no build context".to_string()))?;
    // An editable Git requirement is cloned where pip clones it, `<venv>/src/<name>`, and built
    // from there: edits to that checkout show without a sync.
    let (source, identity, direct_url) = match source {
        SourceDist::Git(git) if git.editable => {
            let commit = commit_of(&git, locked)?;
            let directory = environment.root.join("src").join(locked.name.as_ref());
            let project = services
                .builds
                .editable_checkout(&git, &commit, &directory, context)
                .await?;
            let identity = git_identity(&git, &commit);
            let direct_url = directory_direct_url(&project, true);
            (
                SourceDist::Directory {
                    path: project,
                    editable: true,
                },
                Some(identity),
                direct_url,
            )
        }
        SourceDist::Git(git) => {
            let commit = commit_of(&git, locked)?;
            let direct_url = serde_json::json!({
                "url": git.repository,
                "vcs_info": { "vcs": "git", "commit_id": commit, "requested_revision": git.reference },
            });
            let direct_url = match &git.subdirectory {
                Some(subdirectory) => {
                    let mut value = direct_url;
                    value["subdirectory"] = serde_json::json!(subdirectory);
                    value
                }
                None => direct_url,
            };
            (SourceDist::Git(git), None, Some(direct_url.to_string()))
        }
        SourceDist::Directory { path, editable } => {
            let direct_url = directory_direct_url(&path, editable);
            (SourceDist::Directory { path, editable }, None, direct_url)
        }
        SourceDist::Archive(archive) => {
            let url = match &locked.source {
                LockedSource::Url(url) => url.clone(),
                _ => archive.url.clone(),
            };
            (SourceDist::Archive(archive), Some(format!("url:{url}")), None)
        }
    };
    let built = services.builds.wheel(&source, context).await?;
    let direct_url = match (&direct_url, &locked.source) {
        (None, LockedSource::Url(url)) => {
            let sha = built.source_identity.strip_prefix("sdist:").unwrap_or_default();
            Some(archive_direct_url(url, sha))
        }
        _ => direct_url,
    };
    let subject = source.to_string();
    Ok((
        Prepared {
            locked: locked.clone(),
            source_identity: Some(identity.unwrap_or(built.source_identity)),
            manifest: built.manifest,
            direct_url,
        },
        subject,
    ))
}

/// The commit a locked Git URL names (a lock pins a full commit; a branch there is refused:
/// a sync must install what was locked).
fn commit_of(git: &GitSource, locked: &Locked) -> Result<String, SyncError> {
    match &git.reference {
        Some(reference) if reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit()) => {
            Ok(reference.to_ascii_lowercase())
        }
        _ => Err(SyncError::Usage(format!(
            "{}: {} is locked to `{}`, not to a commit; lock it with `axle lock`, which pins the commit",
            locked.origin,
            locked.name,
            git.reference.as_deref().unwrap_or("the default branch")
        ))),
    }
}

/// What identifies a Git source at a commit (as `builds::source` spells it).
pub fn git_identity(git: &GitSource, commit: &str) -> String {
    format!(
        "git:{}@{commit}/{}",
        git.repository,
        git.subdirectory.as_deref().unwrap_or("")
    )
}

fn prepared_wheel(locked: &Locked, manifest: Manifest) -> Prepared {
    Prepared {
        locked: locked.clone(),
        manifest,
        source_identity: None,
        direct_url: None,
    }
}

enum UrlFile {
    Wheel(DistFile),
    Sdist(ArchiveSource),
}

/// The file of a `name @ url` pin.
fn url_file(locked: &Locked, url: &str) -> Result<UrlFile, SyncError> {
    let parsed =
        url::Url::parse(url).map_err(|error| SyncError::Usage(format!("{}: {url}: {error}", locked.origin)))?;
    let (parsed, filename, fragment_sha) = file_link(parsed);
    let mut hashes: Vec<String> = locked.hashes.iter().cloned().collect();
    if hashes.is_empty() {
        hashes.extend(fragment_sha.clone());
    }
    if filename.ends_with(".whl") {
        // The fragment's text is among the hashes the download is checked against, even when
        // it is no digest: such a download fails, as pip's would.
        let known = fragment_sha.as_deref().and_then(Sha256Digest::from_hex);
        return Ok(UrlFile::Wheel(DistFile::direct(filename, parsed.to_string(), known)));
    }
    Ok(UrlFile::Sdist(ArchiveSource {
        filename,
        url: parsed.to_string(),
        sha256: hashes,
    }))
}

/// The file a pylock.toml names for `locked`, if it names one this environment installs.
fn named_file(locked: &Locked, wanted: &LockedSet, tags: &Tags, cwd: &Path) -> Option<DistFile> {
    let listed = locked
        .hashes
        .iter()
        .filter_map(|hash| wanted.files.get(hash).map(|file| (hash, file)))
        .filter_map(|(hash, file)| Some(((hash, file), WheelFilename::from_str(&file.filename).ok()?)))
        .collect::<Vec<_>>();
    let (hash, file) = tags.best_wheel(listed.iter().map(|(item, wheel)| (*item, wheel)))?;
    Some(DistFile::direct(
        file.filename.clone(),
        location_url(&file.location, cwd),
        Sha256Digest::from_hex(hash),
    ))
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

/// PEP 610 for a distribution installed from an archive URL.
fn archive_direct_url(url: &str, sha256: &str) -> String {
    let mut value = serde_json::json!({ "url": url, "archive_info": {} });
    if !sha256.is_empty() {
        value["archive_info"] = serde_json::json!({
            "hashes": { "sha256": sha256 },
            "hash": format!("sha256={sha256}"),
        });
    }
    value.to_string()
}

/// PEP 610 for a distribution installed from a local directory.
fn directory_direct_url(path: &Path, editable: bool) -> Option<String> {
    let url = url::Url::from_directory_path(path).ok()?;
    let mut value = serde_json::json!({ "url": url.as_str().trim_end_matches('/'), "dir_info": {} });
    if editable {
        value["dir_info"] = serde_json::json!({ "editable": true });
    }
    Some(value.to_string())
}

/// A venv's interpreter has no pip; its base interpreter's pip names the default index.
pub async fn pip_default_index(services: &Services, info: &InterpreterInfo) -> Option<String> {
    if let Some(index) = &info.pip_default_index {
        return Some(index.clone());
    }
    let base = services.interpreters.query(&info.base_executable).await.ok()?;
    base.pip_default_index.clone()
}
