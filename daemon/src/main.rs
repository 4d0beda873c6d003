//! `axled`: parses flags, takes the instance lock, binds the socket and
//! serves until a signal, a client's `Shutdown`, or the idle timeout.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use axle_daemon::lifecycle::{self, DaemonInfo, LifecycleError};
use axle_daemon::{memory, server};
use axle_proto::env_vars;
use axle_proto::location::{Location, LocationEnv};
use clap::Parser;

/// The axle daemon. Clients start it on demand; there is rarely a reason to
/// run it by hand.
#[derive(Parser)]
#[command(name = "axled", version)]
struct Args {
    /// Stay attached to the terminal and log to stderr as well.
    #[arg(long)]
    foreground: bool,
    /// Exit after this many seconds without requests.
    #[arg(long, env = env_vars::AXLE_IDLE_TIMEOUT, default_value_t = 1800)]
    idle_timeout: u64,
    /// `tracing` filter for the log (else `RUST_LOG`, else axle's own lines and the
    /// libraries' warnings).
    #[arg(long, env = env_vars::AXLE_LOG)]
    log: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if let Some(LifecycleError::AlreadyRunning { home }) = error.downcast_ref() {
                eprintln!("axled: a daemon already serves {home}");
                return ExitCode::SUCCESS;
            }
            tracing::error!("{error:#}");
            eprintln!("axled: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    axle_daemon::crash::configure();
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let location = Location::resolve(&LocationEnv::from_process(), &cwd)?;
    lifecycle::prepare_home(&location)?;
    let lock = lifecycle::acquire_instance_lock(&location, Duration::from_secs(5))?;
    let filter = args
        .log
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .filter(|filter| !filter.is_empty())
        .unwrap_or_else(|| lifecycle::DEFAULT_LOG.to_string());
    let _log_guard = lifecycle::init_logging(&location, args.foreground, &filter)?;
    // The daemon must not depend on where it was started from.
    std::env::set_current_dir(&location.home).with_context(|| format!("cannot enter {}", location.home.display()))?;

    memory::tune_allocator();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("axled")
        .thread_keep_alive(memory::BLOCKING_THREAD_KEEP_ALIVE)
        .build()
        .context("cannot start the async runtime")?;
    let lock = &lock;
    runtime.block_on(async move {
        // The TLS library seeds its random generator from CPU jitter on first
        // use, tens of milliseconds of CPU: spent now, beside start-up, not
        // in the first request's first download.
        tokio::task::spawn_blocking(|| aws_lc_rs::rand::fill(&mut [0u8; 16]));
        let exe = std::env::current_exe().context("cannot locate the axled executable")?;
        let build_id =
            axle_proto::handshake::build_id_of(&exe).with_context(|| format!("cannot identify {}", exe.display()))?;
        let daemon = lifecycle::start_engine(
            &location,
            build_id.clone(),
            Duration::from_secs(args.idle_timeout),
            axle_daemon::services::Residency::Daemon,
        )
        .await?;
        let mut socket = lifecycle::bind_socket(&location, lock)?;
        let listener = socket.take_listener().context("socket already taken")?;
        lifecycle::write_daemon_info(
            &location,
            &DaemonInfo {
                pid: std::process::id(),
                socket: location.socket.clone(),
                build_id: build_id.clone(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
        )?;
        tracing::info!(
            pid = std::process::id(),
            home = %location.home.display(),
            socket = %location.socket.display(),
            build_id,
            "axled started"
        );
        let reason = server::run(listener, daemon.clone(), shutdown_signal()).await?;
        lifecycle::finish(&daemon).await;
        drop(socket);
        lifecycle::remove_daemon_info(&location);
        lifecycle::close_database(&daemon).await;
        tracing::info!(?reason, "axled stopped");
        anyhow::Ok(())
    })?;
    // Blocking work still running (a background build's hook being killed, a page being
    // parsed) has nothing left to give: the runtime does not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(20));
    // The instance lock is released last, after the socket is gone.
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut terminate), Ok(mut interrupt)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        // Without signal handlers the daemon still stops on request or idle.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
}
