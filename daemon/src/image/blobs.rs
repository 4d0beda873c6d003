//! The image blob cache: `$AXLE_HOME/images/blobs/sha256/<hex>`, content-addressed like an OCI
//! layout's `blobs/`, holding base images' pulled blobs and the layers axle wrote, so that a
//! rebuild reads and writes nothing it already has. A blob enters by rename, after its bytes
//! were hashed; a name is never trusted for a blob whose bytes were not.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::ImageError;

#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
}

/// A blob's identity: `sha256:<hex>` and its size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobId {
    pub digest: String,
    pub size: u64,
}

impl BlobId {
    /// The hex part of the digest.
    pub fn hex(&self) -> &str {
        self.digest.strip_prefix("sha256:").unwrap_or(&self.digest)
    }
}

pub fn io_error(path: &Path, error: std::io::Error) -> ImageError {
    ImageError::Io {
        path: path.to_path_buf(),
        source: error,
    }
}

/// Whether `digest` is `sha256:` and 64 lower-case hex digits (the only digests taken).
pub fn valid_digest(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')))
}

impl Blobs {
    pub fn open(home: &Path) -> Result<Blobs, ImageError> {
        let root = home.join("images").join("blobs").join("sha256");
        std::fs::create_dir_all(&root).map_err(|error| io_error(&root, error))?;
        Ok(Blobs { root })
    }

    /// The file of `digest` (which may not be there).
    pub fn path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        if !valid_digest(digest) {
            return Err(ImageError::Invalid(format!("`{digest}` is no sha256 digest")));
        }
        Ok(self.root.join(&digest["sha256:".len()..]))
    }

    /// Whether the cache holds `blob` (by name and size; its bytes were hashed when it came).
    pub fn has(&self, blob: &BlobId) -> bool {
        self.path(&blob.digest)
            .ok()
            .and_then(|path| std::fs::metadata(path).ok())
            .is_some_and(|meta| meta.len() == blob.size)
    }

    /// A temporary directory beside the blobs (an archive unpacked), removed when dropped.
    pub fn scratch(&self) -> Result<tempfile::TempDir, ImageError> {
        tempfile::Builder::new()
            .prefix(".scratch-")
            .tempdir_in(&self.root)
            .map_err(|error| io_error(&self.root, error))
    }

    /// A temporary file beside the blobs, for a blob being written.
    pub fn temporary(&self) -> Result<tempfile::NamedTempFile, ImageError> {
        tempfile::Builder::new()
            .prefix(".incoming-")
            .tempfile_in(&self.root)
            .map_err(|error| io_error(&self.root, error))
    }

    /// Takes the finished temporary file as the blob whose bytes hash to `digest`.
    pub fn adopt(&self, file: tempfile::NamedTempFile, digest: &str) -> Result<PathBuf, ImageError> {
        let path = self.path(digest)?;
        file.persist(&path).map_err(|error| io_error(&path, error.error))?;
        Ok(path)
    }

    /// Stores `bytes` (a manifest, a config) as a blob.
    pub fn put(&self, bytes: &[u8]) -> Result<BlobId, ImageError> {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
        let blob = BlobId {
            digest: digest.clone(),
            size: bytes.len() as u64,
        };
        if !self.has(&blob) {
            let mut file = self.temporary()?;
            file.write_all(bytes).map_err(|error| io_error(file.path(), error))?;
            self.adopt(file, &digest)?;
        }
        Ok(blob)
    }

    /// Copies what `reader` gives into the cache, checking it hashes to `expected` (when given);
    /// a mismatch leaves nothing behind.
    pub fn put_reader(&self, mut reader: impl Read, expected: Option<&str>) -> Result<BlobId, ImageError> {
        let mut file = self.temporary()?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let read = reader.read(&mut buffer).map_err(|error| io_error(file.path(), error))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            file.write_all(&buffer[..read])
                .map_err(|error| io_error(file.path(), error))?;
            size += read as u64;
        }
        let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(ImageError::Invalid(format!(
                "a blob named {expected} holds bytes that hash to {digest}"
            )));
        }
        self.adopt(file, &digest)?;
        Ok(BlobId { digest, size })
    }

    pub fn read(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.path(digest)?;
        std::fs::read(&path).map_err(|error| io_error(&path, error))
    }
}
