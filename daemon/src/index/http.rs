//! The one HTTP client of the daemon: keep-alive connections shared by all
//! requests (HTTP/2 where the server offers it, so one connection per host
//! carries them all), a bound on requests in flight, retries with backoff, and
//! credentials (from index URLs and `.netrc`) attached by origin.
//!
//! A cold lock starts dozens of requests to one host at once. Before a
//! connection to that host exists, each would open its own (TLS handshake,
//! name lookup); so the first request to a host that has not answered lately
//! goes alone, and the others follow on the connection it leaves in the pool.
//! Names are looked up once per host (`dns`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Client, StatusCode};
use tokio::sync::Semaphore;
use url::Url;

use super::auth::{Credentials, NetrcFiles, origin};
use super::dns::CachingResolver;
use crate::context::Invocation;

/// Requests in flight at once, over all operations.
const MAX_IN_FLIGHT: usize = 48;
/// Attempts per request (the first and three retries).
const ATTEMPTS: u32 = 4;
/// How long idle connections stay in the pool.
const IDLE: Duration = Duration::from_secs(90);
/// A host that answered within this (less than `IDLE`) likely has a pooled connection.
const RECENT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HttpError {
    #[error("cannot reach {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("{url} did not answer within {seconds} seconds")]
    Timeout { url: String, seconds: u64 },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("the download of {url} broke off: {reason}")]
    Body { url: String, reason: String },
    #[error("{url} sent more than {limit} bytes; refusing to read on")]
    TooLarge { url: String, limit: u64 },
    #[error(
        "cannot reach {url}: its certificate is not trusted ({reason}); name the CA bundle that signed it with PIP_CERT or pip's `cert` setting"
    )]
    Untrusted { url: String, reason: String },
    #[error("cannot use the CA bundle {path}: {reason}")]
    Roots { path: String, reason: String },
}

/// Counters of one operation (or of the daemon), for reports and tests.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub bytes: AtomicU64,
    pub cache_hits: AtomicU64,
    pub revalidated: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.cache_hits.load(Ordering::Relaxed),
            self.revalidated.load(Ordering::Relaxed),
        )
    }
}

/// Per-request settings.
#[derive(Debug, Clone)]
pub struct RequestSettings {
    /// Longest time one HTTP request may take.
    pub timeout: Duration,
    /// The `.netrc` to consult for credentials.
    pub netrc: Option<PathBuf>,
    /// Credentials of this request's index URLs, by origin. They belong to
    /// the request: one client's wrong password never outlives its request.
    pub credentials: Arc<HashMap<String, Credentials>>,
    /// A CA bundle (PEM) to trust besides the system's roots.
    pub roots: Option<PathBuf>,
}

impl RequestSettings {
    /// The settings a client's environment asks for: `AXLE_HTTP_TIMEOUT`,
    /// and `NETRC` (else `~/.netrc`).
    pub fn from_invocation(invocation: &Invocation) -> RequestSettings {
        let timeout = invocation
            .var("AXLE_HTTP_TIMEOUT")
            .and_then(|text| text.parse::<f64>().ok())
            .filter(|seconds| *seconds > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::from_secs(60));
        let netrc = invocation
            .var("NETRC")
            .map(PathBuf::from)
            .or_else(|| invocation.user_home().map(|home| home.join(".netrc")));
        RequestSettings {
            timeout,
            netrc,
            credentials: Arc::default(),
            roots: invocation.var("PIP_CERT").map(|path| invocation.absolute(path)),
        }
    }
}

impl Default for RequestSettings {
    fn default() -> Self {
        RequestSettings {
            timeout: Duration::from_secs(60),
            netrc: None,
            credentials: Arc::default(),
            roots: None,
        }
    }
}

