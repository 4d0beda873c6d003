//! The gRPC face of the daemon: the only module that knows protobuf types.
//!
//! It translates requests into domain calls on [`Engine`], domain results into
//! replies, reporter calls into streamed events, and [`Error`]s into
//! `tonic::Status` with the error's own message. Nothing else happens here.

mod convert;
mod events;
mod handshake;

use std::pin::Pin;
use std::sync::Arc;

use axle_proto::v1::{self, axle_server::Axle};
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::engine::{CreateVenv, Engine};
use crate::error::Error;
use crate::progress::Reporter;
use crate::sync::SyncRequest;
use axle_install::LinkMode;

pub use axle_proto::v1::axle_server::AxleServer;
pub use handshake::Handshake;

use convert::{
    build_flags, image_request, image_result, index_options, invocation, lock_request, path_text, project_dir,
    project_status, status_of, team_stats, watch_event,
};
use events::StreamReporter;

type EventStream = Pin<Box<dyn Stream<Item = Result<v1::Event, Status>> + Send>>;

pub struct Service {
    engine: Arc<Engine>,
    /// The `axle serve` HTTP server, when one runs.
    serving: tokio::sync::Mutex<Option<crate::http::Running>>,
}

impl Service {
    pub fn new(engine: Arc<Engine>) -> Service {
        Service {
            engine,
            serving: tokio::sync::Mutex::new(None),
        }
    }

    /// A unary request's work, counted as activity for as long as it runs, with the log's
    /// line for it.
    async fn unary<T>(&self, rpc: &'static str, work: impl Future<Output = Result<T, Status>>) -> Result<T, Status> {
        let _guard = self.engine.activity.begin();
        let started = std::time::Instant::now();
        let result = work.await;
        log_request(rpc, started, result.as_ref().err());
        result
    }

    /// Runs `operation` on its own task, streaming its reports and then its
    /// result. A panic in the operation becomes an error reply; the daemon
    /// stays up. The operation runs to completion even when the client goes
    /// away, so it never stops half-way through a change.
    fn stream<F, Fut>(&self, rpc: &'static str, operation: F) -> Response<EventStream>
    where
        F: FnOnce(Arc<Engine>, Arc<dyn Reporter>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<v1::event::Kind, Error>> + Send + 'static,
    {
        let (sender, receiver) = mpsc::channel(256);
        let reporter: Arc<dyn Reporter> = Arc::new(StreamReporter { sender: sender.clone() });
        let engine = self.engine.clone();
        let guard = engine.activity.begin();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let work = tokio::spawn(operation(engine, reporter));
            let reply = match work.await {
                Ok(Ok(kind)) => Ok(v1::Event { kind: Some(kind) }),
                Ok(Err(error)) => Err(status_of(&error)),
                Err(join_error) => {
                    tracing::error!(%join_error, "operation panicked");
                    Err(Status::internal(format!(
                        "axled hit a bug while serving this request ({join_error}); see its log"
                    )))
                }
            };
            log_request(rpc, started, reply.as_ref().err());
            let _ = sender.send(reply).await;
            drop(guard);
        });
        Response::new(Box::pin(ReceiverStream::new(receiver)))
    }
}

#[tonic::async_trait]
impl Axle for Service {
    async fn status(&self, _request: Request<v1::StatusRequest>) -> Result<Response<v1::StatusReply>, Status> {
        let engine = &self.engine;
        let (watched, polled) = engine.watches.counts();
        Ok(Response::new(v1::StatusReply {
            version: env!("CARGO_PKG_VERSION").to_string(),
            build_id: engine.build_id.clone(),
            pid: std::process::id(),
            uptime_ms: engine.started.elapsed().as_millis() as u64,
            home: engine.location.home.to_string_lossy().into_owned(),
            socket: engine.location.socket.to_string_lossy().into_owned(),
            log_file: engine.location.log_file().to_string_lossy().into_owned(),
            active_requests: engine.activity.active(),
            requests_served: engine.activity.served(),
            idle_timeout_secs: engine.idle_timeout.as_secs(),
            sqlite_version: engine.sqlite_version.clone(),
            http_requests: engine.services.index.totals().snapshot().0,
            name_lookups: engine.services.index.name_lookups(),
            watched_dirs: watched as u64,
            polled_dirs: polled as u64,
            team_stores: engine.services.team.stats().into_iter().map(team_stats).collect(),
        }))
    }

