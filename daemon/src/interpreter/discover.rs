//! Which interpreter a request means.
//!
//! Order, as uv and `python -m venv` users expect: an explicit `--python`
//! (a version like `3.12`, a path, or an executable name), else the nearest
//! `.python-version`, else `python3` then `python` on the client's PATH.
//! pyenv shims are resolved here, the way pyenv resolves them, so a shim
//! costs no process and its answer can be cached by the real file.

use std::path::{Path, PathBuf};

use super::{Interpreter, InterpreterError, Interpreters};
use crate::context::Invocation;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PythonRequest {
    /// Nothing: `.python-version`, else the first `python3` on PATH.
    Default,
    /// `3`, `3.12`, `3.12.1`, optionally prefixed by `python`/`cpython`/`pypy`.
    Version {
        implementation: Option<String>,
        major: u32,
        minor: Option<u32>,
        patch: Option<u32>,
    },
    /// A path to an executable (contains a `/`).
    Path(PathBuf),
    /// An executable name to look up on PATH, e.g. `python3.12`.
    Name(String),
}

impl PythonRequest {
    pub fn parse(text: &str) -> Option<PythonRequest> {
        let text = text.trim();
        if text.is_empty() {
            return Some(PythonRequest::Default);
        }
        if text.contains('/') {
            return Some(PythonRequest::Path(PathBuf::from(text)));
        }
        let (implementation, rest) = ["cpython", "python", "pypy", "cp", "pp"]
            .iter()
            .find_map(|prefix| {
                text.strip_prefix(prefix)
                    .map(|rest| (Some(*prefix), rest.trim_start_matches(['-', '@'])))
            })
            .unwrap_or((None, text));
        if let Some(version) = parse_version_triple(rest) {
            let implementation = match implementation {
                Some("cpython" | "cp") => Some("cpython".to_string()),
                Some("pypy" | "pp") => Some("pypy".to_string()),
                _ => None,
            };
            let (major, minor, patch) = version;
            return Some(PythonRequest::Version {
                implementation,
                major,
                minor,
                patch,
            });
        }
        if implementation.is_some() && rest.is_empty() {
            // `python`, `pypy`: an executable name.
            return Some(PythonRequest::Name(text.to_string()));
        }
        let plausible_name = text.starts_with(|c: char| c.is_ascii_alphabetic())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        plausible_name.then(|| PythonRequest::Name(text.to_string()))
    }

    /// Does an interpreter of this version and implementation satisfy it?
    pub fn matches(&self, version: (u32, u32, u32), implementation: &str) -> bool {
        match self {
            PythonRequest::Version {
                implementation: wanted,
                major,
                minor,
                patch,
            } => {
                wanted.as_deref().is_none_or(|wanted| wanted == implementation)
                    && *major == version.0
                    && minor.is_none_or(|minor| minor == version.1)
                    && patch.is_none_or(|patch| patch == version.2)
            }
            _ => true,
        }
    }

    /// Executable names to look for on PATH, most specific first.
    fn executable_names(&self) -> Vec<String> {
        match self {
            PythonRequest::Default => vec!["python3".into(), "python".into()],
            PythonRequest::Version {
                implementation,
                major,
                minor,
                ..
            } => {
                let base = if implementation.as_deref() == Some("pypy") {
                    "pypy"
                } else {
                    "python"
                };
                let mut names = Vec::new();
                if let Some(minor) = minor {
                    names.push(format!("{base}{major}.{minor}"));
                }
                names.push(format!("{base}{major}"));
                names.push(base.to_string());
                names
            }
            PythonRequest::Name(name) => vec![name.clone()],
            PythonRequest::Path(_) => Vec::new(),
        }
    }
}

impl std::fmt::Display for PythonRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PythonRequest::Default => write!(f, "python3"),
            PythonRequest::Version {
                implementation,
                major,
                minor,
                patch,
            } => {
                if let Some(implementation) = implementation {
                    write!(f, "{implementation} ")?;
                }
                write!(f, "{major}")?;
                if let Some(minor) = minor {
                    write!(f, ".{minor}")?;
                }
                if let Some(patch) = patch {
                    write!(f, ".{patch}")?;
                }
                Ok(())
            }
            PythonRequest::Path(path) => write!(f, "{}", path.display()),
            PythonRequest::Name(name) => write!(f, "{name}"),
        }
    }
}

