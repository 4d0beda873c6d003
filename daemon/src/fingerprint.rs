//! How the daemon tells that a file changed without reading it: its identity (device, inode,
//! size, modification time) while that holds, its SHA-256 when it does not.

use std::path::Path;

use sha2::{Digest, Sha256};

/// The file's identity, or `None` when it cannot be read.
pub fn identity(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(format!(
        "{}:{}:{}:{}.{}",
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec()
    ))
}

/// The hex SHA-256 of the file's bytes, or `None` when it cannot be read.
pub fn sha256(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(hex::encode(Sha256::digest(&bytes)))
}

/// A file as it was seen: where, its identity and its content's hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Seen {
    pub path: std::path::PathBuf,
    pub identity: Option<String>,
    pub sha256: Option<String>,
}

impl Seen {
    pub fn now(path: &Path) -> Seen {
        Seen {
            path: path.to_path_buf(),
            identity: identity(path),
            sha256: sha256(path),
        }
    }

    /// Whether the file still holds what was seen: a `stat` when its identity is unchanged,
    /// a read when it is not. A file that was missing and still is, is unchanged.
    pub fn unchanged(&self) -> bool {
        let now = identity(&self.path);
        if now == self.identity {
            return true;
        }
        now.is_some() && sha256(&self.path) == self.sha256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_touch_is_no_change_an_edit_is_and_a_deletion_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("requirements.in");
        std::fs::write(&path, "six\n").expect("write");
        let seen = Seen::now(&path);
        assert!(seen.unchanged());
        // Same bytes, new inode (an editor's save by rename).
        std::fs::write(dir.path().join("tmp"), "six\n").expect("write");
        std::fs::rename(dir.path().join("tmp"), &path).expect("rename");
        assert!(seen.unchanged());
        std::fs::write(&path, "six\nattrs\n").expect("write");
        assert!(!seen.unchanged());
        std::fs::remove_file(&path).expect("remove");
        assert!(!seen.unchanged());
        let missing = Seen::now(&path);
        assert!(missing.unchanged());
    }
}
