//! Projects as an editor sees them: a directory whose inputs are locked into a lock file that
//! a venv is synced from, and where each of those stands.
//!
//! A project is what the last `axle lock` and `axle sync` run from its directory used, which
//! [`Projects`] remembers (in memory, whole requests; in the database, the paths and what the
//! inputs held); otherwise pip-tools' conventions (`requirements.in` or `pyproject.toml` →
//! `requirements.txt`, `$VIRTUAL_ENV` or `.venv`). Whether the lock is fresh is answered from
//! what was remembered plus a `stat` per file; whether the venv matches is sync's question
//! (`sync::drift`).

mod environments;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::context::Invocation;
use crate::db::{self, DbError, Pool};
use crate::fingerprint::Seen;
use crate::lock::{LockOutcome, LockRequest};
use crate::sync::SyncRequest;

pub use environments::{EnvironmentInfo, PackageInfo, environments, last_sync_locks, packages};

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{} does not exist", .0.display())]
    Missing(PathBuf),
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("cannot read {}: {source}", .path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error(
        "{} holds no project: no requirements.in, pyproject.toml or requirements.txt, and no `axle lock` was run there",
        .0.display()
    )]
    NoProject(PathBuf),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("a project task stopped unexpectedly: {0}")]
    Task(String),
}

/// Whether a lock holds for its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    Fresh,
    Stale,
    Missing,
}