fn parse_version_triple(text: &str) -> Option<(u32, Option<u32>, Option<u32>)> {
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let mut parts = text.split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor = parts.next().map(str::parse).transpose().ok()?;
    let patch = parts.next().map(str::parse).transpose().ok()?;
    if parts.next().is_some() {
        return None;
    }
    // `312` is a common way to say 3.12 (`python312`, `cp312`).
    if minor.is_none() && major >= 30 && text.len() >= 3 {
        let major_digit = major.to_string()[..1].parse().ok()?;
        let minor_part = major.to_string()[1..].parse().ok()?;
        return Some((major_digit, Some(minor_part), None));
    }
    Some((major, minor, patch))
}

/// Where a request came from, for error messages.
pub(super) struct Source {
    pub request: PythonRequest,
    pub file: Option<PathBuf>,
}

/// Decides what to look for: `--python`, else `.python-version`, else default.
pub(super) fn request_for(explicit: Option<&str>, invocation: &Invocation) -> Result<Source, InterpreterError> {
    if let Some(text) = explicit.filter(|text| !text.trim().is_empty()) {
        let request = PythonRequest::parse(text).ok_or_else(|| InterpreterError::BadRequest {
            request: text.to_string(),
            source_file: None,
        })?;
        return Ok(Source { request, file: None });
    }
    for dir in invocation.cwd.ancestors() {
        let file = dir.join(".python-version");
        let Ok(content) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Some(line) = content
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty() && !line.starts_with('#'))
        else {
            continue;
        };
        let request = PythonRequest::parse(line).ok_or_else(|| InterpreterError::BadRequest {
            request: line.to_string(),
            source_file: Some(file.clone()),
        })?;
        return Ok(Source {
            request,
            file: Some(file),
        });
    }
    Ok(Source {
        request: PythonRequest::Default,
        file: None,
    })
}

impl Interpreters {
    /// Finds the interpreter that `explicit` (`--python`) or the project's
    /// `.python-version` asks for.
    pub async fn find(&self, explicit: Option<&str>, invocation: &Invocation) -> Result<Interpreter, InterpreterError> {
        let source = request_for(explicit, invocation)?;
        let request = &source.request;
        let mut tried = Vec::new();

        if let PythonRequest::Path(path) = request {
            let path = invocation.absolute(path);
            let path = if path.is_dir() {
                path.join("bin").join("python")
            } else {
                path
            };
            let info = self.query(&path).await.map_err(|reason| InterpreterError::Unusable {
                path: path.clone(),
                reason: reason.to_string(),
            })?;
            return Ok(Interpreter { path, info });
        }

        let pyenv = Pyenv::from_invocation(invocation);
        for name in request.executable_names() {
            for dir in invocation.search_path() {
                let candidate = dir.join(&name);
                if !is_executable(&candidate) {
                    continue;
                }
                let resolved = match pyenv.as_ref().filter(|pyenv| pyenv.is_shim_dir(&dir)) {
                    Some(pyenv) => match pyenv.resolve_shim(&name, invocation) {
                        Some(real) => real,
                        None => {
                            tried.push(format!(
                                "{} (pyenv has no {name} for the selected version)",
                                candidate.display()
                            ));
                            continue;
                        }
                    },
                    None => candidate.clone(),
                };
                if let Some(found) = self.try_candidate(&resolved, request, &mut tried).await {
                    return Ok(found);
                }
            }
        }

        // Interpreters installed by pyenv but not selected by it: a user who
        // asks for `3.12` means any 3.12 they have.
        if matches!(request, PythonRequest::Version { .. })
            && let Some(pyenv) = &pyenv
        {
            for candidate in pyenv.installed(request) {
                if let Some(found) = self.try_candidate(&candidate, request, &mut tried).await {
                    return Ok(found);
                }
            }
        }

        let mut request_text = request.to_string();
        if let Some(file) = &source.file {
            request_text.push_str(&format!(" (from {})", file.display()));
        }
        Err(InterpreterError::NotFound {
            request: request_text,
            tried,
        })
    }

