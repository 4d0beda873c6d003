//! Python interpreters: finding the one a request means, and knowing what it
//! is without running it twice.
//!
//! An interpreter is asked once (`query.py`: version, prefixes, sysconfig
//! paths, platform, ABI, marker environment, libc) and the answer is cached in
//! memory and in SQLite, keyed by the executable's path and file identity. A
//! later request costs one `stat` per candidate.

mod discover;
mod query;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use discover::PythonRequest;
pub use query::{Interpreters, Libc, MarkerValues};

use crate::db::DbError;

/// What `query.py` reports about an interpreter.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct InterpreterInfo {
    /// `sys.executable` as the interpreter reports it.
    pub executable: PathBuf,
    /// `sys._base_executable`: the interpreter a venv made from this one links to.
    pub base_executable: PathBuf,
    /// The real file behind `base_executable`.
    pub real_executable: PathBuf,
    pub prefix: PathBuf,
    pub base_prefix: PathBuf,
    pub base_exec_prefix: PathBuf,
    /// `platform.python_version()`, e.g. `3.12.1`.
    pub version: String,
    /// `sys.version_info`: major, minor, micro, release level, serial.
    pub version_info: (u32, u32, u32, String, u32),
    /// `sys.implementation.name`: `cpython`, `pypy`, ...
    pub implementation: String,
    /// The install scheme of a venv of this interpreter, with `@BASE@` where
    /// the venv's directory goes (keys: purelib, platlib, scripts, include, data...).
    pub venv_paths: std::collections::BTreeMap<String, String>,
    /// `sysconfig.get_platform()`, e.g. `linux-x86_64`.
    pub sysconfig_platform: String,
    pub pointer_bits: u32,
    pub soabi: Option<String>,
    pub ext_suffix: Option<String>,
    pub abiflags: String,
    pub gil_disabled: bool,
    pub debug_build: bool,
    pub libc: Option<Libc>,
    pub markers: MarkerValues,
    /// The index pip uses when none is configured, as the interpreter's pip
    /// reports it.
    pub pip_default_index: Option<String>,
    pub pip_version: Option<String>,
}

impl InterpreterInfo {
    pub fn major_minor(&self) -> (u32, u32) {
        (self.version_info.0, self.version_info.1)
    }

    /// True when this interpreter runs inside a virtual environment.
    pub fn is_venv(&self) -> bool {
        self.prefix != self.base_prefix
    }

    /// A path of the venv scheme, for a venv rooted at `base`.
    pub fn venv_path(&self, key: &str, base: &Path) -> Option<PathBuf> {
        let template = self.venv_paths.get(key)?;
        let relative = template.strip_prefix("@BASE@")?.trim_start_matches('/');
        Some(base.join(relative))
    }

    /// Implementation name as users write it: `CPython`, `PyPy`.
    pub fn implementation_display(&self) -> &str {
        match self.implementation.as_str() {
            "cpython" => "CPython",
            "pypy" => "PyPy",
            "graalpy" => "GraalPy",
            other => other,
        }
    }
}

/// An interpreter found for a request.
#[derive(Debug, Clone)]
pub struct Interpreter {
    /// The path the interpreter was found at (not resolved).
    pub path: PathBuf,
    pub info: Arc<InterpreterInfo>,
}

#[derive(Debug, thiserror::Error)]
pub enum InterpreterError {
    #[error("no Python interpreter matches `{request}`; tried: {}", tried_list(.tried))]
    NotFound { request: String, tried: Vec<String> },
    #[error("{} is not a usable Python interpreter: {reason}", .path.display())]
    Unusable { path: PathBuf, reason: String },
    #[error("`{request}` is not a Python version or interpreter ({})", .source_file.as_deref().map(|path| format!("from {}", path.display())).unwrap_or_else(|| "from --python".to_string()))]
    BadRequest {
        request: String,
        source_file: Option<PathBuf>,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

fn tried_list(tried: &[String]) -> String {
    if tried.is_empty() {
        "nothing (PATH is empty)".to_string()
    } else {
        tried.join("; ")
    }
}
