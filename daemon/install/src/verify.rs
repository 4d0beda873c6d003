//! Checking installed files against their RECORD, and putting a verified store object back in
//! place of a file that no longer matches: the filesystem half of `axle store verify`.
//!
//! A venv's files are hard links to store objects, so an edit made through one venv (root, or
//! after a `chmod`, gets past the objects' read-only mode) changes the object and every venv
//! that links it. These functions find such files by their RECORD hashes and relink them; what
//! to check and where good copies come from is the daemon's business.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use crate::record::Record;

/// A file of an installed distribution that does not match its RECORD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    /// The file, absolute.
    pub path: PathBuf,
    /// The hex SHA-256 RECORD promises.
    pub expected: String,
    /// What the file hashes to; `None` when it is missing.
    pub actual: Option<String>,
    /// Whether the file is executable (which store object variant it should be).
    pub executable: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: {reason}", path.display())]
    Record { path: PathBuf, reason: String },
}

/// Checks every file `dist_info/RECORD` lists with a SHA-256 against its hash. Paths are
/// relative to `site_packages`; one that would leave `root` (the environment) is skipped,
/// since nothing outside the environment is axle's to judge or mend.
pub fn check_distribution(
    root: &Path,
    site_packages: &Path,
    dist_info: &Path,
) -> Result<Vec<FileProblem>, VerifyError> {
    let record_path = dist_info.join("RECORD");
    let text = fs::read_to_string(&record_path).map_err(|source| VerifyError::Io {
        path: record_path.clone(),
        source,
    })?;
    let record = Record::parse(&text).map_err(|error| VerifyError::Record {
        path: record_path.clone(),
        reason: error.to_string(),
    })?;
    let mut problems = Vec::new();
    for entry in record.entries() {
        let Some(expected) = entry.sha256_hex() else {
            continue;
        };
        let Some(path) = inside(root, &site_packages.join(&entry.path)) else {
            continue;
        };
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                problems.push(FileProblem {
                    path,
                    expected,
                    actual: None,
                    executable: false,
                });
                continue;
            }
            Err(source) => return Err(VerifyError::Io { path, source }),
        };
        if !meta.is_file() {
            continue;
        }
        let actual = hash_file(&path)?;
        if actual != expected {
            problems.push(FileProblem {
                executable: meta.permissions().mode() & 0o111 != 0,
                path,
                expected,
                actual: Some(actual),
            });
        }
    }
    Ok(problems)
}

/// The hex SHA-256 of a file's content.
pub fn hash_file(path: &Path) -> Result<String, VerifyError> {
    let io = |source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    crate::objects::hash_reader(&mut file).map_err(io)
}

/// Replaces the file at `target` by a hard link to `object` (a verified store object): linked
/// beside it, then renamed over it, so the file is never absent.
pub fn relink(object: &Path, target: &Path) -> Result<(), VerifyError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| VerifyError::Io { path, source }
    };
    let parent = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = parent.join(format!(".axle-relink-{}-{name}", std::process::id()));
    let _ = fs::remove_file(&temp);
    fs::hard_link(object, &temp).map_err(io(&temp))?;
    if let Err(source) = fs::rename(&temp, target) {
        let _ = fs::remove_file(&temp);
        return Err(VerifyError::Io {
            path: target.to_path_buf(),
            source,
        });
    }
    Ok(())
}

/// `path` with `.` and `..` resolved lexically, if it stays inside `root`.
fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out.starts_with(root).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_inside_the_environment_are_checked() {
        let root = Path::new("/env");
        let cases = [
            ("/env/lib/site-packages/a.py", Some("/env/lib/site-packages/a.py")),
            ("/env/lib/site-packages/../../bin/tool", Some("/env/bin/tool")),
            ("/env/lib/site-packages/../../../etc/passwd", None),
            (
                "/env/lib/site-packages/./b/../c.py",
                Some("/env/lib/site-packages/c.py"),
            ),
        ];
        for (path, expected) in cases {
            assert_eq!(
                inside(root, Path::new(path)).as_deref(),
                expected.map(Path::new),
                "{path}"
            );
        }
    }

    #[test]
    fn a_changed_file_is_found_and_relinked_to_a_good_copy() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let site = root.join("lib/site-packages");
        let dist_info = site.join("demo-1.0.dist-info");
        fs::create_dir_all(&dist_info).unwrap();
        let good = b"print('good')\n";
        fs::write(site.join("demo.py"), b"print('evil')\n").unwrap();
        fs::write(site.join("same.py"), good).unwrap();
        let digest = |bytes: &[u8]| {
            use sha2::Digest;
            crate::record::sha256_field(&sha2::Sha256::digest(bytes))
        };
        fs::write(
            dist_info.join("RECORD"),
            format!(
                "demo.py,{},14\nsame.py,{},14\ngone.py,{},14\n../../../../outside.py,{},1\ndemo-1.0.dist-info/RECORD,,\n",
                digest(good),
                digest(good),
                digest(good),
                digest(good)
            ),
        )
        .unwrap();
        let problems = check_distribution(root, &site, &dist_info).unwrap();
        let paths: Vec<_> = problems.iter().map(|problem| problem.path.clone()).collect();
        assert_eq!(paths, [site.join("demo.py"), site.join("gone.py")]);
        assert!(problems[1].actual.is_none());

        let object = root.join("object");
        fs::write(&object, good).unwrap();
        relink(&object, &site.join("demo.py")).unwrap();
        assert_eq!(fs::read(site.join("demo.py")).unwrap(), good);
        assert!(
            check_distribution(root, &site, &dist_info)
                .unwrap()
                .iter()
                .all(|p| p.path != site.join("demo.py"))
        );
    }
}
