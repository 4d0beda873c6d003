//! Project pages: from memory, SQLite, or the network, one fetch per URL
//! at a time, written back to SQLite in the background.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axle_standards::PackageName;
use futures::FutureExt;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH};
use url::Url;

use super::http::{Body, BodySizes, ReadAnswer};
use super::{DistFile, FetchContext, HttpError, IndexClient, IndexError, IndexedFile, lock, packed, simple};
use crate::db;

/// Largest project page we read (a hostile index cannot exhaust memory).
const MAX_PAGE: u64 = 128 * 1024 * 1024;
/// Pages up to this size are read whole and parsed where they arrive; bigger
/// ones as they arrive, on a blocking thread.
const INLINE_PARSE_LIMIT: u64 = 256 * 1024;

const ACCEPT_PAGES: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// A project page as cached.
#[derive(Debug)]
pub(super) struct Page {
    pub(super) found: bool,
    pub(super) files: Arc<Vec<Arc<DistFile>>>,
    /// The files with parsed names, computed once per page (index pages
    /// hold one project from one source).
    pub(super) indexed: std::sync::OnceLock<Arc<Vec<IndexedFile>>>,
    pub(super) etag: Option<String>,
    pub(super) last_modified: Option<String>,
    pub(super) fetched_at: i64,
    pub(super) max_age: Option<i64>,
    /// Which fetch of this daemon produced it (0: loaded from SQLite).
    pub(super) generation: u64,
}

/// Counts fetches, so an operation can tell what was fetched after it began
/// (timestamps cannot: two operations may start in one millisecond).
static FETCHES: AtomicU64 = AtomicU64::new(0);

fn next_generation() -> u64 {
    FETCHES.fetch_add(1, Ordering::SeqCst) + 1
}

impl Page {
    /// About the bytes it holds in memory, with the parsed names its files get once a
    /// resolution asks for them (for the cache's budget, not an exact count).
    pub(super) fn weight(&self) -> usize {
        const PER_FILE: usize = std::mem::size_of::<DistFile>()
            + std::mem::size_of::<IndexedFile>()
            // The Arc's counts, the allocator's headers (three blocks), the parsed name.
            + 16 + 3 * 16 + 160;
        self.files
            .iter()
            .map(|file| PER_FILE + file.heap_bytes())
            .sum::<usize>()
            + 256
    }

    /// `now` in unix milliseconds.
    fn fresh(&self, now: i64) -> bool {
        self.max_age
            .is_some_and(|max_age| now - self.fetched_at < max_age.saturating_mul(1000))
    }
}

/// The fetch generation now (see [`FETCHES`]).
pub(super) fn generation() -> u64 {
    FETCHES.load(Ordering::SeqCst)
}

pub(super) type PageResult = Result<Arc<Page>, IndexError>;

impl IndexClient {
    /// A page from memory, SQLite, or the network; one fetch per URL at a time.
    pub(super) async fn page(self: &Arc<Self>, url: Url, name: &PackageName, context: &FetchContext) -> PageResult {
        let key = url.to_string();
        let now = db::now_ms();
        let revalidate = context.must_revalidate(name);
        if let Some(page) = self.pages.get(&key) {
            let fetched_now = page.generation > context.started;
            if context.offline || fetched_now || (!revalidate && page.fresh(now)) {
                context
                    .counters
                    .cache_hits
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(page);
            }
        }
        let client = self.clone();
        let context = context.clone();
        self.page_flights
            .join(key, move || {
                async move { client.fetch_page(url, revalidate, &context).await }.boxed()
            })
            .await
    }

