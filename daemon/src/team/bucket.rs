//! One S3-compatible bucket, through the `object_store` crate (its S3 client signs with
//! SigV4, retries, and sends `If-None-Match: *` for create-only puts): listing, reading a
//! wheel into a file while hashing it, reading a small object, and writing create-only.
//!
//! Every request is bounded: connecting, each read between bytes, and whole small requests
//! have their own timeouts, and retries are few and short, so a store that is down or slow
//! costs seconds, not minutes. Errors are sorted into what the caller acts on (`Fault`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::prefix::PrefixStore;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig};
use sha2::{Digest, Sha256};

use super::config::{Credentials, Remote};

/// Longest wait for a connection.
const CONNECT: Duration = Duration::from_secs(3);
/// Longest wait between two reads of one response.
const READ: Duration = Duration::from_secs(15);
/// Longest a small request (a listing, a record, a HEAD, a small put) may take, retries and all.
const SMALL: Duration = Duration::from_secs(10);
/// The largest build record read.
const RECORD_LIMIT: usize = 64 * 1024;
/// Files larger than this are uploaded in parts, never held in memory whole.
const WHOLE_PUT_LIMIT: u64 = 16 * 1024 * 1024;
const PART: usize = 8 * 1024 * 1024;

/// Why a request failed, as the caller acts on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Fault {
    /// The key is not there.
    #[error("not found")]
    Missing,
    /// A create-only put met an object already there.
    #[error("already there")]
    Exists,
    /// The credentials may not do this (401/403): a writer without write permission.
    #[error("denied: {0}")]
    Denied(String),
    /// The store is down, slow, or answered with an error or garbage.
    #[error("{0}")]
    Failed(String),
}

impl From<object_store::Error> for Fault {
    fn from(error: object_store::Error) -> Fault {
        match error {
            object_store::Error::NotFound { .. } => Fault::Missing,
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => Fault::Exists,
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
                Fault::Denied(error.to_string())
            }
            // A listing of a bucket that is not there is a 404 the crate does not map.
            other if other.to_string().contains("<Code>NoSuchBucket</Code>") => Fault::Failed(format!(
                "the bucket does not exist (NoSuchBucket): make it, or name another in AXLE_TEAM_STORE ({other})"
            )),
            other => Fault::Failed(other.to_string()),
        }
    }
}

/// A wheel read from the bucket.
pub enum Fetched {
    /// Its bytes, in `path`, hash to what its key says.
    Verified { path: PathBuf, bytes: u64 },
    /// Its bytes hash to something else: a damaged or replaced object.
    Mismatch { actual: String },
}

pub struct Bucket {
    store: Arc<dyn ObjectStore>,
}

