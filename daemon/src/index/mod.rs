//! Package indexes: which files exist for a project, what a file's metadata
//! says, and the file's bytes — answered from memory, SQLite, or the network,
//! asking each index as little as possible.
//!
//! - Project pages are cached with their HTTP validators: a fresh page
//!   (within `Cache-Control: max-age`) costs no request, a stale one a
//!   conditional request (a 304 costs no parse), and concurrent requests for
//!   one page share one fetch.
//! - Metadata of a file is immutable: fetched once (PEP 658 file, else HTTP
//!   ranges into the wheel, else the whole file) and kept.
//! - `--offline` answers only from the cache and names what is missing.

mod config;
mod find_links;
mod http;
mod range;
mod simple;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axle_standards::{DistFilename, Metadata, PackageName};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH};
use sha2::{Digest, Sha256};
use url::Url;

pub use config::{
    ConfigError, Credentials, FindLinks, IndexSettings, IndexStrategy, IndexUrl, SourceLayers, Sources, redact_text,
};
pub use http::{Counters, HttpError, RequestSettings};
pub use simple::{DistFile, MetadataFile, file_link};

use crate::db::{self, Pool};
use http::Http;

/// Largest project page we read (a hostile index cannot exhaust memory).
const MAX_PAGE: u64 = 128 * 1024 * 1024;
/// Pages up to this size are parsed where they arrive; bigger ones on a
/// blocking thread.
const INLINE_PARSE_LIMIT: usize = 256 * 1024;
/// Largest PEP 658 metadata file we read.
const MAX_METADATA: u64 = 16 * 1024 * 1024;

const ACCEPT_PAGES: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum IndexError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    Page(#[from] simple::PageError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{url} refused access ({status}): check the credentials for this index")]
    Unauthorized { url: String, status: u16 },
    #[error("axle is offline and has no cached copy of {url}")]
    Offline { url: String },
    #[error("cannot read the metadata of {filename}: {reason}")]
    Metadata { filename: String, reason: String },
    #[error("{filename} is a source distribution; reading its metadata needs a source build, which axle cannot do yet")]
    NeedsBuild { filename: String },
    #[error("{filename} from {url} does not match its expected hash (expected sha256 {expected}, got {actual})")]
    HashMismatch {
        filename: String,
        url: String,
        expected: String,
        actual: String,
    },
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("the index cache failed: {0}")]
    Db(String),
    #[error("an index task stopped unexpectedly: {0}")]
    Task(String),
}

impl From<sqlx::Error> for IndexError {
    fn from(error: sqlx::Error) -> IndexError {
        IndexError::Db(error.to_string())
    }
}

/// Which cached entries an operation must revalidate.
#[derive(Debug, Clone, Default)]
pub enum Refresh {
    #[default]
    None,
    All,
    Packages(HashSet<PackageName>),
}

/// Settings of one operation's fetches.
#[derive(Debug, Clone)]
pub struct FetchContext {
    pub offline: bool,
    pub refresh: Refresh,
    pub settings: RequestSettings,
    pub counters: Arc<Counters>,
    /// The fetch generation when the operation started: what was fetched
    /// since is fresh for it even under `--refresh`.
    pub started: u64,
}

impl FetchContext {
    pub fn new(offline: bool, refresh: Refresh, settings: RequestSettings) -> FetchContext {
        FetchContext {
            offline,
            refresh,
            settings,
            counters: Arc::new(Counters::default()),
            started: FETCHES.load(std::sync::atomic::Ordering::SeqCst),
        }
    }

    /// The same context, sending the credentials of `sources`' URLs to
    /// their origins.
    pub fn with_credentials(mut self, sources: &Sources) -> FetchContext {
        let credentials: HashMap<String, Credentials> = sources
            .credentials
            .iter()
            .map(|(origin, found)| (origin.clone(), found.clone()))
            .collect();
        self.settings.credentials = Arc::new(credentials);
        self
    }

    fn must_revalidate(&self, name: &PackageName) -> bool {
        match &self.refresh {
            Refresh::None => false,
            Refresh::All => true,
            Refresh::Packages(names) => names.contains(name),
        }
    }
}

/// A file of a project, with its parsed name and where it was found.
#[derive(Debug, Clone)]
pub struct IndexedFile {
    pub file: DistFile,
    pub filename: DistFilename,
    /// The index or find-links location, without credentials.
    pub source: Arc<str>,
}

