//! `axle image LOCK… --from REF --to REF`: an OCI image from the lock, without Docker.

use std::process::ExitCode;

use axle_proto::v1;

use super::{BuildArgs, IndexArgs, follow};
use crate::Failure;
use crate::connect::Daemon;
use crate::output::Output;

#[derive(clap::Args)]
pub struct ImageArgs {
    /// Lock files (requirements.txt or pylock.toml) the image's venv is installed from.
    #[arg(value_name = "LOCK", default_value = "requirements.txt")]
    lock_files: Vec<String>,
    /// The base image, in skopeo's syntax: oci:DIR[:TAG], oci-archive:FILE[:TAG],
    /// docker-archive:FILE[:TAG] or docker://HOST/REPO:TAG.
    #[arg(long, value_name = "REF")]
    from: String,
    /// Where the image goes, in the same syntax.
    #[arg(long, value_name = "REF")]
    to: String,
    /// The platform of a multi-platform base (linux/amd64, linux/arm64).
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    /// The image's interpreter, a path in the image (default: `python3` on the image's PATH).
    #[arg(long, value_name = "PATH")]
    python: Option<String>,
    /// Where the venv goes in the image.
    #[arg(long, value_name = "PATH", default_value = "/opt/venv")]
    venv: String,
    /// A directory (or file) of this machine at a path in the image, as a layer of its own;
    /// SRC/.dockerignore is honoured. Repeatable.
    #[arg(long, value_name = "SRC:DEST")]
    add: Vec<String>,
    /// The image's working directory.
    #[arg(long, value_name = "DIR")]
    workdir: Option<String>,
    /// The image's entrypoint, as a JSON array or one command word.
    #[arg(long, value_name = "JSON|CMD")]
    entrypoint: Option<String>,
    /// The image's command, as a JSON array or one command word.
    #[arg(long, value_name = "JSON|CMD")]
    cmd: Option<String>,
    /// An environment variable of the image (K=V). Repeatable.
    #[arg(long, value_name = "K=V")]
    env: Vec<String>,
    /// A label of the image (K=V). Repeatable.
    #[arg(long, value_name = "K=V")]
    label: Vec<String>,
    /// The user the image runs as.
    #[arg(long)]
    user: Option<String>,
    /// `false`: reach the registries named over plain HTTP, without certificate checks
    /// (a loopback registry is always reached over plain HTTP).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    tls_verify: bool,
    /// Compile the venv's Python files to bytecode (needs a Python of the image's version on
    /// this machine; said when there is none).
    #[arg(long)]
    compile_bytecode: bool,
    /// Use only what the store and the index cache hold.
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    index: IndexArgs,
    #[command(flatten)]
    build: BuildArgs,
}

/// `["a","b"]` as a list, anything else as one word.
fn command_list(text: &str) -> Result<v1::StringList, Failure> {
    let values = if text.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<String>>(text)
            .map_err(|error| Failure::new(format!("`{text}` is no JSON array of strings: {error}")))?
    } else {
        vec![text.to_string()]
    };
    Ok(v1::StringList { values })
}

pub async fn run(
    args: ImageArgs,
    daemon: &Daemon,
    output: &Output,
    invocation: v1::Invocation,
) -> Result<ExitCode, Failure> {
    let request = v1::ImageRequest {
        invocation: Some(invocation),
        lock_files: args.lock_files,
        from: args.from,
        to: args.to,
        platform: args.platform.unwrap_or_default(),
        python: args.python.unwrap_or_default(),
        venv: args.venv,
        add: args.add,
        workdir: args.workdir.unwrap_or_default(),
        entrypoint: args.entrypoint.as_deref().map(command_list).transpose()?,
        cmd: args.cmd.as_deref().map(command_list).transpose()?,
        env: args.env,
        labels: args.label,
        user: args.user.unwrap_or_default(),
        tls_verify_off: !args.tls_verify,
        index: Some(args.index.into_proto()),
        offline: args.offline,
        build: Some(args.build.into_proto()),
        compile_bytecode: args.compile_bytecode,
    };
    let stream = daemon
        .call(|mut client| {
            let request = daemon.request(request.clone());
            async move { client.build_image(request).await }
        })
        .await?;
    let v1::event::Kind::Image(result) = follow(output, stream.into_inner()).await? else {
        return Err(Failure::new("the daemon answered with another kind of result"));
    };
    output.document(&serde_json::json!({
        "reference": result.reference,
        "manifest": { "digest": result.manifest_digest, "size": result.manifest_size },
        "config": result.config_digest,
        "layers": result.layers.iter().map(|layer| serde_json::json!({
            "digest": layer.digest,
            "size": layer.size,
            "diff_id": layer.diff_id,
            "made_by": layer.made_by,
        })).collect::<Vec<_>>(),
        "python": result.python,
        "platform": result.platform,
        "packages": result.packages,
        "uploaded": result.uploaded,
        "reused": result.reused,
        "elapsed_ms": result.elapsed_ms,
    }));
    let mut text = format!(
        "{} ({} packages for {}, {})\n  manifest {}",
        result.reference, result.packages, result.python, result.platform, result.manifest_digest
    );
    for layer in result.layers.iter().filter(|layer| layer.made_by != "base") {
        text.push_str(&format!(
            "\n  layer {} ({} bytes): {}",
            layer.digest, layer.size, layer.made_by
        ));
    }
    text.push_str(&format!(
        "\n  {} blobs written, {} already there, in {} ms",
        result.uploaded, result.reused, result.elapsed_ms
    ));
    output.text(&text);
    Ok(ExitCode::SUCCESS)
}
