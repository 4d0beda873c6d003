//! `axle lock`: loose inputs to a fully pinned, hashed lock file, as
//! `pip-compile --generate-hashes` writes it — and instantly when nothing
//! changed.
//!
//! Pipeline: read inputs → find the target → decide the sources → (memo
//! hit? answer) → resolve with the existing lock as preferences → hash →
//! render → write atomically → remember.

mod inputs;
mod memo;
pub mod pylock;
mod requirements_txt;
mod target;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axle_standards::PackageName;
use sha2::{Digest, Sha256};

pub use memo::Memo;
pub use requirements_txt::{AnnotationStyle, read_pins};
pub use target::tags_for;

use crate::context::Invocation;
use crate::index::{
    ConfigError, FetchContext, FindLinks, IndexClient, IndexError, IndexSettings, IndexStrategy, Refresh,
    RequestSettings, SourceLayers, Sources,
};
use crate::interpreter::{InterpreterError, Interpreters};
use crate::progress::Reporter;
use crate::resolve::{self, Origin, ResolveError, ResolveRequest, RootRequirement};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(transparent)]
    Requirements(#[from] axle_standards::RequirementsTxtError),
    #[error(transparent)]
    PyProject(#[from] axle_standards::PyProjectError),
    #[error(transparent)]
    Target(#[from] target::TargetError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Interpreter(#[from] InterpreterError),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("the lock memo failed: {0}")]
    Memo(String),
}

/// The lock file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum LockFormat {
    #[default]
    Requirements,
    Pylock,
}

/// `axle lock`'s request, in domain terms.
#[derive(Debug, Clone, Default)]
pub struct LockRequest {
    pub invocation: Invocation,
    pub src_files: Vec<String>,
    pub constraints: Vec<String>,
    pub output_file: Option<String>,
    pub extras: Vec<String>,
    pub all_extras: bool,
    pub groups: Vec<String>,
    pub generate_hashes: bool,
    pub strip_extras: bool,
    pub allow_unsafe: bool,
    pub upgrade: bool,
    pub upgrade_packages: Vec<String>,
    pub header: bool,
    pub annotate: bool,
    pub annotation_style: AnnotationStyle,
    pub emit_index_url: bool,
    pub emit_find_links: bool,
    pub dry_run: bool,
    pub pre: bool,
    pub python: Option<String>,
    pub python_version: Option<String>,
    pub python_platform: Option<String>,
    pub exclude_newer: Option<String>,
    pub offline: bool,
    pub index: IndexSettings,
    pub strategy: IndexStrategy,
    pub format: LockFormat,
    pub refresh: bool,
    pub refresh_packages: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct LockOutcome {
    pub output_file: PathBuf,
    pub content: String,
    pub packages: usize,
    /// Answered from the memo: inputs and output unchanged.
    pub fresh: bool,
    pub written: bool,
    pub elapsed: Duration,
    pub http_requests: u64,
    pub bytes_fetched: u64,
    pub cache_hits: u64,
}

/// What `lock` needs from the daemon.
pub struct Services<'a> {
    pub interpreters: &'a Interpreters,
    pub index: Arc<IndexClient>,
    pub memo: &'a Memo,
    pub candidates: Arc<resolve::CandidateCache>,
    /// Targets already built, by interpreter answer and options.
    pub targets: &'a std::sync::Mutex<HashMap<String, resolve::Target>>,
}

pub async fn lock(
    services: Services<'_>,
    request: LockRequest,
    reporter: Arc<dyn Reporter>,
) -> Result<LockOutcome, LockError> {
    let started = Instant::now();
    let invocation = &request.invocation;
    let src_files = source_files(&request)?;
    let output_file = output_file(&request, &src_files)?;
    let constraint_files: Vec<PathBuf> = request
        .constraints
        .iter()
        .map(|file| invocation.absolute(file))
        .collect();

    let inputs = inputs::read(&inputs::InputSpec {
        invocation,
        src_files: &src_files,
        constraint_files: &constraint_files,
        extras: &request.extras,
        all_extras: request.all_extras,
        groups: &request.groups,
    })?;

    // The interpreter gives the target and pip's default index. Locking for
    // another platform does not need one, unless no index is configured.
    let explicit_target = request.python_platform.is_some() && request.python_version.is_some();
    let interpreter = match services.interpreters.find(request.python.as_deref(), invocation).await {
        Ok(found) => Some(found),
        Err(error) if explicit_target => {
            tracing::debug!(%error, "no interpreter; locking for the named target only");
            None
        }
        Err(error) => return Err(error.into()),
    };
    let target = match &interpreter {
        Some(interpreter) => {
            // Tags for an interpreter are a long list: build them once.
            let key = format!(
                "{:p}|{:?}|{:?}",
                Arc::as_ptr(&interpreter.info),
                request.python_version,
                request.python_platform
            );
            let known = services
                .targets
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .get(&key)
                .cloned();
            match known {
                Some(target) => target,
                None => {
                    let target = target::target(
                        &interpreter.info,
                        request.python_version.as_deref(),
                        request.python_platform.as_deref(),
                    )?;
                    services
                        .targets
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .insert(key, target.clone());
                    target
                }
            }
        }
        None => target::target_without_interpreter(
            request.python_version.as_deref().unwrap_or("3"),
            request.python_platform.as_deref().unwrap_or("linux"),
        )?,
    };
    let sources = SourceLayers {
        invocation,
        cli: &request.index,
        files: &inputs.index_settings,
        strategy: request.strategy,
        pip_default: interpreter
            .as_ref()
            .and_then(|found| found.info.pip_default_index.as_deref()),
        site_prefix: None,
    }
    .resolve()?;

    let options = write_options(
        &request,
        &src_files,
        &output_file,
        &sources,
        &inputs,
        &target.python_version,
    );
    let memo_key = memo::key(&request, &inputs, &options, &sources, &target, &output_file);
    let bypass_memo = request.upgrade
        || !request.upgrade_packages.is_empty()
        || request.refresh
        || !request.refresh_packages.is_empty();
    if !bypass_memo && let Some(hit) = services.memo.lookup(&memo_key, &output_file).await {
        return Ok(LockOutcome {
            output_file,
            packages: hit.packages,
            content: hit.content,
            fresh: true,
            written: false,
            elapsed: started.elapsed(),
            http_requests: 0,
            bytes_fetched: 0,
            cache_hits: 1,
        });
    }

    // The existing lock is a preference: pins that still fit are kept.
    let mut preferences: HashMap<PackageName, axle_standards::Version> = HashMap::new();
    let mut constraints = inputs.constraints.clone();
    if !request.upgrade
        && let Ok(existing) = std::fs::read_to_string(&output_file)
    {
        preferences.extend(read_pins(&existing));
    }
    for item in &request.upgrade_packages {
        let requirement = axle_standards::parse_requirement(item)
            .map_err(|error| LockError::Usage(format!("--upgrade-package {item}: {error}")))?;
        preferences.remove(&requirement.name);
        if requirement.version_or_url.is_some() {
            constraints.push(RootRequirement {
                requirement,
                marker_text: None,
                origin: Origin::Constraints("--upgrade-package".to_string()),
            });
        }
    }

    let refresh = if request.refresh {
        Refresh::All
    } else if request.refresh_packages.is_empty() {
        Refresh::None
    } else {
        Refresh::Packages(
            request
                .refresh_packages
                .iter()
                .filter_map(|name| PackageName::from_str(name).ok())
                .collect(),
        )
    };
    let fetch = FetchContext::new(request.offline, refresh, request_settings(invocation)).with_credentials(&sources);
    let exclude_newer = match request.exclude_newer.as_deref() {
        Some(text) => Some(parse_date(text)?),
        None => None,
    };
    let resolve_request = ResolveRequest {
        requirements: inputs.requirements.clone(),
        constraints,
        preferences,
        target: target.clone(),
        sources: sources.clone(),
        fetch: fetch.clone(),
        prereleases: request.pre || inputs.pre,
        exclude_newer,
        binaries: inputs.binaries.clone(),
        candidate_cache: services.candidates.clone(),
    };
    let index = services.index.clone();
    let runtime = tokio::runtime::Handle::current();
    let resolve_reporter = reporter.clone();
    let mut resolution =
        tokio::task::spawn_blocking(move || resolve::resolve(resolve_request, index, runtime, resolve_reporter))
            .await
            .map_err(|error| LockError::Unsupported(format!("the resolver stopped unexpectedly: {error}")))??;

    if request.generate_hashes {
        hash_unhashed(&services.index, &mut resolution, &fetch).await?;
    }
    let content = match request.format {
        LockFormat::Requirements => requirements_txt::render(&resolution, &options),
        LockFormat::Pylock => pylock::render(&resolution, None, &options.command),
    };
    let written = !request.dry_run;
    if written {
        write_atomically(&output_file, &content)?;
        services
            .memo
            .store(&memo_key, &output_file, &content, resolution.pins.len())
            .await;
    }
    let (http_requests, bytes_fetched, cache_hits, _) = fetch.counters.snapshot();
    Ok(LockOutcome {
        output_file,
        packages: resolution.pins.len(),
        content,
        fresh: false,
        written,
        elapsed: started.elapsed(),
        http_requests,
        bytes_fetched,
        cache_hits,
    })
}

/// The inputs: as given, else `requirements.in`, else `pyproject.toml`.
fn source_files(request: &LockRequest) -> Result<Vec<PathBuf>, LockError> {
    let invocation = &request.invocation;
    if !request.src_files.is_empty() {
        let files: Vec<PathBuf> = request.src_files.iter().map(|file| invocation.absolute(file)).collect();
        for file in &files {
            if !file.is_file() {
                return Err(LockError::Usage(format!("the input {} does not exist", file.display())));
            }
        }
        return Ok(files);
    }
    for default in ["requirements.in", "pyproject.toml"] {
        let candidate = invocation.cwd.join(default);
        if candidate.is_file() {
            return Ok(vec![candidate]);
        }
    }
    Err(LockError::Usage(format!(
        "nothing to lock: {} has no requirements.in or pyproject.toml; name the input files",
        invocation.cwd.display()
    )))
}

/// pip-compile's default output: `X.in` → `X.txt`; a pyproject.toml →
/// `requirements.txt` beside it.
fn output_file(request: &LockRequest, src_files: &[PathBuf]) -> Result<PathBuf, LockError> {
    let invocation = &request.invocation;
    if let Some(file) = &request.output_file {
        let path = invocation.absolute(file);
        if src_files.contains(&path) {
            return Err(LockError::Usage(format!(
                "the output file {} is also an input",
                path.display()
            )));
        }
        return Ok(path);
    }
    let default_name = match request.format {
        LockFormat::Requirements => "requirements.txt",
        LockFormat::Pylock => "pylock.toml",
    };
    let first = &src_files[0];
    let name = first.file_name().and_then(|name| name.to_str()).unwrap_or("");
    if name == "pyproject.toml" || request.format == LockFormat::Pylock {
        return Ok(first.with_file_name(default_name));
    }
    if src_files.len() > 1 {
        return Err(LockError::Usage(
            "--output-file is required when there are several input files".to_string(),
        ));
    }
    let output = first.with_extension("txt");
    if &output == first {
        return Err(LockError::Usage(format!(
            "{} would be its own output; pass --output-file",
            first.display()
        )));
    }
    Ok(output)
}

fn write_options(
    request: &LockRequest,
    src_files: &[PathBuf],
    output_file: &Path,
    sources: &Sources,
    inputs: &inputs::Inputs,
    python_version: &str,
) -> requirements_txt::WriteOptions {
    let invocation = &request.invocation;
    let command = match invocation.var("CUSTOM_COMPILE_COMMAND") {
        Some(custom) => custom.to_string(),
        None => header_command(request, src_files, output_file),
    };
    let mut option_lines = Vec::new();
    if request.emit_index_url {
        let mut indexes = sources.indexes.iter();
        if let Some(main) = indexes.next()
            && !sources.index_is_default
        {
            option_lines.push(format!("--index-url {main}"));
        }
        for extra in indexes {
            option_lines.push(format!("--extra-index-url {extra}"));
        }
    }
    if request.emit_find_links {
        for link in &sources.find_links {
            match link {
                FindLinks::Directory(path) => option_lines.push(format!("--find-links {}", path.display())),
                FindLinks::Page(url) => option_lines.push(format!("--find-links {url}")),
            }
        }
    }
    for host in &inputs.trusted_hosts {
        option_lines.push(format!("--trusted-host {host}"));
    }
    requirements_txt::WriteOptions {
        header: request.header,
        command,
        python_version: python_version.to_string(),
        annotate: request.annotate,
        annotation_style: request.annotation_style,
        generate_hashes: request.generate_hashes,
        strip_extras: request.strip_extras,
        allow_unsafe: request.allow_unsafe,
        option_lines,
    }
}

/// The command as pip-compile echoes it: long options sorted, those that do
/// not change the output left out, then the inputs.
fn header_command(request: &LockRequest, src_files: &[PathBuf], output_file: &Path) -> String {
    let cwd = &request.invocation.cwd;
    let flags = [
        (request.allow_unsafe, "--allow-unsafe"),
        (request.all_extras, "--all-extras"),
        (request.generate_hashes, "--generate-hashes"),
        (!request.annotate, "--no-annotate"),
        (!request.emit_find_links, "--no-emit-find-links"),
        (!request.emit_index_url, "--no-emit-index-url"),
        (request.index.no_index, "--no-index"),
        (request.pre, "--pre"),
        (request.strip_extras, "--strip-extras"),
    ];
    let mut options: Vec<String> = flags
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, text)| text.to_string())
        .collect();
    if request.annotation_style == AnnotationStyle::Line {
        options.push("--annotation-style=line".to_string());
    }
    for file in &request.constraints {
        options.push(format!("--constraint={file}"));
    }
    for extra in &request.extras {
        options.push(format!("--extra={extra}"));
    }
    for group in &request.groups {
        options.push(format!("--group={group}"));
    }
    if let Some(date) = &request.exclude_newer {
        options.push(format!("--exclude-newer={date}"));
    }
    if let Some(url) = &request.index.index_url {
        options.push(format!("--index-url={}", crate::index::redact_text(url)));
    }
    for url in &request.index.extra_index_urls {
        options.push(format!("--extra-index-url={}", crate::index::redact_text(url)));
    }
    for link in &request.index.find_links {
        options.push(format!("--find-links={link}"));
    }
    if request.format == LockFormat::Pylock {
        options.push("--format=pylock".to_string());
    }
    if let Some(version) = &request.python_version {
        options.push(format!("--python-version={version}"));
    }
    if let Some(platform) = &request.python_platform {
        options.push(format!("--python-platform={platform}"));
    }
    let default_output = output_file_default(request, src_files);
    if default_output.as_deref() != Some(output_file) {
        options.push(format!("--output-file={}", inputs::display_path(output_file, cwd)));
    }
    options.sort();
    let mut command = vec!["axle lock".to_string()];
    command.extend(options);
    command.extend(src_files.iter().map(|file| inputs::display_path(file, cwd)));
    command.join(" ")
}

