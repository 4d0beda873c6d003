//! `axle export --wheelhouse DIR LOCK…`: the files a lock installs, in one directory.

use std::process::ExitCode;

use axle_proto::v1;

use super::{IndexArgs, follow};
use crate::Failure;
use crate::connect::Daemon;
use crate::output::Output;

#[derive(clap::Args)]
pub struct ExportArgs {
    /// Lock files (requirements.txt or pylock.toml), as for `axle sync`.
    #[arg(value_name = "LOCK", default_value = "requirements.txt")]
    lock_files: Vec<String>,
    /// The directory to fill (created if missing; files already there are kept).
    #[arg(long, value_name = "DIR")]
    wheelhouse: String,
    /// The interpreter to export for (default: the one `python` selects).
    #[arg(short, long, value_name = "PYTHON")]
    python: Option<String>,
    /// Export for this Python version instead (e.g. 3.12).
    #[arg(long, value_name = "VERSION")]
    python_version: Option<String>,
    /// Export for this platform instead (linux, x86_64-manylinux_2_28, ...).
    #[arg(long, value_name = "PLATFORM")]
    python_platform: Option<String>,
    /// Use only what the store and the index cache hold.
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    index: IndexArgs,
}

pub async fn run(
    args: ExportArgs,
    daemon: &Daemon,
    output: &Output,
    invocation: v1::Invocation,
) -> Result<ExitCode, Failure> {
    let request = v1::ExportRequest {
        invocation: Some(invocation),
        lock_files: args.lock_files,
        wheelhouse: args.wheelhouse,
        python: args.python.unwrap_or_default(),
        python_version: args.python_version.unwrap_or_default(),
        python_platform: args.python_platform.unwrap_or_default(),
        index: Some(args.index.into_proto()),
        offline: args.offline,
    };
    let stream = daemon
        .call(|mut client| {
            let request = daemon.request(request.clone());
            async move { client.export(request).await }
        })
        .await?;
    let v1::event::Kind::Exported(result) = follow(output, stream.into_inner()).await? else {
        return Err(Failure::new("the daemon answered with another kind of result"));
    };
    output.document(&serde_json::json!({
        "wheelhouse": result.wheelhouse,
        "files": result.files,
        "downloaded": result.downloaded,
        "sdists": result.sdists,
    }));
    output.text(&format!(
        "Exported {} files to {} ({} downloaded)",
        result.files.len(),
        result.wheelhouse,
        result.downloaded
    ));
    if !result.sdists.is_empty() {
        output.text(&format!(
            "  sdists, built by pip where it installs them: {}",
            result.sdists.join(", ")
        ));
    }
    Ok(ExitCode::SUCCESS)
}
