//! pip's requirement-file format (`requirements.txt`, `constraints.txt`, `*.in`), read from disk.
//!
//! The grammar is pip's: `#` comments (at the start of a line or after whitespace), `\` line
//! continuations, `${NAME}` variables, option lines (`-r`, `-c`, `-e`, `-i`, `--extra-index-url`,
//! `--no-index`, `-f`, `--pre`, `--only-binary`, `--no-binary`, `--require-hashes`,
//! `--trusted-host`) and requirement lines with per-line `--hash` options.
//!
//! Where pip is lax this reader is strict, on purpose:
//! - an undefined `${NAME}` is an error (pip leaves the text as is, and pep508_rs would then
//!   expand it from the process environment, which the caller did not choose);
//! - an option pip would silently ignore on a requirement line (`foo --pre`) is an error;
//! - options axle does not implement (`--prefer-binary`, `--config-settings`, ...) are errors;
//! - every file included from a constraints file is read as constraints, even through `-r`
//!   (pip switches back to requirements there, letting a constraints file add packages).

mod lines;
mod options;

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use pep508_rs::{Reporter, UnnamedRequirement, VersionOrUrl};
use url::Url;

use crate::filename::WheelFilename;
use crate::requirement::{ExtraName, PackageName, Requirement, VerbatimUrl, package_name, pep508_message};
use lines::{
    expand_variables, logical_lines, marker_start, shell_split, split_args_options, split_editable_marker,
    strip_comment,
};
pub use options::apply_binary_option;
use options::{Opt, parse_hash, parse_options, update_binary_sets};

/// Everything a requirement file (and the files it includes) says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequirementsTxt {
    pub requirements: Vec<Entry>,
    pub constraints: Vec<Entry>,
    pub editables: Vec<Editable>,
    /// Requirements given as a path or URL whose name only their metadata tells (`./proj`,
    /// `https://…/archive/v1.tar.gz`).
    pub unnamed: Vec<Unnamed>,
    pub options: IndexOptions,
}

/// A requirement line that is a bare path or URL without a name in it.
#[derive(Clone, Debug, PartialEq)]
pub struct Unnamed {
    /// A `file://` URL for local paths (resolved against the file naming it), else the URL.
    pub url: VerbatimUrl,
    pub extras: Vec<ExtraName>,
    pub marker: crate::requirement::MarkerTree,
    pub marker_text: Option<String>,
    pub hashes: Vec<String>,
    pub origin: Origin,
}

/// One requirement or constraint line.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub requirement: Requirement,
    /// The environment marker as written (after `;`), for tools that echo
    /// it: the parsed marker is normalised (`python_version` becomes
    /// `python_full_version`), which pip-compile's output does not do.
    pub marker_text: Option<String>,
    /// `algorithm:hexdigest`, lower-case, in the order given.
    pub hashes: Vec<String>,
    pub origin: Origin,
}

/// Where a line came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file as named: the caller's path for the top file, joined onto the including file's
    /// directory for `-r`/`-c` files.
    pub file: PathBuf,
    /// 1-based; for a continued line, the line it starts on.
    pub line: usize,
    pub via: ViaKind,
}

/// Whether the file was read for requirements or for constraints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViaKind {
    Requirement,
    Constraint,
}

/// A `-e` line: a local project or VCS URL installed in development mode.
#[derive(Clone, Debug, PartialEq)]
pub struct Editable {
    /// A `file://` URL for local paths (resolved against the file naming it), else the URL.
    pub url: VerbatimUrl,
    /// The local directory, when it is one.
    pub path: Option<PathBuf>,
    /// From a `#egg=name` fragment; otherwise only known once the project is read.
    pub name: Option<PackageName>,
    pub extras: Vec<ExtraName>,
    /// `-e ./proj ; python_version >= "3.10"`, as uv reads it (pip reads the line and drops
    /// the marker); lock writers put one on an editable needed only somewhere.
    pub marker: crate::requirement::MarkerTree,
    pub marker_text: Option<String>,
    pub origin: Origin,
}

