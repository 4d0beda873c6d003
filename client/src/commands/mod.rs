//! One module per subcommand: each turns its arguments into a request, calls
//! the daemon, and prints the reply.

mod daemon;
mod env;
mod export;
mod image;
mod lock;
mod project;
mod serve;
mod store;
mod sync;
mod venv;

use std::path::PathBuf;
use std::process::ExitCode;

use axle_proto::env_vars::FORWARDED;
use axle_proto::v1;
use clap::Subcommand;
use tonic::Streaming;

use crate::Failure;
use crate::connect::Daemon;
use crate::output::Output;

#[derive(Subcommand)]
pub enum Command {
    /// Create a virtual environment (like `python -m venv --without-pip`).
    Venv(venv::VenvArgs),
    /// Pin requirements into a lock file (like `pip-compile`).
    Lock(Box<lock::LockArgs>),
    /// Make an environment match lock files (like `pip-sync`).
    Sync(sync::SyncArgs),
    /// Where a project stands: is its lock fresh, is its venv in sync.
    Status(project::StatusArgs),
    /// Follow projects as they change (one line, or one JSON object, per event).
    Watch(project::WatchArgs),
    /// The venvs the daemon knows, and what each holds.
    #[command(subcommand)]
    Env(env::EnvCommand),
    /// Put every file a lock installs into a wheelhouse directory (for pip --find-links).
    Export(export::ExportArgs),
    /// Write an OCI container image from lock files, without Docker.
    Image(Box<image::ImageArgs>),
    /// Serve the store as a package index on 127.0.0.1, with a status page.
    Serve(serve::ServeArgs),
    /// Inspect or clean the shared wheel store.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Start, stop or inspect the daemon.
    #[command(subcommand)]
    Daemon(daemon::DaemonCommand),
}

impl Command {
    /// Whether the command starts a server that must outlive it (`axle serve`), which in
    /// no-daemon mode means staying in the foreground.
    pub fn serves_in_foreground(&self) -> bool {
        matches!(self, Command::Serve(args) if !args.stop)
    }
}

pub async fn run(command: Command, daemon: &Daemon, output: &Output, cwd: PathBuf) -> Result<ExitCode, Failure> {
    match command {
        Command::Venv(args) => venv::run(args, daemon, output, invocation(cwd, Environment::Forwarded)).await,
        Command::Lock(args) => lock::run(*args, daemon, output, invocation(cwd, Environment::Whole)).await,
        Command::Sync(args) => sync::run(args, daemon, output, invocation(cwd, Environment::Whole)).await,
        Command::Status(args) => project::status(args, daemon, output, invocation(cwd, Environment::Forwarded)).await,
        Command::Watch(args) => project::watch(args, daemon, output, invocation(cwd, Environment::Whole)).await,
        Command::Env(command) => env::run(command, daemon, output, invocation(cwd, Environment::Forwarded)).await,
        Command::Export(args) => export::run(args, daemon, output, invocation(cwd, Environment::Whole)).await,
        Command::Image(args) => image::run(*args, daemon, output, invocation(cwd, Environment::Whole)).await,
        Command::Serve(args) => serve::run(args, daemon, output, invocation(cwd, Environment::Forwarded)).await,
        // Whole: `store push` reads lock files, which may expand any `${VARIABLE}`.
        Command::Store(command) => store::run(command, daemon, output, invocation(cwd, Environment::Whole)).await,
        Command::Daemon(command) => daemon::run(command, daemon, output).await,
        // Answered before any connection (main).
        Command::Completions { .. } => Ok(ExitCode::SUCCESS),
    }
}

/// How much of the environment a request carries.
enum Environment {
    /// The variables axle itself reads.
    Forwarded,
    /// Everything: requirement files may expand any `${VARIABLE}`.
    Whole,
}

