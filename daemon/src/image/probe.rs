//! What the base image runs: its Python and its libc, read from its config and its files,
//! never by running anything in it. The layers are read in order as the image's filesystem is
//! put together (later layers over earlier ones, whiteouts removing), keeping only what
//! decides the target: the `python3*` executables on the image's `PATH` (and where their links
//! lead), the package databases of Debian-like (`var/lib/dpkg/status`) and Alpine
//! (`lib/apk/db/installed`) systems, and musl's loader.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use super::ImageError;
use super::base::{Image, ImageLayer};
use super::blobs::{Blobs, io_error};

/// What the venv layer is made for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImagePython {
    /// The interpreter, as the image's `PATH` finds it (`/usr/local/bin/python3.12`).
    pub executable: PathBuf,
    /// The interpreter with links followed.
    pub real_executable: PathBuf,
    /// `3.12.8`, or `3.12` when the image does not say its micro version.
    pub version: String,
    pub major_minor: (u32, u32),
    /// `x86_64-manylinux_2_36`, `aarch64-musllinux_1_2`: a `--python-platform`.
    pub platform: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    File,
    Symlink(PathBuf),
    Directory,
}

/// The parts of the image's filesystem the probe needs.
#[derive(Default)]
struct Seen {
    /// Entries in the directories of `PATH` (and what links point to), by absolute path.
    nodes: BTreeMap<PathBuf, Node>,
    dpkg_status: Option<String>,
    apk_installed: Option<String>,
    musl_loader: bool,
}

const DPKG_STATUS: &str = "var/lib/dpkg/status";
const APK_INSTALLED: &str = "lib/apk/db/installed";
/// Package databases larger than this are not read (they are a few MB at most).
const DATABASE_LIMIT: u64 = 64 * 1024 * 1024;

/// Where `PATH` looks, per the image's config (the usual default when it says nothing).
fn path_dirs(env: &[String]) -> Vec<PathBuf> {
    let path = env
        .iter()
        .find_map(|variable| variable.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':')
        .filter(|dir| dir.starts_with('/'))
        .map(PathBuf::from)
        .collect()
}

/// What Python the image runs (`explicit`: `--python`): read once per base image and kept
/// beside the blob cache (`images/probes/`), since reading means decompressing every layer.
pub fn probe(image: &Image, blobs: &Blobs, home: &Path, explicit: Option<&str>) -> Result<ImagePython, ImageError> {
    let key = format!("{}\n{}", image.config_blob.digest, explicit.unwrap_or(""));
    let kept = home
        .join("images")
        .join("probes")
        .join(format!("{}.json", hex::encode(sha2::Sha256::digest(key.as_bytes()))));
    if let Some(known) = std::fs::read(&kept)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<ImagePython>(&bytes).ok())
    {
        return Ok(known);
    }
    let found = read_image(image, blobs, explicit)?;
    if let Some(parent) = kept.parent()
        && std::fs::create_dir_all(parent).is_ok()
        && let Ok(bytes) = serde_json::to_vec(&found)
    {
        let _ = std::fs::write(&kept, bytes);
    }
    Ok(found)
}