/// A package index or find-links location: a URL, or a local path resolved against the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Url(Url),
    Path(PathBuf),
}

/// The file-wide options, merged over all included files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexOptions {
    /// `-i`; the last one read wins, as in pip.
    pub index_url: Option<Location>,
    pub extra_index_urls: Vec<Location>,
    pub find_links: Vec<Location>,
    pub no_index: bool,
    pub pre: bool,
    pub only_binary: BinarySet,
    pub no_binary: BinarySet,
    pub require_hashes: bool,
    pub trusted_hosts: Vec<String>,
}

/// The packages a `--only-binary`/`--no-binary` option names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BinarySet {
    /// `:all:`.
    pub all: bool,
    pub packages: BTreeSet<PackageName>,
}

impl BinarySet {
    pub fn contains(&self, name: &PackageName) -> bool {
        self.all || self.packages.contains(name)
    }

    fn clear(&mut self) {
        self.all = false;
        self.packages.clear();
    }
}

/// A requirement file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RequirementsTxtError {
    #[error("cannot read requirements file `{}`: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `content` is the line as written, before `${NAME}` expansion, so secrets stay out of
    /// error messages.
    #[error("{}:{}: {} `{}`: {}", .file.display(), .line, .problem.headline(), .content, .problem)]
    Line {
        file: PathBuf,
        line: usize,
        content: String,
        problem: LineProblem,
    },
}

/// What is wrong with one line.
#[derive(Debug, thiserror::Error)]
pub enum LineProblem {
    #[error("{0}")]
    InvalidRequirement(String),
    #[error("name the package, as in `name @ {0}`")]
    UnnamedRequirement(String),
    #[error("`${{{0}}}` is not set")]
    UndefinedVariable(String),
    #[error("a quote is not closed")]
    UnclosedQuote,
    #[error("`{0}` is not a pip requirement-file option")]
    UnknownOption(String),
    #[error("`{0}` is not an option; quote values that contain spaces")]
    StrayArgument(String),
    #[error("`{0}` is ambiguous: it could be {1}")]
    AmbiguousOption(String, String),
    #[error("axle does not support `{0}`")]
    UnsupportedOption(String),
    #[error("`{0}` needs a value")]
    MissingValue(String),
    #[error("`{0}` takes no value")]
    UnexpectedValue(String),
    #[error("`{0}` cannot follow a requirement: put it on a line of its own")]
    FileOptionOnRequirementLine(String),
    #[error("`--hash` belongs on the line of the requirement it checks")]
    HashWithoutRequirement,
    #[error("{0}")]
    InvalidHash(String),
    #[error("`{value}` is not a valid {what}: {reason}")]
    InvalidValue {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("editable requirements cannot be constraints")]
    EditableConstraint,
    #[error("`{0}` is a remote file; axle only reads local requirement files")]
    RemoteFile(String),
    #[error("cannot read `{}`: {source}", .path.display())]
    Include {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}", .0.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(" includes "))]
    IncludeCycle(Vec<PathBuf>),
}

impl LineProblem {
    fn headline(&self) -> &'static str {
        match self {
            Self::InvalidRequirement(_) => "invalid requirement",
            Self::UnnamedRequirement(_) => "cannot tell which package is meant by",
            Self::UndefinedVariable(_) => "undefined variable in",
            Self::UnclosedQuote => "cannot split",
            Self::UnknownOption(_) | Self::AmbiguousOption(..) => "unknown option in",
            Self::UnsupportedOption(_) => "unsupported option in",
            Self::MissingValue(_) | Self::UnexpectedValue(_) | Self::InvalidValue { .. } | Self::StrayArgument(_) => {
                "invalid option in"
            }
            Self::FileOptionOnRequirementLine(_) | Self::HashWithoutRequirement => "misplaced option in",
            Self::InvalidHash(_) => "invalid hash in",
            Self::EditableConstraint => "invalid constraint",
            Self::RemoteFile(_) | Self::Include { .. } => "cannot include",
            Self::IncludeCycle(_) => "include cycle at",
        }
    }
}

