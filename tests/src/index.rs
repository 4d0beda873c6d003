//! A package index for tests, served on 127.0.0.1 by axum on its own thread, over plain
//! HTTP or over TLS with HTTP/2.
//!
//! It serves PEP 691 JSON and PEP 503 HTML simple pages, the files (with HTTP
//! range support), and PEP 658 metadata, and can be switched at run time to
//! misbehave: HTML only, no metadata files, no range support, 500 errors,
//! slow answers, truncated bodies, required credentials. Every request is
//! logged so tests can assert on what axle asked.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::wheel::BuiltWheel;

/// One file on the index.
#[derive(Debug, Clone)]
pub struct IndexFile {
    pub filename: String,
    pub bytes: Arc<Vec<u8>>,
    pub sha256: String,
    /// Served as `<file>.metadata` (PEP 658) unless metadata is switched off.
    pub metadata: Option<String>,
    pub requires_python: Option<String>,
    pub yanked: Option<String>,
    /// RFC 3339 (PEP 700).
    pub upload_time: Option<String>,
}

impl From<&crate::sdist::BuiltSdist> for IndexFile {
    fn from(sdist: &crate::sdist::BuiltSdist) -> IndexFile {
        IndexFile {
            filename: sdist.filename.clone(),
            bytes: Arc::new(sdist.bytes.clone()),
            sha256: sdist.sha256.clone(),
            metadata: None,
            requires_python: None,
            yanked: None,
            upload_time: None,
        }
    }
}

impl From<&BuiltWheel> for IndexFile {
    fn from(wheel: &BuiltWheel) -> IndexFile {
        IndexFile {
            filename: wheel.filename.clone(),
            bytes: Arc::new(wheel.bytes.clone()),
            sha256: wheel.sha256.clone(),
            metadata: Some(wheel.metadata.clone()),
            requires_python: None,
            yanked: None,
            upload_time: None,
        }
    }
}

/// What the server saw of one request.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub accept: Option<String>,
    pub range: Option<String>,
    pub if_none_match: Option<String>,
    pub authorization: Option<String>,
    pub status: u16,
}

#[derive(Default)]
pub struct Behaviour {
    pub html_only: AtomicBool,
    pub no_metadata: AtomicBool,
    pub no_range: AtomicBool,
    pub no_etag: AtomicBool,
    /// Answer 500 to this many requests, then behave.
    pub fail_next: AtomicU32,
    pub fail_always: AtomicBool,
    pub delay_ms: AtomicU64,
    /// Send half of each file body, then drop the connection.
    pub truncate_files: AtomicBool,
    /// `Cache-Control: max-age` on simple pages (0: none).
    pub max_age: AtomicU64,
    /// Serve every file with these bytes instead (a lying index).
    pub corrupt_files: AtomicBool,
    /// Project pages that are not valid JSON or HTML.
    pub malformed_pages: AtomicBool,
    /// Project pages of this many MiB of padding (0: normal pages).
    pub huge_pages_mib: AtomicU64,
    /// Project pages sent gzip-compressed (to clients that accept it, as the real index does).
    pub gzipped_pages: AtomicU64,
    /// Never compress pages.
    pub no_gzip: AtomicBool,
    /// Redirect file downloads to this base URL (another origin).
    pub redirect_files_to: Mutex<Option<String>>,
}

pub struct IndexState {
    projects: Mutex<BTreeMap<String, Vec<IndexFile>>>,
    pub behaviour: Behaviour,
    credentials: Mutex<Option<(String, String)>>,
    log: Mutex<Vec<RequestRecord>>,
    base: Mutex<String>,
    http2_requests: AtomicU64,
}

/// A running test index; stops when dropped.
pub struct TestIndex {
    pub state: Arc<IndexState>,
    pub address: SocketAddr,
    scheme: &'static str,
    /// Holds the certificate's PEM file of a TLS index.
    certificate: Option<tempfile::TempDir>,
    handle: axum_server::Handle<SocketAddr>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    let mut last_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !last_separator {
                out.push('-');
            }
            last_separator = true;
        } else {
            out.push(c.to_ascii_lowercase());
            last_separator = false;
        }
    }
    out
}