pub struct Http {
    /// Trusting the system's roots.
    client: Client,
    /// Trusting also a request's CA bundle, by its path; rebuilt when the file changes.
    with_roots: Mutex<HashMap<PathBuf, (Option<std::time::SystemTime>, Client)>>,
    in_flight: Semaphore,
    netrc: NetrcFiles,
    pub totals: Counters,
    resolver: CachingResolver,
    /// When each origin last answered.
    answered: Mutex<HashMap<String, Instant>>,
    /// Held by the one request that opens the first connection to an origin.
    first_contact: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A complete answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Http {
    pub fn new() -> Result<Http, String> {
        let resolver = CachingResolver::default();
        let client = client_builder(&resolver).build().map_err(|error| error.to_string())?;
        Ok(Http {
            client,
            with_roots: Mutex::new(HashMap::new()),
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
            netrc: NetrcFiles::default(),
            totals: Counters::default(),
            resolver,
            answered: Mutex::new(HashMap::new()),
            first_contact: Mutex::new(HashMap::new()),
        })
    }

    /// The client for a request: the shared one, or one that also trusts the request's CA
    /// bundle (kept while the file is unchanged, so its connections are reused too).
    fn client(&self, url: &Url, settings: &RequestSettings) -> Result<Client, HttpError> {
        let Some(path) = &settings.roots else {
            return Ok(self.client.clone());
        };
        let refused = |reason: String| HttpError::Roots {
            path: path.display().to_string(),
            reason,
        };
        let modified = std::fs::metadata(path)
            .map_err(|error| refused(error.to_string()))?
            .modified()
            .ok();
        let mut clients = self.with_roots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((seen, client)) = clients.get(path)
            && *seen == modified
        {
            return Ok(client.clone());
        }
        let pem = std::fs::read(path).map_err(|error| refused(error.to_string()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| refused(error_chain(&error)))?;
        if certificates.is_empty() {
            return Err(refused("it holds no PEM certificate".to_string()));
        }
        let mut builder = client_builder(&self.resolver);
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
        let client = builder.build().map_err(|error| HttpError::Connect {
            url: url.to_string(),
            reason: error_chain(&error),
        })?;
        // A handful of bundles at most in practice; a daemon fed many forgets the old ones.
        if clients.len() >= 8 {
            clients.clear();
        }
        clients.insert(path.clone(), (modified, client.clone()));
        Ok(client)
    }

    /// Name lookups made so far (each host once, while its answer is kept).
    pub fn lookups(&self) -> u64 {
        self.resolver.lookups()
    }

    fn answered_lately(&self, origin: &str) -> bool {
        let answered = self.answered.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        answered.get(origin).is_some_and(|when| when.elapsed() < RECENT)
    }

    /// Waits until a request to `origin` may go: at once when the origin answered lately;
    /// otherwise the first caller goes alone (holding the returned guard) and the rest wait
    /// for its answer, then share its connection.
    async fn first_contact(&self, origin: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        if self.answered_lately(origin) {
            return None;
        }
        let gate = self
            .first_contact
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(origin.to_string())
            .or_default()
            .clone();
        let guard = gate.lock_owned().await;
        (!self.answered_lately(origin)).then_some(guard)
    }

    fn credentials_for(&self, url: &Url, settings: &RequestSettings) -> Option<Credentials> {
        if let Some(credentials) = settings.credentials.get(&origin(url)) {
            return Some(credentials.clone());
        }
        self.netrc.lookup(settings.netrc.as_ref()?, url)
    }

    /// GET `url` and read the whole body (at most `limit` bytes), retrying
    /// transient failures. 4xx answers are returned, not retried.
    pub async fn get(
        &self,
        url: &Url,
        headers: HeaderMap,
        limit: u64,
        settings: &RequestSettings,
        counters: &Counters,
    ) -> Result<Answer, HttpError> {
        retrying(
            url,
            |answer: &Answer| Some(answer.status),
            || self.get_once(url, headers.clone(), limit, settings, counters),
        )
        .await
    }

    async fn get_once(
        &self,
        url: &Url,
        headers: HeaderMap,
        limit: u64,
        settings: &RequestSettings,
        counters: &Counters,
    ) -> Result<Answer, HttpError> {
        let mut response = self.send(url, headers, settings, counters).await?;
        let status = response.status();
        let headers = response.headers().clone();
        // The chunks are kept as they come and joined once: a body grown by doubling holds up to
        // twice its size (three times while it moves), and a big lock reads several pages of
        // megabytes at once.
        let mut body = BodyReader::new(url, limit, settings, counters, &self.totals);
        let mut chunks = Vec::new();
        while let Some(chunk) = body.next(&mut response).await? {
            chunks.push(chunk);
        }
        Ok(Answer {
            status,
            headers,
            body: join(chunks, body.length),
        })
    }

    /// A GET whose successful body is read by `read` as it arrives rather than held whole: a
    /// project page of megabytes costs what is parsed from it, not that plus its text. A body
    /// that ends within `sizes.whole_below` bytes is given whole (read on the caller's thread);
    /// a longer one is streamed to `read` on a blocking thread. Any other answer (a 304, a
    /// 404, an error status) comes back whole for the caller to judge. Retries as [`Http::get`]
    /// does, the body read again from its start.
    pub async fn get_read<T, F>(
        &self,
        url: &Url,
        headers: HeaderMap,
        sizes: BodySizes,
        settings: &RequestSettings,
        counters: &Counters,
        read: F,
    ) -> Result<ReadAnswer<T>, HttpError>
    where
        T: Send + 'static,
        F: Fn(&HeaderMap, Body<'_>) -> T + Send + Sync + 'static,
    {
        let read = Arc::new(read);
        let status = |answer: &ReadAnswer<T>| match answer {
            ReadAnswer::Other(answer) => Some(answer.status),
            ReadAnswer::Read { .. } => None,
        };
        retrying(url, status, || {
            self.read_once(url, headers.clone(), sizes, settings, counters, read.clone())
        })
        .await
    }

    async fn read_once<T, F>(
        &self,
        url: &Url,
        headers: HeaderMap,
        sizes: BodySizes,
        settings: &RequestSettings,
        counters: &Counters,
        read: Arc<F>,
    ) -> Result<ReadAnswer<T>, HttpError>
    where
        T: Send + 'static,
        F: Fn(&HeaderMap, Body<'_>) -> T + Send + Sync + 'static,
    {
        let mut response = self.send(url, headers, settings, counters).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = BodyReader::new(url, sizes.most, settings, counters, &self.totals);
        let mut chunks = Vec::new();
        if !status.is_success() {
            while let Some(chunk) = body.next(&mut response).await? {
                chunks.push(chunk);
            }
            let body = join(chunks, body.length);
            return Ok(ReadAnswer::Other(Answer { status, headers, body }));
        }
        // Small bodies (most pages) are gathered and read here, at once.
        loop {
            if body.length >= sizes.whole_below {
                break;
            }
            match body.next(&mut response).await? {
                Some(chunk) => chunks.push(chunk),
                None => {
                    let whole = join(chunks, body.length);
                    let value = read(&headers, Body::Whole(&whole));
                    return Ok(ReadAnswer::Read { status, headers, value });
                }
            }
        }
        // A big one: what came so far, then the rest as it comes, to a reader on a blocking
        // thread; a few chunks wait between them at most.
        let (sender, receiver) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
        let reader_headers = headers.clone();
        let reader = tokio::task::spawn_blocking(move || {
            let mut stream = std::io::BufReader::new(ChunkStream {
                chunks: receiver,
                current: bytes::Bytes::new(),
            });
            read(&reader_headers, Body::Streamed(&mut stream))
        });
        let mut failure = None;
        let mut pending = chunks.into_iter();
        loop {
            let chunk = match pending.next() {
                Some(chunk) => chunk,
                None => match body.next(&mut response).await {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => break,
                    Err(error) => {
                        failure = Some(error);
                        break;
                    }
                },
            };
            // The reader stopped early (it found the body malformed): it has its answer.
            if sender.send(chunk).await.is_err() {
                break;
            }
        }
        drop(sender);
        let value = reader.await.map_err(|error| HttpError::Body {
            url: url.to_string(),
            reason: format!("its reader failed: {error}"),
        })?;
        // A body cut short reads as malformed; the cut is what to report (and retry).
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(ReadAnswer::Read { status, headers, value })
    }

    /// Sends a GET and returns the response for the caller to stream; the
    /// status is checked by the caller. Retries connection failures only.
    pub async fn send(
        &self,
        url: &Url,
        headers: HeaderMap,
        settings: &RequestSettings,
        counters: &Counters,
    ) -> Result<reqwest::Response, HttpError> {
        let origin = origin(url);
        let mut first = self.first_contact(&origin).await;
        let _permit = self.in_flight.acquire().await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.client(url, settings)?.get(url.clone()).headers(headers.clone());
            if let Some(credentials) = self.credentials_for(url, settings) {
                request = request.basic_auth(credentials.username, credentials.password);
            }
            counters.requests.fetch_add(1, Ordering::Relaxed);
            self.totals.requests.fetch_add(1, Ordering::Relaxed);
            let result = tokio::time::timeout(settings.timeout, request.send()).await;
            let error = match result {
                Ok(Ok(response)) => {
                    self.answered
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .insert(origin, Instant::now());
                    first.take();
                    return Ok(response);
                }
                Ok(Err(error)) if error.is_timeout() => HttpError::Timeout {
                    url: url.to_string(),
                    seconds: settings.timeout.as_secs(),
                },
                Ok(Err(error)) => {
                    let reason = error_chain(&error);
                    let url = url.to_string();
                    // rustls's verdict reaches us only as text in reqwest's error chain.
                    if reason.contains("certificate") {
                        HttpError::Untrusted { url, reason }
                    } else {
                        HttpError::Connect { url, reason }
                    }
                }
                Err(_) => HttpError::Timeout {
                    url: url.to_string(),
                    seconds: settings.timeout.as_secs(),
                },
            };
            if attempt >= ATTEMPTS || !is_transient(&error) {
                return Err(error);
            }
            tracing::debug!(%url, %error, attempt, "retrying");
            tokio::time::sleep(backoff(attempt)).await;
        }
    }
}

/// How every client of the daemon is made.
fn client_builder(resolver: &CachingResolver) -> reqwest::ClientBuilder {
    let mut builder = Client::builder()
        .user_agent(concat!("axle/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(IDLE)
        .pool_max_idle_per_host(16)
        .dns_resolver(Arc::new(resolver.clone()))
        .redirect(reqwest::redirect::Policy::limited(10));
    if std::env::var(axle_proto::env_vars::AXLE_HTTP2).is_ok_and(|value| value == "0") {
        builder = builder.http1_only();
    }
    builder
}

/// Runs `once` until it answers with a status that is not worth another try (`status` says
/// which status an answer has, if one that may be retried), fails for good, or runs out of
/// attempts; transient failures and retryable statuses wait a backoff between attempts.
async fn retrying<T, Fut>(
    url: &Url,
    status: impl Fn(&T) -> Option<StatusCode>,
    mut once: impl FnMut() -> Fut,
) -> Result<T, HttpError>
where
    Fut: std::future::Future<Output = Result<T, HttpError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match once().await {
            Ok(answer) if attempt < ATTEMPTS && status(&answer).is_some_and(retryable_status) => {
                tracing::debug!(%url, status = ?status(&answer), attempt, "retrying");
            }
            Ok(answer) => return Ok(answer),
            Err(error) if is_transient(&error) && attempt < ATTEMPTS => {
                tracing::debug!(%url, %error, attempt, "retrying");
            }
            Err(error) => return Err(error),
        }
        tokio::time::sleep(backoff(attempt)).await;
    }
}

fn retryable_status(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT
}

fn is_transient(error: &HttpError) -> bool {
    matches!(error, HttpError::Connect { .. } | HttpError::Body { .. })
}

fn backoff(attempt: u32) -> Duration {
    // 100 ms, 400 ms, 1.6 s: long enough for a restarting server, short
    // enough that a dead one is reported promptly.
    Duration::from_millis(100 * 4u64.pow(attempt.saturating_sub(1).min(4)))
}

/// The error and its causes in one line, without the URL's credentials
/// (URLs given to reqwest never carry them).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The sizes that decide how [`Http::get_read`] reads a body.
#[derive(Clone, Copy, Debug)]
pub struct BodySizes {
    /// Past this many bytes the body is refused.
    pub most: u64,
    /// A body that ends before this many bytes is read whole; a longer one as it arrives.
    pub whole_below: u64,
}

/// What [`Http::get_read`] got.
pub enum ReadAnswer<T> {
    /// A success, its body read.
    Read {
        status: StatusCode,
        headers: HeaderMap,
        value: T,
    },
    /// Any other answer, whole.
    Other(Answer),
}

/// A successful body as the reader of [`Http::get_read`] gets it.
pub enum Body<'a> {
    Whole(&'a [u8]),
    Streamed(&'a mut dyn std::io::BufRead),
}

/// Reads a response's body chunk by chunk: each within the request's timeout, counted, and
/// refused past the size limit.
struct BodyReader<'a> {
    url: &'a Url,
    limit: u64,
    settings: &'a RequestSettings,
    counters: &'a Counters,
    totals: &'a Counters,
    length: u64,
}

impl<'a> BodyReader<'a> {
    fn new(
        url: &'a Url,
        limit: u64,
        settings: &'a RequestSettings,
        counters: &'a Counters,
        totals: &'a Counters,
    ) -> BodyReader<'a> {
        BodyReader {
            url,
            limit,
            settings,
            counters,
            totals,
            length: 0,
        }
    }

    async fn next(&mut self, response: &mut reqwest::Response) -> Result<Option<bytes::Bytes>, HttpError> {
        let chunk = tokio::time::timeout(self.settings.timeout, response.chunk())
            .await
            .map_err(|_| HttpError::Timeout {
                url: self.url.to_string(),
                seconds: self.settings.timeout.as_secs(),
            })?
            .map_err(|error| HttpError::Body {
                url: self.url.to_string(),
                reason: error_chain(&error),
            })?;
        let Some(chunk) = chunk else {
            return Ok(None);
        };
        self.counters.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        self.totals.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        self.length += chunk.len() as u64;
        if self.length > self.limit {
            return Err(HttpError::TooLarge {
                url: self.url.to_string(),
                limit: self.limit,
            });
        }
        Ok(Some(chunk))
    }
}

/// The chunks of a body, read on a blocking thread as the request's task receives them; the
/// end of the body (or of the request) is the end of the stream.
struct ChunkStream {
    chunks: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    current: bytes::Bytes,
}

impl std::io::Read for ChunkStream {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let count = buffer.len().min(self.current.len());
        buffer[..count].copy_from_slice(&self.current.split_to(count));
        Ok(count)
    }
}

/// `chunks` as one buffer of exactly `length` bytes; a lone chunk is taken over without a copy
/// when nothing else holds it.
fn join(mut chunks: Vec<bytes::Bytes>, length: u64) -> Vec<u8> {
    if chunks.len() == 1
        && let Some(only) = chunks.pop()
    {
        return Vec::from(only);
    }
    let mut body = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    for chunk in chunks {
        body.extend_from_slice(&chunk);
    }
    body
}
