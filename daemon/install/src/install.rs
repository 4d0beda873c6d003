//! Installing an unpacked wheel into an environment: every file of its [`Manifest`] linked (or
//! copied) from the store to its scheme directory, `#!python` scripts rewritten, launchers for
//! its entry points, and the installer's files in `.dist-info`: `INSTALLER`, `REQUESTED`,
//! `direct_url.json` and a RECORD of everything installed, as pip writes them.
//!
//! Everything that can be refused is refused before the first write: manifest paths are checked
//! again (the manifest is a file on disk, not a promise), scripts' names validated, every object
//! checked present and intact, and two files landing on one path found. A refused install
//! leaves the environment untouched.
//!
//! Order and interruption: files go in first, each atomically (temp name + rename, replacing an
//! older version's file if one is still there). The `.dist-info` directory comes last, built
//! under a temporary name beside its final one with RECORD written last of all, then renamed
//! into place in one step. So an interrupted install leaves either no `.dist-info` (the files
//! already placed belong to no distribution: harmless, overwritten by the next install, and no
//! tool sees a half-installed project) or a complete one. A leftover temporary directory is
//! named `.axle-tmp-*`, invisible to Python, and removed by [`cleanup_partial`]. Reinstalling
//! over an existing `.dist-info` of the same name writes into it, RECORD last, so the old RECORD
//! stays until the new one replaces it whole.
//!
//! The caller removes an older version first ([`crate::uninstall()`]); an upgrade is that
//! uninstall followed by this install.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use axle_standards::{PackageName, Version, package_name};
use sha2::{Digest, Sha256};

use crate::durable::{self, TEMP_PREFIX};
use crate::entry::check_entry_name;
use crate::entry_points::{EntryPointError, shebang};
use crate::layout::Layout;
use crate::link::{LinkFallback, LinkMode, Linker, PlaceError};
use crate::objects::{Manifest, ManifestFile, ObjectStore, ObjectStoreError};
use crate::paths;
use crate::record::{self, RecordRow};
use crate::wheel::{self, Scheme};

/// How to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOptions {
    pub link_mode: LinkMode,
    /// Written to `INSTALLER` (PEP 376).
    pub installer: String,
    /// Whether the user asked for this distribution (writes `REQUESTED`, PEP 376).
    pub requested: bool,
    /// `direct_url.json` (PEP 610), for a distribution installed from a URL or path.
    pub direct_url: Option<String>,
    /// Flush the installed files to disk before the `.dist-info` appears (one `syncfs` on
    /// Linux), so a crash cannot leave a RECORD vouching for a torn copied file. A caller
    /// installing many distributions at once may turn it off and flush once itself.
    pub durable: bool,
}

impl Default for InstallOptions {
    fn default() -> Self {
        InstallOptions {
            link_mode: LinkMode::default(),
            installer: "axle".to_string(),
            requested: false,
            direct_url: None,
            durable: true,
        }
    }
}

/// What an install did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledDist {
    pub name: PackageName,
    pub version: Version,
    pub dist_info_path: PathBuf,
    /// Every file installed, `.dist-info` ones included.
    pub files: Vec<PathBuf>,
    /// Bytes of files hard linked, cloned or symlinked from the store.
    pub bytes_linked: u64,
    /// Bytes of files copied or written (rewritten scripts, launchers, metadata).
    pub bytes_copied: u64,
    /// Set when the link mode asked for could not be used (see [`LinkFallback`]).
    pub link_fallback: Option<LinkFallback>,
}