/// What the daemon needs to know about this client.
fn invocation(cwd: PathBuf, environment: Environment) -> v1::Invocation {
    let env = match environment {
        Environment::Forwarded => FORWARDED
            .iter()
            .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
            .collect(),
        Environment::Whole => std::env::vars().collect(),
    };
    v1::Invocation {
        cwd: cwd.to_string_lossy().into_owned(),
        env,
        argv: std::env::args().collect(),
    }
}

/// Prints progress and notices of an operation and returns its result event.
async fn follow(output: &Output, mut stream: Streaming<v1::Event>) -> Result<v1::event::Kind, Failure> {
    loop {
        let event = stream.message().await.map_err(Failure::from_status)?;
        let Some(event) = event else {
            return Err(Failure::new("the daemon ended the operation without a result"));
        };
        match event.kind {
            Some(v1::event::Kind::Progress(progress)) => output.progress(&progress),
            Some(v1::event::Kind::Notice(notice)) => output.notice(&notice),
            Some(result) => {
                output.clear_progress();
                return Ok(result);
            }
            None => {}
        }
    }
}

/// The index options shared by commands that fetch packages.
#[derive(clap::Args, Clone, Default)]
pub struct IndexArgs {
    /// The package index (default: pip's configuration, else the interpreter's pip default).
    #[arg(short = 'i', long, value_name = "URL")]
    index_url: Option<String>,
    /// Another index to search (repeatable).
    #[arg(long = "extra-index-url", value_name = "URL")]
    extra_index_urls: Vec<String>,
    /// A directory or page of links to wheels and sdists (repeatable).
    #[arg(short = 'f', long = "find-links", value_name = "PATH_OR_URL")]
    find_links: Vec<String>,
    /// Use no index, only --find-links.
    #[arg(long)]
    no_index: bool,
    /// `first-index` (default: a project comes from the first index that has
    /// it) or `unsafe-best-match` (pip's: all indexes compete).
    #[arg(long, value_name = "STRATEGY", value_parser = ["first-index", "unsafe-best-match"])]
    index_strategy: Option<String>,
}

impl IndexArgs {
    fn into_proto(self) -> v1::IndexOptions {
        v1::IndexOptions {
            index_url: self.index_url.unwrap_or_default(),
            extra_index_urls: self.extra_index_urls,
            find_links: self.find_links,
            no_index: self.no_index,
            index_strategy: self.index_strategy.unwrap_or_default(),
        }
    }
}

/// The source-build options shared by `lock` and `sync`, spelled as pip and uv spell them.
#[derive(clap::Args, Clone, Default)]
pub struct BuildArgs {
    /// Never build from source: sdists, local projects and repositories are refused
    /// (their static metadata may still be read).
    #[arg(long)]
    no_build: bool,
    /// Run build backends in the target environment as it is, installing nothing for them.
    #[arg(long)]
    no_build_isolation: bool,
    /// A setting passed to build backends, KEY=VALUE (repeatable).
    #[arg(short = 'C', long = "config-settings", value_name = "KEY=VALUE")]
    config_settings: Vec<String>,
    /// Constrain the versions of build requirements with this file (repeatable;
    /// PIP_CONSTRAINT applies too).
    #[arg(long = "build-constraint", value_name = "FILE")]
    build_constraints: Vec<String>,
}

impl BuildArgs {
    fn into_proto(self) -> v1::BuildOptions {
        v1::BuildOptions {
            no_build: self.no_build,
            no_build_isolation: self.no_build_isolation,
            config_settings: self.config_settings,
            build_constraints: self.build_constraints,
        }
    }
}

/// `1.2 ms`, `340 ms`, `2.41 s`.
fn human_duration(micros: u64) -> String {
    match micros {
        0..1_000 => format!("{:.2} ms", micros as f64 / 1000.0),
        1_000..100_000 => format!("{:.1} ms", micros as f64 / 1000.0),
        100_000..1_000_000 => format!("{} ms", micros / 1000),
        _ => format!("{:.2} s", micros as f64 / 1_000_000.0),
    }
}