/// Reads the image (layers in order) and says what Python it runs.
fn read_image(image: &Image, blobs: &Blobs, explicit: Option<&str>) -> Result<ImagePython, ImageError> {
    let env: Vec<String> = image
        .config
        .config()
        .as_ref()
        .and_then(|config| config.env().clone())
        .unwrap_or_default();
    let mut dirs = path_dirs(&env);
    // Where the usual interpreters live, also when PATH (or a merged /usr) hides them.
    for extra in ["/usr/local/bin", "/usr/bin", "/bin"] {
        if !dirs.iter().any(|dir| dir == Path::new(extra)) {
            dirs.push(PathBuf::from(extra));
        }
    }
    let mut seen = Seen::default();
    for layer in &image.layers {
        read_layer(layer, blobs, &dirs, &mut seen)?;
    }
    let (executable, real) = match explicit {
        Some(path) => {
            let path = PathBuf::from(path);
            let real = resolve(&seen, &path)
                .ok_or_else(|| ImageError::Target(format!("the image has no interpreter at {}", path.display())))?;
            (path, real)
        }
        None => find_python(&seen, &dirs)?,
    };
    let name = real
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let major_minor = name
        .strip_prefix("python")
        .and_then(|version| version.split_once('.'))
        .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)))
        .ok_or_else(|| {
            ImageError::Target(format!(
                "{} is no pythonX.Y: give the image's interpreter with --python /path/to/pythonX.Y",
                real.display()
            ))
        })?;
    let (major, minor): (u32, u32) = major_minor;
    let version = full_version(&env, &seen, (major, minor)).unwrap_or_else(|| format!("{major}.{minor}"));
    let architecture = image.config.architecture().to_string();
    let arch = match architecture.as_str() {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "386" => "i686",
        "arm" => "armv7l",
        "ppc64le" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => {
            return Err(ImageError::Target(format!(
                "the image is for the `{other}` architecture, which axle has no wheel tags for"
            )));
        }
    };
    let platform = match libc(&seen) {
        Some(Libc::Glibc(major, minor)) => format!("{arch}-manylinux_{major}_{minor}"),
        Some(Libc::Musl(major, minor)) => format!("{arch}-musllinux_{major}_{minor}"),
        None => {
            return Err(ImageError::Target(
                "cannot tell the image's C library (no dpkg or apk database, no musl loader): \
                 its wheels' platform is unknown"
                    .to_string(),
            ));
        }
    };
    Ok(ImagePython {
        executable,
        real_executable: real,
        version,
        major_minor: (major, minor),
        platform,
    })
}

fn read_layer(layer: &ImageLayer, blobs: &Blobs, dirs: &[PathBuf], seen: &mut Seen) -> Result<(), ImageError> {
    let path = blobs.path(&layer.blob.digest)?;
    let file = std::fs::File::open(&path).map_err(|error| io_error(&path, error))?;
    let reader: Box<dyn Read> = if layer.media_type.ends_with("+gzip") {
        Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(|error| io_error(&path, error))? {
        let mut entry = entry.map_err(|error| io_error(&path, error))?;
        let name = entry
            .path()
            .map_err(|error| io_error(&path, error))?
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        let absolute = Path::new("/").join(&name);
        let file_name = absolute
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Whiteouts: `.wh.NAME` removes NAME; `.wh..wh..opq` empties its directory.
        if let Some(removed) = file_name.strip_prefix(".wh.") {
            let parent = absolute.parent().unwrap_or(Path::new("/")).to_path_buf();
            if removed == ".wh..opq" {
                seen.nodes.retain(|known, _| known.parent() != Some(parent.as_path()));
            } else {
                let gone = parent.join(removed);
                seen.nodes.remove(&gone);
                match gone.strip_prefix("/").ok().and_then(Path::to_str) {
                    Some(DPKG_STATUS) => seen.dpkg_status = None,
                    Some(APK_INSTALLED) => seen.apk_installed = None,
                    _ => {}
                }
            }
            continue;
        }
        let kind = entry.header().entry_type();
        if name == DPKG_STATUS || name == APK_INSTALLED {
            if entry.size() <= DATABASE_LIMIT {
                let mut text = String::new();
                entry
                    .read_to_string(&mut text)
                    .map_err(|error| io_error(&path, error))?;
                if name == DPKG_STATUS {
                    seen.dpkg_status = Some(text);
                } else {
                    seen.apk_installed = Some(text);
                }
            }
            continue;
        }
        if file_name.starts_with("ld-musl-") {
            seen.musl_loader = true;
        }
        let in_path = absolute
            .parent()
            .is_some_and(|parent| dirs.iter().any(|dir| dir == parent));
        // Directories may be links (a merged /usr: `bin -> usr/bin`).
        let top_level = absolute.parent() == Some(Path::new("/"));
        if !(in_path || top_level || file_name.starts_with("python")) {
            continue;
        }
        let node = if kind.is_symlink() || kind.is_hard_link() {
            match entry.link_name().map_err(|error| io_error(&path, error))? {
                Some(target) if kind.is_symlink() => Node::Symlink(target.into_owned()),
                Some(target) => Node::Symlink(Path::new("/").join(target)),
                None => continue,
            }
        } else if kind.is_dir() {
            Node::Directory
        } else if kind.is_file() {
            Node::File
        } else {
            continue;
        };
        seen.nodes.insert(absolute, node);
    }
    Ok(())
}

/// `path` with its links followed (through linked directories too), if it leads to a file.
fn resolve(seen: &Seen, path: &Path) -> Option<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..32 {
        // A linked parent directory (`/bin` -> `usr/bin`).
        let parent = current.parent()?.to_path_buf();
        if let Some(Node::Symlink(target)) = seen.nodes.get(&parent) {
            let base = parent.parent().unwrap_or(Path::new("/"));
            let resolved = normalize(&base.join(target));
            current = resolved.join(current.file_name()?);
            continue;
        }
        match seen.nodes.get(&current)? {
            Node::File => return Some(current),
            Node::Directory => return None,
            Node::Symlink(target) => {
                current = normalize(&parent.join(target));
            }
        }
    }
    None
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(part) => out.push(part),
            _ => {}
        }
    }
    out
}