impl TestIndex {
    /// Plain HTTP (HTTP/1.1, or HTTP/2 to a client that asks for it without TLS).
    pub fn start() -> TestIndex {
        TestIndex::serve(false)
    }

    /// HTTPS with a certificate made for this run (for `127.0.0.1` and `localhost`), speaking
    /// HTTP/2 or HTTP/1.1 as the client offers (ALPN), as real indexes do. A client trusts it
    /// through [`TestIndex::certificate`] (`PIP_CERT`).
    pub fn start_tls() -> TestIndex {
        TestIndex::serve(true)
    }

    fn serve(tls: bool) -> TestIndex {
        let state = Arc::new(IndexState {
            projects: Mutex::new(BTreeMap::new()),
            behaviour: Behaviour::default(),
            credentials: Mutex::new(None),
            log: Mutex::new(Vec::new()),
            base: Mutex::new(String::new()),
            http2_requests: AtomicU64::new(0),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let scheme = if tls { "https" } else { "http" };
        *state.base.lock().unwrap() = format!("{scheme}://{address}");
        let certificate = tls.then(|| {
            let made =
                rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("index.pem"), made.cert.pem()).unwrap();
            (dir, made.cert.pem(), made.signing_key.serialize_pem())
        });
        let handle = axum_server::Handle::new();
        let app = axum::Router::new()
            .route("/simple/", get(root_page))
            .route("/simple/{project}/", get(project_page))
            .route("/files/{filename}", get(file))
            .layer(axum::middleware::from_fn_with_state(state.clone(), count_versions))
            .with_state(state.clone());
        let pem = certificate
            .as_ref()
            .map(|(_, cert, key)| (cert.clone().into_bytes(), key.clone().into_bytes()));
        let server_handle = handle.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let service = app.into_make_service();
                match pem {
                    Some((cert, key)) => {
                        let config = axum_server::tls_rustls::RustlsConfig::from_pem(cert, key)
                            .await
                            .unwrap();
                        axum_server::tls_rustls::from_tcp_rustls(listener, config)
                            .unwrap()
                            .handle(server_handle)
                            .serve(service)
                            .await
                    }
                    None => {
                        axum_server::from_tcp(listener)
                            .unwrap()
                            .handle(server_handle)
                            .serve(service)
                            .await
                    }
                }
                .unwrap();
            });
        });
        TestIndex {
            state,
            address,
            scheme,
            certificate: certificate.map(|(dir, _, _)| dir),
            handle,
            thread: Some(thread),
        }
    }

    /// The PEM file of the certificate a TLS index presents (for `PIP_CERT`).
    pub fn certificate(&self) -> Option<std::path::PathBuf> {
        self.certificate.as_ref().map(|dir| dir.path().join("index.pem"))
    }

    /// Requests that arrived over HTTP/2.
    pub fn http2_requests(&self) -> u64 {
        self.state.http2_requests.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:PORT` (`https://` over TLS), for links to this server.
    pub fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.address)
    }

    /// The index URL, as given to `--index-url`.
    pub fn url(&self) -> String {
        format!("{}/simple/", self.base())
    }

    /// The index URL with credentials in it.
    pub fn url_with_credentials(&self, user: &str, password: &str) -> String {
        format!("{}://{user}:{password}@{}/simple/", self.scheme, self.address)
    }

    pub fn add(&self, wheel: &BuiltWheel) -> &Self {
        self.add_file(&wheel.name, IndexFile::from(wheel))
    }

    pub fn add_sdist(&self, sdist: &crate::sdist::BuiltSdist) -> &Self {
        self.add_file(&sdist.name, IndexFile::from(sdist))
    }

    pub fn add_file(&self, project: &str, file: IndexFile) -> &Self {
        let mut projects = self.state.projects.lock().unwrap();
        let files = projects.entry(normalize(project)).or_default();
        files.retain(|existing| existing.filename != file.filename);
        files.push(file);
        self
    }

    /// Changes a file already served (yank it, set its upload time...).
    pub fn update(&self, filename: &str, change: impl FnOnce(&mut IndexFile)) {
        let mut projects = self.state.projects.lock().unwrap();
        let file = projects
            .values_mut()
            .flat_map(|files| files.iter_mut())
            .find(|file| file.filename == filename)
            .unwrap_or_else(|| panic!("no file {filename} on the test index"));
        change(file);
    }

    pub fn remove_project(&self, project: &str) {
        self.state.projects.lock().unwrap().remove(&normalize(project));
    }

    pub fn require_credentials(&self, user: &str, password: &str) {
        *self.state.credentials.lock().unwrap() = Some((user.to_string(), password.to_string()));
    }

    pub fn behaviour(&self) -> &Behaviour {
        &self.state.behaviour
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.log.lock().unwrap().clone()
    }

    pub fn clear_requests(&self) {
        self.state.log.lock().unwrap().clear();
    }

    /// Requests whose path contains `fragment`.
    pub fn requests_to(&self, fragment: &str) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(|record| record.path.contains(fragment))
            .collect()
    }
}

