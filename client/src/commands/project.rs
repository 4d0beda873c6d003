//! `axle status` and `axle watch`: where a project stands, once or as it changes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use axle_proto::v1;
use serde_json::{Value, json};

use crate::Failure;
use crate::connect::Daemon;
use crate::output::Output;

#[derive(clap::Args)]
pub struct StatusArgs {
    /// The project directory (default: the current one).
    dir: Option<PathBuf>,
    /// Exit with 1 when the lock is not fresh or the venv not in sync.
    #[arg(long)]
    check: bool,
}

#[derive(clap::Args)]
pub struct WatchArgs {
    /// Project directories to follow (default: the current one).
    dirs: Vec<PathBuf>,
    /// Lock again when an input is edited.
    #[arg(long)]
    lock: bool,
    /// Sync after each such lock (implies --lock).
    #[arg(long)]
    sync: bool,
}

pub async fn status(
    args: StatusArgs,
    daemon: &Daemon,
    output: &Output,
    invocation: v1::Invocation,
) -> Result<ExitCode, Failure> {
    let request = v1::ProjectStatusRequest {
        invocation: Some(invocation),
        dir: args
            .dir
            .map(|dir| dir.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let reply = daemon
        .call(|mut client| {
            let request = daemon.request(request.clone());
            async move { client.project_status(request).await }
        })
        .await?
        .into_inner();
    output.document(&status_json(&reply));
    output.text(&status_text(&reply));
    let settled = reply.lock.as_ref().is_some_and(|lock| lock.state == "fresh")
        && reply.venv.as_ref().is_some_and(|venv| venv.state == "in-sync");
    Ok(if args.check && !settled {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn watch(
    args: WatchArgs,
    daemon: &Daemon,
    output: &Output,
    invocation: v1::Invocation,
) -> Result<ExitCode, Failure> {
    let request = v1::WatchRequest {
        invocation: Some(invocation),
        dirs: args.dirs.iter().map(|dir| dir.to_string_lossy().into_owned()).collect(),
        lock: args.lock || args.sync,
        sync: args.sync,
    };
    let mut stream = daemon
        .call(|mut client| {
            let request = daemon.request(request.clone());
            async move { client.watch(request).await }
        })
        .await?
        .into_inner();
    // The states last reported for each project, repeated on its job events.
    let mut states: HashMap<String, (String, String)> = HashMap::new();
    loop {
        let event = tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            event = stream.message() => event.map_err(Failure::from_status)?,
        };
        let Some(event) = event else {
            return Ok(ExitCode::SUCCESS);
        };
        match event.kind {
            Some(v1::watch_event::Kind::Status(changed)) => {
                let Some(status) = changed.status else { continue };
                let lock = status.lock.as_ref().map(|lock| lock.state.clone()).unwrap_or_default();
                let venv = status.venv.as_ref().map(|venv| venv.state.clone()).unwrap_or_default();
                states.insert(status.dir.clone(), (lock.clone(), venv.clone()));
                output.json_line(&json!({
                    "event": "status",
                    "dir": status.dir,
                    "lock": lock,
                    "venv": venv,
                    "changed_paths": changed.changed_paths,
                    "status": status_json(&status),
                }));
                let cause = if changed.changed_paths.is_empty() {
                    String::new()
                } else {
                    format!(" (after {})", changed.changed_paths.join(", "))
                };
                output.text_now(&format!("{}: lock {lock}, venv {venv}{cause}", status.dir));
            }
            Some(v1::watch_event::Kind::Job(job)) => {
                let (lock, venv) = states.get(&job.dir).cloned().unwrap_or_default();
                let (step, detail) = match &job.step {
                    Some(v1::job_event::Step::Started(_)) => ("started", json!(null)),
                    Some(v1::job_event::Step::Progress(progress)) => (
                        "progress",
                        json!({"phase": progress.phase, "subject": progress.subject, "done": progress.done, "total": progress.total}),
                    ),
                    Some(v1::job_event::Step::Finished(summary)) => ("finished", json!(summary)),
                    Some(v1::job_event::Step::Failed(message)) => ("failed", json!(message)),
                    None => continue,
                };
                output.json_line(&json!({
                    "event": "job",
                    "dir": job.dir,
                    "job": job.job,
                    "step": step,
                    "detail": detail,
                    "lock": lock,
                    "venv": venv,
                }));
                if step != "progress" {
                    let detail = detail.as_str().map(|text| format!(": {text}")).unwrap_or_default();
                    output.text_now(&format!("{}: {} {step}{detail}", job.dir, job.job));
                }
            }
            None => {}
        }
    }
}

/// `lock` and `venv` are the states; `details` holds the rest.
fn status_json(status: &v1::ProjectStatusReply) -> Value {
    let lock = status.lock.clone().unwrap_or_default();
    let venv = status.venv.clone().unwrap_or_default();
    json!({
        "dir": status.dir,
        "lock": lock.state,
        "venv": venv.state,
        "details": {
            "lock": {
                "lock_file": lock.lock_file,
                "inputs": lock.inputs,
                "changed": lock.changed,
                "remembered": lock.remembered,
            },
            "venv": {
                "path": venv.path,
                "python": venv.python,
                "lock_files": venv.lock_files,
                "missing": venv.missing,
                "extra": venv.extra,
                "changed": venv.changed,
                "detail": venv.detail,
            },
        },
    })
}

fn status_text(status: &v1::ProjectStatusReply) -> String {
    let lock = status.lock.clone().unwrap_or_default();
    let venv = status.venv.clone().unwrap_or_default();
    let mut text = format!("{}\n  lock: {} ({})", status.dir, lock.state, lock.lock_file);
    if !lock.changed.is_empty() {
        text.push_str(&format!("\n    changed since locked: {}", lock.changed.join(", ")));
    }
    text.push_str(&format!("\n  venv: {} ({})", venv.state, venv.path));
    for (label, items) in [
        ("missing", &venv.missing),
        ("extra", &venv.extra),
        ("changed", &venv.changed),
    ] {
        if !items.is_empty() {
            text.push_str(&format!("\n    {label}: {}", items.join(", ")));
        }
    }
    if !venv.detail.is_empty() {
        text.push_str(&format!("\n    {}", venv.detail));
    }
    text
}
