//! The HTTP face of the daemon (`axle serve`): the store as a PEP 503/691 simple index and a
//! status page, served by axum on 127.0.0.1 only.
//!
//! Like `rpc`, this module only translates: paths and headers into calls on
//! [`ServedIndex`](crate::serve::ServedIndex) and [`Engine`], their answers into pages and
//! bytes. Every request must name a loopback host (`Host: localhost`, `127.0.0.1`, `[::1]`):
//! a page of another site that resolves its own name to 127.0.0.1 (DNS rebinding) is refused
//! before anything is read.

mod page;
mod simple;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::engine::Engine;
use crate::serve::{ServeError, ServedBytes, ServedIndex};

/// A running server, stopped when this is dropped or [`Running::stop`]ped.
pub struct Running {
    pub url: String,
    pub offline: bool,
    /// A serving daemon does not stop for being idle: `axle serve` lasts until `--stop`.
    _hold: crate::engine::HoldGuard,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops listening and waits (briefly) for the server to end.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(std::time::Duration::from_millis(500), &mut self.task)
            .await
            .is_err()
        {
            tracing::warn!("the HTTP server did not stop in time");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("port {port} on 127.0.0.1 is in use; choose another with --port, or 0 for any free port")]
    PortInUse { port: u16 },
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
}

struct AppState {
    engine: Arc<Engine>,
    index: ServedIndex,
}

type Shared = State<Arc<AppState>>;

/// Listens on 127.0.0.1:`port` (0: any free port) and serves `index` and the status page
/// until stopped.
pub async fn start(engine: Arc<Engine>, index: ServedIndex, port: u16) -> Result<Running, StartError> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => StartError::PortInUse { port },
            _ => StartError::Listen { port, source },
        })?;
    let address = listener
        .local_addr()
        .map_err(|source| StartError::Listen { port, source })?;
    let offline = index.offline();
    let hold = engine.activity.hold();
    let state = Arc::new(AppState { engine, index });
    let app = router(state);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(error) = served.await {
            tracing::warn!(%error, "the HTTP server stopped");
        }
    });
    Ok(Running {
        url: format!("http://{address}"),
        offline,
        _hold: hold,
        stop: Some(stop),
        task,
    })
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/simple", get(|| async { Redirect::permanent("/simple/") }))
        .route("/simple/", get(project_list))
        .route("/simple/{project}", get(to_project_page))
        .route("/simple/{project}/", get(project_page))
        .route("/files/{sha256}/{filename}", get(file))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Refuses requests for any host but a loopback one, and counts the rest as activity (a
/// daemon serving pip is not idle).
async fn guard(State(state): Shared, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !is_loopback_host(host) {
        tracing::info!(
            host = host.escape_debug().to_string(),
            "HTTP request refused: not a loopback host"
        );
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "refused: this server answers only requests for localhost, 127.0.0.1 or [::1]\n",
        )
            .into_response();
    }
    let _active = state.engine.activity.begin();
    let started = std::time::Instant::now();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    tracing::info!(
        path = path.escape_debug().to_string(),
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "http request"
    );
    response
}

/// Whether a `Host` header names this machine's loopback (with or without a port).
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, after)) if after.is_empty() || is_port(after) => inside,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(&format!(":{port}")) => name,
            Some(_) => return false,
            None => host,
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

fn is_port(text: &str) -> bool {
    text.strip_prefix(':')
        .is_some_and(|digits| !digits.is_empty() && digits.len() <= 5 && digits.bytes().all(|b| b.is_ascii_digit()))
}

async fn status_page(State(state): Shared) -> Response {
    let view = page::gather(&state.engine, state.index.offline()).await;
    html(page::render(&view))
}

async fn project_list(State(state): Shared, headers: HeaderMap) -> Response {
    let Some(format) = simple::Format::negotiate(header_text(&headers, header::ACCEPT)) else {
        return not_acceptable();
    };
    match state.index.projects().await {
        Ok(projects) => format.respond(simple::render_list(format, &projects)),
        Err(error) => failure(&error),
    }
}