/// An install that was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("wheel `{wheel}`: manifest entry `{path}` {reason}")]
    InvalidManifest {
        wheel: String,
        path: String,
        reason: String,
    },
    #[error("wheel `{wheel}`: {source}")]
    EntryPoint {
        wheel: String,
        #[source]
        source: EntryPointError,
    },
    #[error("wheel `{wheel}`: `{first}` and `{second}` would both be installed as `{}`", path.display())]
    Conflict {
        wheel: String,
        path: PathBuf,
        first: String,
        second: String,
    },
    #[error("wheel `{wheel}`: the store has no intact object for `{path}` (sha256 {sha256}); unpack the wheel again")]
    MissingObject {
        wheel: String,
        path: String,
        sha256: String,
    },
    #[error("invalid install option: {0}")]
    InvalidOption(String),
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Store(#[from] ObjectStoreError),
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> InstallError + use<> {
    let path = path.to_path_buf();
    move |source| InstallError::Io { action, path, source }
}

/// Install-time files of a `.dist-info` that a wheel must not bring along: they describe an
/// installation, so the installer writes them (and a wheel carrying them would lie about how it
/// was installed).
const INSTALLER_FILES: [&str; 4] = ["RECORD", "INSTALLER", "REQUESTED", "direct_url.json"];

/// What one planned file is made from.
enum Source<'m> {
    /// The object, as is.
    Object(&'m ManifestFile),
    /// A `#!python` script: the object with its first line replaced.
    Script(&'m ManifestFile),
    /// Bytes made here (launchers), executable.
    Launcher(Vec<u8>),
}

struct Planned<'m> {
    dest: PathBuf,
    /// What it came from, for conflict messages.
    origin: String,
    source: Source<'m>,
}

/// Everything an install will write, decided (and checked) before the first write.
struct Plan<'m> {
    name: PackageName,
    version: Version,
    /// The root scheme's directory: home of the `.dist-info`, base of RECORD paths.
    root_dir: PathBuf,
    dist_info: PathBuf,
    files: Vec<Planned<'m>>,
    /// The wheel's own `.dist-info` files, by path inside it.
    dist_info_files: Vec<(&'m str, &'m ManifestFile)>,
}

/// Installs the unpacked wheel `manifest` from `store` into the environment `layout`.
pub fn install(
    manifest: &Manifest,
    store: &ObjectStore,
    layout: &Layout,
    options: &InstallOptions,
) -> Result<InstalledDist, InstallError> {
    check_options(options)?;
    check_layout(layout)?;
    let plan = plan(manifest, store, layout)?;
    let mut linker = Linker::new(store, options.link_mode);
    let mut rows = Vec::new();
    let mut installed = Vec::new();
    let mut directories = HashSet::new();
    let mut written_bytes = 0;
    for file in &plan.files {
        ensure_parent(&file.dest, &mut directories)?;
        let (hash, size) = match &file.source {
            Source::Object(object) => {
                place(&mut linker, object, &file.dest)?;
                (object_hash(object), object.size)
            }
            Source::Script(object) => {
                let bytes = rewrite_script(store, object, &layout.python)?;
                write_new(&file.dest, &bytes, 0o755)?;
                written_bytes += bytes.len() as u64;
                (hash_of(&bytes), bytes.len() as u64)
            }
            Source::Launcher(bytes) => {
                write_new(&file.dest, bytes, 0o755)?;
                written_bytes += bytes.len() as u64;
                (hash_of(bytes), bytes.len() as u64)
            }
        };
        rows.push(row(&plan.root_dir, &file.dest, hash, size)?);
        installed.push(file.dest.clone());
    }

    // The `.dist-info` directory, last: staged beside its final name unless it already exists.
    let staging = if dist_info_exists(&plan.dist_info)? {
        None
    } else {
        Some(staging_dir(&plan.root_dir)?)
    };
    let dist_info_dir = staging
        .as_ref()
        .map_or_else(|| plan.dist_info.clone(), |staging| staging.path().to_path_buf());
    for (inside, object) in &plan.dist_info_files {
        let dest = dist_info_dir.join(inside);
        ensure_parent(&dest, &mut directories)?;
        place(&mut linker, object, &dest)?;
        let final_path = plan.dist_info.join(inside);
        rows.push(row(&plan.root_dir, &final_path, object_hash(object), object.size)?);
        installed.push(final_path);
    }
    for (inside, bytes) in installer_files(options) {
        write_new(&dist_info_dir.join(inside), &bytes, 0o644)?;
        written_bytes += bytes.len() as u64;
        let final_path = plan.dist_info.join(inside);
        rows.push(row(&plan.root_dir, &final_path, hash_of(&bytes), bytes.len() as u64)?);
        installed.push(final_path);
    }
    let record_final = plan.dist_info.join("RECORD");
    rows.push(RecordRow {
        path: record_path(&plan.root_dir, &record_final)?,
        hash: String::new(),
        size: String::new(),
    });
    let record = record::write(rows);

    // Everything RECORD lists is on disk before RECORD says so, and RECORD before the
    // `.dist-info` appears.
    if options.durable {
        durable::flush_batch(&plan.root_dir).map_err(io_error("flush", &plan.root_dir))?;
    }
    write_record(&dist_info_dir.join("RECORD"), record.as_bytes(), options.durable)?;
    written_bytes += record.len() as u64;
    installed.push(record_final);
    if let Some(staging) = staging {
        fs::rename(staging.path(), &plan.dist_info).map_err(io_error("move into place", &plan.dist_info))?;
        let _ = staging.keep();
    }
    if options.durable {
        durable::flush_directory(&plan.root_dir).map_err(io_error("flush", &plan.root_dir))?;
    }

    Ok(InstalledDist {
        name: plan.name,
        version: plan.version,
        dist_info_path: plan.dist_info,
        files: installed,
        bytes_linked: linker.bytes_linked,
        bytes_copied: linker.bytes_copied + written_bytes,
        link_fallback: linker.fallback,
    })
}

