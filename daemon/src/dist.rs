//! Distributions that are not wheels yet — sdists, project directories, Git repositories — and
//! [`Builds`], the service through which the resolver gets their metadata and sync their wheels.
//!
//! The trait lives here, beside the types, so that `resolve` and `sync` depend on this module
//! and not on `builds`, which implements it (and uses both).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axle_build_frontend::ConfigSettings;
use axle_install::Manifest;
use axle_standards::{Metadata, Requirement};
use futures::future::BoxFuture;

use crate::index::{FetchContext, IndexError, IndexedFile, Sha256Digest, Sources};
use crate::interpreter::InterpreterInfo;
use crate::progress::Reporter;
use crate::target::Target;

/// Where a distribution's source comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SourceDist {
    /// An sdist archive (`.tar.gz`, `.zip`) from an index, a find-links location or a URL.
    Archive(ArchiveSource),
    /// A project directory on this machine.
    Directory { path: PathBuf, editable: bool },
    /// A Git repository at a reference.
    Git(GitSource),
}

/// An sdist archive and what is known of it before it is fetched.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArchiveSource {
    pub filename: String,
    /// Without credentials or fragment.
    pub url: String,
    /// The hashes it must have (the lock's, the URL fragment's, or the index's); empty when
    /// nothing says (then its own hash identifies it once fetched).
    pub sha256: Vec<String>,
}

impl ArchiveSource {
    pub fn from_indexed(file: &IndexedFile) -> ArchiveSource {
        ArchiveSource {
            filename: file.file.filename.clone(),
            url: file.file.url().into_owned(),
            sha256: file.file.sha256.iter().map(Sha256Digest::to_hex).collect(),
        }
    }
}

/// A `git+` URL, taken apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GitSource {
    /// The repository as `git` takes it (`https://…`, `ssh://…`, `file:///…`).
    pub repository: String,
    /// `@rev` as written: a branch, a tag or a commit.
    pub reference: Option<String>,
    /// `#subdirectory=`: where the project sits in the repository.
    pub subdirectory: Option<String>,
    pub editable: bool,
}

impl GitSource {
    /// Reads `git+SCHEME://…[@rev][#egg=…&subdirectory=…]`.
    pub fn parse(url: &str, editable: bool) -> Result<GitSource, String> {
        let rest = url
            .strip_prefix("git+")
            .ok_or_else(|| format!("`{url}` is not a git+ URL"))?;
        let (location, fragment) = match rest.split_once('#') {
            Some((location, fragment)) => (location, Some(fragment)),
            None => (rest, None),
        };
        let subdirectory = fragment.and_then(|fragment| {
            fragment
                .split('&')
                .find_map(|pair| pair.strip_prefix("subdirectory="))
                .map(str::to_string)
        });
        if let Some(subdirectory) = &subdirectory
            && (subdirectory.starts_with('/') || subdirectory.split('/').any(|part| part == ".."))
        {
            return Err(format!("`{url}`: the subdirectory must be inside the repository"));
        }
        // `@rev` is after the path's last `/` (an `@` before it is a user name).
        let scheme_end = location.find("://").map(|at| at + 3).unwrap_or(0);
        let last_slash = location[scheme_end..]
            .rfind('/')
            .map(|at| at + scheme_end)
            .unwrap_or(scheme_end);
        let (repository, reference) = match location[last_slash..].rfind('@') {
            Some(at) => {
                let at = at + last_slash;
                (&location[..at], Some(location[at + 1..].to_string()))
            }
            None => (location, None),
        };
        if !["https://", "http://", "ssh://", "file://", "git://"]
            .iter()
            .any(|scheme| repository.starts_with(scheme))
        {
            return Err(format!(
                "`{url}`: axle takes git URLs with https, http, ssh, git or file schemes"
            ));
        }
        Ok(GitSource {
            repository: repository.to_string(),
            reference: reference.filter(|reference| !reference.is_empty()),
            subdirectory,
            editable,
        })
    }