impl Drop for TestIndex {
    fn drop(&mut self) {
        self.handle.graceful_shutdown(None);
        // Not joined: a handler sleeping to simulate a slow index would hold
        // the test up; the thread ends when its last request does.
        drop(self.thread.take());
    }
}

async fn count_versions(
    State(state): State<Arc<IndexState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if request.version() == axum::http::Version::HTTP_2 {
        state.http2_requests.fetch_add(1, Ordering::SeqCst);
    }
    next.run(request).await
}

/// Common handling: logging, delays, failures, credentials. Returns a
/// response when the request is answered here.
async fn gate(state: &IndexState, method: &str, path: &str, headers: &HeaderMap) -> Option<Response> {
    let header = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let mut record = RequestRecord {
        method: method.to_string(),
        path: path.to_string(),
        accept: header(header::ACCEPT),
        range: header(header::RANGE),
        if_none_match: header(header::IF_NONE_MATCH),
        authorization: header(header::AUTHORIZATION),
        status: 200,
    };
    let delay = state.behaviour.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let failing = state.behaviour.fail_always.load(Ordering::SeqCst)
        || state
            .behaviour
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1))
            .is_ok();
    let answer = if failing {
        Some((StatusCode::INTERNAL_SERVER_ERROR, "injected failure").into_response())
    } else if let Some((user, password)) = state.credentials.lock().unwrap().clone() {
        use base64::Engine;
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        (record.authorization.as_deref() != Some(expected.as_str())).then(|| {
            let mut response = (StatusCode::UNAUTHORIZED, "credentials required").into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"test\""),
            );
            response
        })
    } else {
        None
    };
    if let Some(response) = &answer {
        record.status = response.status().as_u16();
    }
    state.log.lock().unwrap().push(record);
    answer
}

async fn root_page(State(state): State<Arc<IndexState>>, headers: HeaderMap) -> Response {
    if let Some(response) = gate(&state, "GET", "/simple/", &headers).await {
        return response;
    }
    let projects = state.projects.lock().unwrap();
    let mut html = String::from("<!DOCTYPE html><html><body>\n");
    for name in projects.keys() {
        html.push_str(&format!("<a href=\"{name}/\">{name}</a>\n"));
    }
    html.push_str("</body></html>\n");
    ([(header::CONTENT_TYPE, "text/html")], html).into_response()
}

