//! `axle store push [LOCK...]` as stages: read the locks for the default interpreter's
//! markers (as a sync into a venv of it would) → plan what the local store holds of each pin
//! (every stored wheel with one of its hashes, whatever its platform; for an sdist or a Git
//! commit, the builds of it that may be shared, with their identities) → queue those uploads
//! (wheels, and signed records for builds) → wait until the team store's queue is empty,
//! theirs and earlier jobs' alike. With no lock, only the wait.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::builds::BuildService;
use crate::context::Invocation;
use crate::dist::GitSource;
use crate::lockfile::{self, LockedSource};
use crate::progress::{NoticeLevel, Reporter};
use crate::services::Services;
use crate::sync::SyncError;
use crate::team::Push;

/// The longest a push waits for the queue.
const WAIT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
pub struct PushRequest {
    pub invocation: Invocation,
    pub lock_files: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PushOutcome {
    pub team_store: String,
    pub wheels: u64,
    pub records: u64,
    /// Pins the local store holds nothing of.
    pub missing: Vec<String>,
    /// The store's counts after the wait, less those before the request.
    pub uploaded: u64,
    pub already_there: u64,
    pub failed: u64,
    pub still_queued: u64,
    pub mode: String,
}

pub async fn push(
    services: &Services,
    builds: &BuildService,
    request: PushRequest,
    reporter: Arc<dyn Reporter>,
) -> Result<PushOutcome, SyncError> {
    let invocation = &request.invocation;
    let team = services
        .team
        .for_request(invocation, reporter.clone())?
        .ok_or_else(|| {
            SyncError::Usage(
                "no team store is named: set AXLE_TEAM_STORE=s3://BUCKET/PREFIX (or [team-store] url in axle.toml)"
                    .to_string(),
            )
        })?;
    if !request.lock_files.is_empty() {
        if team.push() == Push::Nothing {
            return Err(SyncError::Usage(format!(
                "AXLE_TEAM_STORE_PUSH=none: nothing is uploaded to {}",
                team.url()
            )));
        }
        if !team.writable() {
            return Err(SyncError::Usage(format!(
                "{} is only read with these credentials (anonymous, or a write was refused): nothing can be pushed",
                team.url()
            )));
        }
    }
    let before = team.stats();
    let mut outcome = PushOutcome {
        team_store: team.url(),
        ..PushOutcome::default()
    };
    if !request.lock_files.is_empty() {
        let interpreter = services.interpreters.find(None, invocation).await?;
        let target = services
            .targets
            .get(&interpreter.info, None, None)
            .map_err(|error| SyncError::Usage(error.to_string()))?;
        let lock_files: Vec<PathBuf> = request
            .lock_files
            .iter()
            .map(|file| invocation.absolute(file))
            .collect();
        let env = invocation
            .env
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let wanted = lockfile::read(&lock_files, &env, &target.markers)?;
        let archives = services.store.files();
        let mut unsigned = 0;
        for locked in wanted.dists.values() {
            let source_keys: Vec<String> = match &locked.source {
                LockedSource::Registry | LockedSource::Url(_) => {
                    locked.hashes.iter().map(|sha| format!("sdist:{sha}")).collect()
                }
                LockedSource::Git { url, editable: false } => match GitSource::parse(url, false) {
                    Ok(git) => git
                        .reference
                        .iter()
                        .map(|commit| crate::sync::prepare::git_identity(&git, commit))
                        .collect(),
                    Err(_) => Vec::new(),
                },
                // Directories and editables are this machine's: never shared.
                _ => continue,
            };
            let mut found = false;
            for (sha256, filename) in services.store.held(&locked.hashes).await? {
                if let Ok(archive) = archives.archive_path(&sha256)
                    && archive.is_file()
                {
                    team.offer_wheel(archive, &sha256, &filename);
                    outcome.wheels += 1;
                    found = true;
                }
            }
            for source_key in &source_keys {
                for (identity, sha256, filename) in builds.shareable(source_key).await {
                    if let Ok(archive) = archives.archive_path(&sha256)
                        && archive.is_file()
                    {
                        if team.offer_built(&identity, archive, &sha256, &filename) {
                            outcome.wheels += 1;
                            outcome.records += 1;
                        } else {
                            unsigned += 1;
                        }
                        found = true;
                    }
                }
            }
            if !found {
                outcome.missing.push(locked.describe());
            }
        }
        if unsigned > 0 {
            reporter.notice(
                NoticeLevel::Warning,
                &format!(
                    "{unsigned} build(s) not shared: there is no key to sign their records with (AXLE_TEAM_STORE_SIGNING_KEY)"
                ),
            );
        }
    }
    let drained = team.drained(WAIT).await;
    let after = team.stats();
    outcome.uploaded = after.uploaded - before.uploaded;
    outcome.already_there = after.already_there - before.already_there;
    outcome.failed = after.failures.saturating_sub(before.failures);
    outcome.still_queued = if drained { 0 } else { after.queued };
    outcome.mode = after.mode;
    Ok(outcome)
}