    async fn shutdown(&self, _request: Request<v1::ShutdownRequest>) -> Result<Response<v1::ShutdownReply>, Status> {
        tracing::info!("shutdown requested by a client");
        self.engine.shutdown_requested.notify_one();
        Ok(Response::new(v1::ShutdownReply {
            pid: std::process::id(),
        }))
    }

    type CreateVenvStream = EventStream;

    async fn create_venv(&self, request: Request<v1::CreateVenvRequest>) -> Result<Response<EventStream>, Status> {
        let request = request.into_inner();
        let invocation = invocation(request.invocation)?;
        let domain = CreateVenv {
            invocation,
            path: if request.path.is_empty() {
                ".venv".into()
            } else {
                request.path.into()
            },
            python: Some(request.python).filter(|python| !python.is_empty()),
            prompt: request.prompt,
            system_site_packages: request.system_site_packages,
            clear: request.clear,
            seed: request.seed,
        };
        Ok(self.stream("CreateVenv", move |engine, reporter| async move {
            let created = engine.create_venv(domain, reporter).await?;
            let info = &created.interpreter.info;
            Ok(v1::event::Kind::VenvCreated(v1::VenvCreated {
                path: created.root.to_string_lossy().into_owned(),
                interpreter: Some(v1::Interpreter {
                    executable: created.interpreter.path.to_string_lossy().into_owned(),
                    version: info.version.clone(),
                    implementation: info.implementation_display().to_string(),
                }),
                python: created.python.to_string_lossy().into_owned(),
                seeded: created.seeded,
                elapsed_us: created.elapsed.as_micros() as u64,
            }))
        }))
    }

    type LockStream = EventStream;

    async fn lock(&self, request: Request<v1::LockRequest>) -> Result<Response<EventStream>, Status> {
        let domain = lock_request(request.into_inner())?;
        Ok(self.stream("Lock", move |engine, reporter| async move {
            let outcome = engine.lock(domain, reporter).await?;
            Ok(v1::event::Kind::LockResult(v1::LockResult {
                output_file: outcome.output_file.to_string_lossy().into_owned(),
                // The lock is on disk unless this was a dry run; sending it
                // again would only slow the answer.
                content: if outcome.written {
                    String::new()
                } else {
                    outcome.content
                },
                packages: outcome.packages as u32,
                fresh: outcome.fresh,
                written: outcome.written,
                elapsed_us: outcome.elapsed.as_micros() as u64,
                stats: Some(v1::LockStats {
                    http_requests: outcome.http_requests,
                    bytes_fetched: outcome.bytes_fetched,
                    cache_hits: outcome.cache_hits,
                }),
            }))
        }))
    }

    type SyncStream = EventStream;

    async fn sync(&self, request: Request<v1::SyncRequest>) -> Result<Response<EventStream>, Status> {
        let request = request.into_inner();
        let link_mode = match request.link_mode.as_str() {
            "" | "hardlink" => LinkMode::Hardlink,
            "copy" => LinkMode::Copy,
            "clone" => LinkMode::Clone,
            "symlink" => LinkMode::Symlink,
            other => return Err(Status::invalid_argument(format!("unknown link mode `{other}`"))),
        };
        let (index, strategy) = index_options(request.index)?;
        let domain = SyncRequest {
            invocation: invocation(request.invocation)?,
            lock_files: request.lock_files,
            venv: Some(request.venv).filter(|venv| !venv.is_empty()),
            dry_run: request.dry_run,
            link_mode,
            compile_bytecode: request.compile_bytecode,
            offline: request.offline,
            index,
            strategy,
            build: build_flags(request.build),
        };
        Ok(self.stream("Sync", move |engine, reporter| async move {
            let outcome = engine.sync(domain, reporter).await?;
            Ok(v1::event::Kind::SyncResult(v1::SyncResult {
                venv: outcome.venv.to_string_lossy().into_owned(),
                installed: outcome.installed,
                removed: outcome.removed,
                unchanged: outcome.unchanged,
                fresh: outcome.fresh,
                dry_run: outcome.dry_run,
                elapsed_us: outcome.elapsed.as_micros() as u64,
                bytes_linked: outcome.bytes_linked,
                bytes_copied: outcome.bytes_copied,
            }))
        }))
    }

