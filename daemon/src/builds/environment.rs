//! Isolated build environments (PEP 517): a fresh virtual environment per build, holding
//! `build-system.requires` and then what `get_requires_for_build_*` adds — resolved for the
//! building interpreter and installed from the store by hard links, the same path as
//! `axle sync`, so that an environment whose wheels are stored costs a few milliseconds.
//!
//! With `--no-build-isolation` the hooks run in the named environment as it is.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axle_build_frontend::{BuildKind, HookRunner, SourceTree};
use axle_standards::Requirement;
use tempfile::TempDir;

use super::BuildService;
use crate::dist::{BuildContext, BuildError, Builds};
use crate::lockfile::{Locked, LockedSet};
use crate::resolve::{self, Origin, ResolveRequest, RootRequirement};
use crate::venv::{self, VenvOptions};

/// Variables of the client that must not reach a build: they would point Python or pip
/// elsewhere than the build environment, or break isolation.
const WITHHELD: [&str; 7] = [
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "__PYVENV_LAUNCHER__",
];

/// Where hooks run.
pub struct BuildEnvironment {
    pub python: PathBuf,
    pub vars: Vec<(OsString, OsString)>,
    /// The environment's directory, removed when the build is done.
    _temp: Option<TempDir>,
}

impl BuildEnvironment {
    pub fn runner(
        &self,
        log: PathBuf,
        scratch: PathBuf,
        context: &BuildContext,
        cancel: &Arc<axle_build_frontend::Cancel>,
    ) -> HookRunner {
        HookRunner {
            python: self.python.clone(),
            env: self.vars.clone(),
            log,
            timeout: context.options.timeout,
            scratch,
            cancel: cancel.clone(),
        }
    }
}

/// The environment to build `tree` in, with everything the backend asks for installed.
pub async fn prepare(
    service: &Arc<BuildService>,
    tree: &SourceTree,
    kind: BuildKind,
    package: &str,
    context: &Arc<BuildContext>,
    log: &Path,
    scratch: &Path,
) -> Result<BuildEnvironment, BuildError> {
    if let Some(python) = &context.options.no_isolation_python {
        let root = python.parent().and_then(Path::parent).map(Path::to_path_buf);
        return Ok(BuildEnvironment {
            python: python.clone(),
            vars: variables(context, root.as_deref()),
            _temp: None,
        });
    }
    let failure = |reason: String| BuildError::Environment {
        package: package.to_string(),
        reason,
    };
    let temp = service.scratch_dir("env-")?;
    let root = temp.path().join("env");
    // A venv is made from a base interpreter, never from another venv's.
    let base = if context.interpreter.is_venv() {
        service
            .parts
            .interpreters
            .query(&context.interpreter.base_executable)
            .await
            .map_err(|error| failure(error.to_string()))?
    } else {
        context.interpreter.clone()
    };
    let options = VenvOptions {
        path: root.clone(),
        prompt: None,
        system_site_packages: false,
        clear: false,
    };
    let cwd = temp.path().to_path_buf();
    tokio::task::spawn_blocking(move || venv::create(&base, &options, &cwd))
        .await
        .map_err(|error| failure(error.to_string()))?
        .map_err(|error| failure(error.to_string()))?;
    let environment = BuildEnvironment {
        python: root.join("bin").join("python"),
        vars: variables(context, Some(&root)),
        _temp: Some(temp),
    };

    let requires = tree.build_system.requires.clone();
    install(service, &root, &requires, package, context).await?;
    let runner = environment.runner(log.to_path_buf(), scratch.to_path_buf(), context, &service.stopping);
    let (tree_copy, config) = (tree.clone(), context.options.config_settings.clone());
    let extra = service
        .run_hook(package, move || runner.get_requires(&tree_copy, kind, &config))
        .await?;
    if !extra.is_empty() {
        let mut all = requires;
        for text in &extra {
            let requirement = axle_standards::parse_requirement(text).map_err(|error| {
                failure(format!(
                    "the backend asked for `{text}`, which is not a requirement: {error}"
                ))
            })?;
            all.push(requirement);
        }
        install(service, &root, &all, package, context).await?;
    }
    Ok(environment)
}