/// One file of an installed distribution, where it goes and where its bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedFile {
    /// Where it goes, in the layout's own paths (absolute).
    pub path: PathBuf,
    pub content: PlacedContent,
    pub executable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacedContent {
    /// A store object's file, as it is.
    Object { path: PathBuf, size: u64 },
    /// Bytes made by the install (a rewritten script, a launcher, `INSTALLER`, RECORD).
    Bytes(Vec<u8>),
}

/// Every file [`install`] would write for `manifest` into `layout`, RECORD last, without
/// writing anything: for an environment that is not on this filesystem (a container image's
/// layer, whose writer takes the objects' bytes from the store). Checked as an install is.
pub fn placed_files(
    manifest: &Manifest,
    store: &ObjectStore,
    layout: &Layout,
    options: &InstallOptions,
) -> Result<Vec<PlacedFile>, InstallError> {
    check_options(options)?;
    check_layout(layout)?;
    let plan = plan(manifest, store, layout)?;
    let mut placed = Vec::new();
    let mut rows = Vec::new();
    let object = |file: &ManifestFile, path: PathBuf| -> Result<PlacedFile, InstallError> {
        Ok(PlacedFile {
            path,
            content: PlacedContent::Object {
                path: store.object_path(&file.sha256, file.executable)?,
                size: file.size,
            },
            executable: file.executable,
        })
    };
    for file in &plan.files {
        let (entry, hash, size) = match &file.source {
            Source::Object(manifest_file) => (
                object(manifest_file, file.dest.clone())?,
                object_hash(manifest_file),
                manifest_file.size,
            ),
            Source::Script(manifest_file) => {
                let bytes = rewrite_script(store, manifest_file, &layout.python)?;
                let (hash, size) = (hash_of(&bytes), bytes.len() as u64);
                let entry = PlacedFile {
                    path: file.dest.clone(),
                    content: PlacedContent::Bytes(bytes),
                    executable: true,
                };
                (entry, hash, size)
            }
            Source::Launcher(bytes) => {
                let entry = PlacedFile {
                    path: file.dest.clone(),
                    content: PlacedContent::Bytes(bytes.clone()),
                    executable: true,
                };
                (entry, hash_of(bytes), bytes.len() as u64)
            }
        };
        rows.push(row(&plan.root_dir, &file.dest, hash, size)?);
        placed.push(entry);
    }
    for (inside, manifest_file) in &plan.dist_info_files {
        let path = plan.dist_info.join(inside);
        rows.push(row(
            &plan.root_dir,
            &path,
            object_hash(manifest_file),
            manifest_file.size,
        )?);
        placed.push(object(manifest_file, path)?);
    }
    for (inside, bytes) in installer_files(options) {
        let path = plan.dist_info.join(inside);
        rows.push(row(&plan.root_dir, &path, hash_of(&bytes), bytes.len() as u64)?);
        placed.push(PlacedFile {
            path,
            content: PlacedContent::Bytes(bytes),
            executable: false,
        });
    }
    let record_final = plan.dist_info.join("RECORD");
    rows.push(RecordRow {
        path: record_path(&plan.root_dir, &record_final)?,
        hash: String::new(),
        size: String::new(),
    });
    placed.push(PlacedFile {
        path: record_final,
        content: PlacedContent::Bytes(record::write(rows).into_bytes()),
        executable: false,
    });
    Ok(placed)
}

