//! Creating virtual environments (PEP 405), the way `python -m venv
//! --without-pip` lays them out for the same interpreter.
//!
//! A new environment is built in a hidden sibling directory and renamed into
//! place, so the target path is either absent or a complete environment,
//! never half of one. A path that exists and is not a virtual environment is
//! never modified.

use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::interpreter::InterpreterInfo;

#[derive(Debug, Clone)]
pub struct VenvOptions {
    /// Absolute path of the environment.
    pub path: PathBuf,
    /// `--prompt`; `.` means the name of the current directory.
    pub prompt: Option<String>,
    pub system_site_packages: bool,
    pub clear: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum VenvError {
    #[error(
        "{} exists and is not a virtual environment (it has no pyvenv.cfg); axle leaves it untouched: choose another path",
        .0.display()
    )]
    NotAVenv(PathBuf),
    #[error("{} is already a virtual environment; pass --clear to replace it", .0.display())]
    AlreadyExists(PathBuf),
    #[error("{} exists and is not a directory; axle leaves it untouched", .0.display())]
    NotADirectory(PathBuf),
    #[error("cannot create the virtual environment at {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// A freshly made environment.
#[derive(Debug, Clone)]
pub struct Venv {
    pub root: PathBuf,
    /// `bin/python` inside it.
    pub python: PathBuf,
}

/// Is `path` the root of a virtual environment?
pub fn is_venv(path: &Path) -> bool {
    path.join("pyvenv.cfg").is_file()
}

/// Creates the environment described by `options` for `interpreter`.
///
/// `cwd` only serves `--prompt .`.
pub fn create(interpreter: &InterpreterInfo, options: &VenvOptions, cwd: &Path) -> Result<Venv, VenvError> {
    let target = &options.path;
    let io_error = |source| VenvError::Io {
        path: target.clone(),
        source,
    };
    let replaced = check_target(target, options.clear)?;

    let parent = target.parent().ok_or_else(|| {
        io_error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a filesystem root cannot be a venv",
        ))
    })?;
    let name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "venv".to_string());
    let staging = parent.join(format!(".{name}.axle-{}", unique_suffix()));
    let built = build(interpreter, options, cwd, &staging);
    if let Err(error) = built {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(io_error(error));
    }

    // Swap into place. An old environment (with --clear) is moved aside
    // first and deleted after, so a failure in between loses nothing.
    let trash = replaced.then(|| parent.join(format!(".{name}.axle-old-{}", unique_suffix())));
    if let Some(trash) = &trash {
        std::fs::rename(target, trash).map_err(|error| {
            let _ = std::fs::remove_dir_all(&staging);
            io_error(error)
        })?;
    } else if target.is_dir() {
        // An empty directory: rename(2) cannot replace it across all
        // filesystems, so remove it.
        std::fs::remove_dir(target).map_err(io_error)?;
    }
    if let Err(error) = std::fs::rename(&staging, target) {
        if let Some(trash) = &trash {
            let _ = std::fs::rename(trash, target);
        }
        let _ = std::fs::remove_dir_all(&staging);
        return Err(io_error(error));
    }
    if let Some(trash) = trash
        && let Err(error) = std::fs::remove_dir_all(&trash)
    {
        tracing::warn!(path = %trash.display(), %error, "could not delete the replaced environment");
    }
    Ok(Venv {
        root: target.clone(),
        python: target.join("bin").join("python"),
    })
}

/// Checks what is at `target`; returns whether an environment is replaced.
fn check_target(target: &Path, clear: bool) -> Result<bool, VenvError> {
    let meta = match std::fs::symlink_metadata(target) {
        Ok(meta) => meta,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(VenvError::Io {
                path: target.to_path_buf(),
                source,
            });
        }
    };
    if !meta.is_dir() {
        return Err(VenvError::NotADirectory(target.to_path_buf()));
    }
    if is_venv(target) {
        return if clear {
            Ok(true)
        } else {
            Err(VenvError::AlreadyExists(target.to_path_buf()))
        };
    }
    let empty = std::fs::read_dir(target)
        .map_err(|source| VenvError::Io {
            path: target.to_path_buf(),
            source,
        })?
        .next()
        .is_none();
    if empty {
        Ok(false)
    } else {
        Err(VenvError::NotAVenv(target.to_path_buf()))
    }
}