async fn project_page(
    State(state): State<Arc<IndexState>>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/simple/{project}/");
    if let Some(response) = gate(&state, "GET", &path, &headers).await {
        return response;
    }
    let normalized = normalize(&project);
    if normalized != project {
        // PEP 503: redirect to the normalised name.
        return (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, format!("/simple/{normalized}/"))],
        )
            .into_response();
    }
    let Some(files) = state.projects.lock().unwrap().get(&normalized).cloned() else {
        set_status(&state, 404);
        return (StatusCode::NOT_FOUND, "no such project").into_response();
    };
    let behaviour = &state.behaviour;
    if behaviour.malformed_pages.load(Ordering::SeqCst) {
        return (
            [(header::CONTENT_TYPE, "application/vnd.pypi.simple.v1+json")],
            "{\"meta\": {\"api-version\": \"1.1\"}, \"files\": [{\"filename\": 7,",
        )
            .into_response();
    }
    let huge = behaviour.huge_pages_mib.load(Ordering::SeqCst);
    if huge > 0 {
        // A page that never stops growing: padding after a valid start.
        let chunk = vec![b' '; 1024 * 1024];
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = std::iter::once(Ok(b"{\"files\": [".to_vec()))
            .chain((0..huge).map(move |_| Ok(chunk.clone())))
            .collect();
        return (
            [(header::CONTENT_TYPE, "application/vnd.pypi.simple.v1+json")],
            Body::from_stream(tokio_stream::iter(chunks)),
        )
            .into_response();
    }
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("application/vnd.pypi.simple.v1+json"));
    let json = wants_json && !behaviour.html_only.load(Ordering::SeqCst);
    let with_metadata = !behaviour.no_metadata.load(Ordering::SeqCst);
    let base = state.base.lock().unwrap().clone();
    let (content_type, body) = if json {
        let files: Vec<serde_json::Value> = files
            .iter()
            .map(|file| {
                let mut entry = serde_json::json!({
                    "filename": file.filename,
                    "url": format!("{base}/files/{}", file.filename),
                    "hashes": { "sha256": file.sha256 },
                    "size": file.bytes.len(),
                });
                if let Some(requires_python) = &file.requires_python {
                    entry["requires-python"] = requires_python.clone().into();
                }
                if let Some(reason) = &file.yanked {
                    entry["yanked"] = if reason.is_empty() {
                        true.into()
                    } else {
                        reason.clone().into()
                    };
                }
                if let Some(time) = &file.upload_time {
                    entry["upload-time"] = time.clone().into();
                }
                if with_metadata && let Some(metadata) = &file.metadata {
                    entry["core-metadata"] =
                        serde_json::json!({ "sha256": crate::wheel::sha256_hex(metadata.as_bytes()) });
                }
                entry
            })
            .collect();
        // PEP 700: every version the project has files of, in upload order.
        let mut versions: Vec<String> = Vec::new();
        for file in &files {
            if let Some(version) = file["filename"].as_str().and_then(version_of)
                && !versions.contains(&version)
            {
                versions.push(version);
            }
        }
        let body = serde_json::json!({
            "meta": { "api-version": "1.1" },
            "name": normalized,
            "files": files,
            "versions": versions,
        });
        ("application/vnd.pypi.simple.v1+json", body.to_string())
    } else {
        let mut html = format!("<!DOCTYPE html>\n<html><head><title>Links for {normalized}</title></head><body>\n");
        for file in &files {
            let mut attributes = String::new();
            if let Some(requires_python) = &file.requires_python {
                attributes.push_str(&format!(
                    " data-requires-python=\"{}\"",
                    requires_python.replace('<', "&lt;").replace('>', "&gt;")
                ));
            }
            if let Some(reason) = &file.yanked {
                attributes.push_str(&format!(" data-yanked=\"{reason}\""));
            }
            if with_metadata && let Some(metadata) = &file.metadata {
                attributes.push_str(&format!(
                    " data-core-metadata=\"sha256={}\"",
                    crate::wheel::sha256_hex(metadata.as_bytes())
                ));
            }
            // Relative links, as many HTML indexes write them.
            html.push_str(&format!(
                "<a href=\"../../files/{}#sha256={}\"{attributes}>{}</a><br/>\n",
                file.filename, file.sha256, file.filename
            ));
        }
        html.push_str("</body></html>\n");
        ("text/html", html)
    };
    let etag = format!("\"{}\"", &crate::wheel::sha256_hex(body.as_bytes())[..16]);
    let etags = !behaviour.no_etag.load(Ordering::SeqCst);
    let max_age = behaviour.max_age.load(Ordering::SeqCst);
    let cache_control = if max_age > 0 {
        format!("max-age={max_age}, public")
    } else {
        "max-age=0, must-revalidate".to_string()
    };
    if etags
        && headers
            .get(header::IF_NONE_MATCH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|given| given == etag)
    {
        set_status(&state, 304);
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache_control)],
        )
            .into_response();
    }
    let gzip = !behaviour.no_gzip.load(Ordering::SeqCst)
        && headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accepted| accepted.split(',').any(|coding| coding.trim().starts_with("gzip")));
    let mut response = if gzip {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(body.as_bytes()).unwrap();
        behaviour.gzipped_pages.fetch_add(1, Ordering::SeqCst);
        (
            [(header::CONTENT_TYPE, content_type), (header::CONTENT_ENCODING, "gzip")],
            encoder.finish().unwrap(),
        )
            .into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    if etags && let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&cache_control) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// The version part of a wheel or sdist file name.
