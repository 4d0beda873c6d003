//! [`Handshake`]: a tower layer that refuses requests meant for another build of the daemon
//! before they are decoded (see `axle_proto::handshake`); `Status` and `Shutdown` pass, so any
//! client can inspect and stop any daemon.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axle_proto::handshake::{BUILD_ID_HEADER, MISMATCH_MARKER};
use tonic::Status;

/// Refuses requests meant for another build before they are decoded; see
/// `axle_proto::handshake`.
#[derive(Clone)]
pub struct Handshake<S> {
    inner: S,
    build_id: Arc<str>,
}

impl<S> Handshake<S> {
    pub fn new(inner: S, build_id: &str) -> Handshake<S> {
        Handshake {
            inner,
            build_id: build_id.into(),
        }
    }
}

impl<S: tonic::server::NamedService> tonic::server::NamedService for Handshake<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tower::Service<http::Request<B>> for Handshake<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let exempt = path.ends_with("/Status") || path.ends_with("/Shutdown");
        let mismatch = request
            .headers()
            .get(BUILD_ID_HEADER)
            .is_some_and(|given| given.as_bytes() != self.build_id.as_bytes());
        if mismatch && !exempt {
            let status = Status::failed_precondition(format!(
                "{MISMATCH_MARKER}: this daemon is build {}, the client expects another",
                self.build_id
            ));
            return Box::pin(std::future::ready(Ok(status.into_http())));
        }
        Box::pin(self.inner.call(request))
    }
}
