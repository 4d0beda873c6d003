//! Reading what a lock is made from: requirement files (pip syntax, with
//! their `-r`/`-c` includes and options), `pyproject.toml` (dependencies,
//! extras, dependency groups) and constraint files.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use axle_standards::requirements_txt::Location;
use axle_standards::{
    ExtraName, ExtrasSelection, MarkerTree, PackageName, PyProject, RequirementsTxt, VerbatimUrl, VersionOrUrl, ViaKind,
};

use super::{LockError, LockFormat, LockRequest};
use crate::context::Invocation;
use crate::dist::{ArchiveSource, GitSource, SourceDist};
use crate::index::IndexSettings;
use crate::resolve::{BinaryPolicy, Origin, RootRequirement};

#[derive(Debug, Default)]
pub struct Inputs {
    pub requirements: Vec<RootRequirement>,
    pub constraints: Vec<RootRequirement>,
    /// Index options found in requirement files.
    pub index_settings: Vec<IndexSettings>,
    pub trusted_hosts: Vec<String>,
    pub pre: bool,
    pub binaries: BinaryPolicy,
    /// Every file that contributed, for the memo of unchanged inputs.
    pub files: BTreeSet<PathBuf>,
    /// Requirements named by location that only their metadata completes (editables,
    /// paths, sdist URLs, Git): read before resolving.
    pub sources: Vec<SourceInput>,
    /// Projects whose dependencies are the input (`setup.py`, `setup.cfg`, a pyproject.toml
    /// with dynamic dependencies): their metadata must be read, or built.
    pub projects: Vec<ProjectInput>,
}

/// A requirement named by location whose metadata is read before resolving.
#[derive(Debug, Clone)]
pub struct SourceInput {
    pub source: SourceDist,
    /// The name, when the input gives one (`name @ …`, `#egg=`).
    pub name: Option<PackageName>,
    pub extras: Vec<ExtraName>,
    pub marker: MarkerTree,
    pub marker_text: Option<String>,
    /// The location as the requirement carries it (`file://` for paths).
    pub url: VerbatimUrl,
    pub origin: Origin,
}

/// A project directory whose own dependencies are the input.
#[derive(Debug, Clone)]
pub struct ProjectInput {
    pub directory: PathBuf,
    /// `name (setup.py)`, once the name is known; the file as shown until then.
    pub shown: String,
}

/// What to read, as the request gives it.
pub struct InputSpec<'a> {
    pub invocation: &'a Invocation,
    /// Absolute paths of the source files.
    pub src_files: &'a [PathBuf],
    pub constraint_files: &'a [PathBuf],
    pub extras: &'a [String],
    pub all_extras: bool,
    pub groups: &'a [String],
}

pub fn read(spec: &InputSpec<'_>) -> Result<Inputs, LockError> {
    let env: HashMap<String, String> = spec
        .invocation
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut inputs = Inputs::default();
    let display = |path: &Path| display_path(path, &spec.invocation.cwd);

    for src in spec.src_files {
        inputs.files.insert(src.clone());
        let file_name = src.file_name().and_then(|name| name.to_str()).unwrap_or("");
        match file_name {
            "pyproject.toml" => read_pyproject(spec, src, &display(src), &mut inputs)?,
            "setup.py" | "setup.cfg" => inputs.projects.push(ProjectInput {
                directory: src.parent().map(Path::to_path_buf).unwrap_or_default(),
                shown: display(src),
            }),
            _ => {
                let parsed = RequirementsTxt::read(src, ViaKind::Requirement, &env)?;
                absorb(parsed, &mut inputs, &display)?;
            }
        }
    }
    for file in spec.constraint_files {
        inputs.files.insert(file.clone());
        let parsed = RequirementsTxt::read(file, ViaKind::Constraint, &env)?;
        absorb(parsed, &mut inputs, &display)?;
    }
    if !spec.extras.is_empty() || spec.all_extras || !spec.groups.is_empty() {
        let has_project = spec
            .src_files
            .iter()
            .any(|src| src.file_name().is_some_and(|name| name == "pyproject.toml"));
        if !has_project {
            return Err(LockError::Usage(
                "--extra, --all-extras and --group need a pyproject.toml among the inputs".to_string(),
            ));
        }
    }
    Ok(inputs)
}