impl Bucket {
    pub fn open(remote: &Remote) -> Result<Bucket, Fault> {
        let options = ClientOptions::new()
            .with_connect_timeout(CONNECT)
            .with_read_timeout(READ)
            .with_timeout_disabled()
            .with_allow_http(remote.allow_http);
        let retry = RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(8),
            ..RetryConfig::default()
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&remote.bucket)
            .with_region(&remote.region)
            .with_virtual_hosted_style_request(false)
            .with_client_options(options)
            .with_retry(retry);
        if let Some(endpoint) = &remote.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        builder = match &remote.credentials {
            Credentials::Anonymous => builder.with_skip_signature(true),
            Credentials::Static { key_id, secret, token } => {
                let builder = builder.with_access_key_id(key_id).with_secret_access_key(secret);
                match token {
                    Some(token) => builder.with_token(token),
                    None => builder,
                }
            }
            Credentials::Ambient => builder,
        };
        let s3 = builder.build().map_err(|error| Fault::Failed(error.to_string()))?;
        let store: Arc<dyn ObjectStore> = if remote.prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, remote.prefix.as_str()))
        };
        Ok(Bucket { store })
    }

    /// The keys below `prefix` (ending in `/`).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, Fault> {
        let prefix = Key::from(prefix.trim_end_matches('/'));
        let listing = async {
            let mut keys = Vec::new();
            let mut stream = self.store.list(Some(&prefix));
            while let Some(meta) = stream.next().await {
                keys.push(meta?.location.to_string());
            }
            Ok::<_, object_store::Error>(keys)
        };
        Ok(bounded(listing).await??)
    }

    /// A small object (a build record), whole.
    pub async fn read_small(&self, key: &str) -> Result<Vec<u8>, Fault> {
        let key = Key::from(key);
        let read = async {
            let result = self.store.get(&key).await?;
            if result.meta.size > RECORD_LIMIT as u64 {
                return Err(Fault::Failed(format!(
                    "{key} is {} bytes, too large for a record",
                    result.meta.size
                )));
            }
            Ok(result.bytes().await?.to_vec())
        };
        bounded(read).await?
    }

    /// Reads the object at `key` into a new file `dir/filename`, hashing it as it arrives.
    pub async fn fetch_verified(&self, key: &str, sha256: &str, dir: &Path, filename: &str) -> Result<Fetched, Fault> {
        let object = Key::from(key);
        let result = bounded(self.store.get(&object)).await??;
        let path = dir.join(filename);
        let mut file =
            std::fs::File::create(&path).map_err(|error| Fault::Failed(format!("{}: {error}", path.display())))?;
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        let mut stream = result.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(error) => {
                    let _ = std::fs::remove_file(&path);
                    return Err(error.into());
                }
            };
            hasher.update(&chunk);
            bytes += chunk.len() as u64;
            if let Err(error) = file.write_all(&chunk) {
                let _ = std::fs::remove_file(&path);
                return Err(Fault::Failed(format!("{}: {error}", path.display())));
            }
        }
        let actual = hex::encode(hasher.finalize());
        if actual != sha256 {
            let _ = std::fs::remove_file(&path);
            return Ok(Fetched::Mismatch { actual });
        }
        Ok(Fetched::Verified { path, bytes })
    }

    /// Whether an object is at `key`.
    pub async fn exists(&self, key: &str) -> Result<bool, Fault> {
        match bounded(self.store.head(&Key::from(key))).await? {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Writes `bytes` at `key` unless something is there already (`Fault::Exists`).
    pub async fn create(&self, key: &str, bytes: Vec<u8>) -> Result<(), Fault> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        bounded(self.store.put_opts(&Key::from(key), PutPayload::from(bytes), options)).await??;
        Ok(())
    }

    /// Writes the file at `path` at `key` unless something is there already. A large file goes
    /// up in parts (S3 completes those without a create-only condition, so the key is looked
    /// at first; it names the file's hash, so a racing writer writes the same bytes).
    pub async fn create_from_file(&self, key: &str, path: &Path) -> Result<u64, Fault> {
        let size = std::fs::metadata(path)
            .map_err(|error| Fault::Failed(format!("{}: {error}", path.display())))?
            .len();
        if size <= WHOLE_PUT_LIMIT {
            let bytes = std::fs::read(path).map_err(|error| Fault::Failed(format!("{}: {error}", path.display())))?;
            self.create(key, bytes).await?;
            return Ok(size);
        }
        if self.exists(key).await? {
            return Err(Fault::Exists);
        }
        let upload = bounded(self.store.put_multipart(&Key::from(key))).await??;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, PART);
        let mut file =
            std::fs::File::open(path).map_err(|error| Fault::Failed(format!("{}: {error}", path.display())))?;
        let mut buffer = vec![0u8; PART];
        loop {
            let read = std::io::Read::read(&mut file, &mut buffer)
                .map_err(|error| Fault::Failed(format!("{}: {error}", path.display())))?;
            if read == 0 {
                break;
            }
            writer.wait_for_capacity(2).await?;
            writer.write(&buffer[..read]);
        }
        writer.finish().await?;
        Ok(size)
    }
}

/// `work`, given at most `SMALL`.
async fn bounded<T>(work: impl std::future::Future<Output = T>) -> Result<T, Fault> {
    tokio::time::timeout(SMALL, work)
        .await
        .map_err(|_| Fault::Failed(format!("no answer within {} s", SMALL.as_secs())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stores_errors_read_as_faults_and_a_missing_bucket_is_named() {
        let generic = |text: &str| object_store::Error::Generic {
            store: "S3",
            source: text.to_string().into(),
        };
        let missing_bucket = generic(
            "Error performing list request: Server returned non-2xx status code: 404 Not Found: \
             <Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>",
        );
        assert!(matches!(
            Fault::from(missing_bucket),
            Fault::Failed(reason) if reason.starts_with("the bucket does not exist (NoSuchBucket)")
        ));
        assert!(matches!(
            Fault::from(generic("500 Internal Server Error")),
            Fault::Failed(reason) if reason.contains("500 Internal Server Error")
        ));
        let not_found = object_store::Error::NotFound {
            path: "wheels/x".to_string(),
            source: "404".to_string().into(),
        };
        assert!(matches!(Fault::from(not_found), Fault::Missing));
    }
}