    async fn try_candidate(
        &self,
        path: &Path,
        request: &PythonRequest,
        tried: &mut Vec<String>,
    ) -> Option<Interpreter> {
        match self.query(path).await {
            Ok(info) => {
                let (major, minor, micro, ..) = info.version_info;
                if request.matches((major, minor, micro), &info.implementation) {
                    return Some(Interpreter {
                        path: path.to_path_buf(),
                        info,
                    });
                }
                tried.push(format!(
                    "{} ({} {})",
                    path.display(),
                    info.implementation_display(),
                    info.version
                ));
            }
            Err(error) => tried.push(format!("{} ({error})", path.display())),
        }
        None
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Enough of pyenv to resolve its shims without running them.
struct Pyenv {
    root: PathBuf,
}

impl Pyenv {
    fn from_invocation(invocation: &Invocation) -> Option<Pyenv> {
        let root = invocation
            .var("PYENV_ROOT")
            .map(PathBuf::from)
            .or_else(|| invocation.user_home().map(|home| home.join(".pyenv")))?;
        root.join("versions").is_dir().then_some(Pyenv { root })
    }

    fn is_shim_dir(&self, dir: &Path) -> bool {
        dir == self.root.join("shims")
    }

    /// The versions pyenv would select: `PYENV_VERSION`, else the nearest
    /// `.python-version`, else the global `version` file.
    fn selected_versions(&self, invocation: &Invocation) -> Vec<String> {
        if let Some(versions) = invocation.var("PYENV_VERSION") {
            return versions.split(':').map(str::to_string).collect();
        }
        let from_file = |path: &Path| -> Option<Vec<String>> {
            let content = std::fs::read_to_string(path).ok()?;
            let versions: Vec<String> = content
                .split_whitespace()
                .filter(|word| !word.starts_with('#'))
                .map(str::to_string)
                .collect();
            (!versions.is_empty()).then_some(versions)
        };
        invocation
            .cwd
            .ancestors()
            .find_map(|dir| from_file(&dir.join(".python-version")))
            .or_else(|| from_file(&self.root.join("version")))
            .unwrap_or_else(|| vec!["system".to_string()])
    }

    fn resolve_shim(&self, name: &str, invocation: &Invocation) -> Option<PathBuf> {
        for version in self.selected_versions(invocation) {
            if version == "system" {
                let shims = self.root.join("shims");
                let found = invocation
                    .search_path()
                    .into_iter()
                    .filter(|dir| *dir != shims)
                    .map(|dir| dir.join(name))
                    .find(|path| is_executable(path));
                if found.is_some() {
                    return found;
                }
                continue;
            }
            if let Some(dir) = self.version_dir(&version) {
                let candidate = dir.join("bin").join(name);
                if is_executable(&candidate) {
                    return Some(candidate);
                }
            }
        }
        None
    }

    /// The install of `version`, accepting a prefix (`3.12` → newest 3.12.x)
    /// as pyenv does.
    fn version_dir(&self, version: &str) -> Option<PathBuf> {
        let versions = self.root.join("versions");
        let exact = versions.join(version);
        if exact.is_dir() {
            return Some(exact);
        }
        let prefix = format!("{version}.");
        let mut matches: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(&versions)
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let rest = name.strip_prefix(&prefix)?;
                let key = rest
                    .split('.')
                    .map(|part| part.parse().ok())
                    .collect::<Option<Vec<u32>>>()?;
                Some((key, entry.path()))
            })
            .collect();
        matches.sort();
        matches.pop().map(|(_, path)| path)
    }

