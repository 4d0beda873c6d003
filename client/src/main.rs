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
    let output = output::Output::new(cli.json, cli.quiet);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
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
        let daemon = connect::Daemon::new(location);
        commands::run(cli.command, &daemon, &output, cwd).await
    });
    match result {
        Ok(code) => code,
        Err(failure) => {
            output.failure(&failure);
            ExitCode::FAILURE
        }
    }
}