impl IndexedFile {
    /// The cache key of this file's metadata.
    fn metadata_key(&self) -> String {
        match &self.file.sha256 {
            Some(hash) => format!("sha256:{hash}"),
            None => self.file.url.clone(),
        }
    }
}

/// A project page as cached.
#[derive(Debug)]
struct Page {
    found: bool,
    files: Arc<Vec<DistFile>>,
    /// The files with parsed names, computed once per page (index pages
    /// hold one project from one source).
    indexed: std::sync::OnceLock<Arc<Vec<IndexedFile>>>,
    etag: Option<String>,
    last_modified: Option<String>,
    fetched_at: i64,
    max_age: Option<i64>,
    /// Which fetch of this daemon produced it (0: loaded from SQLite).
    generation: u64,
}

/// Counts fetches, so an operation can tell what was fetched after it began
/// (timestamps cannot: two operations may start in one millisecond).
static FETCHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn next_generation() -> u64 {
    FETCHES.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
}

impl Page {
    /// `now` in unix milliseconds.
    fn fresh(&self, now: i64) -> bool {
        self.max_age
            .is_some_and(|max_age| now - self.fetched_at < max_age.saturating_mul(1000))
    }
}

type PageResult = Result<Arc<Page>, IndexError>;
type MetadataResult = Result<Arc<Metadata>, IndexError>;

