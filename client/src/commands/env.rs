//! `axle env list|packages`: the venvs the daemon knows, and what one holds.

use std::path::PathBuf;
use std::process::ExitCode;

use axle_proto::v1;
use clap::Subcommand;
use serde_json::json;

use crate::Failure;
use crate::connect::Daemon;
use crate::output::Output;

#[derive(Subcommand)]
pub enum EnvCommand {
    /// Every venv axle created or synced that still exists, and whether it matches the locks
    /// of its last sync (`in-sync`, `drifted`, or `unknown` when no sync is on record).
    List,
    /// The distributions installed in a venv.
    Packages {
        /// The venv (default: .venv).
        venv: Option<PathBuf>,
    },
}

pub async fn run(
    command: EnvCommand,
    daemon: &Daemon,
    output: &Output,
    invocation: v1::Invocation,
) -> Result<ExitCode, Failure> {
    match command {
        EnvCommand::List => {
            let reply = daemon
                .call(|mut client| {
                    let request = daemon.request(v1::ListEnvironmentsRequest {});
                    async move { client.list_environments(request).await }
                })
                .await?
                .into_inner();
            let environments: Vec<_> = reply
                .environments
                .iter()
                .map(|env| {
                    json!({
                        "path": env.path,
                        "python": env.python,
                        "base_interpreter": env.base_interpreter,
                        "python_version": env.python_version,
                        "project": env.project,
                        "size_bytes": env.size_bytes,
                        "last_sync": env.last_sync,
                        "state": env.state,
                        "state_detail": env.state_detail,
                        "lock_files": env.lock_files,
                    })
                })
                .collect();
            output.document(&json!({ "environments": environments }));
            for env in &reply.environments {
                let project = if env.project.is_empty() {
                    String::new()
                } else {
                    format!(", project {}", env.project)
                };
                // Where it stands against its last sync's locks, and what differs or why unknown.
                let state = if env.state.is_empty() {
                    String::new()
                } else if env.state_detail.is_empty() {
                    format!(": {}", env.state)
                } else {
                    format!(": {} ({})", env.state, env.state_detail)
                };
                output.text(&format!("{} (Python {}{project}){state}", env.path, env.python_version));
            }
        }
        EnvCommand::Packages { venv } => {
            let request = v1::ListPackagesRequest {
                invocation: Some(invocation),
                venv: venv
                    .unwrap_or_else(|| PathBuf::from(".venv"))
                    .to_string_lossy()
                    .into_owned(),
            };
            let reply = daemon
                .call(|mut client| {
                    let request = daemon.request(request.clone());
                    async move { client.list_packages(request).await }
                })
                .await?
                .into_inner();
            let packages: Vec<_> = reply
                .packages
                .iter()
                .map(|package| {
                    json!({
                        "name": package.name,
                        "version": package.version,
                        "requested": package.requested,
                        "editable": package.editable,
                        "lock_file": package.lock_file,
                    })
                })
                .collect();
            output.document(&json!({ "packages": packages }));
            for package in &reply.packages {
                let mut notes = Vec::new();
                if package.requested {
                    notes.push("requested");
                }
                if package.editable {
                    notes.push("editable");
                }
                let notes = if notes.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", notes.join(", "))
                };
                output.text(&format!("{}=={}{notes}", package.name, package.version));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
