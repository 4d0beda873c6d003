//! `axle image`: an OCI image straight from the lock, without Docker — the base image's layers
//! untouched, one layer holding a virtual environment installed from the locks for the base's
//! Python, optional application layers, and a config that runs in that venv.
//!
//! As stages, sync's with another end:
//!
//! 1. `base`: the base image, its blobs in the cache (`blobs`).
//! 2. `probe`: its Python and libc, read from its config and files → a target.
//! 3. The locks read for that target; `sync::prepare` gets every pin's wheel into the store
//!    (store, team store, index, builds), as a sync would.
//! 4. `contents` + `layer`: the venv laid out as `axle venv` lays it out for that interpreter,
//!    each file streamed from the store into a reproducible layer (no venv is made on this
//!    machine); then each `--add`.
//! 5. The config and manifest; `output` writes them where `--to` says.
//!
//! The same locks, base and options give the same digests on any machine: layers are
//! reproducible, their time is `SOURCE_DATE_EPOCH` (else 0), and the config's `created` too.

mod base;
mod blobs;
mod contents;
mod dockerignore;
mod gzip;
mod layer;
mod output;
mod probe;
mod reference;
mod registry;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::context::Invocation;
use crate::dist::BuildFlags;
use crate::index::{IndexSettings, IndexStrategy};
use crate::lockfile::{self, LockedSource};
use crate::progress::{NoticeLevel, Phase, Reporter};
use crate::services::Services;
use crate::sync::environment::Environment;
use crate::sync::prepare::{self, Fetching};
use crate::sync::{SyncError, plan};
pub use base::Platform;
use base::{Image, ImageLayer};
use blobs::{BlobId, Blobs};
pub use probe::ImagePython;
pub use reference::ImageRef;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the base image: {0}")]
    Target(String),
    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("registry {0}")]
    Registry(String),
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Sync(#[from] SyncError),
}

/// What `axle image` is asked.
#[derive(Debug, Clone, Default)]
pub struct ImageRequest {
    pub invocation: Invocation,
    pub lock_files: Vec<String>,
    pub from: String,
    pub to: String,
    /// `--platform linux/arm64` (default: this machine's).
    pub platform: Option<String>,
    /// The image's interpreter, when its PATH does not find the right one.
    pub python: Option<String>,
    /// Where the venv goes in the image (default `/opt/venv`).
    pub venv: Option<String>,
    /// `--add SRC:DEST`, in order.
    pub add: Vec<String>,
    pub workdir: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// `K=V`.
    pub env: Vec<String>,
    /// `K=V`.
    pub labels: Vec<String>,
    pub user: Option<String>,
    /// `--tls-verify=false`: plain HTTP (and no certificate checks) for the registries named.
    pub tls_verify: bool,
    /// Compile the venv's Python files to bytecode (with an interpreter of the image's version
    /// on this machine).
    pub compile_bytecode: bool,
    pub index: IndexSettings,
    pub strategy: IndexStrategy,
    pub offline: bool,
    pub build: BuildFlags,
}

/// A layer of the new image, as `--json` shows it.
#[derive(Debug, Clone)]
pub struct LayerSummary {
    pub digest: String,
    pub size: u64,
    pub diff_id: String,
    /// `base`, `venv` or `add SRC`.
    pub made_by: String,
}

#[derive(Debug, Clone)]
pub struct ImageOutcome {
    pub reference: String,
    pub manifest: String,
    pub manifest_size: u64,
    pub config: String,
    pub layers: Vec<LayerSummary>,
    pub python: String,
    pub platform: String,
    pub packages: usize,
    /// Blobs the destination lacked, and those it had.
    pub uploaded: usize,
    pub reused: usize,
    pub elapsed: std::time::Duration,
}

const DEFAULT_VENV: &str = "/opt/venv";

/// A layer written before from the same inputs, found again by its key.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct RememberedLayer {
    digest: String,
    size: u64,
    diff_id: String,
}