pub struct IndexClient {
    http: Http,
    pool: Pool,
    pages: Mutex<HashMap<String, Arc<Page>>>,
    metadata: Mutex<HashMap<String, Arc<Metadata>>>,
    page_flights: Mutex<HashMap<String, Shared<BoxFuture<'static, PageResult>>>>,
    metadata_flights: Mutex<HashMap<String, Shared<BoxFuture<'static, MetadataResult>>>>,
    /// Page writes still running (see `store_page_later`).
    writes: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// A file downloaded and verified.
#[derive(Debug)]
pub struct Downloaded {
    /// A temporary file next to the destination; the caller moves it.
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl IndexClient {
    pub fn new(pool: Pool, extra_roots: Option<&Path>) -> Result<Arc<IndexClient>, IndexError> {
        let http = Http::new(extra_roots).map_err(|reason| IndexError::Io {
            path: "the HTTP client".to_string(),
            reason,
        })?;
        Ok(Arc::new(IndexClient {
            http,
            pool,
            pages: Mutex::new(HashMap::new()),
            metadata: Mutex::new(HashMap::new()),
            page_flights: Mutex::new(HashMap::new()),
            metadata_flights: Mutex::new(HashMap::new()),
            writes: Mutex::new(Vec::new()),
        }))
    }

    /// Daemon-wide totals.
    pub fn totals(&self) -> &Counters {
        &self.http.totals
    }

    /// Every file of `name` the sources offer, following the index strategy.
    pub async fn project(
        self: &Arc<Self>,
        sources: &Sources,
        name: &PackageName,
        context: &FetchContext,
    ) -> Result<Arc<Vec<IndexedFile>>, IndexError> {
        let mut parts: Vec<Arc<Vec<IndexedFile>>> = Vec::new();
        for index in &sources.indexes {
            let page = self.index_page(index, name, context).await?;
            let files = page
                .indexed
                .get_or_init(|| {
                    let source: Arc<str> = Arc::from(index.to_string());
                    Arc::new(
                        page.files
                            .iter()
                            .filter_map(|file| indexed(file, name, &source))
                            .collect(),
                    )
                })
                .clone();
            let contributed = !files.is_empty();
            parts.push(files);
            if contributed && sources.strategy == IndexStrategy::FirstIndex {
                break;
            }
        }
        let mut found = Vec::new();
        for link in &sources.find_links {
            let files = match link {
                FindLinks::Directory(dir) => find_links::directory(dir)?,
                FindLinks::Page(url) => {
                    let page = self.page(url.url().clone(), name, context).await?;
                    page.files.as_ref().clone()
                }
            };
            let source: Arc<str> = Arc::from(link.to_string());
            for file in &files {
                if let Some(indexed) = indexed(file, name, &source) {
                    found.push(indexed);
                }
            }
        }
        // The common case, one source: share its list rather than copy it.
        parts.retain(|part| !part.is_empty());
        if found.is_empty() && parts.len() <= 1 {
            return Ok(parts.pop().unwrap_or_default());
        }
        let mut all: Vec<IndexedFile> = parts.iter().flat_map(|part| part.iter().cloned()).collect();
        all.extend(found);
        Ok(Arc::new(all))
    }

    /// The files of `name` whose SHA-256 is one of `hashes`, looked up without
    /// parsing every file name of the project (a hashed lock names its
    /// files; projects with thousands of wheels need not all be read). The
    /// index strategy applies as in [`IndexClient::project`].
    pub async fn files_with_hashes(
        self: &Arc<Self>,
        sources: &Sources,
        name: &PackageName,
        hashes: &std::collections::BTreeSet<String>,
        context: &FetchContext,
    ) -> Result<Vec<IndexedFile>, IndexError> {
        let mut found = Vec::new();
        for index in &sources.indexes {
            let page = self.index_page(index, name, context).await?;
            let source: Arc<str> = Arc::from(index.to_string());
            let project_here = !page.files.is_empty();
            for file in page.files.iter() {
                if file.sha256.as_ref().is_some_and(|sha| hashes.contains(sha))
                    && let Some(indexed) = indexed(file, name, &source)
                {
                    found.push(indexed);
                }
            }
            if project_here && sources.strategy == IndexStrategy::FirstIndex {
                break;
            }
        }
        if !sources.find_links.is_empty() {
            // Local files carry no hashes: take them all, the caller checks.
            let everything = self.project(sources, name, context).await?;
            found.extend(
                everything
                    .iter()
                    .filter(|file| file.file.url.starts_with("file:"))
                    .cloned(),
            );
        }
        Ok(found)
    }

    async fn index_page(self: &Arc<Self>, index: &IndexUrl, name: &PackageName, context: &FetchContext) -> PageResult {
        let url = index
            .url()
            .join(&format!("{name}/"))
            .map_err(|error| ConfigError::BadUrl {
                url: index.to_string(),
                reason: error.to_string(),
            })?;
        self.page(url, name, context).await
    }

    /// A page from memory, SQLite, or the network; one fetch per URL at a time.
    async fn page(self: &Arc<Self>, url: Url, name: &PackageName, context: &FetchContext) -> PageResult {
        let key = url.to_string();
        let now = db::now_ms();
        let revalidate = context.must_revalidate(name);
        if let Some(page) = lock(&self.pages).get(&key).cloned() {
            let fetched_now = page.generation > context.started;
            if context.offline || fetched_now || (!revalidate && page.fresh(now)) {
                context
                    .counters
                    .cache_hits
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(page);
            }
        }
        let flight = {
            let mut flights = lock(&self.page_flights);
            flights
                .entry(key.clone())
                .or_insert_with(|| {
                    let client = self.clone();
                    let context = context.clone();
                    async move { client.fetch_page(url, revalidate, &context).await }
                        .boxed()
                        .shared()
                })
                .clone()
        };
        let result = flight.await;
        lock(&self.page_flights).remove(&key);
        result
    }

    async fn fetch_page(&self, url: Url, revalidate: bool, context: &FetchContext) -> PageResult {
        let key = url.to_string();
        let remembered = lock(&self.pages).get(&key).cloned();
        let known = match remembered {
            Some(page) => Some(page),
            None => self.load_page(&key).await?,
        };
        let now = db::now_ms();
        if let Some(page) = &known
            && (context.offline || (!revalidate && page.fresh(now)))
        {
            context
                .counters
                .cache_hits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            lock(&self.pages).insert(key, page.clone());
            return Ok(page.clone());
        }
        if context.offline {
            return Err(IndexError::Offline { url: key });
        }

        if url.scheme() == "file" {
            return Err(IndexError::Io {
                path: key,
                reason: "file:// indexes are not supported; use --find-links with a directory".to_string(),
            });
        }
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(ACCEPT_PAGES));
        if let Some(page) = &known {
            if let Some(etag) = page.etag.as_deref().and_then(|etag| HeaderValue::from_str(etag).ok()) {
                headers.insert(IF_NONE_MATCH, etag);
            }
            if let Some(date) = page
                .last_modified
                .as_deref()
                .and_then(|date| HeaderValue::from_str(date).ok())
            {
                headers.insert(IF_MODIFIED_SINCE, date);
            }
        }
        let clock = std::time::Instant::now();
        let answer = self
            .http
            .get(&url, headers, MAX_PAGE, &context.settings, &context.counters)
            .await?;
        let fetch_ms = clock.elapsed().as_millis() as u64;
        let max_age = max_age(&answer.headers);
        let header = |name: reqwest::header::HeaderName| {
            answer
                .headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let page = match answer.status {
            StatusCode::NOT_MODIFIED if known.is_some() => {
                context
                    .counters
                    .revalidated
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(known) = known else {
                    return Err(IndexError::Db("revalidated a page that is not cached".into()));
                };
                Page {
                    found: known.found,
                    files: known.files.clone(),
                    indexed: std::sync::OnceLock::new(),
                    etag: header(reqwest::header::ETAG).or_else(|| known.etag.clone()),
                    last_modified: header(reqwest::header::LAST_MODIFIED).or_else(|| known.last_modified.clone()),
                    fetched_at: now,
                    max_age,
                    generation: next_generation(),
                }
            }
            status if status.is_success() => {
                let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
                let json = content_type.starts_with("application/vnd.pypi.simple.v1+json");
                let parse = move |body: &[u8], url: &Url| {
                    if json {
                        simple::parse_json(body, url)
                    } else {
                        simple::parse_html(&String::from_utf8_lossy(body), url)
                    }
                };
                // A big project's page (megabytes of JSON) takes a runtime
                // thread for a quarter second: on a small machine that stalls
                // every download and unpack waiting to be woken.
                let bytes = answer.body.len();
                let files = if bytes > INLINE_PARSE_LIMIT {
                    let (body, page_url) = (answer.body, url.clone());
                    tokio::task::spawn_blocking(move || parse(&body, &page_url))
                        .await
                        .map_err(|error| IndexError::Task(error.to_string()))??
                } else {
                    parse(&answer.body, &url)?
                };
                tracing::debug!(
                    %url,
                    bytes,
                    fetch_ms,
                    parse_ms = clock.elapsed().as_millis() as u64 - fetch_ms,
                    "page fetched"
                );
                Page {
                    found: true,
                    files: Arc::new(files),
                    indexed: std::sync::OnceLock::new(),
                    etag: header(reqwest::header::ETAG),
                    last_modified: header(reqwest::header::LAST_MODIFIED),
                    fetched_at: now,
                    max_age,
                    generation: next_generation(),
                }
            }
            StatusCode::NOT_FOUND | StatusCode::GONE => Page {
                found: false,
                files: Arc::new(Vec::new()),
                indexed: std::sync::OnceLock::new(),
                etag: None,
                last_modified: None,
                fetched_at: now,
                max_age,
                generation: next_generation(),
            },
            status @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                return Err(IndexError::Unauthorized {
                    url: key,
                    status: status.as_u16(),
                });
            }
            status => {
                return Err(HttpError::Status {
                    url: key,
                    status: status.as_u16(),
                }
                .into());
            }
        };
        let page = Arc::new(page);
        let revalidated = answer.status == StatusCode::NOT_MODIFIED;
        self.store_page_later(key.clone(), page.clone(), revalidated);
        lock(&self.pages).insert(key, page.clone());
        Ok(page)
    }