/// What a venv's layout needs of its interpreter: from a host interpreter's answer, or read
/// from a container image's files.
#[derive(Debug, Clone)]
pub struct VenvPython {
    /// The interpreter the venv's `bin/` links to.
    pub base_executable: PathBuf,
    /// The interpreter with links resolved (`pyvenv.cfg`'s `executable`).
    pub real_executable: PathBuf,
    pub version: (u32, u32, u32),
    /// A 64-bit POSIX system other than macOS, where venv adds `lib64 -> lib`.
    pub lib64: bool,
    /// The scheme's directories, relative to the venv (`lib/pythonX.Y/site-packages`, ...).
    pub directories: Vec<PathBuf>,
}

impl VenvPython {
    pub fn of(interpreter: &InterpreterInfo) -> VenvPython {
        let (major, minor, micro, ..) = interpreter.version_info;
        let mut directories: Vec<PathBuf> = ["purelib", "platlib", "include"]
            .iter()
            .filter_map(|key| interpreter.venv_path(key, Path::new("")))
            .collect();
        if directories.is_empty() {
            directories.push(site_packages((major, minor)));
        }
        directories.dedup();
        VenvPython {
            base_executable: interpreter.base_executable.clone(),
            real_executable: interpreter.real_executable.clone(),
            version: (major, minor, micro),
            lib64: interpreter.pointer_bits == 64
                && interpreter.markers.os_name == "posix"
                && interpreter.markers.sys_platform != "darwin",
            directories,
        }
    }
}

/// `lib/pythonX.Y/site-packages`, the POSIX venv scheme's.
pub fn site_packages((major, minor): (u32, u32)) -> PathBuf {
    PathBuf::from("lib")
        .join(format!("python{major}.{minor}"))
        .join("site-packages")
}

/// One entry of a venv's skeleton, relative to its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkeletonEntry {
    Directory(PathBuf),
    Symlink { path: PathBuf, target: PathBuf },
    File { path: PathBuf, content: Vec<u8> },
}

/// Everything `python -m venv --without-pip` lays out for an environment at `options.path`,
/// plus axle's activation scripts and `.gitignore`, parents before children: written to disk
/// by `create`, into an image's layer by `image`.
pub fn skeleton(python: &VenvPython, options: &VenvOptions, cwd: &Path) -> Vec<SkeletonEntry> {
    let target = &options.path;
    let mut entries = vec![SkeletonEntry::Directory(PathBuf::from("bin"))];
    // Directories of the venv install scheme, each with its parents.
    let mut made: Vec<PathBuf> = vec![PathBuf::from("bin")];
    for directory in &python.directories {
        let mut partial = PathBuf::new();
        for component in directory.components() {
            partial.push(component);
            if !made.contains(&partial) {
                made.push(partial.clone());
                entries.push(SkeletonEntry::Directory(partial.clone()));
            }
        }
    }
    if python.lib64 {
        entries.push(SkeletonEntry::Symlink {
            path: PathBuf::from("lib64"),
            target: PathBuf::from("lib"),
        });
    }

    // bin/: the interpreter under its own name, the usual aliases pointing at it.
    let (major, minor, _) = python.version;
    let base = &python.base_executable;
    let exe_name = base
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "python3".to_string());
    entries.push(SkeletonEntry::Symlink {
        path: Path::new("bin").join(&exe_name),
        target: base.clone(),
    });
    for alias in [
        "python".to_string(),
        "python3".to_string(),
        format!("python{major}.{minor}"),
    ] {
        if alias != exe_name {
            entries.push(SkeletonEntry::Symlink {
                path: Path::new("bin").join(alias),
                target: PathBuf::from(&exe_name),
            });
        }
    }

    let prompt = options.prompt.as_deref().map(|prompt| {
        if prompt == "." {
            cwd.file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            prompt.to_string()
        }
    });
    let env_name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let shown_prompt = prompt.clone().unwrap_or(env_name);
    for (file, template) in ACTIVATION_SCRIPTS {
        entries.push(SkeletonEntry::File {
            path: Path::new("bin").join(file),
            content: render_activation(template, target, &shown_prompt).into_bytes(),
        });
    }
    entries.push(SkeletonEntry::File {
        path: PathBuf::from(".gitignore"),
        content: b"# Created by axle; the environment is not for version control.\n*\n".to_vec(),
    });
    entries.push(SkeletonEntry::File {
        path: PathBuf::from("pyvenv.cfg"),
        content: pyvenv_cfg(python, options, prompt.as_deref()).into_bytes(),
    });
    entries
}

