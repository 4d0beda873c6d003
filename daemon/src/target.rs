//! The environment a lock or a sync is for: markers, platform tags and the
//! Python version — the interpreter's own, or another one named by
//! `--python-version` / `--python-platform` (a Docker image on Linux/CPython
//! 3.12, locked from any workstation).
//!
//! Building a target's tag list costs more than answering an unchanged lock,
//! so targets are kept in a [`TargetCache`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use axle_standards::{Arch, Implementation, MarkerEnvironment, MarkerValues, Os, Platform, TagTarget, Tags, Version};

use crate::interpreter::InterpreterInfo;

/// The environment a resolution or an install is for.
#[derive(Clone)]
pub struct Target {
    pub markers: MarkerEnvironment,
    pub tags: Arc<Tags>,
    /// The full interpreter version (`requires-python` is checked against it).
    pub python_full_version: Version,
    /// `major.minor`, for headers.
    pub python_version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("`{0}` is not a Python version (expected e.g. 3.12 or 3.12.4)")]
    BadVersion(String),
    #[error(transparent)]
    BadPlatform(#[from] axle_standards::tags::PlatformParseError),
    #[error("the interpreter's marker environment is unusable: {0}")]
    Markers(String),
    #[error("cannot tell the platform of the interpreter ({machine} on {system})")]
    UnknownPlatform { machine: String, system: String },
}

/// The target for `interpreter`, changed by `--python-version` and
/// `--python-platform` when given.
pub fn target(
    interpreter: &InterpreterInfo,
    python_version: Option<&str>,
    python_platform: Option<&str>,
) -> Result<Target, TargetError> {
    let version = match python_version {
        Some(text) => Some(parse_python_version(text)?),
        None => None,
    };
    let (tag_target, markers) = match python_platform {
        Some(text) => {
            let platform = Platform::parse(text)?;
            let full = version.clone().unwrap_or_else(|| interpreter_version(interpreter));
            let (major, minor) = major_minor(&full);
            (
                TagTarget::cpython((major, minor), platform.clone()),
                platform.marker_values(&full),
            )
        }
        None => {
            let mut markers = interpreter.markers.clone();
            let mut tag_target = interpreter_tag_target(interpreter)?;
            if let Some(full) = &version {
                // Another Python on this platform: the interpreter's ABI no longer applies.
                let (major, minor) = major_minor(full);
                tag_target = TagTarget::cpython((major, minor), tag_target.platform);
                markers.python_full_version = full.to_string();
                markers.python_version = format!("{major}.{minor}");
                markers.implementation_version = full.to_string();
            }
            (tag_target, markers)
        }
    };
    finish(tag_target, markers)
}

/// A target from `--python-version` and `--python-platform` alone.
pub fn target_without_interpreter(python_version: &str, python_platform: &str) -> Result<Target, TargetError> {
    let full = parse_python_version(python_version)?;
    let platform = Platform::parse(python_platform)?;
    let (major, minor) = major_minor(&full);
    finish(
        TagTarget::cpython((major, minor), platform.clone()),
        platform.marker_values(&full),
    )
}

/// The interpreter as the tag rules see it: implementation, version, ABI,
/// platform.
fn interpreter_tag_target(interpreter: &InterpreterInfo) -> Result<TagTarget, TargetError> {
    Ok(TagTarget {
        implementation: match interpreter.implementation.as_str() {
            "cpython" => Implementation::CPython,
            "pypy" => Implementation::PyPy,
            other => Implementation::Other(other.to_string()),
        },
        python: interpreter.major_minor(),
        abi: interpreter
            .soabi
            .as_deref()
            .and_then(axle_standards::tags::abi_from_soabi),
        gil_disabled: interpreter.gil_disabled,
        platform: interpreter_platform(interpreter)?,
    })
}

fn finish(tag_target: TagTarget, markers: MarkerValues) -> Result<Target, TargetError> {
    let python_full_version =
        Version::from_str(&markers.python_full_version).map_err(|error| TargetError::Markers(error.to_string()))?;
    let environment = markers
        .to_environment()
        .map_err(|error| TargetError::Markers(error.to_string()))?;
    let (major, minor) = tag_target.python;
    Ok(Target {
        markers: environment,
        tags: Arc::new(Tags::new(&tag_target)),
        python_full_version,
        python_version: format!("{major}.{minor}"),
    })
}

