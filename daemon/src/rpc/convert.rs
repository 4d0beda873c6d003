//! Protobuf messages into domain requests, domain results and errors into messages and
//! `tonic::Status`: the translations the service's methods share.

use axle_proto::handshake::ERROR_KIND_HEADER;
use axle_proto::v1;
use tonic::Status;

use crate::context::Invocation;
use crate::dist::BuildFlags;
use crate::error::{Error, ErrorKind};
use crate::index::{IndexSettings, IndexStrategy};
use crate::lock::{LockFormat, LockRequest};
use crate::lockfile::requirements_txt::AnnotationStyle;

pub(super) fn path_text(path: &std::path::Path) -> String {
    path.to_string_lossy().into_owned()
}

pub(super) fn project_dir(invocation: &Invocation, dir: &str) -> std::path::PathBuf {
    if dir.is_empty() {
        invocation.cwd.clone()
    } else {
        invocation.absolute(dir)
    }
}

pub(super) fn project_status(status: crate::project::ProjectStatus) -> v1::ProjectStatusReply {
    let texts = |paths: &[std::path::PathBuf]| paths.iter().map(|path| path_text(path)).collect::<Vec<_>>();
    v1::ProjectStatusReply {
        dir: path_text(&status.dir),
        lock: Some(v1::LockStatus {
            state: status.lock.state.as_str().to_string(),
            inputs: texts(&status.lock.inputs),
            lock_file: path_text(&status.lock.lock_file),
            changed: texts(&status.lock.changed),
            remembered: status.lock.remembered,
        }),
        venv: Some(v1::VenvStatus {
            state: status.venv.state.as_str().to_string(),
            path: path_text(&status.venv.path),
            python: path_text(&status.venv.python),
            lock_files: texts(&status.venv.lock_files),
            missing: status.venv.missing,
            extra: status.venv.extra,
            changed: status.venv.changed,
            detail: status.venv.detail,
        }),
    }
}

pub(super) fn watch_event(event: crate::watch::WatchEvent) -> v1::WatchEvent {
    use crate::jobs::JobStep;
    use crate::watch::WatchEvent;
    let kind = match event {
        WatchEvent::Status { status, changed_paths } => v1::watch_event::Kind::Status(v1::ProjectChanged {
            status: Some(project_status(*status)),
            changed_paths: changed_paths.iter().map(|path| path_text(path)).collect(),
        }),
        WatchEvent::Job(job) => v1::watch_event::Kind::Job(v1::JobEvent {
            dir: path_text(&job.dir),
            job: job.job.as_str().to_string(),
            step: Some(match job.step {
                JobStep::Started => v1::job_event::Step::Started(true),
                JobStep::Progress {
                    phase,
                    subject,
                    done,
                    total,
                } => v1::job_event::Step::Progress(v1::Progress {
                    phase: phase.name().to_string(),
                    subject,
                    done,
                    total,
                }),
                JobStep::Finished(summary) => v1::job_event::Step::Finished(summary),
                JobStep::Failed(message) => v1::job_event::Step::Failed(message),
            }),
        }),
    };
    v1::WatchEvent { kind: Some(kind) }
}

pub(super) fn invocation(proto: Option<v1::Invocation>) -> Result<Invocation, Status> {
    let proto = proto.ok_or_else(|| Status::invalid_argument("the request carries no invocation"))?;
    let cwd = std::path::PathBuf::from(proto.cwd);
    if !cwd.is_absolute() {
        return Err(Status::invalid_argument(
            "the invocation's working directory must be absolute",
        ));
    }
    Ok(Invocation {
        cwd,
        env: proto.env.into_iter().collect(),
        argv: proto.argv,
    })
}

pub(super) fn lock_request(request: v1::LockRequest) -> Result<LockRequest, Status> {
    let invocation = invocation(request.invocation)?;
    let (index, strategy) = index_options(request.index)?;
    let annotation_style = match request.annotation_style.as_str() {
        "" | "split" => AnnotationStyle::Split,
        "line" => AnnotationStyle::Line,
        other => {
            return Err(Status::invalid_argument(format!("unknown annotation style `{other}`")));
        }
    };
    let format = match request.format.as_str() {
        "" | "requirements" | "requirements.txt" => LockFormat::Requirements,
        "pylock" | "pylock.toml" => LockFormat::Pylock,
        other => {
            return Err(Status::invalid_argument(format!("unknown lock format `{other}`")));
        }
    };
    let non_empty = |text: String| Some(text).filter(|text| !text.is_empty());
    Ok(LockRequest {
        invocation,
        src_files: request.src_files,
        constraints: request.constraints,
        output_file: non_empty(request.output_file),
        extras: request.extras,
        all_extras: request.all_extras,
        groups: request.groups,
        generate_hashes: request.generate_hashes,
        strip_extras: request.strip_extras,
        allow_unsafe: request.allow_unsafe,
        upgrade: request.upgrade,
        upgrade_packages: request.upgrade_packages,
        header: request.header,
        annotate: request.annotate,
        annotation_style,
        emit_index_url: request.emit_index_url,
        emit_find_links: request.emit_find_links,
        dry_run: request.dry_run,
        pre: request.pre,
        python: non_empty(request.python),
        python_version: non_empty(request.python_version),
        python_platform: non_empty(request.python_platform),
        universal: request.universal,
        exclude_newer: non_empty(request.exclude_newer),
        offline: request.offline,
        index,
        strategy,
        format,
        refresh: request.refresh,
        refresh_packages: request.refresh_packages,
        build: build_flags(request.build),
        only_binary: request.only_binary,
        no_binary: request.no_binary,
    })
}