/// The first `python3` on `PATH` (else `python3.X`, newest first), and where it leads.
fn find_python(seen: &Seen, dirs: &[PathBuf]) -> Result<(PathBuf, PathBuf), ImageError> {
    for dir in dirs {
        let candidate = dir.join("python3");
        if let Some(real) = resolve(seen, &candidate) {
            return Ok((candidate, real));
        }
    }
    let mut versioned: Vec<(u32, PathBuf)> = Vec::new();
    for dir in dirs {
        for known in seen.nodes.keys().filter(|known| known.parent() == Some(dir.as_path())) {
            let name = known.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
            if let Some(minor) = name.strip_prefix("python3.").and_then(|minor| minor.parse().ok()) {
                versioned.push((minor, known.clone()));
            }
        }
    }
    versioned.sort();
    for (_, candidate) in versioned.into_iter().rev() {
        if let Some(real) = resolve(seen, &candidate) {
            return Ok((candidate, real));
        }
    }
    Err(ImageError::Target(
        "the base image has no python3 on its PATH (give one with --python /path/to/python3.X)".to_string(),
    ))
}

/// The image's full Python version: its config's `PYTHON_VERSION` (the official images'), else
/// its package database's.
fn full_version(env: &[String], seen: &Seen, (major, minor): (u32, u32)) -> Option<String> {
    let prefix = format!("{major}.{minor}.");
    let fits = |version: &str| version.starts_with(&prefix);
    if let Some(version) = env.iter().find_map(|variable| variable.strip_prefix("PYTHON_VERSION=")) {
        let version = version.trim();
        if fits(version) {
            return Some(version.to_string());
        }
    }
    let packages = [
        format!("python{major}.{minor}-minimal"),
        format!("python{major}.{minor}"),
    ];
    if let Some(status) = &seen.dpkg_status {
        for package in &packages {
            if let Some(version) = dpkg_version(status, package)
                && fits(&version)
            {
                return Some(version);
            }
        }
    }
    if let Some(installed) = &seen.apk_installed
        && let Some(version) = apk_version(installed, &format!("python{major}"))
        && fits(&version)
    {
        return Some(version);
    }
    None
}

/// The upstream version (`2.36`, `3.11.2`) of an installed Debian package.
fn dpkg_version(status: &str, package: &str) -> Option<String> {
    for stanza in status.split("\n\n") {
        let mut name = None;
        let mut version = None;
        let mut installed = false;
        for line in stanza.lines() {
            if let Some(value) = line.strip_prefix("Package: ") {
                name = Some(value.trim());
            } else if let Some(value) = line.strip_prefix("Version: ") {
                version = Some(value.trim());
            } else if let Some(value) = line.strip_prefix("Status: ") {
                installed = value.trim().ends_with(" installed");
            }
        }
        if name == Some(package) && installed {
            return version.map(upstream);
        }
    }
    None
}

