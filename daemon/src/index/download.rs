//! A file's bytes: downloaded (or copied from a local path) into a
//! temporary file, hashed on the way, and kept only if the hash is one the
//! caller expects.

use std::path::{Path, PathBuf};

use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};
use url::Url;

use super::{DistFile, FetchContext, HttpError, IndexClient, IndexError, Sha256Digest};

/// A file downloaded and verified.
#[derive(Debug)]
pub struct Downloaded {
    /// A temporary file next to the destination; the caller moves it.
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
}

impl IndexClient {
    /// Downloads `file` into a temporary file in `dir`, verifying it against
    /// `expected` (any of them may match; empty: the index's own hash). A
    /// file that matches nothing is deleted and never returned.
    pub async fn download(
        &self,
        file: &DistFile,
        expected: &[String],
        dir: &Path,
        context: &FetchContext,
    ) -> Result<Downloaded, IndexError> {
        let io_error = |path: &Path, error: std::io::Error| IndexError::Io {
            path: path.display().to_string(),
            reason: error.to_string(),
        };
        let url = Url::parse(&file.url()).map_err(|error| IndexError::Io {
            path: file.url().into_owned(),
            reason: error.to_string(),
        })?;
        std::fs::create_dir_all(dir).map_err(|error| io_error(dir, error))?;
        let temp = tempfile::Builder::new()
            .prefix(".download-")
            .tempfile_in(dir)
            .map_err(|error| io_error(dir, error))?;
        let (hasher, size) = if url.scheme() == "file" {
            let path = url.to_file_path().map_err(|()| IndexError::Io {
                path: file.url().into_owned(),
                reason: "not a local path".into(),
            })?;
            let bytes = std::fs::read(&path).map_err(|error| io_error(&path, error))?;
            std::fs::write(temp.path(), &bytes).map_err(|error| io_error(temp.path(), error))?;
            let mut hasher = Sha256::new();
            hasher.update(&bytes);
            (hasher, bytes.len() as u64)
        } else {
            if context.offline {
                return Err(IndexError::Offline {
                    url: file.url().into_owned(),
                });
            }
            self.stream_to(&url, temp.path(), context).await?
        };
        let actual = hex::encode(hasher.finalize());
        let wanted: Vec<String> = if expected.is_empty() {
            file.sha256.iter().map(Sha256Digest::to_hex).collect()
        } else {
            expected.to_vec()
        };
        if !wanted.is_empty() && !wanted.contains(&actual) {
            return Err(IndexError::HashMismatch {
                filename: file.filename.clone(),
                url: file.url().into_owned(),
                expected: wanted.iter().map(|hash| hash.as_str()).collect::<Vec<_>>().join(" or "),
                actual,
            });
        }
        let (_, path) = temp.keep().map_err(|error| io_error(dir, error.error))?;
        Ok(Downloaded {
            path,
            sha256: actual,
            size,
        })
    }

    async fn stream_to(&self, url: &Url, path: &Path, context: &FetchContext) -> Result<(Sha256, u64), IndexError> {
        use std::io::Write;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result: Result<(Sha256, u64), IndexError> = async {
                let mut response = self
                    .http
                    .send(url, HeaderMap::new(), &context.settings, &context.counters)
                    .await?;
                if !response.status().is_success() {
                    return Err(HttpError::Status {
                        url: url.to_string(),
                        status: response.status().as_u16(),
                    }
                    .into());
                }
                let mut out = std::fs::File::create(path).map_err(|error| IndexError::Io {
                    path: path.display().to_string(),
                    reason: error.to_string(),
                })?;
                let mut hasher = Sha256::new();
                let mut size = 0u64;
                loop {
                    let chunk = tokio::time::timeout(context.settings.timeout, response.chunk())
                        .await
                        .map_err(|_| HttpError::Timeout {
                            url: url.to_string(),
                            seconds: context.settings.timeout.as_secs(),
                        })?
                        .map_err(|error| HttpError::Body {
                            url: url.to_string(),
                            reason: error.to_string(),
                        })?;
                    let Some(chunk) = chunk else {
                        break;
                    };
                    hasher.update(&chunk);
                    size += chunk.len() as u64;
                    context
                        .counters
                        .bytes
                        .fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    out.write_all(&chunk).map_err(|error| IndexError::Io {
                        path: path.display().to_string(),
                        reason: error.to_string(),
                    })?;
                }
                out.sync_all().map_err(|error| IndexError::Io {
                    path: path.display().to_string(),
                    reason: error.to_string(),
                })?;
                Ok((hasher, size))
            }
            .await;
            match result {
                Err(IndexError::Http(HttpError::Body { .. } | HttpError::Connect { .. })) if attempt < 4 => {
                    tokio::time::sleep(std::time::Duration::from_millis(100 * 4u64.pow(attempt - 1))).await;
                }
                other => return other,
            }
        }
    }
}