pub async fn build(
    services: &Services,
    request: ImageRequest,
    reporter: Arc<dyn Reporter>,
) -> Result<ImageOutcome, ImageError> {
    let started = Instant::now();
    let invocation = &request.invocation;
    if request.lock_files.is_empty() {
        return Err(ImageError::Usage(
            "name the lock file(s) the image's venv is installed from".to_string(),
        ));
    }
    let from = ImageRef::parse(&request.from, invocation)?;
    let to = ImageRef::parse(&request.to, invocation)?;
    let platform = match &request.platform {
        Some(text) => Platform::parse(text)?,
        None => Platform::host(),
    };
    let venv = PathBuf::from(request.venv.as_deref().unwrap_or(DEFAULT_VENV));
    if !venv.is_absolute()
        || venv
            .components()
            .any(|part| matches!(part, std::path::Component::ParentDir))
    {
        return Err(ImageError::Usage(format!(
            "--venv {} is no absolute path in the image",
            venv.display()
        )));
    }
    let mtime = source_date_epoch(invocation)?;
    let home = services
        .store
        .files()
        .root()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let blobs = Blobs::open(&home)?;

    // 1. The base.
    reporter.progress(Phase::Pull, &from.to_string(), 0, 0);
    let base = base::read(&from, &platform, &blobs, invocation, request.tls_verify).await?;

    // 2. Its Python, as a target.
    let python = {
        let (base, blobs, explicit, home) = (base.clone(), blobs.clone(), request.python.clone(), home.clone());
        tokio::task::spawn_blocking(move || probe::probe(&base, &blobs, &home, explicit.as_deref()))
            .await
            .map_err(|error| ImageError::Invalid(error.to_string()))??
    };
    let target = crate::target::target_without_interpreter(&python.version, &python.platform)
        .map_err(|error| ImageError::Target(error.to_string()))?;

    // 3. The locks for it, every pin's wheel in the store.
    let lock_files: Vec<PathBuf> = request
        .lock_files
        .iter()
        .map(|file| invocation.absolute(file))
        .collect();
    let env: HashMap<String, String> = invocation
        .env
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    // A lock made for another target (its header's --python-version / --python-platform) is
    // refused, naming both, before anything is fetched for it.
    let image_is = format!("the base image {from} has {}", crate::target::describe(&target));
    let lock_targets = lockfile::target::read_all(&lock_files).map_err(SyncError::from)?;
    if let Some(mismatch) = lockfile::target::first_mismatch(&lock_targets, &target, &image_is) {
        return Err(SyncError::from(lockfile::LockfileError::from(mismatch)).into());
    }
    let mut wanted = lockfile::read(&lock_files, &env, &target.markers).map_err(SyncError::from)?;
    // An image holds no editable: its projects are installed as regular wheels.
    for locked in wanted.dists.values_mut() {
        match &mut locked.source {
            LockedSource::Directory { editable, .. } | LockedSource::Git { editable, .. } => *editable = false,
            LockedSource::Registry | LockedSource::Url(_) => {}
        }
    }
    for unnamed in &mut wanted.unnamed {
        match &mut unnamed.source {
            LockedSource::Directory { editable, .. } | LockedSource::Git { editable, .. } => *editable = false,
            LockedSource::Registry | LockedSource::Url(_) => {}
        }
    }
    let (major, minor) = python.major_minor;
    let builder = match services
        .interpreters
        .find(Some(&format!("{major}.{minor}")), invocation)
        .await
    {
        Ok(found) => found,
        Err(_) => {
            let found = services
                .interpreters
                .find(None, invocation)
                .await
                .map_err(SyncError::from)?;
            reporter.notice(
                NoticeLevel::Info,
                &format!(
                    "no Python {major}.{minor} here: sources are built with {} (only wheels the image can install are taken)",
                    found.info.version
                ),
            );
            found
        }
    };
    let scratch = blobs.scratch()?;
    let environment = Environment::elsewhere(scratch.path(), &venv, builder.info.clone(), target)?;
    let options = request
        .build
        .options(invocation, Some(&builder.path))
        .map_err(|error| SyncError::Usage(error.to_string()))?;
    let fetching = Fetching::Request {
        invocation,
        cli: &request.index,
        strategy: request.strategy,
        offline: request.offline,
        build: options,
        reporter: reporter.clone(),
    };
    crate::sync::name_unnamed(services, &environment, &fetching, &mut wanted).await?;
    let install = plan::plan(&wanted.dists, Vec::new(), &HashMap::new()).install;
    let mut prepared =
        prepare::prepare(services, &environment, &fetching, &wanted, &install, reporter.as_ref()).await?;
    // A local project's PEP 610 record names this machine's path, which means nothing in the
    // image (and would make its digest depend on where the project was).
    for dist in &mut prepared {
        if matches!(dist.locked.source, LockedSource::Directory { .. }) {
            dist.direct_url = None;
        }
    }

    // 4. The layers: the venv (the same inputs give the same layer, kept by its key), then each
    // `--add`.
    reporter.progress(Phase::Layer, &venv.display().to_string(), 0, 0);
    // Bytecode needs an interpreter of the image's own version here; said when there is none.
    let compiler = if !request.compile_bytecode {
        None
    } else if builder.info.major_minor() == (major, minor) {
        Some(builder.info.executable.clone())
    } else {
        reporter.notice(
            NoticeLevel::Warning,
            &format!(
                "--compile-bytecode: no Python {major}.{minor} on this machine, so the image's venv has no bytecode"
            ),
        );
        None
    };
    let key = venv_layer_key(&python, &venv, &prepared, mtime, compiler.is_some());
    let remembered_path = home.join("images").join("layers").join(format!("{key}.json"));
    let remembered: Option<RememberedLayer> = std::fs::read(&remembered_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .filter(|layer: &RememberedLayer| {
            blobs.has(&BlobId {
                digest: layer.digest.clone(),
                size: layer.size,
            })
        });
    let venv_layer = match remembered {
        Some(layer) => ImageLayer {
            blob: BlobId {
                digest: layer.digest,
                size: layer.size,
            },
            media_type: GZIP_LAYER.to_string(),
            diff_id: layer.diff_id,
        },
        None => {
            let (python, venv, store, blobs) = (python.clone(), venv.clone(), services.store.files(), blobs.clone());
            let prepared_owned = prepared;
            let scratch_dir = scratch.path().to_path_buf();
            let written = tokio::task::spawn_blocking(move || {
                let mut layer = contents::venv_layer(&python, &venv, &prepared_owned, &store)?;
                if let Some(compiler) = &compiler {
                    let site_packages = venv.join(crate::venv::site_packages(python.major_minor));
                    contents::compile_bytecode(&mut layer, &site_packages, compiler, &scratch_dir)?;
                }
                layer.write(&blobs, mtime)
            })
            .await
            .map_err(|error| ImageError::Invalid(error.to_string()))??;
            let record = RememberedLayer {
                digest: written.blob.digest.clone(),
                size: written.blob.size,
                diff_id: written.diff_id.clone(),
            };
            if let Some(parent) = remembered_path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            if let Ok(bytes) = serde_json::to_vec(&record) {
                let _ = std::fs::write(&remembered_path, bytes);
            }
            ImageLayer {
                blob: written.blob,
                media_type: GZIP_LAYER.to_string(),
                diff_id: written.diff_id,
            }
        }
    };
    let packages = wanted.dists.len();
    let mut new_layers = vec![(
        venv_layer,
        format!("venv {} from {}", venv.display(), request.lock_files.join(" ")),
    )];
    for add in &request.add {
        let (source, destination) = add
            .split_once(':')
            .ok_or_else(|| ImageError::Usage(format!("--add {add}: write SRC:DEST")))?;
        let shown = source.to_string();
        let source = invocation.absolute(source);
        let destination = match &request.workdir {
            _ if destination.starts_with('/') => PathBuf::from(destination),
            Some(workdir) => Path::new(workdir).join(destination),
            None => Path::new("/").join(destination),
        };
        reporter.progress(Phase::Layer, &source.display().to_string(), 0, 0);
        let blobs = blobs.clone();
        let (from_dir, into) = (source.clone(), destination.clone());
        let written =
            tokio::task::spawn_blocking(move || contents::added_layer(&from_dir, &into)?.write(&blobs, mtime))
                .await
                .map_err(|error| ImageError::Invalid(error.to_string()))??;
        new_layers.push((
            ImageLayer {
                blob: written.blob,
                media_type: GZIP_LAYER.to_string(),
                diff_id: written.diff_id,
            },
            // As given: the history is part of the config, which must not name this machine's
            // paths (the same inputs give the same image anywhere).
            format!("add {shown} {}", destination.display()),
        ));
    }

    // 5. Config, manifest, and the image written.
    let config = config(&base, &blobs, &request, &venv, &new_layers, mtime)?;
    let config_blob = blobs.put(&config)?;
    let layers: Vec<ImageLayer> = base
        .layers
        .iter()
        .cloned()
        .chain(new_layers.iter().map(|(layer, _)| layer.clone()))
        .collect();
    let manifest = manifest(&config_blob, &layers)?;
    let manifest_blob = blobs.put(&manifest)?;
    let finished = output::Finished {
        manifest: manifest_blob.clone(),
        config: config_blob.clone(),
        layers: layers.clone(),
    };
    let written = output::write(
        &to,
        &finished,
        &blobs,
        invocation,
        request.tls_verify,
        reporter.as_ref(),
    )
    .await?;
    let mut summaries: Vec<LayerSummary> = base
        .layers
        .iter()
        .map(|layer| LayerSummary {
            digest: layer.blob.digest.clone(),
            size: layer.blob.size,
            diff_id: layer.diff_id.clone(),
            made_by: "base".to_string(),
        })
        .collect();
    summaries.extend(new_layers.iter().map(|(layer, made_by)| LayerSummary {
        digest: layer.blob.digest.clone(),
        size: layer.blob.size,
        diff_id: layer.diff_id.clone(),
        made_by: made_by.clone(),
    }));
    Ok(ImageOutcome {
        reference: to.to_string(),
        manifest: manifest_blob.digest,
        manifest_size: manifest_blob.size,
        config: config_blob.digest,
        layers: summaries,
        python: format!("{} ({})", python.executable.display(), python.version),
        platform: python.platform.clone(),
        packages,
        uploaded: written.uploaded.len(),
        reused: written.reused.len(),
        elapsed: started.elapsed(),
    })
}

const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// `SOURCE_DATE_EPOCH` (the reproducible-builds convention), else 0.
fn source_date_epoch(invocation: &Invocation) -> Result<u64, ImageError> {
    match invocation.var("SOURCE_DATE_EPOCH") {
        None => Ok(0),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| ImageError::Usage(format!("SOURCE_DATE_EPOCH is `{text}`, not a number of seconds"))),
    }
}