    type StoreVerifyStream = EventStream;

    async fn store_verify(&self, request: Request<v1::StoreVerifyRequest>) -> Result<Response<EventStream>, Status> {
        let repair = request.into_inner().repair;
        Ok(self.stream("StoreVerify", move |engine, reporter| async move {
            let report = engine.store_verify(repair, reporter).await?;
            Ok(v1::event::Kind::Verified(v1::VerifyResult {
                objects: report.objects,
                archives: report.archives,
                venv_files: report.venv_files,
                venvs: report.venvs,
                problems: report
                    .problems
                    .into_iter()
                    .map(|problem| v1::VerifyProblem {
                        kind: problem.kind.as_str().to_string(),
                        path: problem.path.to_string_lossy().into_owned(),
                        detail: problem.detail,
                        repaired: problem.repaired,
                    })
                    .collect(),
            }))
        }))
    }

    type ExportStream = EventStream;

    async fn export(&self, request: Request<v1::ExportRequest>) -> Result<Response<EventStream>, Status> {
        let request = request.into_inner();
        let (index, strategy) = index_options(request.index)?;
        let non_empty = |text: String| Some(text).filter(|text| !text.is_empty());
        let domain = crate::export::ExportRequest {
            invocation: invocation(request.invocation)?,
            lock_files: request.lock_files.into_iter().map(std::path::PathBuf::from).collect(),
            wheelhouse: std::path::PathBuf::from(request.wheelhouse),
            python: non_empty(request.python),
            python_version: non_empty(request.python_version),
            python_platform: non_empty(request.python_platform),
            index,
            strategy,
            offline: request.offline,
        };
        if domain.wheelhouse.as_os_str().is_empty() {
            return Err(Status::invalid_argument(
                "name the wheelhouse directory (--wheelhouse DIR)",
            ));
        }
        Ok(self.stream("Export", move |engine, reporter| async move {
            let outcome = engine.export(domain, reporter).await?;
            Ok(v1::event::Kind::Exported(v1::ExportResult {
                wheelhouse: outcome.wheelhouse.to_string_lossy().into_owned(),
                files: outcome.files,
                downloaded: outcome.downloaded,
                sdists: outcome.sdists,
            }))
        }))
    }

    type BuildImageStream = EventStream;

    async fn build_image(&self, request: Request<v1::ImageRequest>) -> Result<Response<EventStream>, Status> {
        let domain = image_request(request.into_inner())?;
        Ok(self.stream("BuildImage", move |engine, reporter| async move {
            let outcome = engine.build_image(domain, reporter).await?;
            Ok(v1::event::Kind::Image(image_result(outcome)))
        }))
    }

    async fn store_stats(
        &self,
        _request: Request<v1::StoreStatsRequest>,
    ) -> Result<Response<v1::StoreStatsReply>, Status> {
        let stats = self
            .unary("StoreStats", async {
                self.engine.store_stats().await.map_err(|error| status_of(&error))
            })
            .await?;
        Ok(Response::new(v1::StoreStatsReply {
            wheels: stats.wheels,
            files: stats.objects,
            bytes_stored: stats.bytes_stored,
            bytes_linked: stats.bytes_linked,
            venvs: stats.venvs,
            path: stats.path.to_string_lossy().into_owned(),
            team_stores: self.engine.services.team.stats().into_iter().map(team_stats).collect(),
        }))
    }

    type StorePushStream = EventStream;

