//! Reaching the daemon: connect to its socket, start it when nothing answers,
//! and replace it when it is another build.
//!
//! Starting is serialised by `spawn.lock`, so twenty clients that find no
//! daemon at once start one, and the rest wait for it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axle_proto::env_vars;
use axle_proto::handshake::{BUILD_ID_HEADER, MISMATCH_MARKER, build_id_of};
use axle_proto::location::{Location, ensure_private_dir};
use axle_proto::v1::axle_client::AxleClient;
use hyper_util::rt::TokioIo;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::Failure;

const START_TIMEOUT: Duration = Duration::from_secs(15);

pub type Client = AxleClient<Channel>;

/// How this client reaches its daemon.
pub struct Daemon {
    pub location: Location,
    /// The `axled` this client would start, and its build id.
    binary: Option<(PathBuf, String)>,
    /// The service runs inside this process (`AXLE_NO_DAEMON`): never start a daemon.
    in_process: bool,
}

impl Daemon {
    pub fn new(location: Location) -> Daemon {
        let binary = daemon_binary().and_then(|path| {
            let id = build_id_of(&path).ok()?;
            Some((path, id))
        });
        Daemon {
            location,
            binary,
            in_process: false,
        }
    }

    /// The service this process runs itself, listening at `location.socket`.
    pub fn in_process(location: Location) -> Daemon {
        Daemon {
            location,
            binary: None,
            in_process: true,
        }
    }

