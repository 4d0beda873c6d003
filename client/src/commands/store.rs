//! `axle store stats|gc`: the shared wheel store.

use std::process::ExitCode;

use axle_proto::v1;
use clap::Subcommand;

use crate::Failure;
use crate::connect::Daemon;
use crate::output::Output;

#[derive(Subcommand)]
pub enum StoreCommand {
    /// What the store holds and what sharing saves.
    Stats,
    /// Re-hash every stored file and every installed file against what it should be; exits 1
    /// when anything is wrong.
    Verify {
        /// Replace bad store files with verified copies from their wheels, and relink venv
        /// files that no longer match their RECORD.
        #[arg(long)]
        repair: bool,
    },
    /// Remove wheels no environment uses and nobody used lately.
    Gc {
        /// Keep what was used within this many days.
        #[arg(long, default_value_t = 30)]
        older_than_days: u32,
        /// Also evict the least recently used wheels until the store fits in SIZE
        /// (`500MiB`, `10 GB`); wheels a venv links always stay.
        #[arg(long, value_name = "SIZE")]
        max_size: Option<bytesize::ByteSize>,
        /// Show what would go without removing it.
        #[arg(short = 'n', long)]
        dry_run: bool,
    },
}

pub async fn run(
    command: StoreCommand,
    daemon: &Daemon,
    output: &Output,
    invocation: v1::Invocation,
) -> Result<ExitCode, Failure> {
    match command {
        StoreCommand::Stats => {
            let request = v1::StoreStatsRequest {
                invocation: Some(invocation),
            };
            let stats = daemon
                .call(|mut client| {
                    let request = daemon.request(request.clone());
                    async move { client.store_stats(request).await }
                })
                .await?
                .into_inner();
            let saved = stats.bytes_linked.saturating_sub(stats.bytes_stored);
            output.document(&serde_json::json!({
                "path": stats.path,
                "wheels": stats.wheels,
                "files": stats.files,
                "bytes_stored": stats.bytes_stored,
                "bytes_linked": stats.bytes_linked,
                "bytes_saved": saved,
                "venvs": stats.venvs,
            }));
            output.text(&format!(
                "{}\n  wheels: {}\n  files:  {} ({} stored)\n  venvs:  {} ({} linked, {} saved by sharing)",
                stats.path,
                stats.wheels,
                stats.files,
                bytes(stats.bytes_stored),
                stats.venvs,
                bytes(stats.bytes_linked),
                bytes(saved)
            ));
        }
        StoreCommand::Verify { repair } => {
            let request = v1::StoreVerifyRequest {
                invocation: Some(invocation),
                repair,
            };
            let stream = daemon
                .call(|mut client| {
                    let request = daemon.request(request.clone());
                    async move { client.store_verify(request).await }
                })
                .await?;
            let v1::event::Kind::Verified(result) = super::follow(output, stream.into_inner()).await? else {
                return Err(Failure::new("the daemon answered with another kind of result"));
            };
            let damaged = result.problems.iter().any(|problem| !problem.repaired);
            output.document(&serde_json::json!({
                "objects": result.objects,
                "archives": result.archives,
                "venv_files": result.venv_files,
                "venvs": result.venvs,
                "ok": !damaged,
                "problems": result.problems.iter().map(|problem| serde_json::json!({
                    "kind": problem.kind,
                    "path": problem.path,
                    "detail": problem.detail,
                    "repaired": problem.repaired,
                })).collect::<Vec<_>>(),
            }));
            for problem in &result.problems {
                let mark = if problem.repaired { "repaired" } else { "BAD" };
                output.text(&format!("{mark} {} {}: {}", problem.kind, problem.path, problem.detail));
            }
            output.text(&format!(
                "checked {} objects, {} wheel files and {} installed files in {} venvs: {}",
                result.objects,
                result.archives,
                result.venv_files,
                result.venvs,
                if result.problems.is_empty() {
                    "all intact".to_string()
                } else if damaged {
                    format!("{} problems", result.problems.iter().filter(|p| !p.repaired).count())
                } else {
                    "everything repaired".to_string()
                }
            ));
            if damaged {
                return Ok(ExitCode::FAILURE);
            }
        }
        StoreCommand::Gc {
            older_than_days,
            max_size,
            dry_run,
        } => {
            let request = v1::StoreGcRequest {
                invocation: Some(invocation),
                older_than_days,
                dry_run,
                max_size: max_size.map(|size| size.as_u64()),
            };
            let reply = daemon
                .call(|mut client| {
                    let request = daemon.request(request.clone());
                    async move { client.store_gc(request).await }
                })
                .await?
                .into_inner();
            output.document(&serde_json::json!({
                "wheels_removed": reply.wheels_removed,
                "files_removed": reply.files_removed,
                "bytes_freed": reply.bytes_freed,
                "dry_run": dry_run,
            }));
            let verb = if dry_run { "Would remove" } else { "Removed" };
            output.text(&format!(
                "{verb} {} wheels ({} files, {})",
                reply.wheels_removed,
                reply.files_removed,
                bytes(reply.bytes_freed)
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn bytes(count: u64) -> String {
    match count {
        0..1024 => format!("{count} B"),
        1024..1_048_576 => format!("{:.1} KiB", count as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", count as f64 / 1_048_576.0),
        _ => format!("{:.2} GiB", count as f64 / 1_073_741_824.0),
    }
}
