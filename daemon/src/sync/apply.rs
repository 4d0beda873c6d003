//! Apply: change the environment — remove what the plan removes, link what
//! was prepared, and record which wheel each installed distribution came
//! from. Everything here is local filesystem work on files already verified.

use axle_install::{InstallOptions, LinkFallback, LinkMode};

use super::SyncError;
use super::environment::Environment;
use super::plan::Present;
use super::prepare::Prepared;
use crate::progress::{NoticeLevel, Phase, Reporter};
use crate::services::Services;
use crate::wheels::InstalledDist;

/// What linking cost.
#[derive(Debug, Default)]
pub struct Applied {
    pub bytes_linked: u64,
    pub bytes_copied: u64,
}

pub async fn apply(
    services: &Services,
    environment: &Environment,
    remove: &[Present],
    install: Vec<Prepared>,
    link_mode: LinkMode,
    reporter: &dyn Reporter,
) -> Result<Applied, SyncError> {
    for dist in remove {
        uninstall(services, environment, dist, reporter).await?;
        crash_point!("sync-mid-uninstall");
    }

    let total = install.len() as u64;
    let mut tasks = Vec::with_capacity(install.len());
    for prepared in install {
        let store = services.store.files();
        let layout = environment.layout.clone();
        let options = InstallOptions {
            link_mode,
            installer: "axle".to_string(),
            requested: true,
            direct_url: prepared.direct_url.clone(),
            durable: crate::wheels::durable(),
        };
        tasks.push(tokio::task::spawn_blocking(move || {
            let result = axle_install::install(&prepared.manifest, &store, &layout, &options);
            (prepared, result)
        }));
    }
    let mut applied = Applied::default();
    let mut fallback_reported = false;
    let mut first_error = None;
    let mut recorded = Vec::with_capacity(tasks.len());
    for (done, task) in tasks.into_iter().enumerate() {
        let (prepared, result) = task.await.map_err(|error| SyncError::Task(error.to_string()))?;
        let Prepared {
            locked,
            manifest,
            source_identity,
            ..
        } = prepared;
        reporter.progress(Phase::Install, locked.name.as_ref(), done as u64 + 1, total);
        if done == 0 {
            crash_point!("sync-mid-link");
        }
        match result {
            Ok(installed) => {
                applied.bytes_linked += installed.bytes_linked;
                applied.bytes_copied += installed.bytes_copied;
                if let Some(fallback) = installed.link_fallback
                    && !fallback_reported
                {
                    fallback_reported = true;
                    reporter.notice(NoticeLevel::Warning, fallback_text(fallback));
                }
                recorded.push(InstalledDist {
                    name: manifest.name.clone(),
                    version: manifest.version.clone(),
                    wheel_sha256: manifest.wheel_sha256.clone(),
                    source_identity,
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
    services.store.record_installs(&environment.root, &recorded).await?;
    match first_error {
        Some(error) => Err(error),
        None => Ok(applied),
    }
}

/// Removes one distribution by its RECORD, never outside the environment.
async fn uninstall(
    services: &Services,
    environment: &Environment,
    dist: &Present,
    reporter: &dyn Reporter,
) -> Result<(), SyncError> {
    let (site, root, dist_info) = (
        environment.site_packages.clone(),
        environment.root.clone(),
        environment.site_packages.join(&dist.dist_info),
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
    services
        .store
        .record_removal(&environment.root, dist.name.as_ref())
        .await?;
    Ok(())
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