/// A target as messages name it: `Python 3.11.7 on manylinux_2_35_x86_64` (its best platform
/// tag: the one a reader compares with a `--python-platform`).
pub fn describe(target: &Target) -> String {
    match target.tags.iter().next() {
        Some(best) => format!("Python {} on {}", target.python_full_version, best.platform),
        None => format!("Python {}", target.python_full_version),
    }
}

/// `3.12` means 3.12.0 for requires-python checks, as uv and pip's
/// `--python-version` do.
fn parse_python_version(text: &str) -> Result<Version, TargetError> {
    let version = Version::from_str(text.trim()).map_err(|_| TargetError::BadVersion(text.to_string()))?;
    match version.release().len() {
        2 | 3 => Ok(version),
        _ => Err(TargetError::BadVersion(text.to_string())),
    }
}

fn interpreter_version(interpreter: &InterpreterInfo) -> Version {
    let (major, minor, micro, ..) = interpreter.version_info;
    Version::new([u64::from(major), u64::from(minor), u64::from(micro)])
}

pub fn major_minor(version: &Version) -> (u32, u32) {
    let release = version.release();
    let part = |index: usize| release.get(index).copied().unwrap_or(0) as u32;
    (part(0), part(1))
}

fn interpreter_platform(interpreter: &InterpreterInfo) -> Result<Platform, TargetError> {
    let markers = &interpreter.markers;
    let unknown = || TargetError::UnknownPlatform {
        machine: markers.platform_machine.clone(),
        system: markers.platform_system.clone(),
    };
    let arch = match markers.platform_machine.to_ascii_lowercase().as_str() {
        "x86_64" | "amd64" => Arch::X86_64,
        "aarch64" | "arm64" => Arch::Aarch64,
        "i686" | "i386" | "x86" => Arch::I686,
        "armv7l" => Arch::Armv7l,
        "ppc64le" => Arch::Ppc64le,
        "s390x" => Arch::S390x,
        "riscv64" => Arch::Riscv64,
        _ => return Err(unknown()),
    };
    let os = match markers.sys_platform.as_str() {
        "linux" => match interpreter
            .libc
            .as_ref()
            .and_then(|libc| Some((libc.family.as_str(), libc.major_minor()?)))
        {
            Some(("glibc", (major, minor))) => Os::Manylinux { major, minor },
            Some(("musl", (major, minor))) => Os::Musllinux { major, minor },
            _ => Os::Linux,
        },
        "darwin" => {
            // sysconfig reports e.g. `macosx-11.0-arm64`.
            let mut numbers = interpreter
                .sysconfig_platform
                .split('-')
                .nth(1)
                .unwrap_or("")
                .split('.')
                .map(|part| part.parse::<u32>().ok());
            match (numbers.next().flatten(), numbers.next().flatten()) {
                (Some(major), minor) => Os::Macos {
                    major,
                    minor: minor.unwrap_or(0),
                },
                _ => return Err(unknown()),
            }
        }
        "win32" | "cygwin" => Os::Windows,
        _ => return Err(unknown()),
    };
    Ok(Platform::new(os, arch))
}

/// Targets already built, by interpreter and overrides. An entry holds while
/// the interpreter's answer is the one it was built from (an upgraded
/// interpreter at the same path gets a new target).
#[derive(Default)]
pub struct TargetCache {
    entries: Mutex<HashMap<TargetKey, (Arc<InterpreterInfo>, Target)>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TargetKey {
    executable: PathBuf,
    python_version: Option<String>,
    python_platform: Option<String>,
}

impl TargetCache {
    /// The target for `interpreter`, changed by `--python-version` and
    /// `--python-platform` when given (see [`target`]).
    pub fn get(
        &self,
        interpreter: &Arc<InterpreterInfo>,
        python_version: Option<&str>,
        python_platform: Option<&str>,
    ) -> Result<Target, TargetError> {
        let key = TargetKey {
            executable: interpreter.executable.clone(),
            python_version: python_version.map(str::to_string),
            python_platform: python_platform.map(str::to_string),
        };
        let entries = || self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((built_from, known)) = entries().get(&key)
            && (Arc::ptr_eq(built_from, interpreter) || **built_from == **interpreter)
        {
            return Ok(known.clone());
        }
        let built = target(interpreter, python_version, python_platform)?;
        entries().insert(key, (interpreter.clone(), built.clone()));
        Ok(built)
    }
}
