//! Serving the API on a Unix socket until something says stop.
//!
//! [`run`] takes a bound listener and a shutdown future, so the binary only
//! binds and calls it and tests can start a server on a throwaway socket.
//! Everything that ends the daemon arrives in one loop here: the shutdown
//! future (signals), a client's `Shutdown`, and the idle timer. Stopping is
//! quick: no new connections, in-flight requests get [`IN_FLIGHT_GRACE`] to finish, then
//! are dropped (source builds are killed at once).
//!
//! Every connection's incoming bytes pass through `authority`, so that any gRPC client can
//! call, whatever it puts in `:authority`.

mod authority;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnixListenerStream;

use crate::engine::Engine;
use crate::rpc::{AxleServer, Handshake, Service};

/// How long a stop waits for requests still running: a status or a no-op sync ends well
/// within it; a cold lock is cut short rather than waited for.
const IN_FLIGHT_GRACE: Duration = Duration::from_millis(30);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Transport(#[from] tonic::transport::Error),
    #[error("cannot set up server reflection: {0}")]
    Reflection(String),
}

/// Why the daemon stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Signal,
    Requested,
    Idle,
}

pub async fn run(
    listener: UnixListener,
    daemon: Arc<Engine>,
    shutdown: impl Future<Output = ()>,
) -> Result<StopReason, ServeError> {
    let own_uid = rustix::process::getuid().as_raw();
    // Only the user who owns the daemon may talk to it, whatever the socket's
    // mode says.
    let incoming = UnixListenerStream::new(listener)
        .filter(move |connection| match connection {
            Ok(stream) => peer_is(stream, own_uid),
            Err(_) => true,
        })
        .map(|connection| connection.map(authority::Mended::new));

    let service = Handshake::new(AxleServer::new(Service::new(daemon.clone())), &daemon.build_id);
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("axle.v1.Axle", tonic_health::ServingStatus::Serving)
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(axle_proto::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|error| ServeError::Reflection(error.to_string()))?;
    let (stop_sender, stop_receiver) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .add_service(health_service)
            .add_service(reflection)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stop_receiver.await;
            }),
    );

    let reason = wait_for_stop(&daemon, shutdown).await;
    tracing::info!(?reason, "stopping");
    // Builds are stopped, not waited for: a requests waiting on one ends with an error, and
    // the drain below is bounded by the requests' own work.
    daemon.builds.stop();
    let _ = stop_sender.send(());
    match tokio::time::timeout(IN_FLIGHT_GRACE, &mut server).await {
        Ok(Ok(result)) => result?,
        Ok(Err(join_error)) => tracing::error!(%join_error, "server task failed"),
        Err(_) => {
            // A stop is not kept waiting by a cold lock or a large sync: what they have
            // written is either committed or repaired by the next run (see the crash tests),
            // and their clients see the connection close.
            tracing::info!("stopped with requests in flight");
            server.abort();
        }
    }
    Ok(reason)
}

async fn wait_for_stop(daemon: &Engine, shutdown: impl Future<Output = ()>) -> StopReason {
    let idle_check = (daemon.idle_timeout / 10).clamp(Duration::from_millis(50), Duration::from_secs(30));
    let mut ticks = tokio::time::interval(idle_check);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return StopReason::Signal,
            () = daemon.shutdown_requested.notified() => return StopReason::Requested,
            _ = ticks.tick() => {
                if !daemon.activity.held() && daemon.activity.idle_for() >= daemon.idle_timeout {
                    return StopReason::Idle;
                }
            }
        }
    }
}

fn peer_is(stream: &UnixStream, uid: u32) -> bool {
    match stream.peer_cred() {
        Ok(credentials) if credentials.uid() == uid => true,
        Ok(credentials) => {
            tracing::warn!(peer_uid = credentials.uid(), "refused a connection from another user");
            false
        }
        Err(error) => {
            tracing::warn!(%error, "refused a connection whose peer cannot be identified");
            false
        }
    }
}
