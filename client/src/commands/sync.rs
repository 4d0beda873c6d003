//! `axle sync`: make an environment match lock files (like `pip-sync`).

use std::process::ExitCode;

use axle_proto::v1;
use clap::Args;

use super::{BuildArgs, IndexArgs, follow, human_duration};
use crate::Failure;
use crate::connect::Daemon;
use crate::output::Output;

#[derive(Args)]
pub struct SyncArgs {
    /// Lock files: requirements.txt files made by `axle lock`/pip-compile,
    /// or pylock.toml (default: requirements.txt).
    lock_files: Vec<String>,
    /// The environment to sync (default: $VIRTUAL_ENV, else ./.venv).
    #[arg(long, value_name = "PATH")]
    venv: Option<String>,
    /// Show what would change without changing anything.
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// How files come from the store: hardlink (default), copy, clone, symlink.
    #[arg(long, value_name = "MODE", value_parser = ["hardlink", "copy", "clone", "symlink"])]
    link_mode: Option<String>,
    /// Copy files instead of linking them (for images that must not share inodes).
    #[arg(long, conflicts_with = "link_mode")]
    copy: bool,
    /// Compile the installed Python files to bytecode.
    #[arg(long)]
    compile_bytecode: bool,
    /// Use only what axle has stored or cached; fail on anything else.
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    index: IndexArgs,
    #[command(flatten)]
    build: BuildArgs,
}

pub async fn run(
    args: SyncArgs,
    daemon: &Daemon,
    output: &Output,
    invocation: v1::Invocation,
) -> Result<ExitCode, Failure> {
    let link_mode = if args.copy {
        "copy".to_string()
    } else {
        args.link_mode.unwrap_or_default()
    };
    let request = v1::SyncRequest {
        invocation: Some(invocation),
        lock_files: args.lock_files,
        venv: args.venv.unwrap_or_default(),
        dry_run: args.dry_run,
        link_mode,
        compile_bytecode: args.compile_bytecode,
        offline: args.offline,
        index: Some(args.index.into_proto()),
        allow_empty: true,
        build: Some(args.build.into_proto()),
    };
    let stream = daemon
        .call(|mut client| {
            let request = daemon.request(request.clone());
            async move { client.sync(request).await }
        })
        .await?;
    let v1::event::Kind::SyncResult(result) = follow(output, stream.into_inner()).await? else {
        return Err(Failure::new("the daemon answered with another kind of result"));
    };
    output.document(&serde_json::json!({
        "venv": result.venv,
        "installed": result.installed,
        "removed": result.removed,
        "unchanged": result.unchanged,
        "fresh": result.fresh,
        "dry_run": result.dry_run,
        "elapsed_ms": result.elapsed_us as f64 / 1000.0,
        "bytes_linked": result.bytes_linked,
        "bytes_copied": result.bytes_copied,
    }));
    let elapsed = human_duration(result.elapsed_us);
    if result.fresh || (result.installed.is_empty() && result.removed.is_empty()) {
        output.text(&format!("{} is in sync ({elapsed})", result.venv));
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if result.dry_run { "Would " } else { "" };
    for name in &result.removed {
        output.text(&format!(" - {name}"));
    }
    for name in &result.installed {
        output.text(&format!(" + {name}"));
    }
    output.text(&format!(
        "{verb}{} {} and {} {} in {} ({elapsed})",
        if result.dry_run { "install" } else { "Installed" },
        plural(result.installed.len(), "package"),
        if result.dry_run { "remove" } else { "removed" },
        plural(result.removed.len(), "package"),
        result.venv,
    ));
    Ok(ExitCode::SUCCESS)
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
