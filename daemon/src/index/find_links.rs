//! `--find-links` directories: every wheel and sdist in a local directory.
//!
//! pip ignores a find-links directory that does not exist (with a warning);
//! so does axle, since machines often carry a `PIP_FIND_LINKS` for a cache
//! that is not there.

use std::path::Path;

use url::Url;

use super::IndexError;
use super::simple::DistFile;

/// The distribution files directly in `dir` (file:// URLs, no hashes: local
/// files are hashed when a lock needs them).
pub fn directory(dir: &Path) -> Result<Vec<DistFile>, IndexError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            tracing::debug!(dir = %dir.display(), "find-links directory does not exist");
            return Ok(Vec::new());
        }
        Err(error) => {
            return Err(IndexError::Io {
                path: dir.display().to_string(),
                reason: error.to_string(),
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let Ok(filename) = entry.file_name().into_string() else {
            continue;
        };
        let is_dist = [".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz"]
            .iter()
            .any(|suffix| filename.ends_with(suffix));
        if !is_dist || !entry.file_type().is_ok_and(|kind| kind.is_file()) {
            continue;
        }
        let Ok(url) = Url::from_file_path(entry.path()) else {
            continue;
        };
        let mut file = DistFile::direct(filename, url.to_string(), None);
        file.size = entry.metadata().ok().map(|meta| meta.len());
        files.push(file);
    }
    files.sort_by(|a, b| a.filename.cmp(&b.filename));
    Ok(files)
}
