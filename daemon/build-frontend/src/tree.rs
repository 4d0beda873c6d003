//! A source tree, as a PEP 517 frontend reads it before building anything: the build system
//! (`[build-system]` of `pyproject.toml`, else setuptools' legacy backend for a `setup.py`),
//! the metadata when the standards let it be read without a build, and a fingerprint of the
//! files that decide that metadata.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use axle_standards::{Metadata, PyProject, Requirement, parse_requirement};
use sha2::{Digest, Sha256};

/// What pip and uv build a `setup.py` project with when it names no build system.
const LEGACY_REQUIRES: &str = "setuptools>=40.8.0";
const LEGACY_BACKEND: &str = "setuptools.build_meta:__legacy__";

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("{} is not a Python project: it has neither pyproject.toml nor setup.py", .0.display())]
    NotAProject(PathBuf),
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: {reason}", .path.display())]
    Invalid { path: PathBuf, reason: String },
}

/// A build backend: `module.path:object.path` (PEP 517).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Backend(pub String);

/// How a tree is built.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildSystem {
    /// `build-system.requires`.
    pub requires: Vec<Requirement>,
    pub backend: Backend,
    /// `build-system.backend-path`, relative to the tree: in-tree backends.
    pub backend_path: Vec<String>,
    /// No `build-backend` was named: setuptools' legacy backend stands in.
    pub legacy: bool,
}

#[derive(Debug, Clone)]
pub struct SourceTree {
    pub root: PathBuf,
    pub build_system: BuildSystem,
    /// The `[project]` table, when there is one.
    pub pyproject: Option<PyProject>,
}

impl SourceTree {
    /// Reads the tree at `root`.
    pub fn read(root: &Path) -> Result<SourceTree, TreeError> {
        let pyproject_path = root.join("pyproject.toml");
        let text = match std::fs::read_to_string(&pyproject_path) {
            Ok(text) => Some(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(TreeError::Read {
                    path: pyproject_path,
                    source,
                });
            }
        };
        let has_setup_py = root.join("setup.py").is_file();
        let Some(text) = text else {
            if !has_setup_py {
                return Err(TreeError::NotAProject(root.to_path_buf()));
            }
            return Ok(SourceTree {
                root: root.to_path_buf(),
                build_system: legacy(Vec::new())?,
                pyproject: None,
            });
        };
        let invalid = |reason: String| TreeError::Invalid {
            path: pyproject_path.clone(),
            reason,
        };
        let table: toml::Table = toml::from_str(&text).map_err(|error| invalid(error.message().to_string()))?;
        let build_system = match table.get("build-system") {
            None => legacy(Vec::new())?,
            Some(value) => {
                let system = value
                    .as_table()
                    .ok_or_else(|| invalid("`build-system` is not a table".to_string()))?;
                let requires = match system.get("requires") {
                    Some(requires) => strings(requires, "build-system.requires").map_err(invalid)?,
                    None => {
                        return Err(invalid(
                            "`build-system` has no `requires` (PEP 518 makes it mandatory)".into(),
                        ));
                    }
                };
                let mut parsed = Vec::with_capacity(requires.len());
                for text in &requires {
                    let requirement = parse_requirement(text)
                        .map_err(|error| invalid(format!("`build-system.requires` entry `{text}`: {error}")))?;
                    parsed.push(requirement);
                }
                let backend_path = match system.get("backend-path") {
                    Some(paths) => strings(paths, "build-system.backend-path").map_err(invalid)?,
                    None => Vec::new(),
                };
                for path in &backend_path {
                    if Path::new(path).is_absolute()
                        || Path::new(path).components().any(|part| part.as_os_str() == "..")
                    {
                        return Err(invalid(format!(
                            "`build-system.backend-path` entry `{path}` is outside the project (PEP 517 requires it inside)"
                        )));
                    }
                }
                match system.get("build-backend") {
                    Some(backend) => {
                        let backend = backend
                            .as_str()
                            .ok_or_else(|| invalid("`build-system.build-backend` is not a string".into()))?;
                        BuildSystem {
                            requires: parsed,
                            backend: Backend(backend.trim().to_string()),
                            backend_path,
                            legacy: false,
                        }
                    }
                    // setuptools also builds `setup.cfg`-only projects this way.
                    None => legacy(parsed)?,
                }
            }
        };
        let pyproject = if table.contains_key("project") {
            Some(PyProject::parse(&pyproject_path, &text).map_err(|error| invalid(error.to_string()))?)
        } else {
            None
        };
        Ok(SourceTree {
            root: root.to_path_buf(),
            build_system,
            pyproject,
        })
    }