fn read_pyproject(spec: &InputSpec<'_>, path: &Path, shown: &str, inputs: &mut Inputs) -> Result<(), LockError> {
    let project = PyProject::read(path)?;
    let selection = if spec.all_extras {
        ExtrasSelection::All
    } else if spec.extras.is_empty() {
        ExtrasSelection::None
    } else {
        let extras = spec
            .extras
            .iter()
            .map(|extra| {
                axle_standards::requirement::extra_name(extra)
                    .map_err(|error| LockError::Usage(format!("`{extra}` is not a valid extra name: {error}")))
            })
            .collect::<Result<Vec<ExtraName>, LockError>>()?;
        ExtrasSelection::Some(extras)
    };
    // pip-compile annotates pyproject dependencies with the project's name.
    let label = match project.project.as_ref() {
        Some(details) => format!("{} ({shown})", details.name),
        None => shown.to_string(),
    };
    let origin = Origin::Project(label);
    let dynamic = project.project.as_ref().is_some_and(|details| {
        details.dynamic.iter().any(|key| key == "dependencies")
            || (selection != ExtrasSelection::None && details.dynamic.iter().any(|key| key == "optional-dependencies"))
    });
    if dynamic {
        // Only the backend knows: its metadata is read (or built) before resolving.
        inputs.projects.push(ProjectInput {
            directory: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            shown: shown.to_string(),
        });
    } else if project.project.is_some() {
        for requirement in project.requirements(&selection)? {
            inputs.requirements.push(RootRequirement {
                requirement,
                marker_text: None,
                origin: origin.clone(),
                line: None,
            });
        }
    }
    if !spec.groups.is_empty() {
        let groups = spec
            .groups
            .iter()
            .map(|group| {
                group
                    .parse::<axle_standards::GroupName>()
                    .map_err(|error| LockError::Usage(format!("`{group}` is not a valid group name: {error}")))
            })
            .collect::<Result<Vec<_>, LockError>>()?;
        for requirement in project.dependency_group_requirements(&groups)? {
            inputs.requirements.push(RootRequirement {
                requirement,
                marker_text: None,
                origin: origin.clone(),
                line: None,
            });
        }
    }
    Ok(())
}

fn absorb(parsed: RequirementsTxt, inputs: &mut Inputs, display: &dyn Fn(&Path) -> String) -> Result<(), LockError> {
    let origin_of = |origin: &axle_standards::Origin| Origin::Requirements(display(&origin.file));
    let at = |origin: &axle_standards::Origin| format!("{}:{}", display(&origin.file), origin.line);
    for editable in parsed.editables {
        inputs.files.insert(editable.origin.file.clone());
        let source = match &editable.path {
            Some(path) => SourceDist::Directory {
                path: path.clone(),
                editable: true,
            },
            None if editable.url.as_str().starts_with("git+") => SourceDist::Git(
                GitSource::parse(editable.url.as_str(), true)
                    .map_err(|reason| LockError::Usage(format!("{}: {reason}", at(&editable.origin))))?,
            ),
            None => {
                return Err(LockError::Usage(format!(
                    "{}: an editable requirement must be a local directory or a git+ URL, not `{}`",
                    at(&editable.origin),
                    editable.url
                )));
            }
        };
        inputs.sources.push(SourceInput {
            source,
            name: editable.name,
            extras: editable.extras,
            marker: editable.marker,
            marker_text: editable.marker_text,
            url: editable.url,
            origin: origin_of(&editable.origin),
        });
    }
    for unnamed in parsed.unnamed {
        inputs.files.insert(unnamed.origin.file.clone());
        let source = source_at(unnamed.url.as_str())
            .map_err(|reason| LockError::Usage(format!("{}: {reason}", at(&unnamed.origin))))?
            .ok_or_else(|| {
                LockError::Usage(format!(
                    "{}: cannot tell which package `{}` is (a wheel's file name or #egg=name would say)",
                    at(&unnamed.origin),
                    unnamed.url
                ))
            })?;
        inputs.sources.push(SourceInput {
            source,
            name: None,
            extras: unnamed.extras,
            marker: unnamed.marker,
            marker_text: unnamed.marker_text,
            url: unnamed.url,
            origin: origin_of(&unnamed.origin),
        });
    }
    for entry in parsed.requirements {
        inputs.files.insert(entry.origin.file.clone());
        if let Some(VersionOrUrl::Url(url)) = &entry.requirement.version_or_url {
            let source = source_at(url.as_str())
                .map_err(|reason| LockError::Usage(format!("{}: {reason}", at(&entry.origin))))?;
            if let Some(source) = source {
                inputs.sources.push(SourceInput {
                    source,
                    name: Some(entry.requirement.name.clone()),
                    extras: entry.requirement.extras.clone(),
                    marker: entry.requirement.marker.clone(),
                    marker_text: entry.marker_text,
                    url: url.clone(),
                    origin: origin_of(&entry.origin),
                });
                continue;
            }
        }
        inputs.requirements.push(RootRequirement {
            origin: origin_of(&entry.origin),
            line: Some(entry.origin.line),
            marker_text: entry.marker_text,
            requirement: entry.requirement,
        });
    }
    for entry in parsed.constraints {
        inputs.files.insert(entry.origin.file.clone());
        inputs.constraints.push(RootRequirement {
            origin: Origin::Constraints(display(&entry.origin.file)),
            line: Some(entry.origin.line),
            marker_text: entry.marker_text,
            requirement: entry.requirement,
        });
    }
    let options = parsed.options;
    let location = |location: &Location| match location {
        Location::Url(url) => url.to_string(),
        Location::Path(path) => path.display().to_string(),
    };
    inputs.index_settings.push(IndexSettings {
        index_url: options.index_url.as_ref().map(location),
        extra_index_urls: options.extra_index_urls.iter().map(location).collect(),
        find_links: options.find_links.iter().map(location).collect(),
        no_index: options.no_index,
    });
    inputs.trusted_hosts.extend(options.trusted_hosts);
    inputs.pre |= options.pre;
    let binaries = &mut inputs.binaries;
    binaries.only_binary_all |= options.only_binary.all;
    binaries.only_binary.extend(options.only_binary.packages);
    binaries.no_binary_all |= options.no_binary.all;
    binaries.no_binary.extend(options.no_binary.packages);
    Ok(())
}