/// Resolves `requirements` for the building interpreter and makes the environment at `root`
/// hold exactly that.
async fn install(
    service: &Arc<BuildService>,
    root: &Path,
    requirements: &[Requirement],
    package: &str,
    context: &Arc<BuildContext>,
) -> Result<(), BuildError> {
    let failure = |reason: String| BuildError::Environment {
        package: package.to_string(),
        reason,
    };
    let origin = Origin::Requirements(format!("build requirements of {package}"));
    let roots = |requirements: &[Requirement], origin: &Origin| -> Vec<RootRequirement> {
        requirements
            .iter()
            .map(|requirement| RootRequirement {
                requirement: requirement.clone(),
                marker_text: None,
                origin: origin.clone(),
                line: None,
            })
            .collect()
    };
    // Builds of build requirements (an sdist-only build tool) are builds like any other, one
    // level down the chain.
    let mut chain = context.chain.clone();
    chain.push(package.to_string());
    let nested = Arc::new(BuildContext {
        interpreter: context.interpreter.clone(),
        target: context.target.clone(),
        sources: context.sources.clone(),
        fetch: context.fetch.clone(),
        options: context.options.clone(),
        env: context.env.clone(),
        reporter: context.reporter.clone(),
        chain,
        team: context.team.clone(),
    });
    let builds: Arc<dyn Builds> = service.clone();
    let request = ResolveRequest {
        requirements: roots(requirements, &origin),
        constraints: roots(
            &context.options.constraints,
            &Origin::Constraints("build constraints".to_string()),
        ),
        preferences: Default::default(),
        target: context.target.clone(),
        sources: context.sources.clone(),
        fetch: context.fetch.clone(),
        prereleases: false,
        exclude_newer: None,
        binaries: Default::default(),
        candidate_cache: service.parts.candidates.clone(),
        builds: Some((builds, nested.clone())),
        direct: Default::default(),
        universal: None,
    };
    let index = service.parts.index.clone();
    let runtime = tokio::runtime::Handle::current();
    let reporter = context.reporter.clone();
    let resolution = tokio::task::spawn_blocking(move || resolve::resolve(request, index, runtime, reporter))
        .await
        .map_err(|error| failure(error.to_string()))?
        .map_err(|error| failure(format!("cannot resolve its build requirements: {error}")))?;
    let mut wanted = LockedSet::default();
    for pin in resolution.pins {
        let hashes = pin
            .files
            .iter()
            .filter_map(|file| file.file.sha256.map(|sha| sha.to_hex()))
            .collect();
        wanted.dists.insert(
            pin.name.clone(),
            Locked {
                name: pin.name,
                version: Some(pin.version),
                source: Default::default(),
                hashes,
                origin: format!("build requirements of {package}"),
            },
        );
    }
    crate::sync::install_set(&service.services(), root, &wanted, &nested)
        .await
        .map_err(|error| failure(error.to_string()))
}

/// The client's environment for a build in the environment at `root`.
fn variables(context: &BuildContext, root: Option<&Path>) -> Vec<(OsString, OsString)> {
    let mut vars: Vec<(OsString, OsString)> = context
        .env
        .iter()
        .filter(|(key, _)| !WITHHELD.contains(&key.as_str()) && !key.starts_with("PIP_"))
        .map(|(key, value)| (OsString::from(key), OsString::from(value)))
        .collect();
    if let Some(root) = root {
        let bin = root.join("bin");
        let path = match context.env.get("PATH") {
            Some(rest) if !rest.is_empty() => format!("{}:{rest}", bin.display()),
            _ => format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
        };
        vars.retain(|(key, _)| key != "PATH");
        vars.push(("PATH".into(), path.into()));
        vars.push(("VIRTUAL_ENV".into(), root.as_os_str().to_owned()));
    }
    vars.push(("PYTHONNOUSERSITE".into(), "1".into()));
    vars
}