    /// The metadata, when it can be known without running the backend: an sdist's `PKG-INFO`
    /// that PEP 643 makes final, or a `[project]` table without dynamic dependencies.
    pub fn static_metadata(&self) -> Option<Metadata> {
        if let Ok(bytes) = std::fs::read(self.root.join("PKG-INFO"))
            && let Ok(metadata) = Metadata::parse_bytes(&bytes)
            && metadata.is_static_for_resolution()
        {
            return Some(metadata);
        }
        self.pyproject.as_ref()?.project.as_ref()?.static_metadata()
    }

    /// A digest of what decides this tree's metadata and build: `pyproject.toml`, `setup.py`,
    /// `setup.cfg`, `PKG-INFO`, and the files where projects keep a dynamic version
    /// (`__init__.py`, `_version.py`, `version.py`, `__about__.py`, `VERSION`). Editing code
    /// elsewhere leaves it unchanged, so an editable install is not rebuilt for every edit;
    /// changing a dependency or a version changes it.
    pub fn fingerprint(root: &Path) -> String {
        const DECIDING: [&str; 4] = ["pyproject.toml", "setup.py", "setup.cfg", "PKG-INFO"];
        const VERSION_FILES: [&str; 5] = ["__init__.py", "_version.py", "version.py", "__about__.py", "VERSION"];
        const SKIPPED: [&str; 14] = [
            ".git",
            ".hg",
            ".svn",
            ".venv",
            "venv",
            "node_modules",
            "__pycache__",
            "build",
            "dist",
            ".tox",
            ".nox",
            ".mypy_cache",
            ".pytest_cache",
            "target",
        ];
        let mut hasher = Sha256::new();
        for name in DECIDING {
            hash_file(&mut hasher, root, Path::new(name));
        }
        // Version files sit in the package, at most a few levels down; the walk is bounded so
        // that a huge tree costs a bounded number of `stat`s.
        let mut pending = vec![(PathBuf::new(), 0usize)];
        let mut visited = 0usize;
        let mut found = Vec::new();
        while let Some((relative, depth)) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(root.join(&relative)) else {
                continue;
            };
            for entry in entries.flatten() {
                visited += 1;
                if visited > 20_000 {
                    break;
                }
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let path = relative.join(name.as_ref());
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    let skipped =
                        SKIPPED.contains(&name.as_ref()) || name.ends_with(".egg-info") || name.starts_with('.');
                    if depth < 4 && !skipped {
                        pending.push((path, depth + 1));
                    }
                } else if VERSION_FILES.contains(&name.as_ref()) {
                    found.push(path);
                }
            }
        }
        found.sort();
        for path in found {
            hash_file(&mut hasher, root, &path);
        }
        hex::encode(hasher.finalize())
    }
}

fn hash_file(hasher: &mut Sha256, root: &Path, relative: &Path) {
    hasher.update(relative.as_os_str().as_encoded_bytes());
    hasher.update([0]);
    match std::fs::read(root.join(relative)) {
        Ok(bytes) => {
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(&bytes);
        }
        Err(_) => hasher.update(u64::MAX.to_le_bytes()),
    }
}

fn legacy(requires: Vec<Requirement>) -> Result<BuildSystem, TreeError> {
    let requires = if requires.is_empty() {
        let default = Requirement::from_str(LEGACY_REQUIRES).map_err(|error| TreeError::Invalid {
            path: PathBuf::from("setup.py"),
            reason: error.to_string(),
        })?;
        vec![default]
    } else {
        requires
    };
    Ok(BuildSystem {
        requires,
        backend: Backend(LEGACY_BACKEND.to_string()),
        backend_path: Vec::new(),
        legacy: true,
    })
}

