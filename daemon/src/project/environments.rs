//! The venvs the daemon knows and what each holds, as an editor lists them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use axle_standards::PackageName;

use super::ProjectError;
use crate::db::{DbError, Pool};

/// One venv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentInfo {
    pub path: PathBuf,
    /// `bin/python` as it is: editors show and run this path, not its target.
    pub python: PathBuf,
    /// The interpreter it was made from (`home` in pyvenv.cfg, with its executable when known).
    pub base_interpreter: String,
    pub python_version: String,
    /// The project directory that last synced it, if any.
    pub project: Option<PathBuf>,
    /// Bytes of its files (files linked from the store count in full).
    pub size_bytes: u64,
    /// When axle last synced it (seconds since the epoch).
    pub last_sync: Option<i64>,
    /// The lock files of its last sync by axle, whoever ran it (empty: none on record).
    pub lock_files: Vec<PathBuf>,
}

/// One distribution in a venv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageInfo {
    pub name: String,
    pub version: String,
    /// The project asked for it (its lock names it as coming from an input), rather than it
    /// coming as a dependency.
    pub requested: bool,
    pub editable: bool,
    /// The lock it was synced from, when axle synced the venv.
    pub lock_file: Option<PathBuf>,
}

/// Every venv axle created or synced that still exists, newest sync first.
pub async fn environments(
    pool: &Pool,
    projects: &HashMap<PathBuf, PathBuf>,
) -> Result<Vec<EnvironmentInfo>, ProjectError> {
    let created: Vec<(String, String, String)> =
        sqlx::query_as("SELECT path, interpreter_executable, python_version FROM venvs")
            .fetch_all(pool)
            .await
            .map_err(DbError::from)?;
    let synced: Vec<(String, i64, String)> = sqlx::query_as("SELECT venv, synced_at, lock_files_json FROM venv_sync")
        .fetch_all(pool)
        .await
        .map_err(DbError::from)?;
    /// Interpreter, version, last sync and its locks, as far as the database knows.
    type Known = (Option<String>, Option<String>, Option<i64>, Vec<PathBuf>);
    let mut known: BTreeMap<PathBuf, Known> = BTreeMap::new();
    for (path, interpreter, version) in created {
        let entry = known.entry(PathBuf::from(path)).or_default();
        entry.0 = Some(interpreter);
        entry.1 = Some(version);
    }
    for (path, synced_at, lock_files) in synced {
        let entry = known.entry(PathBuf::from(path)).or_default();
        entry.2 = Some(synced_at);
        entry.3 = serde_json::from_str(&lock_files).unwrap_or_default();
    }
    let projects = projects.clone();
    let mut found = tokio::task::spawn_blocking(move || {
        known
            .into_iter()
            .filter(|(path, _)| crate::venv::is_venv(path))
            .map(|(path, (interpreter, version, last_sync, lock_files))| {
                let config = pyvenv_cfg(&path);
                EnvironmentInfo {
                    python: path.join("bin").join("python"),
                    base_interpreter: interpreter.or_else(|| config.get("home").cloned()).unwrap_or_default(),
                    python_version: version
                        .or_else(|| config.get("version_info").or_else(|| config.get("version")).cloned())
                        .unwrap_or_default(),
                    project: projects.get(&path).cloned(),
                    size_bytes: tree_size(&path),
                    last_sync,
                    lock_files,
                    path,
                }
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|error| ProjectError::Task(error.to_string()))?;
    found.sort_by(|a, b| b.last_sync.cmp(&a.last_sync).then_with(|| a.path.cmp(&b.path)));
    Ok(found)
}

/// The lock files `venv` was last synced from, whoever synced it; `None` when no sync of it
/// is on record (or none that recorded its locks).
pub async fn last_sync_locks(pool: &Pool, venv: &Path) -> Result<Option<Vec<PathBuf>>, ProjectError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT lock_files_json FROM venv_sync WHERE venv = ?")
        .bind(venv.to_string_lossy())
        .fetch_optional(pool)
        .await
        .map_err(DbError::from)?;
    Ok(row
        .and_then(|(json,)| serde_json::from_str::<Vec<PathBuf>>(&json).ok())
        .filter(|files| !files.is_empty()))
}

/// The distributions in the venv whose site-packages is `site_packages`, with which of them
/// the lock `lock_file` names as requested by the project.
pub fn packages(site_packages: &Path, lock_file: Option<&Path>) -> Result<Vec<PackageInfo>, ProjectError> {
    let site = axle_install::installed(site_packages).map_err(|error| ProjectError::Unreadable {
        path: site_packages.to_path_buf(),
        source: error.source,
    })?;
    let requested = lock_file
        .and_then(|file| std::fs::read_to_string(file).ok())
        .map(|text| requested_in(&text))
        .unwrap_or_default();
    Ok(site
        .distributions
        .into_iter()
        .map(|dist| PackageInfo {
            requested: requested.contains(&dist.name)
                || dist.dist_info.join("REQUESTED").is_file() && lock_file.is_none(),
            editable: editable(&dist.dist_info),
            name: dist.name.to_string(),
            version: dist.version.to_string(),
            lock_file: lock_file.map(Path::to_path_buf),
        })
        .collect())
}

/// The pins of a pip-compile lock that an input asked for: annotated `via -r FILE` or via a
/// project file (`name (pyproject.toml)`), in either annotation style.
fn requested_in(lock: &str) -> HashSet<PackageName> {
    let mut requested = HashSet::new();
    let mut current: Option<PackageName> = None;
    for line in lock.lines() {
        let trimmed = line.trim();
        let via = if !line.starts_with([' ', '#', '-']) && !trimmed.is_empty() {
            let name: String = trimmed
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            current = name.parse().ok();
            // The line style keeps the annotation on the pin's line.
            match trimmed.split_once("# via ") {
                Some((_, via)) => via,
                None => continue,
            }
        } else {
            let Some(comment) = trimmed.strip_prefix('#') else {
                continue;
            };
            let comment = comment.trim();
            comment.strip_prefix("via").map(str::trim).unwrap_or(comment)
        };
        let direct = via.split(", ").any(|entry| {
            entry.starts_with("-r ")
                || [" (pyproject.toml)", " (setup.py)", " (setup.cfg)"]
                    .iter()
                    .any(|suffix| entry.ends_with(suffix))
        });
        if direct && let Some(name) = &current {
            requested.insert(name.clone());
        }
    }
    requested
}

fn editable(dist_info: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dist_info.join("direct_url.json")) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|value| value.get("dir_info")?.get("editable")?.as_bool())
        .unwrap_or(false)
}

fn pyvenv_cfg(root: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(root.join("pyvenv.cfg"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            Some((key.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

/// The bytes of the files under `root`, symlinks not followed.
fn tree_size(root: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                total += entry.metadata().map(|meta| meta.len()).unwrap_or(0);
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(set: HashSet<PackageName>) -> Vec<String> {
        let mut names: Vec<String> = set.into_iter().map(|name| name.to_string()).collect();
        names.sort();
        names
    }

    #[test]
    fn requested_pins_are_those_an_input_names_in_either_annotation_style() {
        let split = "\
# This file is autogenerated by pip-compile
anyio==4.4.0
    # via starlette
fastapi==0.115.0
    # via -r requirements.in
myproj-dep==1.0
    # via myproj (pyproject.toml)
starlette==0.38.6
    # via
    #   -r requirements.in
    #   fastapi
typing-extensions==4.12.2 \\
    --hash=sha256:abc
    # via
    #   fastapi
    #   pydantic
";
        assert_eq!(names(requested_in(split)), ["fastapi", "myproj-dep", "starlette"]);
        let line = "anyio==4.4.0  # via starlette\nsix==1.16.0  # via attrs, -r requirements.in\n";
        assert_eq!(names(requested_in(line)), ["six"]);
    }
}