/// Checks the manifest again and decides every path, refusing anything wrong before a write.
fn plan<'m>(manifest: &'m Manifest, store: &ObjectStore, layout: &Layout) -> Result<Plan<'m>, InstallError> {
    let wheel = manifest.filename.as_str();
    let invalid = |path: &str, reason: String| InstallError::InvalidManifest {
        wheel: wheel.to_string(),
        path: path.to_string(),
        reason,
    };
    let name =
        package_name(&manifest.name).map_err(|err| invalid(&manifest.name, format!("is not a project name: {err}")))?;
    let version = Version::from_str(&manifest.version)
        .map_err(|err| invalid(&manifest.version, format!("is not a version: {err}")))?;
    for directory in [&manifest.dist_info, &manifest.data_dir] {
        check_entry_name(directory).map_err(|problem| invalid(directory, problem.to_string()))?;
        if directory.contains('/') {
            return Err(invalid(directory, "is not a top-level directory".to_string()));
        }
    }
    if !manifest.dist_info.ends_with(".dist-info") {
        return Err(invalid(
            &manifest.dist_info,
            "is not a `.dist-info` directory".to_string(),
        ));
    }
    manifest
        .entry_points
        .validate()
        .map_err(|source| InstallError::EntryPoint {
            wheel: wheel.to_string(),
            source,
        })?;

    let root_dir = layout.root_dir(manifest.root_is_purelib).to_path_buf();
    let dist_info = root_dir.join(&manifest.dist_info);
    let dist_info_prefix = format!("{}/", manifest.dist_info);
    let mut files: Vec<Planned<'m>> = Vec::new();
    let mut dist_info_files = Vec::new();
    for file in &manifest.files {
        check_entry_name(&file.path).map_err(|problem| invalid(&file.path, problem.to_string()))?;
        if hex::decode(&file.sha256).map_or(true, |digest| digest.len() != 32) {
            return Err(invalid(&file.path, "has no valid SHA-256".to_string()));
        }
        if !store.verify_object(&file.sha256, file.executable, file.size) {
            return Err(InstallError::MissingObject {
                wheel: wheel.to_string(),
                path: file.path.clone(),
                sha256: file.sha256.clone(),
            });
        }
        if let Some(inside) = file.path.strip_prefix(&dist_info_prefix) {
            if !INSTALLER_FILES.contains(&inside) {
                dist_info_files.push((inside, file));
            }
            continue;
        }
        let destination = wheel::destination(&file.path, &manifest.data_dir, manifest.root_is_purelib)
            .map_err(|problem| invalid(&file.path, problem.to_string()))?;
        let dest = layout.scheme_dir(destination.scheme, &name).join(destination.path);
        let source = if destination.scheme == Scheme::Scripts && has_python_shebang(store, file)? {
            Source::Script(file)
        } else {
            Source::Object(file)
        };
        files.push(Planned {
            dest,
            origin: file.path.clone(),
            source,
        });
    }
    for entry_point in manifest.entry_points.scripts() {
        let dest = layout.scripts.join(&entry_point.name);
        // An entry point replaces a `.data/scripts` file of the same name, as it does in pip
        // (which writes the launcher after the file), and a later entry point an earlier one.
        files.retain(|existing| existing.dest != dest);
        files.push(Planned {
            dest,
            origin: format!("entry point `{}`", entry_point.name),
            source: Source::Launcher(entry_point.launcher(&layout.python)),
        });
    }
    let mut seen: HashMap<&Path, &str> = HashMap::new();
    for file in &files {
        let clash = if file.dest.starts_with(&dist_info) {
            Some(manifest.dist_info.as_str())
        } else {
            seen.insert(&file.dest, &file.origin)
        };
        if let Some(first) = clash {
            return Err(InstallError::Conflict {
                wheel: wheel.to_string(),
                path: file.dest.clone(),
                first: first.to_string(),
                second: file.origin.clone(),
            });
        }
    }
    Ok(Plan {
        name,
        version,
        root_dir,
        dist_info,
        files,
        dist_info_files,
    })
}