fn output_file_default(request: &LockRequest, src_files: &[PathBuf]) -> Option<PathBuf> {
    let without = LockRequest {
        output_file: None,
        ..request.clone()
    };
    output_file(&without, src_files).ok()
}

/// HTTP settings from the client's environment.
pub fn request_settings(invocation: &Invocation) -> RequestSettings {
    let timeout = invocation
        .var("AXLE_HTTP_TIMEOUT")
        .and_then(|text| text.parse::<f64>().ok())
        .filter(|seconds| *seconds > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(60));
    let netrc = invocation
        .var("NETRC")
        .map(PathBuf::from)
        .or_else(|| invocation.user_home().map(|home| home.join(".netrc")));
    RequestSettings {
        timeout,
        netrc,
        credentials: Arc::default(),
    }
}

/// `--exclude-newer`: an RFC 3339 timestamp or a date (midnight UTC).
fn parse_date(text: &str) -> Result<jiff::Timestamp, LockError> {
    if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
        return Ok(timestamp);
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>()
        && let Ok(zoned) = date.to_zoned_datetime(jiff::tz::TimeZone::UTC)
    {
        return Ok(zoned.timestamp());
    }
    Err(LockError::Usage(format!(
        "--exclude-newer {text}: expected a date (2024-05-01) or an RFC 3339 timestamp"
    )))
}