    async fn load_page(&self, key: &str) -> Result<Option<Arc<Page>>, IndexError> {
        type Row = (i64, String, Option<String>, Option<String>, i64, Option<i64>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT found, files_json, etag, last_modified, fetched_at, max_age FROM index_pages WHERE url = ?",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        let Some((found, json, etag, last_modified, fetched_at, max_age)) = row else {
            return Ok(None);
        };
        let Ok(files) = serde_json::from_str::<Vec<DistFile>>(&json) else {
            // An entry written by an older build: treat as absent.
            return Ok(None);
        };
        Ok(Some(Arc::new(Page {
            found: found != 0,
            files: Arc::new(files),
            indexed: std::sync::OnceLock::new(),
            etag,
            last_modified,
            fetched_at,
            max_age,
            generation: 0,
        })))
    }

    /// Writes a page to SQLite in the background: the caller has it in
    /// memory already, and a large page costs more to encode and write than
    /// the answer is worth waiting for. A revalidated page only updates its
    /// freshness. `flush` waits for what is still being written.
    fn store_page_later(&self, key: String, page: Arc<Page>, revalidated: bool) {
        let pool = self.pool.clone();
        let task = tokio::spawn(async move {
            let result = if revalidated {
                sqlx::query(
                    "UPDATE index_pages SET etag = ?, last_modified = ?, fetched_at = ?, max_age = ? WHERE url = ?",
                )
                .bind(&page.etag)
                .bind(&page.last_modified)
                .bind(page.fetched_at)
                .bind(page.max_age)
                .bind(&key)
                .execute(&pool)
                .await
                .map(|_| ())
            } else {
                let files = page.files.clone();
                let json = tokio::task::spawn_blocking(move || serde_json::to_string(files.as_ref()))
                    .await
                    .ok()
                    .and_then(Result::ok);
                let Some(json) = json else {
                    return;
                };
                sqlx::query(
                    "INSERT INTO index_pages (url, found, files_json, etag, last_modified, fetched_at, max_age)
                     VALUES (?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT (url) DO UPDATE SET found = excluded.found, files_json = excluded.files_json,
                        etag = excluded.etag, last_modified = excluded.last_modified,
                        fetched_at = excluded.fetched_at, max_age = excluded.max_age",
                )
                .bind(&key)
                .bind(page.found as i64)
                .bind(json)
                .bind(&page.etag)
                .bind(&page.last_modified)
                .bind(page.fetched_at)
                .bind(page.max_age)
                .execute(&pool)
                .await
                .map(|_| ())
            };
            if let Err(error) = result {
                tracing::warn!(url = %key, %error, "could not cache a page");
            }
        });
        let mut writes = lock(&self.writes);
        writes.retain(|handle| !handle.is_finished());
        writes.push(task);
    }

    /// Waits until every page write started so far is done.
    pub async fn flush(&self) {
        let writes: Vec<_> = std::mem::take(&mut *lock(&self.writes));
        for write in writes {
            let _ = write.await;
        }
    }

    /// The core metadata of `file`, checked against its file name.
    pub async fn metadata(self: &Arc<Self>, file: &IndexedFile, context: &FetchContext) -> MetadataResult {
        if file.file.url.starts_with("file:") {
            // Local files can be rebuilt under the same name; reading their
            // METADATA is cheap, so it is not cached.
            let text = self.fetch_metadata_text(file, context).await?;
            return parse_metadata(file, &text).map(Arc::new);
        }
        let key = file.metadata_key();
        if let Some(metadata) = lock(&self.metadata).get(&key).cloned() {
            context
                .counters
                .cache_hits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(metadata);
        }
        let flight = {
            let mut flights = lock(&self.metadata_flights);
            flights
                .entry(key.clone())
                .or_insert_with(|| {
                    let client = self.clone();
                    let context = context.clone();
                    let file = file.clone();
                    async move { client.fetch_metadata(&file, &context).await }
                        .boxed()
                        .shared()
                })
                .clone()
        };
        let result = flight.await;
        lock(&self.metadata_flights).remove(&key);
        result
    }

    async fn fetch_metadata(&self, file: &IndexedFile, context: &FetchContext) -> MetadataResult {
        let key = file.metadata_key();
        let stored: Option<String> = sqlx::query_scalar("SELECT text FROM file_metadata WHERE key = ?")
            .bind(&key)
            .fetch_optional(&self.pool)
            .await?;
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
            sqlx::query(
                "INSERT INTO file_metadata (key, url, text, fetched_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(&key)
            .bind(&file.file.url)
            .bind(&text)
            .bind(db::now())
            .execute(&self.pool)
            .await?;
        }
        lock(&self.metadata).insert(key, metadata.clone());
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
        let dist_info = format!("{}-{}", wheel.name.as_dist_info_name(), wheel.version);
        let url = Url::parse(&file.file.url).map_err(|error| failure(error.to_string()))?;

        if url.scheme() == "file" {
            let path = url
                .to_file_path()
                .map_err(|()| failure("not a local path".to_string()))?;
            let bytes = std::fs::read(&path).map_err(|error| IndexError::Io {
                path: path.display().to_string(),
                reason: error.to_string(),
            })?;
            return range::metadata_from_bytes(&bytes, &dist_info, &file.file.url)
                .map_err(|error| failure(error.to_string()));
        }
        if context.offline {
            return Err(IndexError::Offline {
                url: file.file.url.clone(),
            });
        }

        if let Some(advertised) = &file.file.core_metadata {
            let metadata_url =
                Url::parse(&format!("{}.metadata", file.file.url)).map_err(|error| failure(error.to_string()))?;
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
                    if &actual != expected {
                        return Err(IndexError::HashMismatch {
                            filename: format!("{filename}.metadata"),
                            url: metadata_url.to_string(),
                            expected: expected.clone(),
                            actual,
                        });
                    }
                }
                return String::from_utf8(answer.body).map_err(|error| failure(error.to_string()));
            }
            tracing::debug!(url = %metadata_url, status = %answer.status, "advertised metadata missing; trying ranges");
        }

