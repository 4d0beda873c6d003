//! What goes into the new layers: the virtual environment (laid out as `axle venv` lays it out
//! for the image's interpreter, each distribution's files taken from the store as
//! `axle_install::placed_files` says an install would write them) and the application's
//! directories (`--add SRC:DEST`, less what `SRC/.dockerignore` leaves out).

use std::path::{Path, PathBuf};

use axle_install::{InstallOptions, Layout, ObjectStore, PlacedContent};

use super::ImageError;
use super::blobs::io_error;
use super::dockerignore::IgnoreRules;
use super::layer::LayerWriter;
use super::probe::ImagePython;
use crate::sync::prepare::Prepared;
use crate::venv::{SkeletonEntry, VenvOptions, VenvPython};

/// The venv at `venv` (absolute in the image) for the image's Python, holding `prepared`.
pub fn venv_layer(
    python: &ImagePython,
    venv: &Path,
    prepared: &[Prepared],
    store: &ObjectStore,
) -> Result<LayerWriter, ImageError> {
    let (major, minor) = python.major_minor;
    let micro = python
        .version
        .split('.')
        .nth(2)
        .and_then(|micro| micro.parse().ok())
        .unwrap_or(0);
    let described = VenvPython {
        base_executable: python.executable.clone(),
        real_executable: python.real_executable.clone(),
        version: (major, minor, micro),
        lib64: true,
        directories: vec![
            crate::venv::site_packages((major, minor)),
            PathBuf::from("include").join(format!("python{major}.{minor}")),
        ],
    };
    let options = VenvOptions {
        path: venv.to_path_buf(),
        prompt: None,
        system_site_packages: false,
        clear: false,
    };
    let mut layer = LayerWriter::default();
    for entry in crate::venv::skeleton(&described, &options, venv) {
        match entry {
            SkeletonEntry::Directory(path) => layer.directory(&venv.join(path))?,
            SkeletonEntry::Symlink { path, target } => layer.symlink(&venv.join(path), &target)?,
            SkeletonEntry::File { path, content } => layer.file_bytes(&venv.join(path), content, false)?,
        }
    }
    let layout = Layout::for_venv(venv, (major, minor)).map_err(|error| io_error(venv, error))?;
    for dist in prepared {
        let options = InstallOptions {
            requested: true,
            direct_url: dist.direct_url.clone(),
            ..InstallOptions::default()
        };
        let placed = axle_install::placed_files(&dist.manifest, store, &layout, &options).map_err(|error| {
            ImageError::Invalid(format!("cannot lay out {} in the image: {error}", dist.locked.name))
        })?;
        for file in placed {
            match file.content {
                PlacedContent::Object { path, .. } => layer.file_from(&file.path, &path, file.executable)?,
                PlacedContent::Bytes(bytes) => layer.file_bytes(&file.path, bytes, file.executable)?,
            }
        }
    }
    Ok(layer)
}

/// The directory (or file) `source` at `destination` in the image, less what a
/// `.dockerignore` in `source` leaves out.
pub fn added_layer(source: &Path, destination: &Path) -> Result<LayerWriter, ImageError> {
    let meta = std::fs::symlink_metadata(source).map_err(|error| io_error(source, error))?;
    let mut layer = LayerWriter::default();
    if !meta.is_dir() {
        add_entry(&mut layer, source, destination, &meta)?;
        return Ok(layer);
    }
    let ignore_file = source.join(".dockerignore");
    let rules = match std::fs::read_to_string(&ignore_file) {
        Ok(text) => IgnoreRules::parse(&text, &ignore_file.display().to_string())?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => IgnoreRules::parse("", "")?,
        Err(error) => return Err(io_error(&ignore_file, error)),
    };
    layer.directory(destination)?;
    let mut stack = vec![source.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|error| io_error(&dir, error))?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<Result<_, _>>()
            .map_err(|error| io_error(&dir, error))?;
        entries.sort();
        for path in entries {
            let relative = path
                .strip_prefix(source)
                .map_err(|_| ImageError::Invalid(format!("{} is outside {}", path.display(), source.display())))?;
            let relative_text = relative.to_string_lossy().into_owned();
            if rules.excludes(&relative_text) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).map_err(|error| io_error(&path, error))?;
            let target = destination.join(relative);
            if meta.is_dir() {
                layer.directory(&target)?;
                stack.push(path);
            } else {
                add_entry(&mut layer, &path, &target, &meta)?;
            }
        }
    }
    Ok(layer)
}

/// One file or link as it is; other kinds (sockets, devices) are not copied, as Docker's
/// `COPY` does not copy them either.
fn add_entry(layer: &mut LayerWriter, path: &Path, target: &Path, meta: &std::fs::Metadata) -> Result<(), ImageError> {
    use std::os::unix::fs::PermissionsExt;
    if meta.file_type().is_symlink() {
        let link = std::fs::read_link(path).map_err(|error| io_error(path, error))?;
        layer.symlink(target, &link)
    } else if meta.is_file() {
        layer.file_from(target, path, meta.permissions().mode() & 0o111 != 0)
    } else {
        Ok(())
    }
}

/// Compiles the venv's Python files with `python` (an interpreter of the image's version, on
/// this machine) and adds their `__pycache__/*.pyc` to the layer, as pip compiles at install.
/// The bytecode is `unchecked-hash` (it records no source time, so the layer stays
/// reproducible) and names the files by their paths in the image. Returns how many.
pub fn compile_bytecode(
    layer: &mut LayerWriter,
    site_packages: &Path,
    python: &Path,
    scratch: &Path,
) -> Result<usize, ImageError> {
    let staging = scratch.join("bytecode");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|error| io_error(&staging, error))?;
    if layer.stage_python(site_packages, &staging)? == 0 {
        return Ok(0);
    }
    let output = std::process::Command::new(python)
        .args([
            "-I",
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-d",
        ])
        .arg(site_packages)
        .arg(&staging)
        .env_clear()
        .env("PYTHONHASHSEED", "0")
        .output()
        .map_err(|error| io_error(python, error))?;
    // compileall exits 1 when a file does not compile (Python 2 syntax in a test data file,
    // say): pip goes on likewise; what compiled is kept.
    if !output.status.success() && output.status.code() != Some(1) {
        return Err(ImageError::Invalid(format!(
            "{} -m compileall failed: {}",
            python.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let mut compiled = 0;
    let mut stack = vec![staging.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|error| io_error(&dir, error))? {
            let path = entry.map_err(|error| io_error(&dir, error))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|extension| extension == "pyc") {
                let relative = path
                    .strip_prefix(&staging)
                    .map_err(|_| ImageError::Invalid(format!("{} is outside the staging", path.display())))?;
                let bytes = std::fs::read(&path).map_err(|error| io_error(&path, error))?;
                layer.file_bytes(&site_packages.join(relative), bytes, false)?;
                compiled += 1;
            }
        }
    }
    Ok(compiled)
}