impl LockState {
    pub fn as_str(self) -> &'static str {
        match self {
            LockState::Fresh => "fresh",
            LockState::Stale => "stale",
            LockState::Missing => "missing",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockStatus {
    pub state: LockState,
    pub inputs: Vec<PathBuf>,
    pub lock_file: PathBuf,
    /// Inputs (or the lock itself) changed since the lock was made.
    pub changed: Vec<PathBuf>,
    /// The answer comes from the last `axle lock` run here, not from conventions.
    pub remembered: bool,
}

/// Whether a venv holds what its locks name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VenvState {
    InSync,
    Drifted,
    Missing,
    /// There is no lock to compare the venv with.
    Unknown,
}

impl VenvState {
    pub fn as_str(self) -> &'static str {
        match self {
            VenvState::InSync => "in-sync",
            VenvState::Drifted => "drifted",
            VenvState::Missing => "missing",
            VenvState::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenvStatus {
    pub state: VenvState,
    pub path: PathBuf,
    /// `bin/python` as it is (its symlink not followed).
    pub python: PathBuf,
    pub lock_files: Vec<PathBuf>,
    /// Locked but not installed (`name==version`).
    pub missing: Vec<String>,
    /// Installed but not locked.
    pub extra: Vec<String>,
    /// Installed at another version or from another source (`name: installed -> locked`).
    pub changed: Vec<String>,
    /// Why the state is what it is, when that is not obvious.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectStatus {
    pub dir: PathBuf,
    pub lock: LockStatus,
    pub venv: VenvStatus,
}

/// What the last lock from a directory used.
#[derive(Debug, Clone)]
struct Locked {
    /// The whole request, while the daemon runs (it holds the client's environment, index
    /// credentials included, so it is never written to disk).
    request: Option<LockRequest>,
    lock_file: PathBuf,
    inputs: Vec<Seen>,
    lock: Seen,
}

/// What the last sync from a directory used.
#[derive(Debug, Clone)]
struct Synced {
    request: Option<SyncRequest>,
    venv: PathBuf,
    lock_files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Default)]
struct Record {
    locked: Option<Locked>,
    synced: Option<Synced>,
}

/// Where a project's parts are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub dir: PathBuf,
    pub inputs: Vec<PathBuf>,
    pub lock_file: PathBuf,
    pub venv: PathBuf,
    pub lock_files: Vec<PathBuf>,
}

pub struct Projects {
    pool: Pool,
    memory: Mutex<HashMap<PathBuf, Record>>,
}

impl Projects {
    pub fn new(pool: Pool) -> Projects {
        Projects {
            pool,
            memory: Mutex::new(HashMap::new()),
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Record>> {
        self.memory.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remembers a lock that was written, with what its inputs held when it was read.
    pub async fn remember_lock(&self, request: &LockRequest, outcome: &LockOutcome) -> Result<(), ProjectError> {
        let dir = request.invocation.cwd.clone();
        let (inputs, lock) = {
            let files = outcome.input_files.clone();
            let output = outcome.output_file.clone();
            tokio::task::spawn_blocking(move || {
                (
                    files.iter().map(|file| Seen::now(file)).collect::<Vec<_>>(),
                    Seen::now(&output),
                )
            })
            .await
            .map_err(|error| ProjectError::Task(error.to_string()))?
        };
        let inputs_json = serde_json::to_string(&inputs).unwrap_or_else(|_| "[]".to_string());
        sqlx::query(
            "INSERT INTO projects (dir, lock_file, inputs_json, lock_identity, lock_sha256, locked_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (dir) DO UPDATE SET lock_file = excluded.lock_file, inputs_json = excluded.inputs_json,
                lock_identity = excluded.lock_identity, lock_sha256 = excluded.lock_sha256,
                locked_at = excluded.locked_at",
        )
        .bind(dir.to_string_lossy())
        .bind(outcome.output_file.to_string_lossy())
        .bind(inputs_json)
        .bind(&lock.identity)
        .bind(&lock.sha256)
        .bind(db::now())
        .execute(&self.pool)
        .await
        .map_err(DbError::from)?;
        self.memory().entry(dir).or_default().locked = Some(Locked {
            request: Some(request.clone()),
            lock_file: outcome.output_file.clone(),
            inputs,
            lock,
        });
        Ok(())
    }

    /// Remembers a sync that finished.
    pub async fn remember_sync(
        &self,
        request: &SyncRequest,
        venv: &Path,
        lock_files: &[PathBuf],
    ) -> Result<(), ProjectError> {
        let dir = request.invocation.cwd.clone();
        let lock_files_json = serde_json::to_string(lock_files).unwrap_or_else(|_| "[]".to_string());
        sqlx::query(
            "INSERT INTO projects (dir, venv, lock_files_json, synced_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (dir) DO UPDATE SET venv = excluded.venv, lock_files_json = excluded.lock_files_json,
                synced_at = excluded.synced_at",
        )
        .bind(dir.to_string_lossy())
        .bind(venv.to_string_lossy())
        .bind(lock_files_json)
        .bind(db::now())
        .execute(&self.pool)
        .await
        .map_err(DbError::from)?;
        self.memory().entry(dir).or_default().synced = Some(Synced {
            request: Some(request.clone()),
            venv: venv.to_path_buf(),
            lock_files: lock_files.to_vec(),
        });
        Ok(())
    }

    async fn record(&self, dir: &Path) -> Result<Record, ProjectError> {
        if let Some(record) = self.memory().get(dir) {
            return Ok(record.clone());
        }
        type Row = (
            Option<String>,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT lock_file, inputs_json, lock_identity, lock_sha256, venv, lock_files_json FROM projects WHERE dir = ?",
        )
        .bind(dir.to_string_lossy())
        .fetch_optional(&self.pool)
        .await
        .map_err(DbError::from)?;
        let mut record = Record::default();
        if let Some((lock_file, inputs_json, lock_identity, lock_sha256, venv, lock_files_json)) = row {
            if let Some(lock_file) = lock_file.map(PathBuf::from) {
                record.locked = Some(Locked {
                    request: None,
                    inputs: serde_json::from_str(&inputs_json).unwrap_or_default(),
                    lock: Seen {
                        path: lock_file.clone(),
                        identity: lock_identity,
                        sha256: lock_sha256,
                    },
                    lock_file,
                });
            }
            if let Some(venv) = venv.map(PathBuf::from) {
                record.synced = Some(Synced {
                    request: None,
                    venv,
                    lock_files: serde_json::from_str(&lock_files_json).unwrap_or_default(),
                });
            }
        }
        self.memory().insert(dir.to_path_buf(), record.clone());
        Ok(record)
    }

    /// Where the project in `dir` keeps its parts.
    pub async fn layout(&self, dir: &Path, invocation: &Invocation) -> Result<Layout, ProjectError> {
        check_dir(dir)?;
        let record = self.record(dir).await?;
        let mut layout = layout_of(dir, &record, invocation)?;
        // No sync from this directory on record: the venv's own last sync (run from
        // elsewhere, or before the project's) says which locks it holds, rather than the
        // conventions.
        if record.synced.is_none()
            && let Some(lock_files) = last_sync_locks(&self.pool, &layout.venv).await?
        {
            layout.lock_files = lock_files;
        }
        Ok(layout)
    }

    /// The lock request to run again in `dir`: the last one made there, else pip-compile's
    /// defaults from `invocation`.
    pub async fn lock_request(&self, dir: &Path, invocation: &Invocation) -> Result<(LockRequest, bool), ProjectError> {
        let record = self.record(dir).await?;
        if let Some(request) = record.locked.and_then(|locked| locked.request) {
            return Ok((request, true));
        }
        let mut invocation = invocation.clone();
        invocation.cwd = dir.to_path_buf();
        Ok((
            LockRequest {
                invocation,
                ..LockRequest::default()
            },
            false,
        ))
    }

    /// The sync request to run again for the project laid out as `layout`: the last one made
    /// from its directory while the daemon runs, else one for the layout's venv and locks
    /// (remembered, or the conventions).
    pub async fn sync_request(&self, layout: &Layout, invocation: &Invocation) -> Result<SyncRequest, ProjectError> {
        let record = self.record(&layout.dir).await?;
        if let Some(request) = record.synced.and_then(|synced| synced.request) {
            return Ok(request);
        }
        let mut invocation = invocation.clone();
        invocation.cwd = layout.dir.clone();
        Ok(SyncRequest {
            invocation,
            lock_files: layout
                .lock_files
                .iter()
                .map(|file| file.to_string_lossy().into_owned())
                .collect(),
            venv: Some(layout.venv.to_string_lossy().into_owned()),
            ..SyncRequest::default()
        })
    }

    /// Whether the lock in `dir` holds for its inputs: a `stat` per remembered file, a read
    /// only of files whose identity changed.
    pub async fn lock_status(&self, layout: &Layout) -> Result<LockStatus, ProjectError> {
        let record = self.record(&layout.dir).await?;
        let layout = layout.clone();
        let status = tokio::task::spawn_blocking(move || lock_status(&layout, record.locked.as_ref()))
            .await
            .map_err(|error| ProjectError::Task(error.to_string()))?;
        Ok(status)
    }

    /// Every directory a lock or sync was run from, with its venv.
    pub async fn venv_projects(&self) -> Result<HashMap<PathBuf, PathBuf>, ProjectError> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT venv, dir FROM projects WHERE venv IS NOT NULL")
            .fetch_all(&self.pool)
            .await
            .map_err(DbError::from)?;
        Ok(rows
            .into_iter()
            .map(|(venv, dir)| (PathBuf::from(venv), PathBuf::from(dir)))
            .collect())
    }
}

fn check_dir(dir: &Path) -> Result<(), ProjectError> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(ProjectError::NotADirectory(dir.to_path_buf())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(ProjectError::Missing(dir.to_path_buf()));
        }
        Err(source) => {
            return Err(ProjectError::Unreadable {
                path: dir.to_path_buf(),
                source,
            });
        }
    }
    std::fs::read_dir(dir).map_err(|source| ProjectError::Unreadable {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(())
}

fn layout_of(dir: &Path, record: &Record, invocation: &Invocation) -> Result<Layout, ProjectError> {
    let (inputs, lock_file) = match &record.locked {
        Some(locked) => (
            locked.inputs.iter().map(|seen| seen.path.clone()).collect(),
            locked.lock_file.clone(),
        ),
        None => {
            let input = ["requirements.in", "pyproject.toml"]
                .into_iter()
                .map(|name| dir.join(name))
                .find(|path| path.is_file());
            let lock_file = dir.join("requirements.txt");
            if input.is_none() && !lock_file.is_file() {
                return Err(ProjectError::NoProject(dir.to_path_buf()));
            }
            (input.into_iter().collect(), lock_file)
        }
    };
    let (venv, lock_files) = match &record.synced {
        Some(synced) => (synced.venv.clone(), synced.lock_files.clone()),
        None => {
            let venv = invocation
                .var("VIRTUAL_ENV")
                .map(|active| invocation.absolute(active))
                .filter(|active| active.starts_with(dir))
                .unwrap_or_else(|| dir.join(".venv"));
            (venv, vec![lock_file.clone()])
        }
    };
    Ok(Layout {
        dir: dir.to_path_buf(),
        inputs,
        lock_file,
        venv,
        lock_files,
    })
}

fn lock_status(layout: &Layout, locked: Option<&Locked>) -> LockStatus {
    let mut status = LockStatus {
        state: LockState::Fresh,
        inputs: layout.inputs.clone(),
        lock_file: layout.lock_file.clone(),
        changed: Vec::new(),
        remembered: locked.is_some(),
    };
    if !layout.lock_file.is_file() {
        status.state = LockState::Missing;
        return status;
    }
    match locked {
        Some(locked) => {
            status.changed = locked
                .inputs
                .iter()
                .filter(|seen| !seen.unchanged())
                .map(|seen| seen.path.clone())
                .collect();
            if !locked.lock.unchanged() {
                status.changed.push(locked.lock_file.clone());
            }
        }
        // Never locked here by axle: make's rule, an input newer than the lock.
        None => {
            let modified = |path: &Path| std::fs::metadata(path).and_then(|meta| meta.modified()).ok();
            let lock_time = modified(&layout.lock_file);
            status.changed = layout
                .inputs
                .iter()
                .filter(|input| modified(input) > lock_time)
                .cloned()
                .collect();
        }
    }
    if !status.changed.is_empty() {
        status.state = LockState::Stale;
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(dir: &Path) -> Invocation {
        Invocation {
            cwd: dir.to_path_buf(),
            ..Invocation::default()
        }
    }

    #[test]
    fn conventions_name_the_parts_and_an_empty_directory_is_no_project() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let none = layout_of(root, &Record::default(), &invocation(root));
        assert!(matches!(none, Err(ProjectError::NoProject(_))));
        std::fs::write(root.join("pyproject.toml"), "[project]\nname='x'\n").expect("write");
        std::fs::write(root.join("requirements.in"), "six\n").expect("write");
        let layout = layout_of(root, &Record::default(), &invocation(root)).expect("a project");
        assert_eq!(layout.inputs, vec![root.join("requirements.in")]);
        assert_eq!(layout.lock_file, root.join("requirements.txt"));
        assert_eq!(layout.venv, root.join(".venv"));
        assert_eq!(layout.lock_files, vec![root.join("requirements.txt")]);
    }

    #[test]
    fn without_a_remembered_lock_an_input_newer_than_the_lock_makes_it_stale() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::write(root.join("requirements.in"), "six\n").expect("write");
        let layout = layout_of(root, &Record::default(), &invocation(root)).expect("a project");
        assert_eq!(lock_status(&layout, None).state, LockState::Missing);
        std::fs::write(root.join("requirements.txt"), "six==1.16.0\n").expect("write");
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        let input = std::fs::File::options()
            .write(true)
            .open(root.join("requirements.in"))
            .expect("open");
        input.set_modified(old).expect("set mtime");
        assert_eq!(lock_status(&layout, None).state, LockState::Fresh);
        std::fs::write(root.join("requirements.in"), "six\nattrs\n").expect("write");
        let status = lock_status(&layout, None);
        assert_eq!(status.state, LockState::Stale);
        assert_eq!(status.changed, vec![root.join("requirements.in")]);
    }

    #[test]
    fn a_remembered_lock_is_stale_when_an_input_or_the_lock_itself_changed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::write(root.join("requirements.in"), "six\n").expect("write");
        std::fs::write(root.join("requirements.txt"), "six==1.16.0\n").expect("write");
        let locked = Locked {
            request: None,
            lock_file: root.join("requirements.txt"),
            inputs: vec![Seen::now(&root.join("requirements.in"))],
            lock: Seen::now(&root.join("requirements.txt")),
        };
        let record = Record {
            locked: Some(locked.clone()),
            synced: None,
        };
        let layout = layout_of(root, &record, &invocation(root)).expect("a project");
        let status = lock_status(&layout, Some(&locked));
        assert_eq!((status.state, status.remembered), (LockState::Fresh, true));
        std::fs::write(root.join("requirements.txt"), "six==1.17.0\n").expect("write");
        let status = lock_status(&layout, Some(&locked));
        assert_eq!(status.changed, vec![root.join("requirements.txt")]);
        std::fs::write(root.join("requirements.txt"), "six==1.16.0\n").expect("write");
        std::fs::write(root.join("requirements.in"), "six>=1\n").expect("write");
        let status = lock_status(&layout, Some(&locked));
        assert_eq!(status.state, LockState::Stale);
        assert_eq!(status.changed, vec![root.join("requirements.in")]);
    }
}