    /// The URL that pins this source to `commit`, as a lock writes it.
    pub fn url_at(&self, commit: &str) -> String {
        let mut url = format!("git+{}@{commit}", self.repository);
        if let Some(subdirectory) = &self.subdirectory {
            url.push_str("#subdirectory=");
            url.push_str(subdirectory);
        }
        url
    }
}

impl std::fmt::Display for SourceDist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceDist::Archive(archive) => f.write_str(&archive.filename),
            SourceDist::Directory { path, editable: true } => write!(f, "-e {}", path.display()),
            SourceDist::Directory { path, editable: false } => write!(f, "{}", path.display()),
            SourceDist::Git(git) => match &git.reference {
                Some(reference) => write!(f, "git+{}@{reference}", git.repository),
                None => write!(f, "git+{}", git.repository),
            },
        }
    }
}

/// How builds may happen, as the request's options say.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `--no-build-isolation`: hooks run in this environment's interpreter, with what it has.
    pub no_isolation_python: Option<PathBuf>,
    /// `-C/--config-settings`.
    pub config_settings: ConfigSettings,
    /// `--build-constraint` files and `PIP_CONSTRAINT`: constraints on build requirements.
    pub constraints: Vec<Requirement>,
    /// `--no-build`: no source is ever built (static metadata may still be read).
    pub no_build: bool,
    /// Longest time one hook may run.
    pub timeout: std::time::Duration,
}

/// The build options of a request, as the user gave them.
#[derive(Debug, Clone, Default)]
pub struct BuildFlags {
    /// `--no-build`.
    pub no_build: bool,
    /// `--no-build-isolation`.
    pub no_build_isolation: bool,
    /// `-C/--config-settings KEY=VALUE`, as given.
    pub config_settings: Vec<String>,
    /// `--build-constraint FILE`, as given.
    pub build_constraints: Vec<String>,
}

impl BuildFlags {
    /// The options these flags and the client's environment make: constraint files read
    /// (`--build-constraint`, and `PIP_CONSTRAINT`, which pip applies to build requirements
    /// too), settings split, `PIP_NO_BUILD_ISOLATION` read as pip reads it,
    /// `AXLE_BUILD_TIMEOUT` (seconds, default 1800) applied.
    /// `own_python` is where `--no-build-isolation` builds: the environment being synced, or
    /// the interpreter being locked for.
    pub fn options(
        &self,
        invocation: &crate::context::Invocation,
        own_python: Option<&std::path::Path>,
    ) -> Result<BuildOptions, axle_standards::RequirementsTxtError> {
        let mut config_settings = ConfigSettings::new();
        for setting in &self.config_settings {
            let (key, value) = setting.split_once('=').unwrap_or((setting.as_str(), ""));
            config_settings
                .entry(key.to_string())
                .or_default()
                .push(value.to_string());
        }
        let mut files: Vec<PathBuf> = self
            .build_constraints
            .iter()
            .map(|file| invocation.absolute(file))
            .collect();
        if let Some(from_pip) = invocation.var("PIP_CONSTRAINT") {
            files.extend(from_pip.split_whitespace().map(|file| invocation.absolute(file)));
        }
        let env: std::collections::HashMap<String, String> = invocation
            .env
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let mut constraints = Vec::new();
        for file in files {
            let parsed = axle_standards::RequirementsTxt::read(&file, axle_standards::ViaKind::Constraint, &env)?;
            constraints.extend(parsed.constraints.into_iter().map(|entry| entry.requirement));
            constraints.extend(parsed.requirements.into_iter().map(|entry| entry.requirement));
        }
        let timeout = invocation
            .var("AXLE_BUILD_TIMEOUT")
            .and_then(|text| text.parse::<f64>().ok())
            .filter(|seconds| *seconds > 0.0)
            .map(std::time::Duration::from_secs_f64)
            .unwrap_or(std::time::Duration::from_secs(1800));
        // pip's double negative: `PIP_NO_BUILD_ISOLATION=0` (or false, no, off) is what turns
        // isolation off, as `--no-build-isolation` does.
        let from_pip = invocation
            .var("PIP_NO_BUILD_ISOLATION")
            .is_some_and(|value| matches!(value.to_ascii_lowercase().as_str(), "0" | "false" | "no" | "off"));
        Ok(BuildOptions {
            no_isolation_python: (self.no_build_isolation || from_pip)
                .then(|| own_python.map(std::path::Path::to_path_buf))
                .flatten(),
            config_settings,
            constraints,
            no_build: self.no_build,
            timeout,
        })
    }
}