async fn to_project_page(Path(project): Path<String>) -> Response {
    match simple::page_path(&project) {
        Some(path) => Redirect::permanent(&path).into_response(),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

async fn project_page(State(state): Shared, Path(project): Path<String>, headers: HeaderMap) -> Response {
    let Some(format) = simple::Format::negotiate(header_text(&headers, header::ACCEPT)) else {
        return not_acceptable();
    };
    match state.index.project(&project).await {
        Ok((name, files)) => {
            // PEP 503: a page is reached under its normalised name.
            if name != project {
                return match simple::page_path(&name) {
                    Some(path) => Redirect::permanent(&path).into_response(),
                    None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
                };
            }
            format.respond(simple::render_project(format, &name, &files))
        }
        Err(error) => failure(&error),
    }
}

async fn file(State(state): Shared, Path((sha256, filename)): Path<(String, String)>) -> Response {
    if !simple::is_sha256(&sha256) {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    if let Some(wheel) = filename.strip_suffix(".metadata") {
        return match state.index.metadata(&sha256).await {
            Ok(Some(text)) if state.index.is_stored_as(&sha256, wheel).await => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                )],
                text,
            )
                .into_response(),
            Ok(_) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
            Err(error) => failure(&error),
        };
    }
    let bytes = match state.index.file(&sha256, &filename).await {
        Ok(bytes) => bytes,
        Err(error) => return failure(&error),
    };
    let (path, temporary) = match bytes {
        ServedBytes::Stored(path) => (path, false),
        ServedBytes::Temporary(path) => (path, true),
    };
    let opened = tokio::fs::File::open(&path).await;
    if temporary {
        // Open first, then unlink: the bytes live as long as the response reads them.
        let _ = tokio::fs::remove_file(&path).await;
    }
    let file = match opened {
        Ok(file) => file,
        Err(error) => {
            tracing::warn!(%error, path = %path.display(), "cannot open a served file");
            return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file\n").into_response();
        }
    };
    let length = file.metadata().await.map(|meta| meta.len()).ok();
    let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    // A file's URL names its hash: its bytes never change.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn html(body: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

fn not_acceptable() -> Response {
    (
        StatusCode::NOT_ACCEPTABLE,
        "this index serves application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html and text/html\n",
    )
        .into_response()
}

fn failure(error: &ServeError) -> Response {
    match error {
        ServeError::NotFound(message) => (StatusCode::NOT_FOUND, format!("{message}\n")).into_response(),
        // The configured index failed: a gateway's error, with the reason for pip's log.
        ServeError::Index(_) | ServeError::Fetch(_) => {
            tracing::warn!(%error, "serving from the index failed");
            (StatusCode::BAD_GATEWAY, format!("{error}\n")).into_response()
        }
        ServeError::Store(_) => {
            tracing::warn!(%error, "serving from the store failed");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_loopback_hosts_are_served() {
        let cases = [
            ("localhost", true),
            ("localhost:8080", true),
            ("LOCALHOST.:1", true),
            ("app.localhost:3000", true),
            ("127.0.0.1", true),
            ("127.0.0.1:5000", true),
            ("127.1.2.3:5000", true),
            ("[::1]", true),
            ("[::1]:8080", true),
            ("", false),
            ("example.com", false),
            ("example.com:80", false),
            ("localhost.example.com", false),
            ("127.0.0.1.nip.io:80", false),
            ("10.0.0.1:80", false),
            ("[::2]:80", false),
            ("[::1]x", false),
            ("localhost:", false),
            ("localhost:80:80", false),
            ("localhost:abc", false),
        ];
        for (host, expected) in cases {
            assert_eq!(is_loopback_host(host), expected, "{host:?}");
        }
    }
}