fn version_of(filename: &str) -> Option<String> {
    let stem = filename
        .strip_suffix(".whl")
        .or_else(|| filename.strip_suffix(".tar.gz"))
        .or_else(|| filename.strip_suffix(".zip"))?;
    let mut parts = stem.split('-');
    parts.next()?;
    parts.next().map(str::to_string)
}

fn set_status(state: &IndexState, status: u16) {
    if let Some(last) = state.log.lock().unwrap().last_mut() {
        last.status = status;
    }
}

async fn file(State(state): State<Arc<IndexState>>, Path(filename): Path<String>, headers: HeaderMap) -> Response {
    let path = format!("/files/{filename}");
    if let Some(response) = gate(&state, "GET", &path, &headers).await {
        return response;
    }
    let behaviour = &state.behaviour;
    let (wanted, metadata) = match filename.strip_suffix(".metadata") {
        Some(base) => (base.to_string(), true),
        None => (filename.clone(), false),
    };
    let found = state
        .projects
        .lock()
        .unwrap()
        .values()
        .flat_map(|files| files.iter())
        .find(|file| file.filename == wanted)
        .cloned();
    let Some(found) = found else {
        set_status(&state, 404);
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let redirect = behaviour.redirect_files_to.lock().unwrap().clone();
    if let Some(base) = redirect
        && !metadata
    {
        set_status(&state, 302);
        return (
            StatusCode::FOUND,
            [(header::LOCATION, format!("{base}/files/{filename}"))],
        )
            .into_response();
    }
    if metadata {
        return match (&found.metadata, behaviour.no_metadata.load(Ordering::SeqCst)) {
            (Some(text), false) => text.clone().into_response(),
            _ => {
                set_status(&state, 404);
                (StatusCode::NOT_FOUND, "no metadata").into_response()
            }
        };
    }
    let mut bytes = found.bytes.as_ref().clone();
    if behaviour.corrupt_files.load(Ordering::SeqCst) {
        for byte in bytes.iter_mut().take(64) {
            *byte ^= 0x5a;
        }
    }
    let total = bytes.len();
    let range = headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok())
        .filter(|_| !behaviour.no_range.load(Ordering::SeqCst))
        .and_then(|value| parse_range(value, total));
    if let Some((start, end)) = range {
        set_status(&state, 206);
        return (
            StatusCode::PARTIAL_CONTENT,
            [
                (header::CONTENT_RANGE, format!("bytes {start}-{}/{total}", end - 1)),
                (header::ACCEPT_RANGES, "bytes".to_string()),
            ],
            bytes[start..end].to_vec(),
        )
            .into_response();
    }
    if behaviour.truncate_files.load(Ordering::SeqCst) {
        // Promise the whole file, deliver half, then fail the stream.
        let half = bytes[..total / 2].to_vec();
        let stream = futures_like_stream(half);
        let mut response = Response::new(Body::from_stream(stream));
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(total as u64));
        return response;
    }
    let accept_ranges = if behaviour.no_range.load(Ordering::SeqCst) {
        "none"
    } else {
        "bytes"
    };
    (
        [
            (header::ACCEPT_RANGES, accept_ranges.to_string()),
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// A body stream that yields `data` and then an error, so the connection
/// breaks mid-body.
fn futures_like_stream(data: Vec<u8>) -> impl futures_core_stream::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_core_stream::iter(vec![
        Ok(data),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected reset",
        )),
    ])
}

mod futures_core_stream {
    pub use tokio_stream::{Stream, iter};
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` → half-open `[start, end)`.
fn parse_range(value: &str, total: usize) -> Option<(usize, usize)> {
    let spec = value.strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    let (start, end) = if start.is_empty() {
        let suffix: usize = end.parse().ok()?;
        (total.saturating_sub(suffix), total)
    } else {
        let start: usize = start.parse().ok()?;
        let end = if end.is_empty() {
            total
        } else {
            end.parse::<usize>().ok()? + 1
        };
        (start, end.min(total))
    };
    (start < end).then_some((start, end))
}