/// What a build is for and where it may fetch from: one per operation.
pub struct BuildContext {
    /// The interpreter that runs the hooks; build requirements are resolved for it.
    pub interpreter: Arc<InterpreterInfo>,
    pub target: Target,
    pub sources: Sources,
    pub fetch: FetchContext,
    pub options: BuildOptions,
    /// The client's environment, which builds see (less what would break isolation).
    pub env: BTreeMap<String, String>,
    pub reporter: Arc<dyn Reporter>,
    /// The builds that led to this one, outermost first: a build that needs itself is refused.
    pub chain: Vec<String>,
    /// The request's team store: built wheels are looked up there before a build, and
    /// shared there after one.
    pub team: Option<Arc<crate::team::TeamTier>>,
}

/// The metadata of a source, and what resolving it fixed.
#[derive(Debug, Clone)]
pub struct SourceMetadata {
    pub metadata: Arc<Metadata>,
    /// For Git sources: the commit the reference named.
    pub commit: Option<String>,
    /// For archives: the sdist's SHA-256.
    pub sha256: Option<String>,
}

/// A wheel built from a source, in the store.
#[derive(Debug, Clone)]
pub struct Built {
    pub manifest: Manifest,
    /// What identifies the source among installs (an sdist's hash, a directory's fingerprint,
    /// a commit): recorded with the venv's distribution, compared by the next sync.
    pub source_identity: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum BuildError {
    #[error("{package} needs a source build, and --no-build forbids building")]
    Refused { package: String, source_dist: String },
    #[error("cannot build {package}: {reason}")]
    Failed { package: String, reason: String },
    #[error("cannot build {package}{}: {reason}", if .version.is_empty() { String::new() } else { format!(" {}", .version) })]
    Hook {
        package: String,
        version: String,
        reason: String,
    },
    #[error("cannot prepare the build environment of {package}: {reason}")]
    Environment { package: String, reason: String },
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("{0}")]
    Source(String),
    #[error("building {package} needs {package} itself (through {chain})")]
    Cycle { package: String, chain: String },
}

/// Metadata and wheels of sources, building them when the standards leave no other way.
pub trait Builds: Send + Sync {
    /// The metadata of `source` (static when it can be, else from the backend's hooks).
    fn metadata<'a>(
        &'a self,
        source: &'a SourceDist,
        context: &'a Arc<BuildContext>,
    ) -> BoxFuture<'a, Result<SourceMetadata, BuildError>>;

    /// A wheel of `source` for the context's interpreter, built once and kept in the store.
    fn wheel<'a>(
        &'a self,
        source: &'a SourceDist,
        context: &'a Arc<BuildContext>,
    ) -> BoxFuture<'a, Result<Built, BuildError>>;

    /// The wheel built before, here or (by a trusted record) in the team store, from the
    /// sdist whose SHA-256 is one of `sha256s`, for the context's interpreter — without the
    /// sdist itself, its index, or a build. `None` when there is none.
    fn prebuilt<'a>(
        &'a self,
        sha256s: &'a std::collections::BTreeSet<String>,
        context: &'a Arc<BuildContext>,
    ) -> BoxFuture<'a, Result<Option<Built>, BuildError>>;

    /// Clones `git` at `commit` into `directory` for an editable install (where pip puts it,
    /// `<venv>/src/<name>`); the project's directory in it.
    fn editable_checkout<'a>(
        &'a self,
        git: &'a GitSource,
        commit: &'a str,
        directory: &'a std::path::Path,
        context: &'a Arc<BuildContext>,
    ) -> BoxFuture<'a, Result<PathBuf, BuildError>>;
}