/// The build options of a request.
pub(super) fn build_flags(proto: Option<v1::BuildOptions>) -> BuildFlags {
    let build = proto.unwrap_or_default();
    BuildFlags {
        no_build: build.no_build,
        no_build_isolation: build.no_build_isolation,
        config_settings: build.config_settings,
        build_constraints: build.build_constraints,
    }
}

/// The index options of a request: where to look, and in which order.
pub(super) fn index_options(proto: Option<v1::IndexOptions>) -> Result<(IndexSettings, IndexStrategy), Status> {
    let index = proto.unwrap_or_default();
    let strategy = IndexStrategy::parse(&index.index_strategy)
        .ok_or_else(|| Status::invalid_argument(format!("unknown index strategy `{}`", index.index_strategy)))?;
    let settings = IndexSettings {
        index_url: Some(index.index_url).filter(|url| !url.is_empty()),
        extra_index_urls: index.extra_index_urls,
        find_links: index.find_links,
        no_index: index.no_index,
    };
    Ok((settings, strategy))
}

pub(super) fn status_of(error: &Error) -> Status {
    let message = error.to_string();
    let kind = error.kind();
    let mut status = match kind {
        ErrorKind::InvalidInput => Status::invalid_argument(message),
        ErrorKind::NotFound => Status::not_found(message),
        ErrorKind::Conflict => Status::already_exists(message),
        ErrorKind::Unavailable => Status::unavailable(message),
        ErrorKind::Unsatisfiable => Status::failed_precondition(message),
        ErrorKind::Unsupported => Status::unimplemented(message),
        ErrorKind::Integrity => Status::data_loss(message),
        ErrorKind::BuildFailed => Status::aborted(message),
        ErrorKind::Internal => Status::internal(message),
    };
    status.metadata_mut().insert(
        ERROR_KIND_HEADER,
        tonic::metadata::MetadataValue::from_static(kind.name()),
    );
    status
}

pub(super) fn team_stats(stats: crate::team::TeamStats) -> v1::TeamStoreStats {
    v1::TeamStoreStats {
        url: stats.url,
        mode: stats.mode,
        hits: stats.hits,
        misses: stats.misses,
        bytes_read: stats.bytes_read,
        bytes_written: stats.bytes_written,
        uploaded: stats.uploaded,
        already_there: stats.already_there,
        failures: stats.failures,
        queued: stats.queued,
    }
}

pub(super) fn image_request(request: v1::ImageRequest) -> Result<crate::image::ImageRequest, Status> {
    let (index, strategy) = index_options(request.index)?;
    let non_empty = |text: String| Some(text).filter(|text| !text.is_empty());
    Ok(crate::image::ImageRequest {
        invocation: invocation(request.invocation)?,
        lock_files: request.lock_files,
        from: request.from,
        to: request.to,
        platform: non_empty(request.platform),
        python: non_empty(request.python),
        venv: non_empty(request.venv),
        add: request.add,
        workdir: non_empty(request.workdir),
        entrypoint: request.entrypoint.map(|list| list.values),
        cmd: request.cmd.map(|list| list.values),
        env: request.env,
        labels: request.labels,
        user: non_empty(request.user),
        tls_verify: !request.tls_verify_off,
        compile_bytecode: request.compile_bytecode,
        index,
        strategy,
        offline: request.offline,
        build: build_flags(request.build),
    })
}

pub(super) fn image_result(outcome: crate::image::ImageOutcome) -> v1::ImageResult {
    v1::ImageResult {
        reference: outcome.reference,
        manifest_digest: outcome.manifest,
        manifest_size: outcome.manifest_size,
        config_digest: outcome.config,
        layers: outcome
            .layers
            .into_iter()
            .map(|layer| v1::ImageLayer {
                digest: layer.digest,
                size: layer.size,
                diff_id: layer.diff_id,
                made_by: layer.made_by,
            })
            .collect(),
        python: outcome.python,
        platform: outcome.platform,
        packages: outcome.packages as u32,
        uploaded: outcome.uploaded as u32,
        reused: outcome.reused as u32,
        elapsed_ms: outcome.elapsed.as_millis() as u64,
    }
}