    async fn store_push(&self, request: Request<v1::StorePushRequest>) -> Result<Response<EventStream>, Status> {
        let request = request.into_inner();
        let domain = crate::push::PushRequest {
            invocation: invocation(request.invocation)?,
            lock_files: request.lock_files,
        };
        Ok(self.stream("StorePush", move |engine, reporter| async move {
            let outcome = engine.store_push(domain, reporter).await?;
            Ok(v1::event::Kind::Pushed(v1::PushResult {
                team_store: outcome.team_store,
                wheels: outcome.wheels,
                records: outcome.records,
                missing: outcome.missing,
                uploaded: outcome.uploaded,
                already_there: outcome.already_there,
                failed: outcome.failed,
                still_queued: outcome.still_queued,
                mode: outcome.mode,
            }))
        }))
    }

    async fn store_keygen(
        &self,
        request: Request<v1::StoreKeygenRequest>,
    ) -> Result<Response<v1::StoreKeygenReply>, Status> {
        let request = request.into_inner();
        let invocation = invocation(request.invocation)?;
        let public_key = self
            .unary("StoreKeygen", async {
                self.engine
                    .store_keygen(&invocation, &request.name, &request.secret_key_file)
                    .map_err(|error| status_of(&error))
            })
            .await?;
        Ok(Response::new(v1::StoreKeygenReply { public_key }))
    }

    async fn store_gc(&self, request: Request<v1::StoreGcRequest>) -> Result<Response<v1::StoreGcReply>, Status> {
        let request = request.into_inner();
        let outcome = self
            .unary("StoreGc", async {
                self.engine
                    .store_gc(request.older_than_days, request.max_size, request.dry_run)
                    .await
                    .map_err(|error| status_of(&error))
            })
            .await?;
        Ok(Response::new(v1::StoreGcReply {
            wheels_removed: outcome.wheels_removed,
            files_removed: outcome.files_removed,
            bytes_freed: outcome.bytes_freed,
        }))
    }

