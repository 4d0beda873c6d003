//! Getting a source tree to build: an sdist downloaded (verified before it is unpacked) and
//! unpacked into a temporary directory; a project directory as it is (built in place, as pip
//! builds local projects); a Git commit checked out once.
//!
//! Each source has an identity, the first half of every cache key ([`Identity`]), found before
//! any build: an sdist's hash, a directory's path and fingerprint, a commit.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axle_build_frontend::{SourceTree, UnpackLimits};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use super::BuildService;
use crate::dist::{ArchiveSource, BuildContext, BuildError, SourceDist};
use crate::index::DistFile;

/// What identifies a source before it is built.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `sdist:<sha256>`, `dir:<path>:<fingerprint>`, `git:<repository>@<commit>/<subdirectory>`.
    pub key: String,
    pub sha256: Option<String>,
    pub commit: Option<String>,
}

/// A source tree ready to build; a temporary one is removed when this is dropped.
pub struct Tree {
    pub root: PathBuf,
    _temp: Option<TempDir>,
}

/// The identity of `source`: for an sdist of unknown hash, after fetching it; for a Git
/// reference, after resolving it.
pub async fn identify(
    service: &Arc<BuildService>,
    source: &SourceDist,
    context: &BuildContext,
) -> Result<Identity, BuildError> {
    match source {
        SourceDist::Archive(archive) => {
            let sha256 = match archive.sha256.as_slice() {
                [one] => one.clone(),
                _ => fetch_archive(service, archive, context).await?.1,
            };
            Ok(Identity {
                key: format!("sdist:{sha256}"),
                sha256: Some(sha256),
                commit: None,
            })
        }
        SourceDist::Directory { path, .. } => {
            let root = path.clone();
            let fingerprint = tokio::task::spawn_blocking(move || SourceTree::fingerprint(&root))
                .await
                .map_err(|error| BuildError::Source(error.to_string()))?;
            Ok(Identity {
                key: format!("dir:{}:{fingerprint}", path.display()),
                sha256: None,
                commit: None,
            })
        }
        SourceDist::Git(git) => {
            let commit = service.git.resolve(&service.home, git, &context.env).await?;
            Ok(Identity {
                key: format!(
                    "git:{}@{commit}/{}",
                    git.repository,
                    git.subdirectory.as_deref().unwrap_or("")
                ),
                sha256: None,
                commit: Some(commit),
            })
        }
    }
}

/// The tree of `source` at `identity`.
pub async fn materialize(
    service: &Arc<BuildService>,
    source: &SourceDist,
    identity: &Identity,
    context: &BuildContext,
) -> Result<Tree, BuildError> {
    match source {
        SourceDist::Archive(archive) => {
            let (path, _) = fetch_archive(service, archive, context).await?;
            let temp = service.scratch_dir("sdist-")?;
            let target = temp.path().join("src");
            let limits = UnpackLimits::default();
            let root = tokio::task::spawn_blocking(move || axle_build_frontend::unpack(&path, &target, limits))
                .await
                .map_err(|error| BuildError::Source(error.to_string()))?
                .map_err(|error| BuildError::Source(error.to_string()))?;
            Ok(Tree {
                root,
                _temp: Some(temp),
            })
        }
        SourceDist::Directory { path, .. } => {
            if !path.is_dir() {
                return Err(BuildError::Source(format!(
                    "the project directory {} does not exist",
                    path.display()
                )));
            }
            Ok(Tree {
                root: path.clone(),
                _temp: None,
            })
        }
        SourceDist::Git(git) => {
            let commit = identity.commit.as_deref().unwrap_or_default();
            let root = service.git.checkout(&service.home, git, commit, &context.env).await?;
            let project = super::git::project_dir(git, &root);
            if !project.is_dir() {
                return Err(BuildError::Source(format!(
                    "git repository {} has no directory `{}` at {commit}",
                    git.repository,
                    git.subdirectory.as_deref().unwrap_or("")
                )));
            }
            Ok(Tree {
                root: project,
                _temp: None,
            })
        }
    }
}

/// The sdist in axle's sdist cache (`$AXLE_HOME/sdists/<sha256>/<file>`), downloaded and
/// verified when it is not there yet; its path and hash.
async fn fetch_archive(
    service: &Arc<BuildService>,
    archive: &ArchiveSource,
    context: &BuildContext,
) -> Result<(PathBuf, String), BuildError> {
    if !is_plain_archive_name(&archive.filename) {
        return Err(BuildError::Source(format!(
            "refusing the source distribution name `{}`: not a plain .tar.gz, .tgz, .tar or .zip file name",
            archive.filename.escape_debug()
        )));
    }
    let cache = service.home.join("sdists");
    for sha in &archive.sha256 {
        let cached = cache.join(sha).join(&archive.filename);
        if cached.is_file() && file_sha256(&cached).as_deref() == Some(sha.as_str()) {
            return Ok((cached, sha.clone()));
        }
    }
    let guard = service.parts.store.fetch_guard(&archive.url);
    let _held = guard.lock().await;
    let downloads = cache.join("downloads");
    let file = DistFile::direct(archive.filename.clone(), archive.url.clone(), None);
    let downloaded = service
        .parts
        .index
        .download(&file, &archive.sha256, &downloads, &context.fetch)
        .await?;
    let directory = cache.join(&downloaded.sha256);
    std::fs::create_dir_all(&directory).map_err(|error| io_error(&directory, error))?;
    let path = directory.join(&archive.filename);
    std::fs::rename(&downloaded.path, &path).map_err(|error| io_error(&path, error))?;
    Ok((path, downloaded.sha256))
}

fn file_sha256(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(hex::encode(Sha256::digest(&bytes)))
}

/// A name safe as one path component, of a format [`axle_build_frontend::unpack`] reads.
fn is_plain_archive_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_control)
        && [".tar.gz", ".tgz", ".tar", ".zip"]
            .iter()
            .any(|suffix| lower.ends_with(suffix))
}

fn io_error(path: &Path, error: std::io::Error) -> BuildError {
    BuildError::Source(format!("cannot write {}: {error}", path.display()))
}