impl RequirementsTxtError {
    /// Put `${NAME}` back where a message shows its value: variables carry credentials.
    fn redacted(self, substituted: &[(String, String)]) -> Self {
        match self {
            Self::Line {
                file,
                line,
                content,
                problem,
            } => Self::Line {
                file,
                line,
                content,
                problem: problem.redacted(substituted),
            },
            read @ Self::Read { .. } => read,
        }
    }
}

impl LineProblem {
    fn redacted(self, substituted: &[(String, String)]) -> Self {
        let r = |text: String| {
            substituted.iter().fold(text, |text, (name, value)| {
                text.replace(value.as_str(), &format!("${{{name}}}"))
            })
        };
        match self {
            Self::InvalidRequirement(s) => Self::InvalidRequirement(r(s)),
            Self::UnnamedRequirement(s) => Self::UnnamedRequirement(r(s)),
            Self::UnknownOption(s) => Self::UnknownOption(r(s)),
            Self::StrayArgument(s) => Self::StrayArgument(r(s)),
            Self::AmbiguousOption(s, candidates) => Self::AmbiguousOption(r(s), candidates),
            Self::InvalidHash(s) => Self::InvalidHash(r(s)),
            Self::RemoteFile(s) => Self::RemoteFile(r(s)),
            Self::InvalidValue { what, value, reason } => Self::InvalidValue {
                what,
                value: r(value),
                reason: r(reason),
            },
            Self::Include { path, source } => Self::Include {
                path: match path.to_str() {
                    Some(text) => PathBuf::from(r(text.to_string())),
                    None => path,
                },
                source,
            },
            other => other,
        }
    }
}

impl RequirementsTxt {
    /// Read a requirement file and everything it includes.
    ///
    /// `via` says whether the caller asked for it as requirements (`-r`) or constraints (`-c`).
    /// `env` supplies `${NAME}` values; the process environment is never consulted.
    pub fn read(
        path: impl AsRef<Path>,
        via: ViaKind,
        env: &HashMap<String, String>,
    ) -> Result<Self, RequirementsTxtError> {
        let path = path.as_ref();
        let mut reader = Reader {
            env,
            stack: Vec::new(),
            out: Self::default(),
        };
        let content = read_to_string(path).map_err(|source| RequirementsTxtError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let canonical = path.canonicalize().map_err(|source| RequirementsTxtError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        reader.read_file(path, canonical, &content, via)?;
        Ok(reader.out)
    }
}

fn read_to_string(path: &Path) -> io::Result<String> {
    let content = std::fs::read_to_string(path)?;
    Ok(match content.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => content,
    })
}

struct Reader<'a> {
    env: &'a HashMap<String, String>,
    /// Canonical paths of the files being read, outermost first, to spot include cycles.
    stack: Vec<PathBuf>,
    out: RequirementsTxt,
}

/// One logical line, located.
struct Line<'a> {
    file: &'a Path,
    /// Absolute directory of `file`: relative paths in the line are relative to it.
    dir: &'a Path,
    number: usize,
    /// As written (continuations joined, comment removed), for messages.
    written: &'a str,
    via: ViaKind,
}

impl Line<'_> {
    fn error(&self, problem: LineProblem) -> RequirementsTxtError {
        RequirementsTxtError::Line {
            file: self.file.to_path_buf(),
            line: self.number,
            content: self.written.to_string(),
            problem,
        }
    }

    fn origin(&self) -> Origin {
        Origin {
            file: self.file.to_path_buf(),
            line: self.number,
            via: self.via,
        }
    }
}