        match range::metadata_by_ranges(&self.http, &url, &dist_info, &context.settings, &context.counters).await {
            Ok(range::RangeOutcome::Metadata(text)) => return Ok(text),
            Ok(range::RangeOutcome::WholeFile(bytes)) => {
                verify(file, &bytes)?;
                return range::metadata_from_bytes(&bytes, &dist_info, &file.file.url)
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
                url: file.file.url.clone(),
                status: answer.status.as_u16(),
            }
            .into());
        }
        verify(file, &answer.body)?;
        range::metadata_from_bytes(&answer.body, &dist_info, &file.file.url).map_err(|error| failure(error.to_string()))
    }

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
        let url = Url::parse(&file.url).map_err(|error| IndexError::Io {
            path: file.url.clone(),
            reason: error.to_string(),
        })?;
        std::fs::create_dir_all(dir).map_err(|error| io_error(dir, error))?;
        let temp = tempfile::Builder::new()
            .prefix(".download-")
            .tempfile_in(dir)
            .map_err(|error| io_error(dir, error))?;
        let (hasher, size) = if url.scheme() == "file" {
            let path = url.to_file_path().map_err(|()| IndexError::Io {
                path: file.url.clone(),
                reason: "not a local path".into(),
            })?;
            let bytes = std::fs::read(&path).map_err(|error| io_error(&path, error))?;
            std::fs::write(temp.path(), &bytes).map_err(|error| io_error(temp.path(), error))?;
            let mut hasher = Sha256::new();
            hasher.update(&bytes);
            (hasher, bytes.len() as u64)
        } else {
            if context.offline {
                return Err(IndexError::Offline { url: file.url.clone() });
            }
            self.stream_to(&url, temp.path(), context).await?
        };
        let actual = hex::encode(hasher.finalize());
        let wanted: Vec<&String> = if expected.is_empty() {
            file.sha256.iter().collect()
        } else {
            expected.iter().collect()
        };
        if !wanted.is_empty() && !wanted.iter().any(|hash| **hash == actual) {
            return Err(IndexError::HashMismatch {
                filename: file.filename.clone(),
                url: file.url.clone(),
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

/// Checks bytes of a whole file against the index's hash, when it gave one.
fn verify(file: &IndexedFile, bytes: &[u8]) -> Result<(), IndexError> {
    if let Some(expected) = &file.file.sha256 {
        let actual = hex::encode(Sha256::digest(bytes));
        if &actual != expected {
            return Err(IndexError::HashMismatch {
                filename: file.file.filename.clone(),
                url: file.file.url.clone(),
                expected: expected.clone(),
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

fn indexed(file: &DistFile, name: &PackageName, source: &Arc<str>) -> Option<IndexedFile> {
    let filename = DistFilename::try_from_filename(&file.filename, Some(name)).ok()?;
    (filename.name() == name).then(|| IndexedFile {
        file: file.clone(),
        filename,
        source: source.clone(),
    })
}

/// How long a page without any `Cache-Control` stays fresh. Indexes that
/// say nothing get the freshness the best-known index declares for its
/// pages (ten minutes); `--refresh` looks again at once.
const HEURISTIC_MAX_AGE: i64 = 600;

/// `Cache-Control: max-age` in seconds; `no-cache`/`no-store` mean 0.
fn max_age(headers: &HeaderMap) -> Option<i64> {
    let Some(value) = headers.get(reqwest::header::CACHE_CONTROL) else {
        return Some(HEURISTIC_MAX_AGE);
    };
    let value = value.to_str().ok()?;
    let mut max_age = None;
    for directive in value.split(',').map(str::trim) {
        if directive.eq_ignore_ascii_case("no-cache") || directive.eq_ignore_ascii_case("no-store") {
            return Some(0);
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            max_age = seconds.trim_matches('"').parse().ok();
        }
    }
    max_age
}
