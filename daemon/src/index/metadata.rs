//! Core metadata of a file: immutable, so fetched once — the PEP 658 file,
//! else HTTP ranges into the wheel, else the whole file — checked against
//! the file's name, and kept in memory and SQLite.

use std::sync::Arc;

use axle_standards::{DistFilename, Metadata};
use futures::FutureExt;
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};
use url::Url;

use super::{FetchContext, HttpError, IndexClient, IndexError, IndexedFile, MetadataResult, packed, range};
use crate::db;

/// Largest PEP 658 metadata file we read.
const MAX_METADATA: u64 = 16 * 1024 * 1024;

impl IndexClient {
    /// The core metadata of `file`, checked against its file name.
    pub async fn metadata(self: &Arc<Self>, file: &IndexedFile, context: &FetchContext) -> MetadataResult {
        if file.file.url().starts_with("file:") {
            // Local files can be rebuilt under the same name; reading their
            // METADATA is cheap, so it is not cached.
            let text = self.fetch_metadata_text(file, context).await?;
            return parse_metadata(file, &text).map(Arc::new);
        }
        let key = file.metadata_key();
        if let Some(metadata) = self.metadata.get(&key) {
            context
                .counters
                .cache_hits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(metadata);
        }
        let client = self.clone();
        let context = context.clone();
        let file = file.clone();
        self.metadata_flights
            .join(key, move || {
                async move { client.fetch_metadata(&file, &context).await }.boxed()
            })
            .await
    }

    async fn fetch_metadata(&self, file: &IndexedFile, context: &FetchContext) -> MetadataResult {
        let key = file.metadata_key();
        let stored: Option<Vec<u8>> = sqlx::query_scalar("SELECT headers FROM file_metadata WHERE key = ?")
            .bind(&key)
            .fetch_optional(&self.pool)
            .await?;
        // A damaged row is fetched again.
        let stored = stored
            .and_then(|packed| packed::unpack(&packed))
            .and_then(|text| String::from_utf8(text).ok());
        let (text, fresh) = match stored {
            Some(text) => {
                context
                    .counters
                    .cache_hits
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (text, false)
            }
            None => (self.fetch_metadata_text(file, context).await?, true),
        };
        let metadata = Arc::new(parse_metadata(file, &text)?);
        if fresh {
            let headers = packed::pack(packed::without_description(&text).as_bytes());
            sqlx::query(
                "INSERT INTO file_metadata (key, headers, fetched_at) VALUES (?, ?, ?)
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(&key)
            .bind(headers)
            .bind(db::now())
            .execute(&self.pool)
            .await?;
        }
        self.metadata.insert(key, metadata.clone(), weight_of(&metadata));
        Ok(metadata)
    }

    async fn fetch_metadata_text(&self, file: &IndexedFile, context: &FetchContext) -> Result<String, IndexError> {
        let filename = &file.file.filename;
        let failure = |reason: String| IndexError::Metadata {
            filename: filename.clone(),
            reason,
        };
        let DistFilename::Wheel(wheel) = &file.filename else {
            return Err(IndexError::NeedsBuild {
                filename: filename.clone(),
            });
        };
        let url = Url::parse(&file.file.url()).map_err(|error| failure(error.to_string()))?;

        if url.scheme() == "file" {
            let path = url
                .to_file_path()
                .map_err(|()| failure("not a local path".to_string()))?;
            let bytes = std::fs::read(&path).map_err(|error| IndexError::Io {
                path: path.display().to_string(),
                reason: error.to_string(),
            })?;
            return range::metadata_from_bytes(&bytes, wheel, &file.file.url())
                .map_err(|error| failure(error.to_string()));
        }
        if context.offline {
            return Err(IndexError::Offline {
                url: file.file.url().into_owned(),
            });
        }

        if let Some(advertised) = &file.file.core_metadata {
            let metadata_url =
                Url::parse(&format!("{}.metadata", file.file.url())).map_err(|error| failure(error.to_string()))?;
            let answer = self
                .http
                .get(
                    &metadata_url,
                    HeaderMap::new(),
                    MAX_METADATA,
                    &context.settings,
                    &context.counters,
                )
                .await?;
            if answer.status.is_success() {
                if let Some(expected) = &advertised.sha256 {
                    let actual = hex::encode(Sha256::digest(&answer.body));
                    if actual != expected.to_hex() {
                        return Err(IndexError::HashMismatch {
                            filename: format!("{filename}.metadata"),
                            url: metadata_url.to_string(),
                            expected: expected.to_hex(),
                            actual,
                        });
                    }
                }
                return String::from_utf8(answer.body).map_err(|error| failure(error.to_string()));
            }
            tracing::debug!(url = %metadata_url, status = %answer.status, "advertised metadata missing; trying ranges");
        }

        match range::metadata_by_ranges(&self.http, &url, wheel, &context.settings, &context.counters).await {
            Ok(range::RangeOutcome::Metadata(text)) => return Ok(text),
            Ok(range::RangeOutcome::WholeFile(bytes)) => {
                verify(file, &bytes)?;
                return range::metadata_from_bytes(&bytes, wheel, &file.file.url())
                    .map_err(|error| failure(error.to_string()));
            }
            Ok(range::RangeOutcome::Unsupported) => {}
            Err(range::RangeError::Http(error)) => return Err(error.into()),
            Err(error @ range::RangeError::BadArchive { .. }) => {
                return Err(failure(error.to_string()));
            }
        }
        let answer = self
            .http
            .get(
                &url,
                HeaderMap::new(),
                4 * 1024 * 1024 * 1024,
                &context.settings,
                &context.counters,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(HttpError::Status {
                url: file.file.url().into_owned(),
                status: answer.status.as_u16(),
            }
            .into());
        }
        verify(file, &answer.body)?;
        range::metadata_from_bytes(&answer.body, wheel, &file.file.url()).map_err(|error| failure(error.to_string()))
    }
}

/// Checks bytes of a whole file against the index's hash, when it gave one.
fn verify(file: &IndexedFile, bytes: &[u8]) -> Result<(), IndexError> {
    if let Some(expected) = &file.file.sha256 {
        let actual = hex::encode(Sha256::digest(bytes));
        if actual != expected.to_hex() {
            return Err(IndexError::HashMismatch {
                filename: file.file.filename.clone(),
                url: file.file.url().into_owned(),
                expected: expected.to_hex(),
                actual,
            });
        }
    }
    Ok(())
}

fn parse_metadata(file: &IndexedFile, text: &str) -> Result<Metadata, IndexError> {
    let metadata = Metadata::parse(text).map_err(|error| IndexError::Metadata {
        filename: file.file.filename.clone(),
        reason: error.to_string(),
    })?;
    if &metadata.name != file.filename.name() || &metadata.version != file.filename.version() {
        return Err(IndexError::Metadata {
            filename: file.file.filename.clone(),
            reason: format!(
                "its metadata describes {} {}, not what the file name says",
                metadata.name, metadata.version
            ),
        });
    }
    Ok(metadata)
}

/// About the bytes parsed metadata holds (for the cache's budget).
fn weight_of(metadata: &Metadata) -> usize {
    std::mem::size_of::<Metadata>() + 256 * metadata.requires_dist.len() + 48 * metadata.provides_extra.len() + 128
}
