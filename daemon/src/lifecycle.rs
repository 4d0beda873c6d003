//! Starting and ending a daemon: the single-instance lock, the socket, the
//! `daemon.json` note for clients, and logging.
//!
//! Invariant: a daemon touches the socket path only while it holds
//! `daemon.lock`. Whoever holds the lock owns the socket, so a socket found
//! by a daemon that just took the lock is stale by definition and is replaced,
//! and a daemon that did not get the lock never unlinks anything.

use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axle_proto::location::{Location, ensure_private_dir};
use tokio::net::UnixListener;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("another axled already serves {home}")]
    AlreadyRunning { home: String },
    #[error("cannot prepare {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> LifecycleError + '_ {
    move |source| LifecycleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The exclusive lock that makes this process the daemon of its `AXLE_HOME`.
/// Released when dropped (or when the process dies).
pub struct InstanceLock {
    _file: File,
}

/// Takes the instance lock, waiting up to `patience` for a stopping daemon to
/// let go. Gives up at once when a live daemon answers on the socket.
pub fn acquire_instance_lock(location: &Location, patience: Duration) -> Result<InstanceLock, LifecycleError> {
    let path = location.daemon_lock();
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_at(&path))?;
    let deadline = Instant::now() + patience;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(InstanceLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(error)) => return Err(io_at(&path)(error)),
        }
        let live = std::os::unix::net::UnixStream::connect(&location.socket).is_ok();
        if live || Instant::now() >= deadline {
            return Err(LifecycleError::AlreadyRunning {
                home: location.home.display().to_string(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Creates `AXLE_HOME` and the log directory.
pub fn prepare_home(location: &Location) -> Result<(), LifecycleError> {
    ensure_private_dir(&location.home).map_err(io_at(&location.home))?;
    let logs = location.log_dir();
    std::fs::create_dir_all(&logs).map_err(io_at(&logs))?;
    Ok(())
}

/// Binds the socket in its private directory, replacing a stale one.
/// Requires the instance lock (see the module invariant).
pub fn bind_socket(location: &Location, _lock: &InstanceLock) -> Result<BoundSocket, LifecycleError> {
    let socket = &location.socket;
    if let Some(dir) = socket.parent() {
        ensure_private_dir(dir).map_err(io_at(dir))?;
    }
    match std::fs::remove_file(socket) {
        Ok(()) => tracing::info!(path = %socket.display(), "replaced a stale socket"),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(io_at(socket)(error)),
    }
    let listener = UnixListener::bind(socket).map_err(io_at(socket))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600)).map_err(io_at(socket))?;
    let inode = std::fs::metadata(socket).map_err(io_at(socket))?.ino();
    Ok(BoundSocket {
        listener: Some(listener),
        path: socket.clone(),
        inode,
    })
}

/// The daemon's socket; the file is removed on drop if it is still ours.
pub struct BoundSocket {
    listener: Option<UnixListener>,
    path: PathBuf,
    inode: u64,
}

impl BoundSocket {
    pub fn take_listener(&mut self) -> Option<UnixListener> {
        self.listener.take()
    }
}

impl Drop for BoundSocket {
    fn drop(&mut self) {
        let ours = std::fs::metadata(&self.path).is_ok_and(|meta| meta.ino() == self.inode);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Facts for clients and `axle daemon status` when the socket does not
/// answer: which process, which socket.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct DaemonInfo {
    pub pid: u32,
    pub socket: PathBuf,
    pub build_id: String,
    pub version: String,
}

pub fn write_daemon_info(location: &Location, info: &DaemonInfo) -> Result<(), LifecycleError> {
    let path = location.daemon_info();
    let staging = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(info).map_err(|error| io_at(&path)(io::Error::other(error)))?;
    std::fs::write(&staging, text).map_err(io_at(&staging))?;
    std::fs::rename(&staging, &path).map_err(io_at(&path))
}

pub fn remove_daemon_info(location: &Location) {
    let _ = std::fs::remove_file(location.daemon_info());
}

/// Logs to `$AXLE_HOME/logs/axled.log` (and stderr in the foreground). The
/// returned guard flushes the file on drop.
/// The log's filter unless `AXLE_LOG` or `RUST_LOG` says otherwise: axle's own lines (one per
/// request, and what happens to the daemon), and only warnings and errors from the libraries
/// it uses (the resolver's internals are `AXLE_LOG=pubgrub=info`).
pub const DEFAULT_LOG: &str = "warn,axled=info,axle_daemon=info,axle_build_frontend=info,axle_install=info";

/// The size at which the log is cut (10 MiB).
const LOG_LIMIT: usize = 10 * 1024 * 1024;

pub fn init_logging(
    location: &Location,
    foreground: bool,
    filter: &str,
) -> Result<tracing_appender::non_blocking::WorkerGuard, LifecycleError> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer, fmt};

    let log_file = location.log_file();
    // A daemon that runs for weeks must not fill the disk: the log is cut at LOG_LIMIT, and
    // the two before it are kept (axled.log.1, axled.log.2).
    let file = file_rotate::FileRotate::new(
        &log_file,
        file_rotate::suffix::AppendCount::new(2),
        file_rotate::ContentLimit::BytesSurpassed(LOG_LIMIT),
        file_rotate::compression::Compression::None,
        None,
    );
    // The default queue holds 128,000 lines, allocated up front (4 MB held for ever); a daemon
    // logs one line per request, so a thousand is plenty, and a full queue waits, never drops.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(1024)
        .lossy(false)
        .finish(file);
    let filter = || EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG));
    let file_layer = fmt::layer().with_writer(writer).with_ansi(false).with_filter(filter());
    let stderr_layer = foreground.then(|| fmt::layer().with_writer(io::stderr).with_filter(filter()));
    tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .init();
    Ok(guard)
}

