//! One module per subcommand: each turns its arguments into a request, calls
//! the daemon, and prints the reply.

mod daemon;
mod venv;

use std::path::PathBuf;
use std::process::ExitCode;

use axle_proto::env_vars::FORWARDED;
use axle_proto::v1;
use clap::Subcommand;
use tonic::Streaming;

use crate::Failure;
use crate::connect::Daemon;
use crate::output::Output;

#[derive(Subcommand)]
pub enum Command {
    /// Create a virtual environment (like `python -m venv --without-pip`).
    Venv(venv::VenvArgs),
    /// Start, stop or inspect the daemon.
    #[command(subcommand)]
    Daemon(daemon::DaemonCommand),
}

pub async fn run(
    command: Command,
    daemon: &Daemon,
    output: &Output,
    cwd: PathBuf,
) -> Result<ExitCode, Failure> {
    match command {
        Command::Venv(args) => venv::run(args, daemon, output, invocation(cwd)).await,
        Command::Daemon(command) => daemon::run(command, daemon, output).await,
    }
}

/// What the daemon needs to know about this client.
fn invocation(cwd: PathBuf) -> v1::Invocation {
    let env = FORWARDED
        .iter()
        .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
        .collect();
    v1::Invocation {
        cwd: cwd.to_string_lossy().into_owned(),
        env,
        argv: std::env::args().collect(),
    }
}

/// Prints progress and notices of an operation and returns its result event.
async fn follow(
    output: &Output,
    mut stream: Streaming<v1::Event>,
) -> Result<v1::event::Kind, Failure> {
    loop {
        let event = stream.message().await.map_err(Failure::from_status)?;
        let Some(event) = event else {
            return Err(Failure::new(
                "the daemon ended the operation without a result",
            ));
        };
        match event.kind {
            Some(v1::event::Kind::Progress(progress)) => output.progress(&progress),
            Some(v1::event::Kind::Notice(notice)) => output.notice(&notice),
            Some(result) => {
                output.clear_progress();
                return Ok(result);
            }
            None => {}
        }
    }
}