    /// Adds the build handshake header to a request.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some((_, id)) = &self.binary
            && let Ok(value) = MetadataValue::try_from(id.as_str())
        {
            request.metadata_mut().insert(BUILD_ID_HEADER, value);
        }
        request
    }

    /// A connection to a running daemon, or `None` when none answers.
    pub async fn connect_existing(&self) -> Option<Client> {
        if let Some(client) = connect(&self.location.socket).await {
            return Some(client);
        }
        // A daemon started from a shell with another XDG_RUNTIME_DIR notes
        // its socket in daemon.json.
        let noted = std::fs::read_to_string(self.location.daemon_info()).ok()?;
        let noted: serde_json::Value = serde_json::from_str(&noted).ok()?;
        let socket = PathBuf::from(noted.get("socket")?.as_str()?);
        if socket == self.location.socket {
            return None;
        }
        connect(&socket).await
    }

    /// The pid the live daemon noted in daemon.json.
    fn noted_pid(&self) -> Option<u32> {
        let noted = std::fs::read_to_string(self.location.daemon_info()).ok()?;
        let noted: serde_json::Value = serde_json::from_str(&noted).ok()?;
        u32::try_from(noted.get("pid")?.as_u64()?).ok()
    }

    /// A connection to the daemon, starting one if needed.
    pub async fn connect_or_start(&self) -> Result<Client, Failure> {
        if let Some(client) = self.connect_existing().await {
            return Ok(client);
        }
        if self.in_process {
            return Err(Failure::new("the in-process service stopped unexpectedly"));
        }
        ensure_private_dir(&self.location.home)
            .map_err(|error| Failure::new(format!("cannot create {}: {error}", self.location.home.display())))?;
        let lock_path = self.location.spawn_lock();
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|error| Failure::new(format!("cannot open {}: {error}", lock_path.display())))?;
        // Blocking is fine: this client has nothing else to do meanwhile.
        lock.lock()
            .map_err(|error| Failure::new(format!("cannot lock {}: {error}", lock_path.display())))?;
        let result = match self.connect_existing().await {
            Some(client) => Ok(client),
            None => self.start().await,
        };
        let _ = lock.unlock();
        result
    }

    async fn start(&self) -> Result<Client, Failure> {
        let Some((binary, _)) = &self.binary else {
            return Err(Failure::new(
                "cannot find axled next to axle or on PATH; set AXLE_DAEMON_BIN to its location",
            ));
        };
        let log = self.location.log_file();
        let stderr_path = self.location.log_dir().join("axled.stderr");
        let _ = std::fs::create_dir_all(self.location.log_dir());
        let stderr = File::options()
            .create(true)
            .append(true)
            .open(&stderr_path)
            .map(std::process::Stdio::from)
            .unwrap_or_else(|_| std::process::Stdio::null());
        let mut child = std::process::Command::new(binary)
            .env(env_vars::AXLE_HOME, &self.location.home)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            // Its own process group: a Ctrl-C meant for this client must not
            // stop the daemon that other shells share.
            .process_group(0)
            .spawn()
            .map_err(|error| Failure::new(format!("cannot start {}: {error}", binary.display())))?;

        let deadline = Instant::now() + START_TIMEOUT;
        let mut pause = Duration::from_millis(2);
        loop {
            if let Some(client) = connect(&self.location.socket).await {
                return Ok(client);
            }
            if let Ok(Some(status)) = child.try_wait()
                && !status.success()
            {
                return Err(Failure::new(format!(
                    "axled exited at start ({status}); see {} and {}",
                    log.display(),
                    stderr_path.display()
                )));
            }
            if Instant::now() >= deadline {
                return Err(Failure::new(format!(
                    "axled did not answer within {} seconds; see its log at {}",
                    START_TIMEOUT.as_secs(),
                    log.display()
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Asks the daemon to stop and waits until its process is gone. One request: a daemon busy
    /// with a lock answers each late, so the reply names the process to wait for.
    pub async fn stop(&self, client: &mut Client) -> Result<Option<u32>, Failure> {
        let reply = client
            .shutdown(axle_proto::v1::ShutdownRequest {})
            .await
            .map_err(|status| Failure::new(format!("the daemon refused to stop: {}", status.message())))?;
        // A daemon from before the reply carried its pid noted it in daemon.json; while it
        // answers on the socket it is the daemon that wrote that file.
        let pid = Some(reply.into_inner().pid)
            .filter(|pid| *pid != 0)
            .or_else(|| self.noted_pid());
        if let Some(pid) = pid {
            wait_for_exit(pid, Duration::from_secs(30)).await?;
        }
        Ok(pid)
    }

    /// Runs `call` against the daemon; when the daemon is another build,
    /// replaces it and runs `call` once more.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, Failure>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, tonic::Status>>,
    {
        let client = self.connect_or_start().await?;
        match call(client.clone()).await {
            Err(status) if is_mismatch(&status) => {
                let mut old = client;
                self.stop(&mut old).await?;
                let fresh = self.connect_or_start().await?;
                call(fresh).await.map_err(Failure::from_status)
            }
            // The daemon went away between connecting and answering (it
            // was killed, or its idle time ran out): start one and ask again.
            Err(status) if is_transport(&status) => {
                let fresh = self.connect_or_start().await?;
                call(fresh).await.map_err(Failure::from_status)
            }
            other => other.map_err(Failure::from_status),
        }
    }
}

pub fn is_mismatch(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::FailedPrecondition && status.message().contains(MISMATCH_MARKER)
}

async fn connect(socket: &Path) -> Option<Client> {
    // Connect now, to know whether a daemon answers; tonic reconnects
    // through the same path if that connection breaks.
    let stream = tokio::net::UnixStream::connect(socket).await.ok()?;
    let first = std::sync::Mutex::new(Some(stream));
    let path = socket.to_path_buf();
    // The URI only fills the request's authority: the connector below
    // always dials the socket.
    let channel = Endpoint::from_static("http://127.0.0.1")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let ready = first.lock().ok().and_then(|mut slot| slot.take());
            let path = path.clone();
            async move {
                let stream = match ready {
                    Some(stream) => stream,
                    None => tokio::net::UnixStream::connect(&path).await?,
                };
                Ok::<_, io::Error>(TokioIo::new(stream))
            }
        }))
        .await
        .ok()?;
    Some(AxleClient::new(channel).max_decoding_message_size(256 * 1024 * 1024))
}

/// A failure of the connection itself, before the daemon answered: the
/// daemon's own errors always carry their kind.
fn is_transport(status: &tonic::Status) -> bool {
    status
        .metadata()
        .get(axle_proto::handshake::ERROR_KIND_HEADER)
        .is_none()
        && matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
        )
}

/// Whether `pid` has exited and only waits to be reaped: it holds nothing any more (socket,
/// files, locks), however long its new parent takes to reap it.
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the command name, which is in parentheses and may hold spaces.
            let after_name = &stat[stat.rfind(')')? + 1..];
            after_name.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(false)
}

async fn wait_for_exit(pid: u32, timeout: Duration) -> Result<(), Failure> {
    let deadline = Instant::now() + timeout;
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else {
        return Ok(());
    };
    while rustix::process::test_kill_process(pid).is_ok() && !is_zombie(pid.as_raw_nonzero().get()) {
        if Instant::now() >= deadline {
            return Err(Failure::new(format!(
                "axled (pid {}) did not stop within {} seconds",
                pid.as_raw_nonzero(),
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// The `axled` to start: `AXLE_DAEMON_BIN`, else next to this executable,
/// else on PATH.
fn daemon_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_vars::AXLE_DAEMON_BIN).filter(|path| !path.is_empty()) {
        return Some(PathBuf::from(path));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let sibling = dir.join("axled");
        if sibling.is_file() {
            return Some(sibling);
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("axled"))
        .find(|candidate| candidate.is_file())
}

use std::os::unix::process::CommandExt as _;
