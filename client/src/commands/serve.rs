//! `axle serve`: the store as a package index on 127.0.0.1, served by the daemon.

use std::process::ExitCode;

use axle_proto::v1;

use super::IndexArgs;
use crate::Failure;
use crate::connect::Daemon;
use crate::output::Output;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Serve only what the store holds; fetch nothing from the index.
    #[arg(long)]
    offline: bool,
    /// Stop the running server.
    #[arg(long, conflicts_with_all = ["port", "offline"])]
    pub stop: bool,
    #[command(flatten)]
    index: IndexArgs,
}

pub async fn run(
    args: ServeArgs,
    daemon: &Daemon,
    output: &Output,
    invocation: v1::Invocation,
) -> Result<ExitCode, Failure> {
    let request = v1::ServeRequest {
        invocation: Some(invocation),
        port: u32::from(args.port),
        offline: args.offline,
        stop: args.stop,
        index: Some(args.index.into_proto()),
    };
    let reply = daemon
        .call(|mut client| {
            let request = daemon.request(request.clone());
            async move { client.serve(request).await }
        })
        .await?
        .into_inner();
    if args.stop {
        output.document(&serde_json::json!({ "stopped": !reply.url.is_empty(), "url": reply.url }));
        output.text(&if reply.url.is_empty() {
            "no server was running".to_string()
        } else {
            format!("stopped serving {}", reply.url)
        });
        return Ok(ExitCode::SUCCESS);
    }
    output.document(&serde_json::json!({
        "url": reply.url,
        "index_url": format!("{}/simple/", reply.url),
        "offline": reply.offline,
        "already_running": reply.already_running,
    }));
    let note = if reply.already_running {
        " (already running; `axle serve --stop` first to change its settings)"
    } else {
        ""
    };
    output.text(&format!(
        "{}/simple/{note}\n  status page: {}/\n  pip install --index-url {}/simple/ …\n  stop with: axle serve --stop",
        reply.url, reply.url, reply.url
    ));
    Ok(ExitCode::SUCCESS)
}