/// The inputs: as given, else `requirements.in`, else `pyproject.toml`.
pub fn source_files(request: &LockRequest) -> Result<Vec<PathBuf>, LockError> {
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
pub fn output_file(request: &LockRequest, src_files: &[PathBuf]) -> Result<PathBuf, LockError> {
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

/// `--only-binary` / `--no-binary` from `PIP_ONLY_BINARY` / `PIP_NO_BINARY`, then the command
/// line (which pip lets override the environment), over what the requirement files said.
pub fn apply_binary_options(binaries: &mut BinaryPolicy, request: &LockRequest) -> Result<(), LockError> {
    let invocation = &request.invocation;
    let mut only = axle_standards::BinarySet::default();
    let mut no = axle_standards::BinarySet::default();
    let from_env = [
        (invocation.var("PIP_ONLY_BINARY"), true, "PIP_ONLY_BINARY"),
        (invocation.var("PIP_NO_BINARY"), false, "PIP_NO_BINARY"),
    ];
    let given = from_env
        .into_iter()
        .filter_map(|(value, only_binary, what)| Some((value?.to_string(), only_binary, what)))
        .chain(
            request
                .only_binary
                .iter()
                .map(|value| (value.clone(), true, "--only-binary")),
        )
        .chain(
            request
                .no_binary
                .iter()
                .map(|value| (value.clone(), false, "--no-binary")),
        );
    for (value, only_binary, what) in given {
        let result = if only_binary {
            axle_standards::apply_binary_option(&value, &mut only, &mut no)
        } else {
            axle_standards::apply_binary_option(&value, &mut no, &mut only)
        };
        result.map_err(|reason| LockError::Usage(format!("{what} {value}: {reason}")))?;
    }
    binaries.only_binary_all |= only.all;
    binaries.only_binary.extend(only.packages);
    binaries.no_binary_all |= no.all;
    binaries.no_binary.extend(no.packages);
    Ok(())
}

/// What a requirement's URL names, when it is not a wheel (wheels are their own candidates):
/// a project directory, a Git repository, an sdist archive. `None` for a wheel, or for an
/// archive whose name says nothing.
fn source_at(url: &str) -> Result<Option<SourceDist>, String> {
    if url.starts_with("git+") {
        return GitSource::parse(url, false).map(|git| Some(SourceDist::Git(git)));
    }
    if ["hg+", "svn+", "bzr+"].iter().any(|scheme| url.starts_with(scheme)) {
        return Err(format!("`{url}`: axle reads Git repositories only (git+…)"));
    }
    let parsed = url::Url::parse(url).map_err(|error| format!("`{url}`: {error}"))?;
    let (parsed, filename, sha256) = crate::index::file_link(parsed);
    if parsed.scheme() == "file"
        && let Ok(path) = parsed.to_file_path()
        && path.is_dir()
    {
        return Ok(Some(SourceDist::Directory { path, editable: false }));
    }
    if filename.ends_with(".whl") {
        return Ok(None);
    }
    if parsed.scheme() == "file" && parsed.to_file_path().is_ok_and(|path| !path.exists()) {
        return Err(format!("`{url}` does not exist"));
    }
    Ok(Some(SourceDist::Archive(ArchiveSource {
        filename,
        url: parsed.to_string(),
        sha256: sha256.into_iter().collect(),
    })))
}

/// `path` as pip-compile shows it: relative to the working directory when
/// inside it.
pub fn display_path(path: &Path, cwd: &Path) -> String {
    path.strip_prefix(cwd)
        .map(|relative| relative.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}