impl Reader<'_> {
    fn read_file(
        &mut self,
        file: &Path,
        canonical: PathBuf,
        content: &str,
        via: ViaKind,
    ) -> Result<(), RequirementsTxtError> {
        let dir = std::path::absolute(file)
            .map(|absolute| normalize(&absolute).parent().map(Path::to_path_buf).unwrap_or_default())
            .map_err(|source| RequirementsTxtError::Read {
                path: file.to_path_buf(),
                source,
            })?;
        self.stack.push(canonical);
        for (number, logical) in logical_lines(content) {
            let written = strip_comment(&logical).trim();
            if written.is_empty() {
                continue;
            }
            let line = Line {
                file,
                dir: &dir,
                number,
                written,
                via,
            };
            let (expanded, substituted) = expand_variables(written, self.env).map_err(|p| line.error(p))?;
            self.read_line(&line, &expanded)
                .map_err(|err| err.redacted(&substituted))?;
        }
        self.stack.pop();
        Ok(())
    }

    fn read_line(&mut self, line: &Line<'_>, text: &str) -> Result<(), RequirementsTxtError> {
        let (args, options) = split_args_options(text);
        let (options, editable_marker) = split_editable_marker(options);
        let tokens = shell_split(options).map_err(|p| line.error(p))?;
        let mut options = parse_options(&tokens).map_err(|p| line.error(p))?;
        if let Some(marker) = editable_marker {
            for (option, value) in &mut options {
                if let (Opt::Editable, Some(value)) = (option, value) {
                    *value = format!("{value} ; {marker}");
                }
            }
        }
        if args.is_empty() {
            for (option, value) in options {
                self.apply_option(line, option, value)?;
            }
            return Ok(());
        }
        let mut hashes = Vec::new();
        for (option, value) in options {
            match (option, value) {
                (Opt::Hash, Some(value)) => {
                    hashes.push(parse_hash(&value).map_err(|p| line.error(p))?);
                }
                (Opt::ConfigSettings | Opt::GlobalOption | Opt::InstallOption, _) => {
                    return Err(line.error(LineProblem::UnsupportedOption(option.long().to_string())));
                }
                (option, _) => {
                    return Err(line.error(LineProblem::FileOptionOnRequirementLine(option.long().to_string())));
                }
            }
        }
        let requirement = match parse_requirement_line(args, line.dir) {
            Ok(requirement) => requirement,
            Err(LineProblem::UnnamedRequirement(_)) if line.via == ViaKind::Requirement => {
                let unnamed = UnnamedRequirement::<VerbatimUrl>::parse(args, line.dir, &mut IgnoreWarnings)
                    .map_err(|err| line.error(LineProblem::InvalidRequirement(pep508_message(&err))))?;
                self.out.unnamed.push(Unnamed {
                    url: unnamed.url,
                    extras: unnamed.extras,
                    marker: unnamed.marker,
                    marker_text: marker_text(args),
                    hashes,
                    origin: line.origin(),
                });
                return Ok(());
            }
            Err(problem) => return Err(line.error(problem)),
        };
        let entry = Entry {
            marker_text: marker_text(args),
            requirement,
            hashes,
            origin: line.origin(),
        };
        match line.via {
            ViaKind::Requirement => self.out.requirements.push(entry),
            ViaKind::Constraint => self.out.constraints.push(entry),
        }
        Ok(())
    }

    fn apply_option(
        &mut self,
        line: &Line<'_>,
        option: Opt,
        value: Option<String>,
    ) -> Result<(), RequirementsTxtError> {
        let value = value.unwrap_or_default();
        let options = &mut self.out.options;
        match option {
            Opt::Requirement => self.include(line, &value, line.via)?,
            Opt::Constraint => self.include(line, &value, ViaKind::Constraint)?,
            Opt::Editable => {
                if line.via == ViaKind::Constraint {
                    return Err(line.error(LineProblem::EditableConstraint));
                }
                let editable = parse_editable(&value, line).map_err(|p| line.error(p))?;
                self.out.editables.push(editable);
            }
            Opt::IndexUrl => {
                options.index_url = Some(location(&value, line).map_err(|p| line.error(p))?);
            }
            Opt::ExtraIndexUrl => {
                let location = location(&value, line).map_err(|p| line.error(p))?;
                options.extra_index_urls.push(location);
            }
            Opt::FindLinks => {
                let location = location(&value, line).map_err(|p| line.error(p))?;
                options.find_links.push(location);
            }
            Opt::NoIndex => options.no_index = true,
            Opt::Pre => options.pre = true,
            Opt::RequireHashes => options.require_hashes = true,
            Opt::TrustedHost => options.trusted_hosts.push(value),
            Opt::OnlyBinary => {
                update_binary_sets(&value, &mut options.only_binary, &mut options.no_binary)
                    .map_err(|p| line.error(p))?;
            }
            Opt::NoBinary => {
                update_binary_sets(&value, &mut options.no_binary, &mut options.only_binary)
                    .map_err(|p| line.error(p))?;
            }
            Opt::Hash => return Err(line.error(LineProblem::HashWithoutRequirement)),
            Opt::PreferBinary | Opt::UseFeature | Opt::ConfigSettings | Opt::GlobalOption | Opt::InstallOption => {
                return Err(line.error(LineProblem::UnsupportedOption(option.long().to_string())));
            }
        }
        Ok(())
    }

    fn include(&mut self, line: &Line<'_>, value: &str, via: ViaKind) -> Result<(), RequirementsTxtError> {
        let relative = match url_scheme(value) {
            Some("file") => Url::parse(value)
                .ok()
                .and_then(|url| url.to_file_path().ok())
                .ok_or_else(|| {
                    line.error(LineProblem::InvalidValue {
                        what: "file URL",
                        value: value.to_string(),
                        reason: "it does not name a local file".to_string(),
                    })
                })?,
            Some(_) => return Err(line.error(LineProblem::RemoteFile(value.to_string()))),
            None => PathBuf::from(value),
        };
        // Named relative to the including file, as the user wrote it; read through the
        // absolute directory so the process's working directory does not matter.
        let named = line.file.parent().unwrap_or(Path::new("")).join(&relative);
        let absolute = line.dir.join(&relative);
        let include_error = |source| {
            line.error(LineProblem::Include {
                path: named.clone(),
                source,
            })
        };
        let content = read_to_string(&absolute).map_err(include_error)?;
        let canonical = absolute.canonicalize().map_err(include_error)?;
        if let Some(start) = self.stack.iter().position(|p| p == &canonical) {
            let mut chain = self.stack[start..].to_vec();
            chain.push(canonical);
            return Err(line.error(LineProblem::IncludeCycle(chain)));
        }
        // Constraints stay constraints all the way down (see the module documentation).
        let via = if line.via == ViaKind::Constraint {
            ViaKind::Constraint
        } else {
            via
        };
        self.read_file(&named, canonical, &content, via)
    }
}