/// Whether the `.dist-info` directory is already there (a reinstall); a file or symlink in its
/// place is not ours to write through.
fn dist_info_exists(dist_info: &Path) -> Result<bool, InstallError> {
    match fs::symlink_metadata(dist_info) {
        Ok(meta) if meta.is_dir() => Ok(true),
        Ok(_) => Err(io_error("install into", dist_info)(io::Error::other(
            "it exists and is not a directory",
        ))),
        Err(_) => Ok(false),
    }
}

/// `INSTALLER`, `REQUESTED` and `direct_url.json`, as the options ask.
fn installer_files(options: &InstallOptions) -> Vec<(&'static str, Vec<u8>)> {
    let mut files = vec![("INSTALLER", format!("{}\n", options.installer).into_bytes())];
    if options.requested {
        files.push(("REQUESTED", Vec::new()));
    }
    if let Some(direct_url) = &options.direct_url {
        files.push(("direct_url.json", direct_url.clone().into_bytes()));
    }
    files
}

/// A temporary directory beside the final `.dist-info`, readable by all as a `.dist-info` is
/// (temporary directories are created private).
fn staging_dir(root_dir: &Path) -> Result<tempfile::TempDir, InstallError> {
    let staging = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempdir_in(root_dir)
        .map_err(io_error("create a directory in", root_dir))?;
    let mut permissions = fs::metadata(staging.path())
        .map_err(io_error("inspect", staging.path()))?
        .permissions();
    set_mode(&mut permissions, 0o755);
    fs::set_permissions(staging.path(), permissions).map_err(io_error("set permissions of", staging.path()))?;
    Ok(staging)
}

/// Removes what interrupted installs left in `directory` (a site-packages): temporary
/// `.dist-info` directories and temporary files, all named `.axle-tmp-*`. Returns what it
/// removed. Not to be run while an install into the same directory is under way.
pub fn cleanup_partial(directory: &Path) -> Result<Vec<PathBuf>, InstallError> {
    let mut removed = Vec::new();
    for item in fs::read_dir(directory).map_err(io_error("list", directory))? {
        let item = item.map_err(io_error("list", directory))?;
        if !item
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(TEMP_PREFIX))
        {
            continue;
        }
        let path = item.path();
        let meta = fs::symlink_metadata(&path).map_err(io_error("inspect", &path))?;
        if meta.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        }
        .map_err(io_error("remove", &path))?;
        removed.push(path);
    }
    Ok(removed)
}

#[cfg(unix)]
fn set_mode(permissions: &mut fs::Permissions, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    permissions.set_mode(mode);
}

#[cfg(not(unix))]
fn set_mode(_: &mut fs::Permissions, _: u32) {}

/// Every layout path must be absolute and normalised: they end up in shebangs, and RECORD paths
/// are computed between them.
fn check_layout(layout: &Layout) -> Result<(), InstallError> {
    for (what, path) in [
        ("purelib", &layout.purelib),
        ("platlib", &layout.platlib),
        ("scripts", &layout.scripts),
        ("data", &layout.data),
        ("headers", &layout.headers),
        ("python", &layout.python),
    ] {
        if !path.is_absolute() || paths::normalize(path).as_ref() != Some(path) {
            return Err(InstallError::InvalidOption(format!(
                "layout {what} path `{}` is not absolute and normalised",
                path.display()
            )));
        }
    }
    Ok(())
}

fn check_options(options: &InstallOptions) -> Result<(), InstallError> {
    if options.installer.is_empty() || options.installer.chars().any(char::is_control) {
        return Err(InstallError::InvalidOption(format!(
            "installer name `{}` must be one line of text",
            options.installer.escape_debug()
        )));
    }
    if let Some(direct_url) = &options.direct_url {
        match serde_json::from_str::<serde_json::Value>(direct_url) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => {
                return Err(InstallError::InvalidOption(
                    "direct_url.json must be a JSON object".to_string(),
                ));
            }
            Err(err) => {
                return Err(InstallError::InvalidOption(format!(
                    "direct_url.json is not JSON: {err}"
                )));
            }
        }
    }
    Ok(())
}