/// Files without an index hash (find-links, some indexes) are hashed here,
/// so every pin of a `--generate-hashes` lock has all its hashes.
async fn hash_unhashed(
    index: &Arc<IndexClient>,
    resolution: &mut resolve::Resolution,
    fetch: &FetchContext,
) -> Result<(), LockError> {
    for pin in &mut resolution.pins {
        for file in &mut pin.files {
            if file.file.sha256.is_some() {
                continue;
            }
            if let Some(path) = file.file.url.strip_prefix("file://") {
                let bytes = std::fs::read(path).map_err(|error| IndexError::Io {
                    path: path.to_string(),
                    reason: error.to_string(),
                })?;
                file.file.sha256 = Some(hex::encode(Sha256::digest(&bytes)));
                continue;
            }
            let scratch = tempfile::tempdir().map_err(|error| IndexError::Io {
                path: "a temporary directory".to_string(),
                reason: error.to_string(),
            })?;
            let downloaded = index.download(&file.file, &[], scratch.path(), fetch).await?;
            file.file.sha256 = Some(downloaded.sha256);
        }
    }
    Ok(())
}

/// Writes `content` to `path` through a temporary file and a rename, so a
/// reader never sees half a lock.
fn write_atomically(path: &Path, content: &str) -> Result<(), LockError> {
    let error = |source| LockError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".axle-lock-")
        .tempfile_in(dir)
        .map_err(error)?;
    use std::io::Write;
    temp.write_all(content.as_bytes()).map_err(error)?;
    temp.as_file().sync_all().map_err(error)?;
    // Keep the permissions of the file being replaced; a new lock is
    // world-readable like any file pip-compile writes.
    let permissions = std::fs::metadata(path)
        .map(|meta| meta.permissions())
        .unwrap_or_else(|_| std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let _ = std::fs::set_permissions(temp.path(), permissions);
    temp.persist(path).map_err(|persist| error(persist.error))?;
    Ok(())
}