/// The scheme of `value` if it is a URL; a Windows drive letter (`C:`) is not a scheme.
fn url_scheme(value: &str) -> Option<&str> {
    pep508_rs::split_scheme(value)
        .map(|(scheme, _)| scheme)
        .filter(|scheme| scheme.len() > 1)
}

fn location(value: &str, line: &Line<'_>) -> Result<Location, LineProblem> {
    if url_scheme(value).is_some() {
        return Url::parse(value)
            .map(Location::Url)
            .map_err(|err| LineProblem::InvalidValue {
                what: "URL",
                value: value.to_string(),
                reason: err.to_string(),
            });
    }
    Ok(Location::Path(normalize(&line.dir.join(value))))
}

/// Remove `.` and fold `..` without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(component);
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Discards pep508_rs's marker warnings: a marker it can evaluate is not our concern here.
struct IgnoreWarnings;

impl Reporter for IgnoreWarnings {
    fn report(&mut self, _kind: pep508_rs::MarkerWarningKind, _warning: String) {}
}

fn parse_requirement_line(text: &str, dir: &Path) -> Result<Requirement, LineProblem> {
    let invalid = |message: String| LineProblem::InvalidRequirement(message);
    if !looks_unnamed(text) {
        if let Some(message) = crate::requirement::bad_name_end(text) {
            return Err(invalid(message));
        }
        return Requirement::parse(text, dir).map_err(|err| invalid(pep508_message(&err)));
    }
    let unnamed = UnnamedRequirement::<VerbatimUrl>::parse(text, dir, &mut IgnoreWarnings)
        .map_err(|err| invalid(pep508_message(&err)))?;
    let given = unnamed.url.given().unwrap_or(text).to_string();
    let name = name_from_url(&unnamed.url).ok_or(LineProblem::UnnamedRequirement(given))?;
    Ok(Requirement {
        name,
        extras: unnamed.extras,
        version_or_url: Some(VersionOrUrl::Url(unnamed.url)),
        marker: unnamed.marker,
        origin: None,
    })
}

