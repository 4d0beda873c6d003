//! `axle`: a thin client. It parses the command line, sends the request with
//! its working directory and the relevant environment to the daemon
//! (starting it when needed), and prints what comes back: results on stdout,
//! progress and notices on stderr, errors as one or two plain sentences.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod commands;
mod connect;
mod output;

use std::process::ExitCode;

use axle_proto::location::{Location, LocationEnv};
use clap::Parser;

use crate::commands::Command;

/// Fast Python environments: venv, lock and sync, served by a daemon.
#[derive(Parser)]
#[command(name = "axle", version, propagate_version = true)]
struct Cli {
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Print only errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Run the job in this process: no daemon is started and none is left behind (also
    /// `AXLE_NO_DAEMON=1`). Every call then starts cold.
    #[arg(long, global = true)]
    no_daemon: bool,
    #[command(subcommand)]
    command: Command,
}

/// Why a command failed, in words for the user.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    /// A short stable name for `--json` consumers.
    pub code: String,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: "client".to_string(),
        }
    }

    pub fn from_status(status: tonic::Status) -> Failure {
        use tonic::Code;
        // The daemon names the kind of failure; transport errors do not.
        let named = status
            .metadata()
            .get(axle_proto::handshake::ERROR_KIND_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let code = match status.code() {
            Code::InvalidArgument => "invalid-input",
            Code::NotFound => "not-found",
            Code::AlreadyExists => "conflict",
            Code::Unavailable => "unavailable",
            Code::Unimplemented => "unsupported",
            Code::FailedPrecondition => "failed-precondition",
            _ => "internal",
        };
        let code = named.unwrap_or_else(|| code.to_string());
        let message = match status.code() {
            // Transport failures carry tonic's own words; say what happened.
            Code::Unknown | Code::Cancelled if status.message().is_empty() => {
                "the connection to axled was lost".to_string()
            }
            _ => status.message().to_string(),
        };
        Failure { message, code }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Completions { shell } = &cli.command {
        // clap's own generator, from the same definitions that parse the command line.
        use clap::CommandFactory;
        clap_complete::generate(*shell, &mut Cli::command(), "axle", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let output = output::Output::new(cli.json, cli.quiet);
    let no_daemon = cli.no_daemon
        || std::env::var(axle_proto::env_vars::AXLE_NO_DAEMON).is_ok_and(|value| value == "1" || value == "true");
    // In-process work (resolving, unpacking, building) wants every core; a client that only
    // talks to a daemon wants one thread and a fast start.
    let runtime = if no_daemon {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            output.failure(&Failure::new(format!("cannot start: {error}")));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let cwd = std::env::current_dir()
            .map_err(|error| Failure::new(format!("cannot read the working directory: {error}")))?;
        let location =
            Location::resolve(&LocationEnv::from_process(), &cwd).map_err(|error| Failure::new(error.to_string()))?;
        if !no_daemon {
            let daemon = connect::Daemon::new(location);
            return commands::run(cli.command, &daemon, &output, cwd).await;
        }
        let serves = cli.command.serves_in_foreground();
        let embedded = axle_daemon::lifecycle::Embedded::start(&location)
            .await
            .map_err(|error| Failure::new(format!("{error:#}")))?;
        let mut here = location.clone();
        here.socket = embedded.socket.clone();
        let daemon = connect::Daemon::in_process(here);
        let result = commands::run(cli.command, &daemon, &output, cwd).await;
        if serves && result.is_ok() {
            // Without a daemon, the server lives as long as this process.
            output.text_now("serving until interrupted (Ctrl-C)");
            let _ = tokio::signal::ctrl_c().await;
        }
        embedded.stop().await;
        result
    });
    // Everything durable was written before the job answered (and by `embedded.stop`); what
    // is left in the background (prefetches, cache writes) has nothing to give, and a blocking
    // task must not keep the process alive: the daemon ends its runtime the same way.
    runtime.shutdown_timeout(std::time::Duration::from_millis(20));
    match result {
        Ok(code) => code,
        Err(failure) => {
            output.failure(&failure);
            ExitCode::FAILURE
        }
    }
}
