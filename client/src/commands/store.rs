//! `axle store stats|gc|verify|push|keygen`: the shared wheel store, and its team tier.

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
    /// Upload to the team store (AXLE_TEAM_STORE) what the lock files install — their wheels,
    /// and the wheels and signed records of their builds — then wait until every queued upload
    /// has ended. With no lock file, only wait.
    Push {
        /// Lock files (requirements.txt, pylock.toml).
        lock_files: Vec<String>,
    },
    /// Make a key for signing the team store's build records: the secret goes to FILE (mode
    /// 0600, never over an existing file), the public key line (`NAME:BASE64`, for
    /// AXLE_TEAM_STORE_TRUSTED_KEYS) to stdout.
    Keygen {
        /// The key's name, as signatures carry it (letters, digits, `-`, `_`, `.`).
        name: String,
        /// Where the secret key goes.
        #[arg(long, value_name = "FILE")]
        secret_key: String,
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
                "team_stores": stats.team_stores.iter().map(team_json).collect::<Vec<_>>(),
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
            for team in &stats.team_stores {
                output.text(&team_text(team));
            }
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
        StoreCommand::Push { lock_files } => {
            let request = v1::StorePushRequest {
                invocation: Some(invocation),
                lock_files,
            };
            let stream = daemon
                .call(|mut client| {
                    let request = daemon.request(request.clone());
                    async move { client.store_push(request).await }
                })
                .await?;
            let v1::event::Kind::Pushed(result) = super::follow(output, stream.into_inner()).await? else {
                return Err(Failure::new("the daemon answered with another kind of result"));
            };
            output.document(&serde_json::json!({
                "team_store": result.team_store,
                "mode": result.mode,
                "wheels": result.wheels,
                "records": result.records,
                "missing": result.missing,
                "uploaded": result.uploaded,
                "already_there": result.already_there,
                "failed": result.failed,
                "still_queued": result.still_queued,
            }));
            for missing in &result.missing {
                output.text(&format!("not in the store (sync it first): {missing}"));
            }
            output.text(&format!(
                "{}: {} wheels and {} build records queued; {} uploaded, {} already there, {} failed{}",
                result.team_store,
                result.wheels,
                result.records,
                result.uploaded,
                result.already_there,
                result.failed,
                if result.still_queued > 0 {
                    format!(", {} still queued", result.still_queued)
                } else {
                    String::new()
                }
            ));
            if result.failed > 0 || result.still_queued > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        StoreCommand::Keygen { name, secret_key } => {
            let request = v1::StoreKeygenRequest {
                invocation: Some(invocation),
                name,
                secret_key_file: secret_key,
            };
            let reply = daemon
                .call(|mut client| {
                    let request = daemon.request(request.clone());
                    async move { client.store_keygen(request).await }
                })
                .await?
                .into_inner();
            output.document(&serde_json::json!({ "public_key": reply.public_key }));
            output.text(&reply.public_key);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A team store's statistics for `--json`.
pub fn team_json(team: &v1::TeamStoreStats) -> serde_json::Value {
    serde_json::json!({
        "url": team.url,
        "mode": team.mode,
        "hits": team.hits,
        "misses": team.misses,
        "bytes_read": team.bytes_read,
        "bytes_written": team.bytes_written,
        "uploaded": team.uploaded,
        "already_there": team.already_there,
        "failures": team.failures,
        "queued": team.queued,
    })
}

/// A team store's statistics, for people.
pub fn team_text(team: &v1::TeamStoreStats) -> String {
    format!(
        "team store {} ({})\n  hits: {}, misses: {}\n  read: {}, written: {} ({} uploads, {} already there, {} queued)\n  failures: {}",
        team.url,
        team.mode,
        team.hits,
        team.misses,
        bytes(team.bytes_read),
        bytes(team.bytes_written),
        team.uploaded,
        team.already_there,
        team.queued,
        team.failures
    )
}

fn bytes(count: u64) -> String {
    match count {
        0..1024 => format!("{count} B"),
        1024..1_048_576 => format!("{:.1} KiB", count as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", count as f64 / 1_048_576.0),
        _ => format!("{:.2} GiB", count as f64 / 1_073_741_824.0),
    }
}