/// Whether a requirement line is a bare path or URL rather than `name ...`: pip's test of
/// "looks like a path or an archive file", with `name @ url` and `name@url` kept named.
fn looks_unnamed(text: &str) -> bool {
    let head = text
        .split(|c: char| c.is_whitespace() || c == ';')
        .next()
        .unwrap_or_default();
    let head = match pep508_rs::split_extras(head) {
        Some((path, _extras)) => path,
        None => head,
    };
    if let Some((before, _)) = head.split_once('@')
        && !before.is_empty()
        && !before.contains(['/', '\\', ':'])
    {
        return false;
    }
    head.starts_with(['.', '/', '\\', '~'])
        || url_scheme(head).is_some()
        || head.contains(['/', '\\'])
        || is_archive(head)
}

fn is_archive(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        ".whl",
        ".zip",
        ".tar.gz",
        ".tgz",
        ".tar",
        ".tar.bz2",
        ".tbz",
        ".tar.xz",
        ".txz",
        ".tlz",
        ".tar.lz",
        ".tar.lzma",
    ]
    .iter()
    .any(|ext| lower.ends_with(ext))
}

/// A bare URL or path names its package through a wheel file name or a `#egg=name` fragment.
fn name_from_url(url: &Url) -> Option<PackageName> {
    let from_wheel = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .map(percent_decode)
        .and_then(|file| WheelFilename::from_str(&file).ok())
        .map(|wheel| wheel.name);
    from_wheel.or_else(|| egg_name(url))
}

fn egg_name(url: &Url) -> Option<PackageName> {
    url.fragment()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("egg="))
        .and_then(|name| package_name(name).ok())
}

fn percent_decode(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        let escaped = (first == b'%')
            .then(|| tail.get(..2))
            .flatten()
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                rest = &tail[2..];
            }
            None => {
                out.push(first);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_editable(value: &str, line: &Line<'_>) -> Result<Editable, LineProblem> {
    let unnamed = UnnamedRequirement::<VerbatimUrl>::parse(value, line.dir, &mut IgnoreWarnings)
        .map_err(|err| LineProblem::InvalidRequirement(pep508_message(&err)))?;
    let path = (unnamed.url.scheme() == "file")
        .then(|| unnamed.url.to_file_path().ok())
        .flatten();
    Ok(Editable {
        name: egg_name(&unnamed.url),
        path,
        extras: unnamed.extras,
        url: unnamed.url,
        marker: unnamed.marker,
        marker_text: marker_text(value),
        origin: line.origin(),
    })
}

/// The marker part of a requirement line: after the first `;` outside
/// quotes, or, for `name @ url` lines, after a `;` preceded by whitespace
/// (a URL may contain `;`).
fn marker_text(requirement: &str) -> Option<String> {
    let is_url = requirement.contains(" @ ") || requirement.contains("://");
    let index = marker_start(requirement, is_url)?;
    let marker = requirement[index + 1..].trim();
    (!marker.is_empty()).then(|| marker.to_string())
}

#[cfg(test)]
mod tests;
