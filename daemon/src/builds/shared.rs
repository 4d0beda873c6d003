//! Builds shared through the team store: before a source is built, a wheel another machine
//! built from the same source, for an interpreter of the same kind, with the same settings,
//! is taken when a trusted key signed its record; after a build, the wheel and a signed record
//! are offered.
//!
//! What is shared is what is the same everywhere: an sdist (by its hash) or a Git commit, built
//! in isolation, not editable. A project directory (its path and files are this machine's), an
//! editable, or a `--no-build-isolation` build (it saw this environment's packages) is never
//! looked up or offered.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::BuildService;
use super::cache::{self, interpreter_key};
use super::source::Identity;
use crate::dist::{BuildContext, BuildError, Built};
use crate::sync::intake::from_the_team;
use crate::team::TeamWheel;

/// The identity a team build record is for, or `None` for a build that is not shared. Every
/// line of it decides the wheel: the source, the interpreter (implementation, full version,
/// ABI, platform, libc), the config settings and the build constraints.
pub(super) fn team_identity(identity: &Identity, editable: bool, context: &BuildContext) -> Option<String> {
    let shared = identity.key.starts_with("sdist:") || identity.key.starts_with("git:");
    if !shared || editable || context.options.no_isolation_python.is_some() {
        return None;
    }
    let settings: Vec<String> = context
        .options
        .config_settings
        .iter()
        .flat_map(|(key, values)| values.iter().map(move |value| format!("{key}={value}")))
        .collect();
    let mut constraints: Vec<String> = context.options.constraints.iter().map(ToString::to_string).collect();
    constraints.sort();
    Some(format!(
        "source {}\npython {}\nsettings {}\nconstraints {}",
        identity.key,
        interpreter_key(&context.interpreter),
        settings.join(" "),
        constraints.join("; ")
    ))
}

impl BuildService {
    /// The wheel the team store's trusted record names for this build, put in the local store
    /// and remembered as this build's; `None` when there is none to be had.
    pub(super) async fn built_by_the_team(
        &self,
        identity: &Identity,
        editable: bool,
        build_key: &str,
        context: &BuildContext,
    ) -> Result<Option<Built>, BuildError> {
        let (Some(team), Some(shared)) = (&context.team, team_identity(identity, editable, context)) else {
            return Ok(None);
        };
        let Some(record) = team.find_record(&shared).await else {
            return Ok(None);
        };
        let wheel = TeamWheel {
            sha256: record.wheel_sha256,
            filename: record.wheel_filename,
        };
        let parsed = wheel.filename.parse::<axle_standards::WheelFilename>();
        if !parsed.is_ok_and(|parsed| context.target.tags.is_compatible(&parsed)) {
            return Ok(None);
        }
        let download_dir = self.parts.store.download_dir();
        let manifest = match from_the_team(&self.parts, team, &download_dir, &wheel).await {
            Ok(Some(manifest)) => manifest,
            Ok(None) => return Ok(None),
            Err(error) => {
                tracing::warn!(%error, file = %wheel.filename, "a wheel from the team store could not be stored");
                return Ok(None);
            }
        };
        tracing::info!(source = %identity.key, file = %wheel.filename, "built wheel taken from the team store");
        self.cache
            .remember_wheel(build_key, &manifest.wheel_sha256, &manifest.filename, Some(&shared))
            .await;
        Ok(Some(Built {
            manifest,
            source_identity: identity.key.clone(),
        }))
    }

    /// Offers a wheel just built, and its record, to the team store.
    pub(super) fn share(&self, identity: &Identity, editable: bool, context: &BuildContext, built: &Built) {
        let (Some(team), Some(shared)) = (&context.team, team_identity(identity, editable, context)) else {
            return;
        };
        let Ok(archive) = self.parts.store.files().archive_path(&built.manifest.wheel_sha256) else {
            return;
        };
        team.offer_built(&shared, archive, &built.manifest.wheel_sha256, &built.manifest.filename);
    }

    /// The builds of `source_key` (an sdist's `sdist:<sha256>`, a commit's `git:…`) that may be
    /// shared, for `axle store push`: `(identity, wheel sha256, file name)`, any interpreter.
    pub async fn shareable(&self, source_key: &str) -> Vec<(String, String, String)> {
        self.cache.shared_builds(source_key).await
    }

    /// See `Builds::prebuilt`: for each hash, the build of an sdist of that hash, kept here or
    /// shared through the team store.
    pub(super) async fn prebuilt_from(
        self: &Arc<Self>,
        sha256s: &BTreeSet<String>,
        context: &Arc<BuildContext>,
    ) -> Result<Option<Built>, BuildError> {
        for sha256 in sha256s {
            let identity = Identity {
                key: format!("sdist:{sha256}"),
                sha256: Some(sha256.clone()),
                commit: None,
            };
            let build_key = cache::build_key(&identity.key, false, context);
            if let Some(built) = self.known_wheel(&identity, &build_key).await? {
                return Ok(Some(built));
            }
            if let Some(built) = self.built_by_the_team(&identity, false, &build_key, context).await? {
                return Ok(Some(built));
            }
        }
        Ok(None)
    }
}
