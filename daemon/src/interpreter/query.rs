//! Asking an interpreter about itself, once.
//!
//! Answers are cached in memory and in the `interpreters` table, keyed by the
//! path and valid while the file's identity (device, inode, size, mtime) is
//! unchanged: upgrading Python in place changes the identity and forces a new
//! query.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::InterpreterInfo;
use crate::db::{self, Pool};

const QUERY_SCRIPT: &str = include_str!("query.py");
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// The C library an interpreter is linked against (for manylinux/musllinux tags).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Libc {
    pub family: String,
    pub version: String,
}

impl Libc {
    /// `(major, minor)` of the version, e.g. glibc `2.36` → `(2, 36)`.
    pub fn major_minor(&self) -> Option<(u32, u32)> {
        let mut parts = self.version.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts
            .next()?
            .trim_end_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .ok()?;
        Some((major, minor))
    }
}

/// The PEP 508 marker environment, as the interpreter reports it.
pub use axle_standards::MarkerValues;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("cannot run it: {0}")]
    Spawn(std::io::Error),
    #[error("it did not answer within {} seconds", QUERY_TIMEOUT.as_secs())]
    Timeout,
    #[error("it exited with {status}: {stderr}")]
    Failed { status: String, stderr: String },
    #[error("its answer was not understood: {0}")]
    Parse(serde_json::Error),
    #[error("it does not exist")]
    Missing,
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

/// Identity of an executable file; a cached answer is valid while it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileIdentity(String);

impl FileIdentity {
    fn of(path: &Path) -> Option<FileIdentity> {
        let meta = std::fs::metadata(path).ok()?;
        Some(FileIdentity(format!(
            "{}:{}:{}:{}.{}",
            meta.dev(),
            meta.ino(),
            meta.size(),
            meta.mtime(),
            meta.mtime_nsec()
        )))
    }
}

/// The daemon's interpreter cache.
pub struct Interpreters {
    pool: Pool,
    memory: Mutex<HashMap<PathBuf, (FileIdentity, Arc<InterpreterInfo>)>>,
}

impl Interpreters {
    pub fn new(pool: Pool) -> Interpreters {
        Interpreters {
            pool,
            memory: Mutex::new(HashMap::new()),
        }
    }

    /// What the interpreter at `path` is, from memory, SQLite, or by running it.
    pub async fn query(&self, path: &Path) -> Result<Arc<InterpreterInfo>, QueryError> {
        let identity = FileIdentity::of(path).ok_or(QueryError::Missing)?;
        if let Some(info) = self.remembered(path, &identity) {
            return Ok(info);
        }
        let key = path.to_string_lossy().into_owned();
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT file_identity, info_json FROM interpreters WHERE path = ?")
                .bind(&key)
                .fetch_optional(&self.pool)
                .await
                .map_err(crate::db::DbError::from)?;
        if let Some((stored_identity, json)) = row
            && stored_identity == identity.0
            && let Ok(info) = serde_json::from_str::<InterpreterInfo>(&json)
        {
            return Ok(self.remember(path, identity, info));
        }

        let info = run_query(path).await?;
        let json = serde_json::to_string(&info).map_err(QueryError::Parse)?;
        sqlx::query(
            "INSERT INTO interpreters (path, file_identity, info_json, queried_at)
             VALUES (?, ?, ?, ?)
             ON CONFLICT (path) DO UPDATE SET
                file_identity = excluded.file_identity,
                info_json = excluded.info_json,
                queried_at = excluded.queried_at",
        )
        .bind(&key)
        .bind(&identity.0)
        .bind(&json)
        .bind(db::now())
        .execute(&self.pool)
        .await
        .map_err(crate::db::DbError::from)?;
        tracing::info!(path = %path.display(), version = %info.version, "queried interpreter");
        Ok(self.remember(path, identity, info))
    }

    /// The interpreter of the virtual environment at `root`, without running
    /// it: a venv's python is its base interpreter under another prefix, so
    /// the base's (cached) answer, moved to `root`, is the venv's.
    pub async fn query_environment(&self, root: &Path) -> Result<Arc<InterpreterInfo>, QueryError> {
        let python = root.join("bin").join("python");
        let base = match std::fs::canonicalize(&python) {
            Ok(real) if real.is_file() && !real.starts_with(root) => real,
            // A copied (not linked) interpreter: ask it directly.
            _ => return self.query(&python).await,
        };
        let base_info = self.query(&base).await?;
        let mut info = (*base_info).clone();
        info.executable = python;
        info.prefix = root.to_path_buf();
        Ok(Arc::new(info))
    }

    fn remembered(&self, path: &Path, identity: &FileIdentity) -> Option<Arc<InterpreterInfo>> {
        let memory = self.memory.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        memory
            .get(path)
            .filter(|(known, _)| known == identity)
            .map(|(_, info)| info.clone())
    }

    fn remember(&self, path: &Path, identity: FileIdentity, info: InterpreterInfo) -> Arc<InterpreterInfo> {
        let info = Arc::new(info);
        let mut memory = self.memory.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        memory.insert(path.to_path_buf(), (identity, info.clone()));
        info
    }
}

async fn run_query(path: &Path) -> Result<InterpreterInfo, QueryError> {
    let mut command = tokio::process::Command::new(path);
    // -I: ignore PYTHON* variables and the user site, so the answer describes
    // the interpreter itself and not the caller's shell.
    command
        .arg("-I")
        .arg("-c")
        .arg(QUERY_SCRIPT)
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(QUERY_TIMEOUT, command.output())
        .await
        .map_err(|_| QueryError::Timeout)?
        .map_err(QueryError::Spawn)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last_line = stderr.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("");
        return Err(QueryError::Failed {
            status: output.status.to_string(),
            stderr: last_line.trim().to_string(),
        });
    }
    serde_json::from_slice(&output.stdout).map_err(QueryError::Parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libc_versions() {
        let glibc = Libc {
            family: "glibc".into(),
            version: "2.36".into(),
        };
        assert_eq!(glibc.major_minor(), Some((2, 36)));
        let musl = Libc {
            family: "musl".into(),
            version: "1.2.4_git20230717".into(),
        };
        assert_eq!(musl.major_minor(), Some((1, 2)));
    }
}