/// The upstream version of an installed Alpine package.
fn apk_version(installed: &str, package: &str) -> Option<String> {
    for stanza in installed.split("\n\n") {
        let name = stanza.lines().find_map(|line| line.strip_prefix("P:"));
        if name == Some(package) {
            return stanza.lines().find_map(|line| line.strip_prefix("V:")).map(upstream);
        }
    }
    None
}

/// `2.36-9+deb12u8` → `2.36`; `1:3.11.2-6` → `3.11.2`; `1.2.4-r2` → `1.2.4`.
fn upstream(version: &str) -> String {
    let without_epoch = version.split_once(':').map_or(version, |(_, rest)| rest);
    let upstream = without_epoch.split(['-', '+', '~']).next().unwrap_or(without_epoch);
    upstream.to_string()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Libc {
    Glibc(u32, u32),
    Musl(u32, u32),
}

fn major_minor_of(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn libc(seen: &Seen) -> Option<Libc> {
    if let Some(status) = &seen.dpkg_status
        && let Some((major, minor)) = dpkg_version(status, "libc6").as_deref().and_then(major_minor_of)
    {
        return Some(Libc::Glibc(major, minor));
    }
    if let Some(installed) = &seen.apk_installed
        && let Some((major, minor)) = apk_version(installed, "musl").as_deref().and_then(major_minor_of)
    {
        return Some(Libc::Musl(major, minor));
    }
    // musl 1.2 is what every maintained musl system has shipped since 2020.
    seen.musl_loader.then_some(Libc::Musl(1, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u8\n\n\
        Package: python3.11-minimal\nStatus: install ok installed\nVersion: 3.11.2-6+deb12u8\n\n\
        Package: removed\nStatus: deinstall ok config-files\nVersion: 1.0\n";

    #[test]
    fn package_databases_give_upstream_versions() {
        assert_eq!(dpkg_version(STATUS, "libc6").as_deref(), Some("2.36"));
        assert_eq!(dpkg_version(STATUS, "python3.11-minimal").as_deref(), Some("3.11.2"));
        assert_eq!(dpkg_version(STATUS, "removed"), None);
        let apk = "P:musl\nV:1.2.4-r2\n\nP:python3\nV:3.11.6-r0\n";
        assert_eq!(apk_version(apk, "musl").as_deref(), Some("1.2.4"));
        assert_eq!(upstream("1:3.11.2-6"), "3.11.2");
    }

    #[test]
    fn links_are_followed_through_linked_directories() {
        let mut seen = Seen::default();
        seen.nodes.insert("/bin".into(), Node::Symlink("usr/bin".into()));
        seen.nodes
            .insert("/usr/bin/python3".into(), Node::Symlink("python3.11".into()));
        seen.nodes.insert("/usr/bin/python3.11".into(), Node::File);
        seen.dpkg_status = Some(STATUS.to_string());
        assert_eq!(
            resolve(&seen, Path::new("/bin/python3")),
            Some(PathBuf::from("/usr/bin/python3.11"))
        );
        let dirs = path_dirs(&["PATH=/usr/local/bin:/usr/bin:/bin".to_string()]);
        let (found, real) = find_python(&seen, &dirs).unwrap();
        assert_eq!(
            (found, real),
            (PathBuf::from("/usr/bin/python3"), PathBuf::from("/usr/bin/python3.11"))
        );
        assert_eq!(full_version(&[], &seen, (3, 11)).as_deref(), Some("3.11.2"));
        assert_eq!(
            full_version(&["PYTHON_VERSION=3.11.9".to_string()], &seen, (3, 11)).as_deref(),
            Some("3.11.9")
        );
        assert_eq!(libc(&seen), Some(Libc::Glibc(2, 36)));
    }
}
