//! What a lock file says about how it was made: pip-compile's header
//! (the command, echoed with the options that change the output) and the
//! option lines (`--index-url`, `--find-links`, `--trusted-host`).

use std::path::{Path, PathBuf};

use super::LockRequest;
use super::inputs::{self, Inputs};
use crate::index::{FindLinks, Sources};
use crate::lockfile::requirements_txt::{AnnotationStyle, WriteOptions};

pub fn write_options(
    request: &LockRequest,
    src_files: &[PathBuf],
    output_file: &Path,
    sources: &Sources,
    inputs: &Inputs,
    python_version: &str,
    exclude_newer: Option<&str>,
) -> WriteOptions {
    let invocation = &request.invocation;
    let command = match invocation.var("CUSTOM_COMPILE_COMMAND") {
        Some(custom) => custom.to_string(),
        None => header_command(request, src_files, output_file, exclude_newer),
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
    WriteOptions {
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
/// `exclude_newer` as the header echoes it (a duration as the moment it meant).
fn header_command(
    request: &LockRequest,
    src_files: &[PathBuf],
    output_file: &Path,
    exclude_newer: Option<&str>,
) -> String {
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
    if let Some(moment) = exclude_newer {
        options.push(format!("--exclude-newer={moment}"));
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
    if request.format == super::LockFormat::Pylock {
        options.push("--format=pylock".to_string());
    }
    if let Some(version) = &request.python_version {
        options.push(format!("--python-version={version}"));
    }
    if let Some(platform) = &request.python_platform {
        options.push(format!("--python-platform={platform}"));
    }
    if request.universal {
        options.push("--universal".to_string());
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
    inputs::output_file(&without, src_files).ok()
}
