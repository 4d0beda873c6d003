//! `axle venv --seed`: pip, the newest final release with a wheel for the
//! environment, installed through the same prepare and apply stages as any
//! sync — for a set of one pin built here, not read from a lock file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use axle_install::LinkMode;
use axle_standards::{DistFilename, PackageName, Version, requires_python_allows};

use super::environment::Environment;
use super::{SyncError, apply, prepare};
use crate::context::Invocation;
use crate::index::{FetchContext, IndexSettings, IndexStrategy, Refresh, RequestSettings, SourceLayers};
use crate::lockfile::{Locked, LockedSet, LockedSource};
use crate::progress::Reporter;
use crate::services::Services;

/// Installs pip into the environment at `venv_root`; returns `pip==VERSION`.
pub async fn seed(
    services: &Services,
    invocation: &Invocation,
    venv_root: &Path,
    reporter: Arc<dyn Reporter>,
) -> Result<String, SyncError> {
    let environment = Environment::open(services, venv_root).await?;
    let pip_default = prepare::pip_default_index(services, &environment.info).await;
    let cli = IndexSettings::default();
    let sources = SourceLayers {
        invocation,
        cli: &cli,
        files: &[],
        strategy: IndexStrategy::FirstIndex,
        pip_default: pip_default.as_deref(),
        site_prefix: Some(venv_root),
    }
    .resolve()?;
    let fetch =
        FetchContext::new(false, Refresh::None, RequestSettings::from_invocation(invocation)).for_sources(&sources);
    let pip = PackageName::from_str("pip").map_err(|error| SyncError::Usage(error.to_string()))?;
    let files = services.index.project(&sources, &pip, &fetch).await?;

    // The wheels this environment can install, by version.
    let target = &environment.target;
    let mut installable: BTreeMap<Version, BTreeSet<String>> = BTreeMap::new();
    for file in files.iter() {
        let DistFilename::Wheel(wheel) = &file.filename else {
            continue;
        };
        let usable = file.file.yanked.is_none()
            && !wheel.version.any_prerelease()
            && target.tags.is_compatible(wheel)
            && file
                .file
                .requires_python
                .as_deref()
                .is_none_or(|specifiers| requires_python_allows(specifiers, &target.python_full_version));
        if let (true, Some(sha)) = (usable, &file.file.sha256) {
            installable
                .entry(wheel.version.clone())
                .or_default()
                .insert(sha.to_hex());
        }
    }
    let Some((version, hashes)) = installable.into_iter().next_back() else {
        return Err(SyncError::NoWheel {
            name: "pip".to_string(),
            version: "any".to_string(),
            detail: " on the configured index".to_string(),
        });
    };
    let locked = Locked {
        name: pip.clone(),
        version: Some(version.clone()),
        source: LockedSource::Registry,
        hashes,
        origin: "--seed".to_string(),
    };
    let mut wanted = LockedSet {
        hashed: true,
        ..LockedSet::default()
    };
    wanted.dists.insert(pip, locked.clone());

    let fetching = prepare::Fetching::Request {
        invocation,
        cli: &cli,
        strategy: IndexStrategy::FirstIndex,
        offline: false,
        build: Default::default(),
        reporter: reporter.clone(),
    };
    let install = [locked];
    let prepared = prepare::prepare(services, &environment, &fetching, &wanted, &install, reporter.as_ref()).await?;
    apply::apply(
        services,
        &environment,
        &[],
        prepared,
        LinkMode::default(),
        reporter.as_ref(),
    )
    .await?;
    Ok(format!("pip=={version}"))
}