    async fn fetch_page(&self, url: Url, revalidate: bool, context: &FetchContext) -> PageResult {
        let key = url.to_string();
        let remembered = self.pages.get(&key);
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
            self.pages.insert(key, page.clone(), page.weight());
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
        // A page is parsed as it arrives: a big project's (megabytes of JSON) is never held as
        // text beside what is made of it, and takes a blocking thread, not a runtime one, whose
        // stall would hold up every download and unpack waiting to be woken.
        let page_url = url.clone();
        let answer = self
            .http
            .get_read(
                &url,
                headers,
                BodySizes {
                    most: MAX_PAGE,
                    whole_below: INLINE_PARSE_LIMIT,
                },
                &context.settings,
                &context.counters,
                move |headers, body| parse_page(headers, body, &page_url),
            )
            .await?;
        let (status, headers, parsed) = match answer {
            ReadAnswer::Read { status, headers, value } => (status, headers, Some(value)),
            ReadAnswer::Other(answer) => (answer.status, answer.headers, None),
        };
        let max_age = max_age(&headers);
        let header = |name: reqwest::header::HeaderName| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let page = match status {
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
                let files = match parsed {
                    Some(files) => files?,
                    None => return Err(IndexError::Task(format!("{url}: a successful answer was not read"))),
                };
                tracing::debug!(
                    %url,
                    files = files.len(),
                    ms = clock.elapsed().as_millis() as u64,
                    "page fetched and parsed"
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
        let revalidated = status == StatusCode::NOT_MODIFIED;
        self.store_page_later(key.clone(), page.clone(), revalidated);
        self.pages.insert(key, page.clone(), page.weight());
        Ok(page)
    }

    async fn load_page(&self, key: &str) -> Result<Option<Arc<Page>>, IndexError> {
        type Row = (i64, Vec<u8>, Option<String>, Option<String>, i64, Option<i64>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT found, files, etag, last_modified, fetched_at, max_age FROM index_pages WHERE url = ?",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        let Some((found, packed, etag, last_modified, fetched_at, max_age)) = row else {
            return Ok(None);
        };
        let files = packed::unpack(&packed).and_then(|json| serde_json::from_slice::<Vec<Arc<DistFile>>>(&json).ok());
        let Some(mut files) = files else {
            // An entry written by an older build, or damaged: treat as absent.
            return Ok(None);
        };
        simple::share_texts(&mut files);
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
                let packed = tokio::task::spawn_blocking(move || {
                    let listed: Vec<&DistFile> = files.iter().map(AsRef::as_ref).collect();
                    packed::pack_json(&listed)
                })
                .await
                .ok()
                .and_then(Result::ok);
                let Some(packed) = packed else {
                    return;
                };
                sqlx::query(
                    "INSERT INTO index_pages (url, found, files, etag, last_modified, fetched_at, max_age)
                     VALUES (?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT (url) DO UPDATE SET found = excluded.found, files = excluded.files,
                        etag = excluded.etag, last_modified = excluded.last_modified,
                        fetched_at = excluded.fetched_at, max_age = excluded.max_age",
                )
                .bind(&key)
                .bind(page.found as i64)
                .bind(packed)
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

/// A project page's files, read from its body as its content type says: PEP 691 JSON, else
/// PEP 503 HTML.
fn parse_page(headers: &HeaderMap, body: Body<'_>, url: &Url) -> Result<Vec<Arc<DistFile>>, IndexError> {
    let json = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/vnd.pypi.simple.v1+json"));
    let files = match (json, body) {
        (true, Body::Whole(bytes)) => simple::parse_json(bytes, url)?,
        (true, Body::Streamed(reader)) => simple::parse_json_from(reader, url)?,
        (false, Body::Whole(bytes)) => simple::parse_html(&String::from_utf8_lossy(bytes), url)?,
        (false, Body::Streamed(reader)) => {
            // HTML is parsed whole (the parser needs the text); indexes serve it for small
            // projects or old servers.
            let mut text = Vec::new();
            reader.read_to_end(&mut text).map_err(|error| IndexError::Io {
                path: url.to_string(),
                reason: error.to_string(),
            })?;
            simple::parse_html(&String::from_utf8_lossy(&text), url)?
        }
    };
    Ok(files)
}
