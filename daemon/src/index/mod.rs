//! Package indexes: which files exist for a project, what a file's metadata
//! says, and the file's bytes — answered from memory, SQLite, or the network,
//! asking each index as little as possible.
//!
//! [`IndexClient`] is the one entry point; its work is split by what it
//! fetches:
//!
//! - `pages`: project pages, cached with their HTTP validators: a fresh page
//!   (within `Cache-Control: max-age`) costs no request, a stale one a
//!   conditional request (a 304 costs no parse), and concurrent requests for
//!   one page share one fetch.
//! - `metadata`: a file's core metadata is immutable: fetched once (PEP 658
//!   file, else HTTP ranges into the wheel, else the whole file) and kept.
//! - `download`: a file's bytes, verified against the expected hashes.
//!
//! Below them: `config` decides the sources as pip does, `auth` owns
//! credentials, `http` is the shared client, `simple` parses PEP 691/503
//! pages, `range` reads METADATA out of a remote zip, `find_links` lists
//! local directories, `packed` is how pages and metadata are kept compact in
//! SQLite. `--offline` answers only from the cache and names what is missing.

mod auth;
mod config;
mod digest;
mod dns;
mod download;
mod find_links;
mod http;
mod listing;
mod location;
mod metadata;
mod packed;
mod pages;
mod range;
mod simple;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axle_standards::{DistFilename, Metadata, PackageName, Version};

#[cfg(test)]
pub(crate) use auth::with_userinfo;
pub use auth::{Credentials, redact_text};
pub use config::{ConfigError, FindLinks, IndexSettings, IndexStrategy, IndexUrl, SourceLayers, Sources, parse_ini};
pub use digest::Sha256Digest;
pub use download::Downloaded;
pub use http::{Counters, HttpError, RequestSettings};
pub use simple::{DistFile, MetadataFile, file_link};

use crate::cache::WeighedCache;
use crate::db::Pool;
use crate::flights::Flights;
use http::Http;
use pages::{Page, PageResult};

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
            started: pages::generation(),
        }
    }

    /// The same context, sending the credentials of `sources`' URLs to
    /// their origins and trusting the CA bundle they name.
    pub fn for_sources(mut self, sources: &Sources) -> FetchContext {
        if sources.cert.is_some() {
            self.settings.roots.clone_from(&sources.cert);
        }
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
    /// Shared with the page it is listed on: a big project's files are held once.
    pub file: Arc<DistFile>,
    pub filename: DistFilename,
    /// The index or find-links location, without credentials.
    pub source: Arc<str>,
}

impl IndexedFile {
    /// The cache key of this file's metadata.
    fn metadata_key(&self) -> String {
        match &self.file.sha256 {
            Some(hash) => format!("sha256:{hash}"),
            None => self.file.url().into_owned(),
        }
    }
}

type MetadataResult = Result<Arc<Metadata>, IndexError>;