fn ensure_parent(dest: &Path, created: &mut HashSet<PathBuf>) -> Result<(), InstallError> {
    let Some(parent) = dest.parent() else {
        return Ok(());
    };
    if created.contains(parent) {
        return Ok(());
    }
    fs::create_dir_all(parent).map_err(io_error("create directory", parent))?;
    created.insert(parent.to_path_buf());
    Ok(())
}

fn place(linker: &mut Linker<'_>, object: &ManifestFile, dest: &Path) -> Result<(), InstallError> {
    linker
        .place(&object.sha256, object.executable, object.size, dest)
        .map_err(|err| match err {
            PlaceError::Store(err) => InstallError::Store(err),
            PlaceError::Io(source) => InstallError::Io {
                action: "install",
                path: dest.to_path_buf(),
                source,
            },
        })
}

/// Writes a generated file atomically; never through a link, so the store is never written.
fn write_new(dest: &Path, bytes: &[u8], mode: u32) -> Result<(), InstallError> {
    durable::write_atomic(dest, bytes, mode).map_err(io_error("write", dest))
}

fn write_record(dest: &Path, bytes: &[u8], sync: bool) -> Result<(), InstallError> {
    let directory = dest.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(directory)
        .map_err(io_error("create a file in", directory))?;
    temp.write_all(bytes).map_err(io_error("write", dest))?;
    let permissions = durable::permissions(temp.as_file(), 0o644).map_err(io_error("write", dest))?;
    temp.as_file()
        .set_permissions(permissions)
        .map_err(io_error("write", dest))?;
    if sync {
        temp.as_file().sync_data().map_err(io_error("flush", dest))?;
    }
    temp.persist(dest).map_err(|err| io_error("write", dest)(err.error))?;
    Ok(())
}

/// Whether a script starts with `#!python` (which covers `#!pythonw`): the wheel spec's marker
/// for "rewrite this line to the environment's interpreter".
fn has_python_shebang(store: &ObjectStore, file: &ManifestFile) -> Result<bool, InstallError> {
    let path = store.object_path(&file.sha256, file.executable)?;
    let mut head = Vec::with_capacity(8);
    File::open(&path)
        .and_then(|object| object.take(8).read_to_end(&mut head))
        .map_err(io_error("read", &path))?;
    Ok(head == b"#!python")
}

/// The script with its first line replaced by a shebang for `python` (pip replaces the whole
/// line, arguments included).
fn rewrite_script(store: &ObjectStore, file: &ManifestFile, python: &Path) -> Result<Vec<u8>, InstallError> {
    let path = store.object_path(&file.sha256, file.executable)?;
    let content = fs::read(&path).map_err(io_error("read", &path))?;
    let rest = match content.iter().position(|&byte| byte == b'\n') {
        Some(newline) => &content[newline + 1..],
        None => &[],
    };
    let mut out = shebang(python);
    out.extend_from_slice(rest);
    Ok(out)
}

fn object_hash(file: &ManifestFile) -> String {
    // Checked to be 32 bytes of hex while planning.
    record::sha256_field(&hex::decode(&file.sha256).unwrap_or_default())
}

fn hash_of(bytes: &[u8]) -> String {
    record::sha256_field(&Sha256::digest(bytes))
}

fn record_path(root_dir: &Path, path: &Path) -> Result<String, InstallError> {
    paths::record_path(root_dir, path).ok_or_else(|| InstallError::Io {
        action: "record",
        path: path.to_path_buf(),
        source: io::Error::other("the path is not UTF-8, which RECORD cannot hold"),
    })
}

fn row(root_dir: &Path, path: &Path, hash: String, size: u64) -> Result<RecordRow, InstallError> {
    Ok(RecordRow {
        path: record_path(root_dir, path)?,
        hash,
        size: size.to_string(),
    })
}
