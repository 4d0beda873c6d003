//! The environment a sync changes, read once: its interpreter, the target
//! it installs for (markers, tags), its site-packages and install layout,
//! and what it holds now.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axle_install::Layout;

use super::SyncError;
use super::plan::Present;
use crate::interpreter::InterpreterInfo;
use crate::services::Services;
use crate::target::Target;
use crate::wheels::InstalledDist;

pub struct Environment {
    pub root: PathBuf,
    /// `bin/python` of the environment.
    pub python: PathBuf,
    pub info: Arc<InterpreterInfo>,
    pub target: Target,
    pub site_packages: PathBuf,
    pub layout: Layout,
}

impl Environment {
    /// Reads the environment at `root` (a virtual environment; the caller
    /// has checked) and creates its site-packages if it is missing.
    pub async fn open(services: &Services, root: &Path) -> Result<Environment, SyncError> {
        let python = root.join("bin").join("python");
        let unusable = |reason: String| SyncError::Interpreter {
            path: python.clone(),
            reason,
        };
        let info = services
            .interpreters
            .query_environment(root)
            .await
            .map_err(|error| unusable(error.to_string()))?;
        let target = services
            .targets
            .get(&info, None, None)
            .map_err(|error| unusable(error.to_string()))?;
        let site_packages = info
            .venv_path("purelib", root)
            .ok_or_else(|| unusable("it reports no purelib directory".to_string()))?;
        std::fs::create_dir_all(&site_packages).map_err(|source| SyncError::Io {
            path: site_packages.clone(),
            source,
        })?;
        let layout = layout(&info, root)?;
        Ok(Environment {
            root: root.to_path_buf(),
            python,
            info,
            target,
            site_packages,
            layout,
        })
    }

    /// An environment that is not on this machine: a venv at `venv` in a container image,
    /// made for `target`; `info` is the interpreter builds run with here, `scratch` where a
    /// source that must be checked out goes.
    pub fn elsewhere(
        scratch: &Path,
        venv: &Path,
        info: Arc<InterpreterInfo>,
        target: Target,
    ) -> Result<Environment, SyncError> {
        let (major, minor) = crate::target::major_minor(&target.python_full_version);
        let layout = Layout::for_venv(venv, (major, minor)).map_err(|source| SyncError::Io {
            path: venv.to_path_buf(),
            source,
        })?;
        Ok(Environment {
            root: scratch.to_path_buf(),
            python: venv.join("bin").join("python"),
            info,
            target,
            site_packages: layout.purelib.clone(),
            layout,
        })
    }

    /// The distributions installed now, with the wheel each came from when
    /// axle installed it.
    pub async fn installed(&self, services: &Services) -> Result<Vec<Present>, SyncError> {
        let site = self.site_packages.clone();
        let found = tokio::task::spawn_blocking(move || axle_install::installed(&site))
            .await
            .map_err(|error| SyncError::Task(error.to_string()))??;
        let from_wheels: HashMap<(String, String), InstalledDist> = services
            .store
            .installed_from(&self.root)
            .await?
            .into_iter()
            .map(|dist| ((dist.name.clone(), dist.version.clone()), dist))
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
                let recorded = from_wheels.get(&key);
                Present {
                    complete: dist.has_record && dist.kind == axle_install::InstalledKind::DistInfo,
                    wheel_sha256: recorded.map(|dist| dist.wheel_sha256.clone()),
                    source_identity: recorded.and_then(|dist| dist.source_identity.clone()),
                    name: dist.name,
                    version: dist.version,
                    dist_info,
                }
            })
            .collect())
    }
}

/// Where a wheel's files go: the interpreter's own venv scheme wherever it
/// says something, else the standard layout.
fn layout(info: &InterpreterInfo, root: &Path) -> Result<Layout, SyncError> {
    let mut layout = Layout::for_venv(root, info.major_minor()).map_err(|source| SyncError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    if let Some(purelib) = info.venv_path("purelib", root) {
        layout.purelib = purelib;
    }
    if let Some(platlib) = info.venv_path("platlib", root) {
        layout.platlib = platlib;
    }
    if let Some(scripts) = info.venv_path("scripts", root) {
        layout.scripts = scripts;
    }
    Ok(layout)
}