    /// Every pyenv-installed interpreter that could satisfy `request`, newest first.
    fn installed(&self, request: &PythonRequest) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.root.join("versions")) else {
            return Vec::new();
        };
        let mut found: Vec<(Vec<u32>, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let numbers: Vec<u32> = name.split('.').map(|part| part.parse().ok()).collect::<Option<_>>()?;
                let version = (
                    *numbers.first()?,
                    numbers.get(1).copied().unwrap_or(0),
                    numbers.get(2).copied().unwrap_or(0),
                );
                if !request.matches(version, "cpython") {
                    return None;
                }
                let executable = entry.path().join("bin").join("python3");
                is_executable(&executable).then_some((numbers, executable))
            })
            .collect();
        found.sort();
        found.into_iter().rev().map(|(_, path)| path).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_requests() {
        let version = |major, minor, patch| PythonRequest::Version {
            implementation: None,
            major,
            minor,
            patch,
        };
        let cases: &[(&str, Option<PythonRequest>)] = &[
            ("", Some(PythonRequest::Default)),
            ("3", Some(version(3, None, None))),
            ("3.12", Some(version(3, Some(12), None))),
            ("3.12.1", Some(version(3, Some(12), Some(1)))),
            ("312", Some(version(3, Some(12), None))),
            ("python3.11", Some(version(3, Some(11), None))),
            (
                "cpython@3.13",
                Some(PythonRequest::Version {
                    implementation: Some("cpython".into()),
                    major: 3,
                    minor: Some(13),
                    patch: None,
                }),
            ),
            ("/usr/bin/python3", Some(PythonRequest::Path("/usr/bin/python3".into()))),
            (
                "./venv/bin/python",
                Some(PythonRequest::Path("./venv/bin/python".into())),
            ),
            ("python", Some(PythonRequest::Name("python".into()))),
            ("jython", Some(PythonRequest::Name("jython".into()))),
            ("3.x", None),
            ("not a python", None),
        ];
        for (input, expected) in cases {
            assert_eq!(&PythonRequest::parse(input), expected, "{input:?}");
        }
    }

    #[test]
    fn version_requests_match_prefixes() {
        let request = PythonRequest::parse("3.12").unwrap();
        assert!(request.matches((3, 12, 1), "cpython"));
        assert!(!request.matches((3, 11, 7), "cpython"));
        let pypy = PythonRequest::parse("pypy3.10").unwrap();
        assert!(!pypy.matches((3, 10, 0), "cpython"));
        assert!(pypy.matches((3, 10, 14), "pypy"));
    }

    #[test]
    fn executable_names_go_from_specific_to_general() {
        let names = PythonRequest::parse("3.12").unwrap().executable_names();
        assert_eq!(names, ["python3.12", "python3", "python"]);
        let names = PythonRequest::Default.executable_names();
        assert_eq!(names, ["python3", "python"]);
    }

    #[test]
    fn pyenv_shims_resolve_without_running() {
        let root = tempfile::tempdir().unwrap();
        for version in ["3.11.7", "3.12.1", "3.12.10"] {
            let bin = root.path().join("versions").join(version).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            let exe = bin.join("python3");
            std::fs::write(&exe, "").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(root.path().join("version"), "3.11.7\n").unwrap();
        let pyenv = Pyenv {
            root: root.path().to_path_buf(),
        };
        let mut invocation = Invocation {
            cwd: root.path().to_path_buf(),
            ..Invocation::default()
        };
        let resolved = pyenv.resolve_shim("python3", &invocation).unwrap();
        assert!(resolved.ends_with("versions/3.11.7/bin/python3"));
        invocation.env.insert("PYENV_VERSION".into(), "3.12".into());
        let resolved = pyenv.resolve_shim("python3", &invocation).unwrap();
        assert!(resolved.ends_with("versions/3.12.10/bin/python3"), "{resolved:?}");
        assert!(pyenv.resolve_shim("python3.9", &invocation).is_none());
        let installed = pyenv.installed(&PythonRequest::parse("3.12").unwrap());
        assert_eq!(installed.len(), 2);
        assert!(installed[0].ends_with("versions/3.12.10/bin/python3"));
    }
}