fn strings(value: &toml::Value, key: &str) -> Result<Vec<String>, String> {
    let array = value.as_array().ok_or_else(|| format!("`{key}` is not a list"))?;
    array
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("`{key}` holds something that is not a string"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<SourceTree, TreeError>) {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        let read = SourceTree::read(dir.path());
        (dir, read)
    }

    #[test]
    fn build_systems_as_pip_reads_them() {
        type Files<'a> = &'a [(&'a str, &'a str)];
        type Expected<'a> = Result<(&'a str, &'a [&'a str], bool), &'a str>;
        let cases: [(Files<'_>, Expected<'_>); 6] = [
            (
                &[(
                    "pyproject.toml",
                    "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n",
                )],
                Ok(("hatchling.build", &["hatchling"], false)),
            ),
            (&[("setup.py", "")], Ok((LEGACY_BACKEND, &[LEGACY_REQUIRES], true))),
            (
                &[
                    ("setup.py", ""),
                    (
                        "pyproject.toml",
                        "[build-system]\nrequires = [\"setuptools<70\", \"wheel\"]\n",
                    ),
                ],
                Ok((LEGACY_BACKEND, &["setuptools<70", "wheel"], true)),
            ),
            (
                &[("setup.py", ""), ("pyproject.toml", "[tool.black]\nline-length = 99\n")],
                Ok((LEGACY_BACKEND, &[LEGACY_REQUIRES], true)),
            ),
            (&[("README", "")], Err("neither pyproject.toml nor setup.py")),
            (
                &[("pyproject.toml", "[build-system]\nbuild-backend = \"x\"\n")],
                Err("has no `requires`"),
            ),
        ];
        for (files, expected) in cases {
            let (_dir, read) = tree(files);
            match (read, expected) {
                (Ok(tree), Ok((backend, requires, legacy))) => {
                    assert_eq!(tree.build_system.backend.0, backend, "{files:?}");
                    let found: Vec<String> = tree.build_system.requires.iter().map(ToString::to_string).collect();
                    assert_eq!(found, requires, "{files:?}");
                    assert_eq!(tree.build_system.legacy, legacy, "{files:?}");
                }
                (Err(error), Err(text)) => assert!(error.to_string().contains(text), "{error}"),
                (other, _) => panic!("{files:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn backend_paths_stay_inside() {
        let (_dir, read) = tree(&[(
            "pyproject.toml",
            "[build-system]\nrequires = []\nbuild-backend = \"b\"\nbackend-path = [\"../elsewhere\"]\n",
        )]);
        assert!(read.unwrap_err().to_string().contains("outside the project"));
    }

    #[test]
    fn static_metadata_from_pkg_info_or_project_table() {
        let pkg_info = "Metadata-Version: 2.2\nName: a\nVersion: 1.0\nRequires-Dist: b\n";
        let (_dir, read) = tree(&[("setup.py", ""), ("PKG-INFO", pkg_info)]);
        let metadata = read.unwrap().static_metadata().unwrap();
        assert_eq!(metadata.requires_dist.len(), 1);

        let old = "Metadata-Version: 2.1\nName: a\nVersion: 1.0\n";
        let (_dir, read) = tree(&[("setup.py", ""), ("PKG-INFO", old)]);
        assert!(read.unwrap().static_metadata().is_none());

        let project = "[project]\nname = \"a\"\nversion = \"2\"\ndependencies = [\"c\"]\n[build-system]\nrequires = []\nbuild-backend = \"b\"\n";
        let (_dir, read) = tree(&[("pyproject.toml", project)]);
        assert_eq!(read.unwrap().static_metadata().unwrap().version.to_string(), "2");
    }

    #[test]
    fn fingerprints_follow_metadata_files_not_code() {
        let (dir, _) = tree(&[
            ("pyproject.toml", "[project]\nname = \"a\"\ndynamic = [\"version\"]\n"),
            ("src/a/__init__.py", "__version__ = '1'\n"),
            ("src/a/code.py", "x = 1\n"),
        ]);
        let first = SourceTree::fingerprint(dir.path());
        std::fs::write(dir.path().join("src/a/code.py"), "x = 2\n").unwrap();
        assert_eq!(SourceTree::fingerprint(dir.path()), first);
        std::fs::write(dir.path().join("src/a/__init__.py"), "__version__ = '2'\n").unwrap();
        assert_ne!(SourceTree::fingerprint(dir.path()), first);
    }
}