/// Builds where none can run: every request is refused, naming what needed a build. What the
/// build service is handed as its own parts' `builds` (it puts itself in their place when it
/// passes them on), and enough for work that never builds.
pub struct NoBuilds;

impl NoBuilds {
    fn refuse(source: &SourceDist) -> BuildError {
        BuildError::Failed {
            package: source.to_string(),
            reason: "source builds are not available here".to_string(),
        }
    }
}

impl Builds for NoBuilds {
    fn metadata<'a>(
        &'a self,
        source: &'a SourceDist,
        _context: &'a Arc<BuildContext>,
    ) -> BoxFuture<'a, Result<SourceMetadata, BuildError>> {
        Box::pin(async move { Err(NoBuilds::refuse(source)) })
    }

    fn wheel<'a>(
        &'a self,
        source: &'a SourceDist,
        _context: &'a Arc<BuildContext>,
    ) -> BoxFuture<'a, Result<Built, BuildError>> {
        Box::pin(async move { Err(NoBuilds::refuse(source)) })
    }

    fn prebuilt<'a>(
        &'a self,
        _sha256s: &'a std::collections::BTreeSet<String>,
        _context: &'a Arc<BuildContext>,
    ) -> BoxFuture<'a, Result<Option<Built>, BuildError>> {
        Box::pin(async move { Ok(None) })
    }

    fn editable_checkout<'a>(
        &'a self,
        git: &'a GitSource,
        _commit: &'a str,
        _directory: &'a std::path::Path,
        _context: &'a Arc<BuildContext>,
    ) -> BoxFuture<'a, Result<PathBuf, BuildError>> {
        Box::pin(async move { Err(NoBuilds::refuse(&SourceDist::Git(git.clone()))) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_urls_are_taken_apart() {
        let cases = [
            (
                "git+https://127.0.0.1/org/repo.git@v1.2#egg=repo&subdirectory=pkg",
                Ok(("https://127.0.0.1/org/repo.git", Some("v1.2"), Some("pkg"))),
            ),
            (
                "git+ssh://git@127.0.0.1/org/repo.git",
                Ok(("ssh://git@127.0.0.1/org/repo.git", None, None)),
            ),
            (
                "git+file:///srv/repo@abc123",
                Ok(("file:///srv/repo", Some("abc123"), None)),
            ),
            ("https://127.0.0.1/repo", Err("not a git+ URL")),
            ("git+ext::sh -c touch% /tmp/x", Err("schemes")),
            ("git+file:///srv/repo#subdirectory=../..", Err("inside the repository")),
        ];
        for (url, expected) in cases {
            match (GitSource::parse(url, false), expected) {
                (Ok(git), Ok((repository, reference, subdirectory))) => {
                    assert_eq!(git.repository, repository, "{url}");
                    assert_eq!(git.reference.as_deref(), reference, "{url}");
                    assert_eq!(git.subdirectory.as_deref(), subdirectory, "{url}");
                }
                (Err(error), Err(text)) => assert!(error.contains(text), "{url}: {error}"),
                (other, _) => panic!("{url}: {other:?}"),
            }
        }
        // A user name before the host stays with the repository; the `@` after the path is the
        // reference.
        let url = crate::index::with_userinfo("git+https://127.0.0.1/repo@main", "user");
        let git = GitSource::parse(&url, false).unwrap();
        assert_eq!(
            git.repository,
            crate::index::with_userinfo("https://127.0.0.1/repo", "user")
        );
        assert_eq!(git.reference.as_deref(), Some("main"));
        assert_eq!(git.subdirectory, None);
        let git = GitSource::parse("git+https://127.0.0.1/r.git@main#subdirectory=a", false).unwrap();
        assert_eq!(
            git.url_at("0123abcd"),
            "git+https://127.0.0.1/r.git@0123abcd#subdirectory=a"
        );
    }
}
