//! The server in-process, on a throwaway socket: the API, the handshake and
//! shutdown, without the binaries.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use axle_daemon::engine::Engine;
use axle_daemon::server::{self, StopReason};
use axle_proto::handshake::{BUILD_ID_HEADER, MISMATCH_MARKER};
use axle_proto::location::{Location, LocationEnv};
use axle_proto::v1::{self, axle_client::AxleClient};
use hyper_util::rt::TokioIo;
use tonic::transport::{Endpoint, Uri};

async fn client(socket: &Path) -> AxleClient<tonic::transport::Channel> {
    let socket = socket.to_path_buf();
    let channel = Endpoint::from_static("http://127.0.0.1")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(socket).await?)) }
        }))
        .await
        .unwrap();
    AxleClient::new(channel)
}

#[tokio::test]
async fn serves_status_checks_builds_and_stops_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let env = LocationEnv {
        axle_home: Some(dir.path().join("home")),
        ..LocationEnv::default()
    };
    let location = Location::resolve(&env, dir.path()).unwrap();
    std::fs::create_dir_all(location.socket.parent().unwrap()).unwrap();
    let pool = axle_daemon::db::open(&dir.path().join("test.db")).await.unwrap();
    let daemon = Engine::new(
        location.clone(),
        pool,
        "build-a".into(),
        Duration::from_secs(600),
        axle_daemon::services::Residency::Daemon,
    )
    .unwrap();
    let listener = tokio::net::UnixListener::bind(&location.socket).unwrap();
    let (_never, shutdown) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::run(listener, daemon, async {
        let _ = shutdown.await;
    }));

    let mut client = client(&location.socket).await;
    let status = client.status(v1::StatusRequest {}).await.unwrap().into_inner();
    assert_eq!(status.build_id, "build-a");
    assert_eq!(status.pid, std::process::id());

    // Another build's request is refused before it is decoded...
    let mut request = tonic::Request::new(v1::CreateVenvRequest::default());
    request
        .metadata_mut()
        .insert(BUILD_ID_HEADER, "build-b".parse().unwrap());
    let error = client.create_venv(request).await.unwrap_err();
    assert_eq!(error.code(), tonic::Code::FailedPrecondition);
    assert!(error.message().contains(MISMATCH_MARKER));
    // ...but any build may ask for status.
    let mut request = tonic::Request::new(v1::StatusRequest {});
    request
        .metadata_mut()
        .insert(BUILD_ID_HEADER, "build-b".parse().unwrap());
    client.status(request).await.unwrap();

    // A request without an invocation is a clear client error.
    let error = client.create_venv(v1::CreateVenvRequest::default()).await.unwrap_err();
    assert_eq!(error.code(), tonic::Code::InvalidArgument);

    client.shutdown(v1::ShutdownRequest {}).await.unwrap();
    let reason = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reason, StopReason::Requested);
}