/// How long a stop waits for cache writes in flight.
const CACHE_FLUSH: Duration = Duration::from_millis(25);

/// Opens the database and the store and makes the engine, ready to serve: everything that
/// can refuse to start (the store's owner lock, the HTTP client) happens here, before any
/// socket exists. Shared by `axled` and the client's in-process mode (`AXLE_NO_DAEMON`).
pub async fn start_engine(
    location: &Location,
    build_id: String,
    idle_timeout: Duration,
    residency: crate::services::Residency,
) -> anyhow::Result<std::sync::Arc<crate::engine::Engine>> {
    let pool = crate::db::open(&location.database()).await?;
    let sqlite_version = crate::db::sqlite_version(&pool).await?;
    let mut engine = crate::engine::Engine::new(location.clone(), pool, build_id, idle_timeout, residency)
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    if let Some(state) = std::sync::Arc::get_mut(&mut engine) {
        state.sqlite_version = sqlite_version;
    }
    crate::upkeep::spawn(engine.clone(), crate::upkeep::store_cap_from_env());
    // Rows whose store files are gone are dropped before anything is linked.
    match engine.services.store.reconcile().await {
        Ok(0) => {}
        Ok(dropped) => tracing::warn!(dropped, "forgot store entries whose files are missing"),
        Err(error) => tracing::warn!(%error, "could not reconcile the store"),
    }
    Ok(engine)
}

/// What a stop must write before the process ends: the store's rows, whatever it takes (they
/// say what is on disk); cached index pages only if that is quick (a cache, fetched again when
/// needed: a stop must not wait seconds on megabytes of pages).
pub async fn finish(engine: &crate::engine::Engine) {
    // An in-process job's uploads to a team store are the only ones it makes: its end waits for
    // them (bounded). A daemon's stop does not: they are a cache, and `axle store push` sends
    // what a lock needs again.
    if engine.services.residency == crate::services::Residency::InProcess
        && !engine.services.team.drain(UPLOADS_IN_PROCESS).await
    {
        tracing::warn!("stopped with team store uploads unfinished");
    }
    if let Err(error) = engine.services.store.flush().await {
        tracing::warn!(%error, "could not record the wheels stored last");
    }
    if tokio::time::timeout(CACHE_FLUSH, engine.services.index.flush())
        .await
        .is_err()
    {
        tracing::info!("stopped without waiting for cached pages still being written");
    }
}

/// The longest an in-process job's end waits for its uploads to the team store.
const UPLOADS_IN_PROCESS: Duration = Duration::from_secs(120);

/// Closes the database, waiting briefly for cache writes still running.
pub async fn close_database(engine: &crate::engine::Engine) {
    if tokio::time::timeout(CACHE_FLUSH, engine.services.pool.close())
        .await
        .is_err()
    {
        tracing::info!("closed the database with cache writes unfinished");
    }
}

/// The daemon's work inside another process (the client's `AXLE_NO_DAEMON` mode): the same
/// engine and gRPC service, on a socket of its own in a private directory that nothing else
/// knows, for as long as the process needs it. It holds `daemon.lock` like a daemon, so it
/// never shares a home with one.
pub struct Embedded {
    pub socket: PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
    _lock: InstanceLock,
}

impl Embedded {
    pub async fn start(location: &Location) -> anyhow::Result<Embedded> {
        prepare_home(location)?;
        let lock = acquire_instance_lock(location, Duration::ZERO).map_err(|error| match error {
            LifecycleError::AlreadyRunning { home } => anyhow::anyhow!(
                "a daemon already serves {home}; use it (without AXLE_NO_DAEMON or --no-daemon), or stop it first with `axle daemon stop`"
            ),
            other => other.into(),
        })?;
        let parent = location.socket.parent().unwrap_or(&location.home);
        ensure_private_dir(parent).map_err(io_at(parent))?;
        let dir = tempfile::Builder::new()
            .prefix("in-process-")
            .tempdir_in(parent)
            .map_err(io_at(parent))?;
        let socket = dir.path().join("axle.sock");
        let listener = UnixListener::bind(&socket).map_err(io_at(&socket))?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)).map_err(io_at(&socket))?;
        // Never idle: it ends with the process's job.
        let engine = start_engine(
            location,
            "in-process".to_string(),
            Duration::from_secs(365 * 86_400),
            crate::services::Residency::InProcess,
        )
        .await?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(error) = crate::server::run(listener, engine.clone(), shutdown).await {
                tracing::warn!(%error, "the in-process server failed");
            }
            finish(&engine).await;
            close_database(&engine).await;
        });
        Ok(Embedded {
            socket,
            stop,
            task,
            _dir: dir,
            _lock: lock,
        })
    }

    /// Ends the service once its requests are done, and writes what a daemon's stop writes.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
