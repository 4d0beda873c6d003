//! `axle lock`: pip-compile's options, resolved by the daemon.

use std::process::ExitCode;

use axle_proto::v1;
use clap::Args;

use super::{BuildArgs, IndexArgs, follow};
use crate::Failure;
use crate::connect::Daemon;
use crate::output::Output;

#[derive(Args)]
pub struct LockArgs {
    /// Input files: requirements.in files or a pyproject.toml (default:
    /// requirements.in, else pyproject.toml).
    src_files: Vec<String>,
    /// Constrain versions with this file (repeatable).
    #[arg(short, long = "constraint", value_name = "FILE")]
    constraints: Vec<String>,
    /// Where to write the lock (default as pip-compile: X.in → X.txt).
    #[arg(short, long, value_name = "FILE")]
    output_file: Option<String>,
    /// Include this optional dependency group of pyproject.toml (repeatable).
    #[arg(long = "extra", value_name = "EXTRA")]
    extras: Vec<String>,
    /// Include every extra of pyproject.toml.
    #[arg(long)]
    all_extras: bool,
    /// Include this [dependency-groups] group of pyproject.toml (repeatable).
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// Pin every file's sha256 hash (for pip's --require-hashes).
    #[arg(long)]
    generate_hashes: bool,
    /// Write pins without extras (the default, as in uv and pip-tools 8).
    #[arg(long, overrides_with = "no_strip_extras")]
    strip_extras: bool,
    /// Keep the extras that requirements asked for on the pins.
    #[arg(long)]
    no_strip_extras: bool,
    /// Pin pip, setuptools and distribute too.
    #[arg(long)]
    allow_unsafe: bool,
    /// Ignore the existing lock's pins.
    #[arg(short = 'U', long)]
    upgrade: bool,
    /// Release this package's pin, optionally to NAME==VERSION (repeatable).
    #[arg(short = 'P', long = "upgrade-package", value_name = "NAME")]
    upgrade_packages: Vec<String>,
    /// Leave out the header comment.
    #[arg(long)]
    no_header: bool,
    /// Leave out the `# via` annotations.
    #[arg(long)]
    no_annotate: bool,
    /// `split` (one source per line) or `line` (all on the pin's line).
    #[arg(long, value_name = "STYLE", default_value = "split", value_parser = ["split", "line"])]
    annotation_style: String,
    /// Do not write --index-url/--extra-index-url lines.
    #[arg(long)]
    no_emit_index_url: bool,
    /// Do not write --find-links lines.
    #[arg(long)]
    no_emit_find_links: bool,
    /// Print the lock instead of writing it.
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Allow pre-releases.
    #[arg(long)]
    pre: bool,
    /// The interpreter whose environment to lock for (default as for venv).
    #[arg(short, long)]
    python: Option<String>,
    /// Lock for this Python version instead (e.g. 3.12).
    #[arg(long, value_name = "VERSION")]
    python_version: Option<String>,
    /// Lock for this platform instead (linux, macos, windows, x86_64-manylinux_2_28, ...).
    #[arg(long, value_name = "PLATFORM", conflicts_with = "universal")]
    python_platform: Option<String>,
    /// One lock for every platform and every Python from this one (or --python-version) on:
    /// markers on the pins, as `uv pip compile --universal` writes them.
    #[arg(long)]
    universal: bool,
    /// Ignore files uploaded after this moment: a date (YYYY-MM-DD), an RFC 3339 timestamp, or
    /// a duration back from now ("7 days", "1 week", "24h", P7D); the lock's header records the
    /// moment a duration meant.
    #[arg(long, value_name = "WHEN")]
    exclude_newer: Option<String>,
    /// Use only what axle has cached; fail on anything else.
    #[arg(long)]
    offline: bool,
    /// Revalidate everything cached from indexes.
    #[arg(long)]
    refresh: bool,
    /// Revalidate what is cached for this package (repeatable).
    #[arg(long = "refresh-package", value_name = "NAME")]
    refresh_packages: Vec<String>,
    /// Lock file format.
    #[arg(long, default_value = "requirements", value_parser = ["requirements", "pylock"])]
    format: String,
    /// Use only wheels for these packages (`:all:`, `:none:` or names, comma-separated).
    #[arg(long = "only-binary", value_name = "PACKAGES")]
    only_binary: Vec<String>,
    /// Never use wheels for these packages: build them (`:all:`, `:none:` or names).
    #[arg(long = "no-binary", value_name = "PACKAGES")]
    no_binary: Vec<String>,
    #[command(flatten)]
    index: IndexArgs,
    #[command(flatten)]
    build: BuildArgs,
}

pub async fn run(
    args: LockArgs,
    daemon: &Daemon,
    output: &Output,
    invocation: v1::Invocation,
) -> Result<ExitCode, Failure> {
    let request = v1::LockRequest {
        invocation: Some(invocation),
        src_files: args.src_files,
        constraints: args.constraints,
        output_file: args.output_file.unwrap_or_default(),
        extras: args.extras,
        all_extras: args.all_extras,
        groups: args.groups,
        generate_hashes: args.generate_hashes,
        strip_extras: !args.no_strip_extras,
        allow_unsafe: args.allow_unsafe,
        upgrade: args.upgrade,
        upgrade_packages: args.upgrade_packages,
        header: !args.no_header,
        annotate: !args.no_annotate,
        annotation_style: args.annotation_style,
        emit_index_url: !args.no_emit_index_url,
        emit_find_links: !args.no_emit_find_links,
        dry_run: args.dry_run,
        pre: args.pre,
        python_version: args.python_version.unwrap_or_default(),
        python_platform: args.python_platform.unwrap_or_default(),
        universal: args.universal,
        python: args.python.unwrap_or_default(),
        exclude_newer: args.exclude_newer.unwrap_or_default(),
        offline: args.offline,
        index: Some(args.index.into_proto()),
        format: args.format,
        refresh: args.refresh,
        refresh_packages: args.refresh_packages,
        emit_options: true,
        build: Some(args.build.into_proto()),
        only_binary: args.only_binary,
        no_binary: args.no_binary,
    };
    let stream = daemon
        .call(|mut client| {
            let request = daemon.request(request.clone());
            async move { client.lock(request).await }
        })
        .await?;
    let v1::event::Kind::LockResult(result) = follow(output, stream.into_inner()).await? else {
        return Err(Failure::new("the daemon answered with another kind of result"));
    };
    let stats = result.stats.unwrap_or_default();
    output.document(&serde_json::json!({
        "output_file": result.output_file,
        "packages": result.packages,
        "fresh": result.fresh,
        "written": result.written,
        "elapsed_ms": result.elapsed_us as f64 / 1000.0,
        "http_requests": stats.http_requests,
        "bytes_fetched": stats.bytes_fetched,
        "content": if result.content.is_empty() { serde_json::Value::Null } else { result.content.clone().into() },
    }));
    if args.dry_run {
        if !output.json {
            print!("{}", result.content);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let elapsed = super::human_duration(result.elapsed_us);
    if result.fresh {
        output.text(&format!("{} is up to date ({elapsed})", result.output_file));
    } else {
        output.text(&format!(
            "Locked {} packages into {} ({elapsed})",
            result.packages, result.output_file
        ));
    }
    Ok(ExitCode::SUCCESS)
}