    async fn project_status(
        &self,
        request: Request<v1::ProjectStatusRequest>,
    ) -> Result<Response<v1::ProjectStatusReply>, Status> {
        let request = request.into_inner();
        let status = self
            .unary("ProjectStatus", async {
                let invocation = invocation(request.invocation)?;
                let dir = project_dir(&invocation, &request.dir);
                self.engine
                    .project_status(&dir, &invocation)
                    .await
                    .map_err(|error| status_of(&error))
            })
            .await?;
        Ok(Response::new(project_status(status)))
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<v1::WatchEvent, Status>> + Send>>;

    async fn watch(&self, request: Request<v1::WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        let request = request.into_inner();
        let invocation = invocation(request.invocation)?;
        let dirs = if request.dirs.is_empty() {
            vec![invocation.cwd.clone()]
        } else {
            request.dirs.iter().map(|dir| project_dir(&invocation, dir)).collect()
        };
        let domain = crate::watch::WatchRequest {
            invocation,
            dirs,
            lock: request.lock || request.sync,
            sync: request.sync,
        };
        let (events, mut received) = mpsc::channel(256);
        let (sender, receiver) = mpsc::channel(256);
        let engine = self.engine.clone();
        tokio::spawn(async move {
            // A watching editor keeps the daemon up.
            let _guard = engine.activity.begin();
            // Ends when the client goes away, even while nothing happens: dropping `received`
            // is what tells the watch to stop and let go of its watches.
            let forwarding = sender.clone();
            let forward = async move {
                let sender = forwarding;
                loop {
                    tokio::select! {
                        () = sender.closed() => return,
                        event = received.recv() => {
                            let Some(event) = event else { return };
                            if sender.send(Ok(watch_event(event))).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            };
            let started = std::time::Instant::now();
            let watched = crate::watch::watch(engine.clone(), domain, events);
            let (result, ()) = tokio::join!(watched, forward);
            let result = result.map_err(|error| status_of(&error));
            log_request("Watch", started, result.as_ref().err());
            if let Err(status) = result {
                let _ = sender.send(Err(status)).await;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn list_environments(
        &self,
        _request: Request<v1::ListEnvironmentsRequest>,
    ) -> Result<Response<v1::ListEnvironmentsReply>, Status> {
        let found = self
            .unary("ListEnvironments", async {
                self.engine.environments().await.map_err(|error| status_of(&error))
            })
            .await?;
        Ok(Response::new(v1::ListEnvironmentsReply {
            environments: found
                .into_iter()
                .map(|listed| {
                    let env = listed.info;
                    v1::Environment {
                        path: path_text(&env.path),
                        python: path_text(&env.python),
                        base_interpreter: env.base_interpreter,
                        python_version: env.python_version,
                        project: env.project.as_deref().map(path_text).unwrap_or_default(),
                        size_bytes: env.size_bytes,
                        last_sync: env.last_sync.unwrap_or(0),
                        state: listed.state.as_str().to_string(),
                        state_detail: listed.detail,
                        lock_files: env.lock_files.iter().map(|file| path_text(file)).collect(),
                    }
                })
                .collect(),
        }))
    }

    async fn list_packages(
        &self,
        request: Request<v1::ListPackagesRequest>,
    ) -> Result<Response<v1::ListPackagesReply>, Status> {
        let request = request.into_inner();
        let found = self
            .unary("ListPackages", async {
                let invocation = invocation(request.invocation)?;
                if request.venv.is_empty() {
                    return Err(Status::invalid_argument("name the venv whose packages to list"));
                }
                let venv = invocation.absolute(&request.venv);
                self.engine
                    .packages(&venv, &invocation)
                    .await
                    .map_err(|error| status_of(&error))
            })
            .await?;
        Ok(Response::new(v1::ListPackagesReply {
            packages: found
                .into_iter()
                .map(|package| v1::Package {
                    name: package.name,
                    version: package.version,
                    requested: package.requested,
                    editable: package.editable,
                    lock_file: package.lock_file.as_deref().map(path_text).unwrap_or_default(),
                })
                .collect(),
        }))
    }

    async fn serve(&self, request: Request<v1::ServeRequest>) -> Result<Response<v1::ServeReply>, Status> {
        let request = request.into_inner();
        self.unary("Serve", async {
            let invocation = invocation(request.invocation)?;
            let mut serving = self.serving.lock().await;
            if request.stop {
                let url = match serving.take() {
                    Some(running) => {
                        let url = running.url.clone();
                        running.stop().await;
                        url
                    }
                    None => String::new(),
                };
                return Ok(Response::new(v1::ServeReply {
                    url,
                    offline: false,
                    already_running: false,
                }));
            }
            if let Some(running) = serving.as_ref() {
                return Ok(Response::new(v1::ServeReply {
                    url: running.url.clone(),
                    offline: running.offline,
                    already_running: true,
                }));
            }
            let port = u16::try_from(request.port)
                .map_err(|_| Status::invalid_argument(format!("{} is not a TCP port", request.port)))?;
            let (settings, strategy) = index_options(request.index)?;
            let index = self
                .engine
                .served_index(&invocation, &settings, strategy, request.offline)
                .await
                .map_err(|error| status_of(&error))?;
            let running = crate::http::start(self.engine.clone(), index, port)
                .await
                .map_err(|error| match error {
                    crate::http::StartError::PortInUse { .. } => Status::already_exists(error.to_string()),
                    crate::http::StartError::Listen { .. } => Status::unavailable(error.to_string()),
                })?;
            tracing::info!(url = %running.url, offline = running.offline, "serving the store");
            let reply = v1::ServeReply {
                url: running.url.clone(),
                offline: running.offline,
                already_running: false,
            };
            *serving = Some(running);
            Ok(Response::new(reply))
        })
        .await
    }
}

/// The log's one line per request: which, how long, and how it ended.
fn log_request(rpc: &str, started: std::time::Instant, error: Option<&Status>) {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match error {
        None => tracing::info!(rpc, ms = format!("{ms:.1}"), outcome = "ok", "request"),
        Some(status) => tracing::info!(
            rpc,
            ms = format!("{ms:.1}"),
            outcome = ?status.code(),
            message = status.message(),
            "request"
        ),
    }
}
