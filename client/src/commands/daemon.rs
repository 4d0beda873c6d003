//! `axle daemon start|stop|status|logs`.

use std::io::{BufRead, Seek, SeekFrom};
use std::process::ExitCode;
use std::time::Duration;

use axle_proto::v1;
use clap::{Args, Subcommand};

use crate::Failure;
use crate::connect::Daemon;
use crate::output::Output;

#[derive(Subcommand)]
pub enum DaemonCommand {
    /// Start the daemon unless one is running.
    Start,
    /// Stop the daemon, letting running requests finish.
    Stop,
    /// Show whether the daemon runs, and its details.
    Status,
    /// Print the end of the daemon's log.
    Logs(LogsArgs),
}

#[derive(Args)]
pub struct LogsArgs {
    /// How many lines to print.
    #[arg(short = 'n', long, default_value_t = 50)]
    lines: usize,
    /// Keep printing lines as they are written.
    #[arg(short, long)]
    follow: bool,
}

pub async fn run(command: DaemonCommand, daemon: &Daemon, output: &Output) -> Result<ExitCode, Failure> {
    match command {
        DaemonCommand::Start => {
            let status = daemon
                .call(|mut client| async move { client.status(v1::StatusRequest {}).await })
                .await?
                .into_inner();
            print_status(output, Some(&status));
            Ok(ExitCode::SUCCESS)
        }
        DaemonCommand::Stop => {
            let Some(mut client) = daemon.connect_existing().await else {
                output.document(&serde_json::json!({ "running": false, "stopped": false }));
                output.text("axled is not running");
                return Ok(ExitCode::SUCCESS);
            };
            let pid = daemon.stop(&mut client).await?;
            output.document(&serde_json::json!({ "running": false, "stopped": true, "pid": pid }));
            output.text(&match pid {
                Some(pid) => format!("axled (pid {pid}) stopped"),
                None => "axled stopped".to_string(),
            });
            Ok(ExitCode::SUCCESS)
        }
        DaemonCommand::Status => {
            let status = match daemon.connect_existing().await {
                Some(mut client) => client
                    .status(v1::StatusRequest {})
                    .await
                    .ok()
                    .map(tonic::Response::into_inner),
                None => None,
            };
            print_status(output, status.as_ref());
            Ok(if status.is_some() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }
        DaemonCommand::Logs(args) => logs(daemon, &args).await,
    }
}

fn print_status(output: &Output, status: Option<&v1::StatusReply>) {
    let Some(status) = status else {
        output.document(&serde_json::json!({ "running": false }));
        output.text("axled is not running");
        return;
    };
    output.document(&serde_json::json!({
        "running": true,
        "pid": status.pid,
        "version": status.version,
        "build_id": status.build_id,
        "uptime_ms": status.uptime_ms,
        "home": status.home,
        "socket": status.socket,
        "log_file": status.log_file,
        "active_requests": status.active_requests,
        "requests_served": status.requests_served,
        "idle_timeout_secs": status.idle_timeout_secs,
        "sqlite_version": status.sqlite_version,
        "http_requests": status.http_requests,
        "name_lookups": status.name_lookups,
        "watched_dirs": status.watched_dirs,
        "polled_dirs": status.polled_dirs,
        "team_stores": status.team_stores.iter().map(super::store::team_json).collect::<Vec<_>>(),
    }));
    output.text(&format!(
        "axled {} is running (pid {}, up {}s)\n  home:     {}\n  socket:   {}\n  log:      {}\n  requests: {} active, {} served\n  idle timeout: {}s",
        status.version,
        status.pid,
        status.uptime_ms / 1000,
        status.home,
        status.socket,
        status.log_file,
        status.active_requests,
        status.requests_served,
        status.idle_timeout_secs,
    ));
    for team in &status.team_stores {
        output.text(&super::store::team_text(team));
    }
}

async fn logs(daemon: &Daemon, args: &LogsArgs) -> Result<ExitCode, Failure> {
    let path = daemon.location.log_file();
    let mut file = std::fs::File::open(&path)
        .map_err(|error| Failure::new(format!("cannot read the daemon log {}: {error}", path.display())))?;
    let text = std::io::read_to_string(&mut file)
        .map_err(|error| Failure::new(format!("cannot read the daemon log {}: {error}", path.display())))?;
    let lines: Vec<&str> = text.lines().collect();
    for line in &lines[lines.len().saturating_sub(args.lines)..] {
        println!("{line}");
    }
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    let mut position = file.stream_position().unwrap_or(0);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Ok(mut file) = std::fs::File::open(&path) else {
            continue;
        };
        let length = file.metadata().map(|meta| meta.len()).unwrap_or(0);
        if length < position {
            // Rotated: start over.
            position = 0;
        }
        if file.seek(SeekFrom::Start(position)).is_err() {
            continue;
        }
        let mut reader = std::io::BufReader::new(file);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            print!("{line}");
            position += line.len() as u64;
            line.clear();
        }
    }
}