fn build(interpreter: &InterpreterInfo, options: &VenvOptions, cwd: &Path, staging: &Path) -> io::Result<()> {
    std::fs::create_dir(staging)?;
    for entry in skeleton(&VenvPython::of(interpreter), options, cwd) {
        match entry {
            SkeletonEntry::Directory(path) => std::fs::create_dir_all(staging.join(path))?,
            SkeletonEntry::Symlink { path, target } => {
                let link = staging.join(path);
                if std::fs::symlink_metadata(&link).is_err() {
                    symlink(target, link)?;
                }
            }
            SkeletonEntry::File { path, content } => std::fs::write(staging.join(path), content)?,
        }
    }
    Ok(())
}

/// `pyvenv.cfg` with the keys, in the order, that `python -m venv` writes.
fn pyvenv_cfg(python: &VenvPython, options: &VenvOptions, prompt: Option<&str>) -> String {
    let base = &python.base_executable;
    let home = base.parent().unwrap_or(Path::new("/"));
    let (major, minor, micro) = python.version;
    let mut cfg = format!(
        "home = {}\ninclude-system-site-packages = {}\nversion = {major}.{minor}.{micro}\n",
        home.display(),
        options.system_site_packages,
    );
    if let Some(prompt) = prompt {
        cfg.push_str(&format!("prompt = {}\n", python_repr(prompt)));
    }
    // The command that would make the same environment with venv itself.
    let mut command = format!("{} -m venv --without-pip", base.display());
    if options.system_site_packages {
        command.push_str(" --system-site-packages");
    }
    if let Some(prompt) = prompt {
        command.push_str(&format!(" --prompt=\"{prompt}\""));
    }
    cfg.push_str(&format!(
        "executable = {}\ncommand = {command} {}\n",
        python.real_executable.display(),
        options.path.display()
    ));
    cfg
}

const ACTIVATION_SCRIPTS: [(&str, &str); 4] = [
    ("activate", include_str!("activate/activate")),
    ("activate.fish", include_str!("activate/activate.fish")),
    ("activate.csh", include_str!("activate/activate.csh")),
    ("Activate.ps1", include_str!("activate/Activate.ps1")),
];

fn render_activation(template: &str, venv: &Path, prompt: &str) -> String {
    let dir = venv.to_string_lossy();
    let text_dir = dir.replace(['\n', '\r'], " ");
    template
        .replace("@VENV_DIR_TEXT@", &text_dir)
        .replace("@VENV_DIR_SH@", &quote_posix(&dir))
        .replace("@PROMPT_SH@", &quote_posix(prompt))
        .replace("@VENV_DIR_FISH@", &quote_fish(&dir))
        .replace("@PROMPT_FISH@", &quote_fish(prompt))
        .replace("@VENV_DIR_CSH@", &quote_posix(&dir))
        .replace("@PROMPT_CSH@", &quote_posix(prompt))
        .replace("@VENV_DIR_PS@", &quote_powershell(&dir))
        .replace("@PROMPT_PS@", &quote_powershell(prompt))
        .replace("@BIN_NAME@", "bin")
}

/// Single-quoted for sh and csh: `'` becomes `'\''`.
fn quote_posix(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Single-quoted for fish, where `\` and `'` are escaped inside quotes.
fn quote_fish(text: &str) -> String {
    format!("'{}'", text.replace('\\', r"\\").replace('\'', r"\'"))
}

/// Single-quoted for PowerShell, where `'` is doubled.
fn quote_powershell(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A string as Python's `repr` writes it, which is how venv stores the prompt.
fn python_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_posix("/a b/it's"), r"'/a b/it'\''s'");
        assert_eq!(quote_fish(r"/a\b/it's"), r"'/a\\b/it\'s'");
        assert_eq!(quote_powershell("it's"), "'it''s'");
        assert_eq!(python_repr("hi"), "'hi'");
        assert_eq!(python_repr("it's"), "\"it's\"");
        assert_eq!(python_repr("a'b\"c"), "'a\\'b\"c'");
    }

    #[test]
    fn refuses_non_venv_directories_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("project");
        std::fs::create_dir(&full).unwrap();
        std::fs::write(full.join("keep.txt"), "data").unwrap();
        assert!(matches!(check_target(&full, true), Err(VenvError::NotAVenv(_))));
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(check_target(&file, true), Err(VenvError::NotADirectory(_))));
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(!check_target(&empty, false).unwrap());
        assert!(!check_target(&dir.path().join("absent"), false).unwrap());
        std::fs::write(empty.join("pyvenv.cfg"), "").unwrap();
        assert!(matches!(check_target(&empty, false), Err(VenvError::AlreadyExists(_))));
        assert!(check_target(&empty, true).unwrap());
    }
}
