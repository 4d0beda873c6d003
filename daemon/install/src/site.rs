//! What a site-packages directory holds: the distributions installed there, read from their
//! `.dist-info/METADATA` (or a legacy `.egg-info`'s PKG-INFO), and the entries that claim to be
//! distributions but cannot be read.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use axle_standards::{Metadata, PackageName, Version};

/// One installed distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledDistribution {
    pub name: PackageName,
    pub version: Version,
    /// The `.dist-info` (or `.egg-info`) directory or file.
    pub dist_info: PathBuf,
    /// The `INSTALLER` file's first line.
    pub installer: Option<String>,
    /// Whether there is a RECORD, so [`crate::uninstall()`] can remove its files.
    pub has_record: bool,
    pub kind: InstalledKind,
}

/// How a distribution was installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstalledKind {
    /// A `.dist-info` directory (PEP 376): uninstallable by its RECORD.
    DistInfo,
    /// A legacy `.egg-info` directory or file (`setup.py install`, old pip): no RECORD, so not
    /// uninstallable by this crate.
    EggInfo,
}

/// An entry that looks like a distribution but could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenDistribution {
    pub path: PathBuf,
    pub reason: String,
}

/// What [`installed`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SitePackages {
    /// Sorted by name, then version.
    pub distributions: Vec<InstalledDistribution>,
    pub broken: Vec<BrokenDistribution>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot list `{}`: {source}", path.display())]
pub struct SiteError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// The distributions in `site_packages` (none if it does not exist).
pub fn installed(site_packages: &Path) -> Result<SitePackages, SiteError> {
    let mut found = SitePackages::default();
    let items = match fs::read_dir(site_packages) {
        Ok(items) => items,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(source) => {
            return Err(SiteError {
                path: site_packages.to_path_buf(),
                source,
            });
        }
    };
    for item in items {
        let item = item.map_err(|source| SiteError {
            path: site_packages.to_path_buf(),
            source,
        })?;
        let path = item.path();
        let Some(name) = item.file_name().to_str().map(str::to_string) else {
            continue;
        };
        // Hidden entries include this crate's own temporary `.dist-info` directories.
        if name.starts_with('.') {
            continue;
        }
        let is_dir = fs::metadata(&path).is_ok_and(|meta| meta.is_dir());
        let result = if name.ends_with(".dist-info") && is_dir {
            read_dist_info(&path)
        } else if name.ends_with(".egg-info") {
            read_egg_info(&path, is_dir)
        } else {
            continue;
        };
        match result {
            Ok(distribution) => found.distributions.push(distribution),
            Err(reason) => {
                tracing::warn!(path = %path.display(), %reason, "skipping an unreadable distribution");
                found.broken.push(BrokenDistribution { path, reason });
            }
        }
    }
    found.distributions.sort_by(|left, right| {
        (&left.name, &left.version, &left.dist_info).cmp(&(&right.name, &right.version, &right.dist_info))
    });
    found.broken.sort_by(|left, right| left.path.cmp(&right.path));
    Ok(found)
}

fn read_dist_info(path: &Path) -> Result<InstalledDistribution, String> {
    let metadata = read_metadata(&path.join("METADATA"))?;
    let installer = fs::read_to_string(path.join("INSTALLER"))
        .ok()
        .and_then(|text| text.lines().next().map(|line| line.trim().to_string()))
        .filter(|line| !line.is_empty());
    Ok(InstalledDistribution {
        name: metadata.name,
        version: metadata.version,
        dist_info: path.to_path_buf(),
        installer,
        has_record: path.join("RECORD").is_file(),
        kind: InstalledKind::DistInfo,
    })
}

fn read_egg_info(path: &Path, is_dir: bool) -> Result<InstalledDistribution, String> {
    let pkg_info = if is_dir {
        path.join("PKG-INFO")
    } else {
        path.to_path_buf()
    };
    let metadata = read_metadata(&pkg_info)?;
    Ok(InstalledDistribution {
        name: metadata.name,
        version: metadata.version,
        dist_info: path.to_path_buf(),
        installer: None,
        has_record: false,
        kind: InstalledKind::EggInfo,
    })
}

fn read_metadata(path: &Path) -> Result<Metadata, String> {
    let bytes = fs::read(path).map_err(|err| format!("cannot read `{}`: {err}", path.display()))?;
    Metadata::parse_bytes(&bytes).map_err(|err| format!("`{}`: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_dist_info_and_egg_info_and_reports_broken_ones() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path();
        let write = |path: &str, text: &str| {
            let path = site.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write(
            "Foo_Bar-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: Foo.Bar\nVersion: 1.0\n",
        );
        write("Foo_Bar-1.0.dist-info/INSTALLER", "pip\n");
        write("Foo_Bar-1.0.dist-info/RECORD", "");
        write(
            "old-0.1-py3.11.egg-info/PKG-INFO",
            "Metadata-Version: 1.0\nName: old\nVersion: 0.1\n",
        );
        write(
            "single-2.0-py3.11.egg-info",
            "Metadata-Version: 1.0\nName: single\nVersion: 2.0\n",
        );
        write("broken-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: broken\n");
        write("nometa-1.0.dist-info/RECORD", "");
        write(
            ".axle-tmp-x/METADATA",
            "Metadata-Version: 2.1\nName: hidden\nVersion: 1\n",
        );
        write("pkg/__init__.py", "");

        let found = installed(site).unwrap();
        let summary: Vec<(String, String, Option<String>, bool, InstalledKind)> = found
            .distributions
            .iter()
            .map(|d| {
                (
                    d.name.to_string(),
                    d.version.to_string(),
                    d.installer.clone(),
                    d.has_record,
                    d.kind,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "foo-bar".to_string(),
                    "1.0".to_string(),
                    Some("pip".to_string()),
                    true,
                    InstalledKind::DistInfo
                ),
                (
                    "old".to_string(),
                    "0.1".to_string(),
                    None,
                    false,
                    InstalledKind::EggInfo
                ),
                (
                    "single".to_string(),
                    "2.0".to_string(),
                    None,
                    false,
                    InstalledKind::EggInfo
                ),
            ]
        );
        let broken: Vec<&Path> = found.broken.iter().map(|b| b.path.as_path()).collect();
        assert_eq!(
            broken,
            [site.join("broken-1.0.dist-info"), site.join("nometa-1.0.dist-info")]
        );
        assert!(installed(&site.join("missing")).unwrap().distributions.is_empty());
    }
}
