//! `axle venv`.

use std::path::PathBuf;
use std::process::ExitCode;

use axle_proto::v1;
use clap::Args;

use super::follow;
use crate::Failure;
use crate::connect::Daemon;
use crate::output::Output;

#[derive(Args)]
pub struct VenvArgs {
    /// Where to create the environment.
    #[arg(default_value = ".venv")]
    path: PathBuf,
    /// The interpreter: a version (`3.12`), a path, or an executable name.
    /// Default: the project's `.python-version`, else `python3` on PATH.
    #[arg(short, long)]
    python: Option<String>,
    /// Prompt shown while the environment is active (`.`: the current directory's name).
    #[arg(long)]
    prompt: Option<String>,
    /// Let the environment see the interpreter's own site-packages.
    #[arg(long)]
    system_site_packages: bool,
    /// Replace an existing virtual environment at PATH.
    #[arg(long)]
    clear: bool,
    /// Install pip into the environment (from the configured index, through the store).
    #[arg(long)]
    seed: bool,
}

pub async fn run(
    args: VenvArgs,
    daemon: &Daemon,
    output: &Output,
    invocation: v1::Invocation,
) -> Result<ExitCode, Failure> {
    let request = v1::CreateVenvRequest {
        invocation: Some(invocation),
        path: args.path.to_string_lossy().into_owned(),
        python: args.python.unwrap_or_default(),
        prompt: args.prompt,
        system_site_packages: args.system_site_packages,
        clear: args.clear,
        seed: args.seed,
    };
    let result = daemon
        .call(|mut client| {
            let request = daemon.request(request.clone());
            async move { client.create_venv(request).await }
        })
        .await?;
    let result = follow(output, result.into_inner()).await?;
    let v1::event::Kind::VenvCreated(created) = result else {
        return Err(Failure::new("the daemon answered with another kind of result"));
    };
    let interpreter = created.interpreter.unwrap_or_default();
    output.document(&serde_json::json!({
        "path": created.path,
        "python": created.python,
        "interpreter": {
            "executable": interpreter.executable,
            "version": interpreter.version,
            "implementation": interpreter.implementation,
        },
        "seeded": created.seeded,
        "elapsed_ms": created.elapsed_us as f64 / 1000.0,
    }));
    let shown = display_path(&args.path);
    output.text(&format!(
        "Created a virtual environment at {shown} with {} {} ({})",
        interpreter.implementation, interpreter.version, interpreter.executable
    ));
    for seeded in &created.seeded {
        output.text(&format!("Seeded {seeded}"));
    }
    output.text(&format!("Activate it with: source {shown}/bin/activate"));
    Ok(ExitCode::SUCCESS)
}

fn display_path(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    if text.contains([' ', '\'', '"', '$', '`', '\\']) {
        format!("'{}'", text.replace('\'', r"'\''"))
    } else {
        text.into_owned()
    }
}