pub struct IndexClient {
    http: Http,
    pool: Pool,
    pages: WeighedCache<Page>,
    metadata: WeighedCache<Metadata>,
    page_flights: Flights<String, PageResult>,
    metadata_flights: Flights<String, MetadataResult>,
    /// Page writes still running (see `store_page_later`).
    writes: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl IndexClient {
    pub fn new(pool: Pool) -> Result<Arc<IndexClient>, IndexError> {
        let http = Http::new().map_err(|reason| IndexError::Io {
            path: "the HTTP client".to_string(),
            reason,
        })?;
        Ok(Arc::new(IndexClient {
            http,
            pool,
            pages: WeighedCache::default(),
            metadata: WeighedCache::default(),
            page_flights: Flights::default(),
            metadata_flights: Flights::default(),
            writes: Mutex::new(Vec::new()),
        }))
    }

    /// Forgets the least recently used pages and metadata beyond `budget` bytes (by estimate),
    /// which SQLite still holds; returns how many pages it forgot. For an idle daemon.
    pub fn trim(&self, budget: usize) -> usize {
        let pages = self.pages.trim(budget * 4 / 5);
        self.metadata.trim(budget / 5);
        pages
    }

    /// The bytes the in-memory caches hold, by estimate.
    pub fn cached_bytes(&self) -> usize {
        self.pages.weight() + self.metadata.weight()
    }

    /// Daemon-wide totals.
    pub fn totals(&self) -> &Counters {
        &self.http.totals
    }

    /// Host names looked up since the daemon started.
    pub fn name_lookups(&self) -> u64 {
        self.http.lookups()
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
                    let mut versions = SharedVersions::default();
                    Arc::new(
                        page.files
                            .iter()
                            .filter_map(|file| indexed(file, name, &source))
                            .map(|mut file| {
                                versions.share(file.filename.version_mut());
                                file
                            })
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
                FindLinks::Directory(dir) => find_links::directory(dir)?.into_iter().map(Arc::new).collect(),
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
        let hashes: HashSet<Sha256Digest> = hashes.iter().filter_map(|hash| Sha256Digest::from_hex(hash)).collect();
        for index in &sources.indexes {
            let page = self.index_page(index, name, context).await?;
            let source: Arc<str> = Arc::from(index.to_string());
            let project_here = !page.files.is_empty();
            for file in page.files.iter() {
                if file.sha256.is_some_and(|sha| hashes.contains(&sha))
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
                    .filter(|file| file.file.url().starts_with("file:"))
                    .cloned(),
            );
        }
        Ok(found)
    }

    /// The files of `name` at `version`, without the project's whole list of parsed files
    /// made and kept with its page (a sync of an unhashed lock needs one release of each
    /// project; botocore's page lists thousands of files). The index strategy applies as in
    /// [`IndexClient::project`].
    pub async fn files_of_version(
        self: &Arc<Self>,
        sources: &Sources,
        name: &PackageName,
        version: &Version,
        context: &FetchContext,
    ) -> Result<Vec<IndexedFile>, IndexError> {
        let mut found = Vec::new();
        for index in &sources.indexes {
            let page = self.index_page(index, name, context).await?;
            let source: Arc<str> = Arc::from(index.to_string());
            let project_here = !page.files.is_empty();
            found.extend(
                page.files
                    .iter()
                    .filter_map(|file| indexed(file, name, &source))
                    .filter(|file| file.filename.version() == version),
            );
            if project_here && sources.strategy == IndexStrategy::FirstIndex {
                break;
            }
        }
        for link in &sources.find_links {
            let files: Vec<Arc<DistFile>> = match link {
                FindLinks::Directory(dir) => find_links::directory(dir)?.into_iter().map(Arc::new).collect(),
                FindLinks::Page(url) => self
                    .page(url.url().clone(), name, context)
                    .await?
                    .files
                    .as_ref()
                    .clone(),
            };
            let source: Arc<str> = Arc::from(link.to_string());
            found.extend(
                files
                    .iter()
                    .filter_map(|file| indexed(file, name, &source))
                    .filter(|file| file.filename.version() == version),
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
}

/// One copy of each version a project's files name: a release's files (a wheel per platform
/// and Python, an sdist) then hold one version between them. Keyed by its text, not by
/// equality, so that `1.0` and `1.0.0` stay as each file spells them.
#[derive(Default)]
struct SharedVersions(HashMap<String, axle_standards::Version>);

impl SharedVersions {
    fn share(&mut self, version: &mut axle_standards::Version) {
        match self.0.entry(version.to_string()) {
            std::collections::hash_map::Entry::Occupied(shared) => *version = shared.get().clone(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(version.clone());
            }
        }
    }
}

fn indexed(file: &Arc<DistFile>, name: &PackageName, source: &Arc<str>) -> Option<IndexedFile> {
    let filename = DistFilename::try_from_filename(&file.filename, Some(name)).ok()?;
    (filename.name() == name).then(|| IndexedFile {
        file: file.clone(),
        filename,
        source: source.clone(),
    })
}