/// What decides the venv layer's bytes.
fn venv_layer_key(
    python: &ImagePython,
    venv: &Path,
    prepared: &[prepare::Prepared],
    mtime: u64,
    bytecode: bool,
) -> String {
    let mut hasher = Sha256::new();
    // The layer's format: a change of how layers are written changes every key.
    hasher.update(b"axle venv layer 1\n");
    hasher.update(format!("{python:?}\n{}\n{mtime}\n{bytecode}\n", venv.display()).as_bytes());
    let mut parts: Vec<String> = prepared
        .iter()
        .map(|dist| format!("{} {:?}", dist.manifest.wheel_sha256, dist.direct_url))
        .collect();
    parts.sort();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

fn rfc3339(seconds: u64) -> String {
    jiff::Timestamp::from_second(i64::try_from(seconds).unwrap_or(0))
        .map(|time| time.to_string())
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

/// The new image's config: the base's, every field kept, with the venv first on `PATH`,
/// `VIRTUAL_ENV`, the options, the new layers' diff IDs and history.
fn config(
    base: &Image,
    blobs: &Blobs,
    request: &ImageRequest,
    venv: &Path,
    new_layers: &[(ImageLayer, String)],
    mtime: u64,
) -> Result<Vec<u8>, ImageError> {
    let mut config: serde_json::Value = serde_json::from_slice(&blobs.read(&base.config_blob.digest)?)
        .map_err(|error| ImageError::Invalid(format!("the base's config: {error}")))?;
    let created = rfc3339(mtime);
    config["created"] = serde_json::json!(created);
    if !config["config"].is_object() {
        config["config"] = serde_json::json!({});
    }
    let run = &mut config["config"];
    let mut env: Vec<String> = run["Env"]
        .as_array()
        .map(|values| {
            values
                .iter()
                .filter_map(|value| value.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let bin = venv.join("bin").display().to_string();
    let path = env
        .iter()
        .find_map(|variable| variable.strip_prefix("PATH=").map(str::to_string))
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string());
    let set = |env: &mut Vec<String>, key: &str, value: String| {
        env.retain(|variable| variable.split_once('=').map(|(name, _)| name) != Some(key));
        env.push(format!("{key}={value}"));
    };
    set(&mut env, "PATH", format!("{bin}:{path}"));
    set(&mut env, "VIRTUAL_ENV", venv.display().to_string());
    for variable in &request.env {
        let (key, value) = variable
            .split_once('=')
            .ok_or_else(|| ImageError::Usage(format!("--env {variable}: write K=V")))?;
        set(&mut env, key, value.to_string());
    }
    run["Env"] = serde_json::json!(env);
    if let Some(workdir) = &request.workdir {
        run["WorkingDir"] = serde_json::json!(workdir);
    }
    if let Some(entrypoint) = &request.entrypoint {
        run["Entrypoint"] = serde_json::json!(entrypoint);
    }
    if let Some(cmd) = &request.cmd {
        run["Cmd"] = serde_json::json!(cmd);
    }
    if let Some(user) = &request.user {
        run["User"] = serde_json::json!(user);
    }
    if !request.labels.is_empty() {
        if !run["Labels"].is_object() {
            run["Labels"] = serde_json::json!({});
        }
        for label in &request.labels {
            let (key, value) = label
                .split_once('=')
                .ok_or_else(|| ImageError::Usage(format!("--label {label}: write K=V")))?;
            run["Labels"][key] = serde_json::json!(value);
        }
    }
    let mut diff_ids: Vec<serde_json::Value> = config["rootfs"]["diff_ids"].as_array().cloned().unwrap_or_default();
    diff_ids.extend(new_layers.iter().map(|(layer, _)| serde_json::json!(layer.diff_id)));
    config["rootfs"] = serde_json::json!({ "type": "layers", "diff_ids": diff_ids });
    let mut history: Vec<serde_json::Value> = config["history"].as_array().cloned().unwrap_or_default();
    history.extend(new_layers.iter().map(|(_, made_by)| {
        serde_json::json!({ "created": created, "created_by": format!("axle image: {made_by}"), "comment": "axle" })
    }));
    config["history"] = serde_json::Value::Array(history);
    serde_json::to_vec(&config).map_err(|error| ImageError::Invalid(error.to_string()))
}

/// The OCI image manifest of `config` and `layers`.
fn manifest(config: &BlobId, layers: &[ImageLayer]) -> Result<Vec<u8>, ImageError> {
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": registry::OCI_MANIFEST,
        "config": { "mediaType": OCI_CONFIG, "digest": config.digest, "size": config.size },
        "layers": layers.iter().map(|layer| serde_json::json!({
            "mediaType": layer.media_type,
            "digest": layer.blob.digest,
            "size": layer.blob.size,
        })).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&manifest).map_err(|error| ImageError::Invalid(error.to_string()))
}
