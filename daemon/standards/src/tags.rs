//! Wheel compatibility tags: the ordered list of tags an interpreter accepts, in pip's order.
//!
//! The order follows `packaging.tags.sys_tags()` as vendored by pip 24 (packaging 24.1), which
//! differs from pip 23.2's packaging 21.3 only by also accepting `cpXY-none-any`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::filename::{BuildTag, WheelFilename};
use crate::requirement::MarkerValues;
use crate::version::Version;

/// Which Python implementation, as far as tags care.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Implementation {
    CPython,
    PyPy,
    /// Any other implementation, by its tag prefix (`packaging`'s interpreter short name, such as
    /// `graalpy` or `ip`).
    Other(String),
}

impl Implementation {
    fn short_name(&self) -> &str {
        match self {
            Self::CPython => "cp",
            Self::PyPy => "pp",
            Self::Other(name) => name,
        }
    }
}

/// Operating system, with the libc or OS version the tags depend on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Os {
    /// Linux with glibc `major.minor`.
    Manylinux {
        major: u32,
        minor: u32,
    },
    /// Linux with musl `major.minor`.
    Musllinux {
        major: u32,
        minor: u32,
    },
    /// Linux whose libc is not known: only `linux_<arch>` wheels fit.
    Linux,
    Macos {
        major: u32,
        minor: u32,
    },
    Windows,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
    I686,
    Armv7l,
    Ppc64le,
    S390x,
    Riscv64,
}

impl Arch {
    /// The name Linux wheels use (`uname -m`).
    fn linux_name(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Aarch64 => "aarch64",
            Self::I686 => "i686",
            Self::Armv7l => "armv7l",
            Self::Ppc64le => "ppc64le",
            Self::S390x => "s390x",
            Self::Riscv64 => "riscv64",
        }
    }

    /// The oldest glibc with a manylinux tag for this architecture: manylinux1 (glibc 2.5)
    /// only ever existed for x86, everything else starts at manylinux2014 (glibc 2.17).
    fn oldest_manylinux_minor(self) -> u32 {
        match self {
            Self::X86_64 | Self::I686 => 5,
            _ => 17,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Platform {
    pub os: Os,
    pub arch: Arch,
}

/// A `--python-platform` value we do not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown platform `{0}`: expected `linux`, `macos`, `windows`, a target triple such as `x86_64-unknown-linux-gnu`, `aarch64-apple-darwin`, `x86_64-pc-windows-msvc`, or `<arch>-manylinux_2_<N>`"
)]
pub struct PlatformParseError(pub String);

impl Platform {
    /// glibc of manylinux2014, the baseline uv and axle assume for a generic Linux target.
    const DEFAULT_GLIBC: Os = Os::Manylinux { major: 2, minor: 17 };
    const DEFAULT_MUSL: Os = Os::Musllinux { major: 1, minor: 2 };
    /// Apple silicon shipped with macOS 11, but 12.0 is what wheels for it target in practice.
    const DEFAULT_MACOS_ARM64: Os = Os::Macos { major: 12, minor: 0 };
    /// Intel Macs: 10.12 is the oldest release current CPython supports, so a lock made for it
    /// installs on every Intel Mac that can run the interpreter.
    const DEFAULT_MACOS_X86_64: Os = Os::Macos { major: 10, minor: 12 };

    pub fn new(os: Os, arch: Arch) -> Self {
        Self { os, arch }
    }

    /// Parse a `--python-platform` value, accepting the spellings uv does.
    ///
    /// `linux` means x86_64 with glibc 2.17 (manylinux2014), `macos` means Apple silicon, and
    /// `windows` means x86_64. macOS targets default to 12.0 on arm64 and 10.12 on x86_64.
    pub fn parse(s: &str) -> Result<Self, PlatformParseError> {
        let platform = match s {
            "linux" | "x86_64-unknown-linux-gnu" => Self::new(Self::DEFAULT_GLIBC, Arch::X86_64),
            "aarch64-unknown-linux-gnu" => Self::new(Self::DEFAULT_GLIBC, Arch::Aarch64),
            "i686-unknown-linux-gnu" => Self::new(Self::DEFAULT_GLIBC, Arch::I686),
            "armv7-unknown-linux-gnueabihf" => Self::new(Self::DEFAULT_GLIBC, Arch::Armv7l),
            "powerpc64le-unknown-linux-gnu" => Self::new(Self::DEFAULT_GLIBC, Arch::Ppc64le),
            "s390x-unknown-linux-gnu" => Self::new(Self::DEFAULT_GLIBC, Arch::S390x),
            "riscv64gc-unknown-linux-gnu" => Self::new(Self::DEFAULT_GLIBC, Arch::Riscv64),
            "x86_64-unknown-linux-musl" => Self::new(Self::DEFAULT_MUSL, Arch::X86_64),
            "aarch64-unknown-linux-musl" => Self::new(Self::DEFAULT_MUSL, Arch::Aarch64),
            "i686-unknown-linux-musl" => Self::new(Self::DEFAULT_MUSL, Arch::I686),
            "armv7-unknown-linux-musleabihf" => Self::new(Self::DEFAULT_MUSL, Arch::Armv7l),
            "macos" | "aarch64-apple-darwin" => Self::new(Self::DEFAULT_MACOS_ARM64, Arch::Aarch64),
            "x86_64-apple-darwin" => Self::new(Self::DEFAULT_MACOS_X86_64, Arch::X86_64),
            "windows" | "x86_64-pc-windows-msvc" => Self::new(Os::Windows, Arch::X86_64),
            "i686-pc-windows-msvc" => Self::new(Os::Windows, Arch::I686),
            "aarch64-pc-windows-msvc" => Self::new(Os::Windows, Arch::Aarch64),
            _ => return Self::parse_libc_tagged(s).ok_or_else(|| PlatformParseError(s.into())),
        };
        Ok(platform)
    }

    /// `<arch>-manylinux_2_28`, `<arch>-manylinux2014` and `<arch>-musllinux_1_2`.
    fn parse_libc_tagged(s: &str) -> Option<Self> {
        let (arch, libc) = s.split_once('-')?;
        let arch = match arch {
            "x86_64" => Arch::X86_64,
            "aarch64" => Arch::Aarch64,
            "i686" => Arch::I686,
            "armv7l" | "armv7" => Arch::Armv7l,
            "ppc64le" | "powerpc64le" => Arch::Ppc64le,
            "s390x" => Arch::S390x,
            "riscv64" => Arch::Riscv64,
            _ => return None,
        };
        let version = |rest: &str| -> Option<(u32, u32)> {
            let (major, minor) = rest.split_once('_')?;
            Some((major.parse().ok()?, minor.parse().ok()?))
        };
        let os = if let Some(rest) = libc.strip_prefix("manylinux_") {
            let (major, minor) = version(rest)?;
            Os::Manylinux { major, minor }
        } else if let Some(rest) = libc.strip_prefix("musllinux_") {
            let (major, minor) = version(rest)?;
            Os::Musllinux { major, minor }
        } else {
            let minor = match libc {
                "manylinux2014" => 17,
                "manylinux2010" => 12,
                "manylinux1" => 5,
                _ => return None,
            };
            Os::Manylinux { major: 2, minor }
        };
        Some(Self::new(os, arch))
    }

    /// The platform tags this platform accepts, best first.
    pub fn tags(&self) -> Vec<String> {
        let arch = self.arch.linux_name();
        match self.os {
            Os::Manylinux { major, minor } => {
                let mut tags = manylinux_tags(major, minor, self.arch);
                tags.push(format!("linux_{arch}"));
                tags
            }
            Os::Musllinux { major, minor } => {
                let mut tags: Vec<String> = (0..=minor)
                    .rev()
                    .map(|minor| format!("musllinux_{major}_{minor}_{arch}"))
                    .collect();
                tags.push(format!("linux_{arch}"));
                tags
            }
            Os::Linux => vec![format!("linux_{arch}")],
            Os::Macos { major, minor } => macos_tags(major, minor, self.arch),
            Os::Windows => vec![match self.arch {
                Arch::X86_64 => "win_amd64".to_string(),
                Arch::I686 => "win32".to_string(),
                Arch::Aarch64 => "win_arm64".to_string(),
                // No Windows wheels exist for these; a tag nothing uses keeps the list honest.
                other => format!("win_{}", other.linux_name()),
            }],
        }
    }

    /// The marker values of a CPython `python_full_version` on this platform, for resolving for
    /// a machine we are not on. Values only the real machine knows (`platform_release`,
    /// `platform_version`) are empty.
    pub fn marker_values(&self, python_full_version: &Version) -> MarkerValues {
        let release = python_full_version.release();
        let python_version = format!(
            "{}.{}",
            release.first().copied().unwrap_or(3),
            release.get(1).copied().unwrap_or(0)
        );
        let (os_name, sys_platform, platform_system) = match self.os {
            Os::Manylinux { .. } | Os::Musllinux { .. } | Os::Linux => ("posix", "linux", "Linux"),
            Os::Macos { .. } => ("posix", "darwin", "Darwin"),
            Os::Windows => ("nt", "win32", "Windows"),
        };
        let platform_machine = match (&self.os, self.arch) {
            (Os::Windows, Arch::X86_64) => "AMD64",
            (Os::Windows, Arch::I686) => "x86",
            (Os::Windows, Arch::Aarch64) => "ARM64",
            (Os::Macos { .. }, Arch::Aarch64) => "arm64",
            (_, arch) => arch.linux_name(),
        };
        MarkerValues {
            implementation_name: "cpython".to_string(),
            implementation_version: python_full_version.to_string(),
            os_name: os_name.to_string(),
            platform_machine: platform_machine.to_string(),
            platform_python_implementation: "CPython".to_string(),
            platform_release: String::new(),
            platform_system: platform_system.to_string(),
            platform_version: String::new(),
            python_full_version: python_full_version.to_string(),
            python_version,
            sys_platform: sys_platform.to_string(),
        }
    }
}

impl FromStr for Platform {
    type Err = PlatformParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// `manylinux_<glibc>` tags from the given glibc down, each legacy alias right after the
/// version it stands for (as `packaging._manylinux.platform_tags` orders them).
fn manylinux_tags(major: u32, minor: u32, arch: Arch) -> Vec<String> {
    // glibc keeps compatibility across major versions; packaging assumes 50 minors for a major
    // it has no record of.
    const ASSUMED_LAST_MINOR: u32 = 50;
    let name = arch.linux_name();
    let mut tags = Vec::new();
    for glibc_major in (2..=major).rev() {
        let top = if glibc_major == major {
            minor
        } else {
            ASSUMED_LAST_MINOR
        };
        let bottom = if glibc_major == 2 {
            arch.oldest_manylinux_minor()
        } else {
            0
        };
        for glibc_minor in (bottom..=top).rev() {
            tags.push(format!("manylinux_{glibc_major}_{glibc_minor}_{name}"));
            let legacy = match (glibc_major, glibc_minor) {
                (2, 17) => Some("manylinux2014"),
                (2, 12) => Some("manylinux2010"),
                (2, 5) => Some("manylinux1"),
                _ => None,
            };
            if let Some(legacy) = legacy {
                tags.push(format!("{legacy}_{name}"));
            }
        }
    }
    tags
}

/// `packaging.tags.mac_platforms` for a given release and architecture.
fn macos_tags(major: u32, minor: u32, arch: Arch) -> Vec<String> {
    let arch = match arch {
        Arch::Aarch64 => "arm64",
        Arch::X86_64 => "x86_64",
        Arch::I686 => "i386",
        other => other.linux_name(),
    };
    let mut tags = Vec::new();
    let mut push = |major: u32, minor: u32, formats: Vec<&str>| {
        for format in formats {
            tags.push(format!("macosx_{major}_{minor}_{format}"));
        }
    };
    if major == 10 {
        // Before macOS 11 each yearly release bumped the minor version.
        for minor in (0..=minor).rev() {
            push(10, minor, macos_binary_formats((10, minor), arch));
        }
    }
    if major >= 11 {
        // From 11 on the major version is the yearly release, and binaries target `X.0`.
        for major in (11..=major).rev() {
            push(major, 0, macos_binary_formats((major, 0), arch));
        }
        // x86_64 Macs on 11+ still run binaries for every 10.x; arm64 only universal2 ones.
        for minor in (4..=16).rev() {
            let formats = if arch == "x86_64" {
                macos_binary_formats((10, minor), arch)
            } else {
                vec!["universal2"]
            };
            push(10, minor, formats);
        }
    }
    tags
}

fn macos_binary_formats(version: (u32, u32), arch: &str) -> Vec<&str> {
    let mut formats = vec![arch];
    match arch {
        "x86_64" if version < (10, 4) => return Vec::new(),
        "x86_64" => formats.extend(["intel", "fat64", "fat32"]),
        "i386" if version < (10, 4) => return Vec::new(),
        "i386" => formats.extend(["intel", "fat32", "fat"]),
        _ => {}
    }
    if matches!(arch, "arm64" | "x86_64") {
        formats.push("universal2");
    }
    if matches!(arch, "x86_64" | "i386") {
        formats.push("universal");
    }
    formats
}

/// The ABI tag a CPython or PyPy build reports through `sysconfig.get_config_var("SOABI")`:
/// `cpython-311-x86_64-linux-gnu` → `cp311`, `cpython-313t-…` → `cp313t`,
/// `pypy310-pp73-…` → `pypy310_pp73`, Windows' `cp311-win_amd64` → `cp311`.
pub fn abi_from_soabi(soabi: &str) -> Option<String> {
    let mut parts = soabi.split('-');
    let first = parts.next()?;
    if let Some(flags) = first.strip_prefix("cpython") {
        let version = parts.next().filter(|_| flags.is_empty())?;
        return Some(format!("cp{version}"));
    }
    if first.starts_with("cp") && first.len() > 2 {
        return Some(first.to_string());
    }
    if first.starts_with("pypy") {
        let second = parts.next()?;
        return Some(format!("{first}_{second}"));
    }
    None
}

/// What an interpreter is, as far as wheel compatibility is concerned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TagTarget {
    pub implementation: Implementation,
    /// `(major, minor)` of the Python language version.
    pub python: (u32, u32),
    /// The interpreter's own ABI tag (`cp311`, `cp313t`, `cp311d`, `pypy310_pp73`); for CPython
    /// it defaults to `cp<XY>` (with `t` when the GIL is disabled).
    pub abi: Option<String>,
    /// A free-threaded CPython build (3.13+ `--disable-gil`): it cannot load `abi3` wheels.
    pub gil_disabled: bool,
    pub platform: Platform,
}

impl TagTarget {
    /// A default CPython build of `python` on `platform`.
    pub fn cpython(python: (u32, u32), platform: Platform) -> Self {
        Self {
            implementation: Implementation::CPython,
            python,
            abi: None,
            gil_disabled: false,
            platform,
        }
    }
}

/// One `interpreter-abi-platform` tag.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tag {
    pub interpreter: String,
    pub abi: String,
    pub platform: String,
}

impl Tag {
    fn new(interpreter: &str, abi: &str, platform: &str) -> Self {
        Self {
            interpreter: interpreter.to_string(),
            abi: abi.to_string(),
            platform: platform.to_string(),
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.interpreter, self.abi, self.platform)
    }
}

/// How well a wheel fits: its best tag's position in the interpreter's list.
///
/// Lower is better: `TagPriority(0)` is the interpreter's most specific tag, so among candidate
/// wheels of one release the minimum priority is the one to install.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagPriority(pub usize);

/// The tags one interpreter accepts, in order of preference.
#[derive(Clone, Debug)]
pub struct Tags {
    tags: Vec<Tag>,
    /// interpreter → abi → platform → position, so lookups borrow the wheel's strings.
    index: HashMap<String, HashMap<String, HashMap<String, TagPriority>>>,
}

impl Tags {
    pub fn new(target: &TagTarget) -> Self {
        let platforms = target.platform.tags();
        let (major, minor) = target.python;
        let mut tags = Vec::new();
        let compatible_interpreter = match &target.implementation {
            Implementation::CPython => {
                cpython_tags(target, &platforms, &mut tags);
                Some(format!("cp{major}{minor}"))
            }
            Implementation::PyPy => {
                generic_tags(target, &platforms, &mut tags);
                Some("pp3".to_string())
            }
            Implementation::Other(_) => {
                generic_tags(target, &platforms, &mut tags);
                None
            }
        };
        compatible_tags(target.python, compatible_interpreter.as_deref(), &platforms, &mut tags);
        Self::from_ordered(tags)
    }

    fn from_ordered(tags: Vec<Tag>) -> Self {
        let mut index: HashMap<String, HashMap<String, HashMap<String, TagPriority>>> = HashMap::new();
        for (position, tag) in tags.iter().enumerate() {
            index
                .entry(tag.interpreter.clone())
                .or_default()
                .entry(tag.abi.clone())
                .or_default()
                .entry(tag.platform.clone())
                // A tag seen twice keeps its first, better, position.
                .or_insert(TagPriority(position));
        }
        Self { tags, index }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Tag> {
        self.tags.iter()
    }

    pub fn len(&self) -> usize {
        self.tags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// The priority of one tag, if the interpreter accepts it. Tags compare case-insensitively.
    pub fn priority(&self, interpreter: &str, abi: &str, platform: &str) -> Option<TagPriority> {
        self.index
            .get(lower(interpreter).as_ref())?
            .get(lower(abi).as_ref())?
            .get(lower(platform).as_ref())
            .copied()
    }

    /// The best priority among the wheel's tags, or `None` when the wheel cannot be installed.
    pub fn compatibility(&self, wheel: &WheelFilename) -> Option<TagPriority> {
        wheel
            .expanded_tags()
            .filter_map(|(interpreter, abi, platform)| self.priority(interpreter, abi, platform))
            .min()
    }

    pub fn is_compatible(&self, wheel: &WheelFilename) -> bool {
        self.compatibility(wheel).is_some()
    }

    /// How well `wheel` fits, or `None` when it cannot be installed: the one rule for choosing
    /// among the wheels of a release (see [`WheelRank`]).
    pub fn rank(&self, wheel: &WheelFilename) -> Option<WheelRank> {
        Some(WheelRank {
            priority: self.compatibility(wheel)?,
            build: std::cmp::Reverse(wheel.build_tag.as_deref().cloned()),
        })
    }

    /// The item whose wheel this target installs among `wheels` (of one release), by [`Tags::rank`].
    pub fn best_wheel<'w, T>(&self, wheels: impl IntoIterator<Item = (T, &'w WheelFilename)>) -> Option<T> {
        wheels
            .into_iter()
            .filter_map(|(item, wheel)| Some((self.rank(wheel)?, item)))
            .min_by(|(left, _), (right, _)| left.cmp(right))
            .map(|(_, item)| item)
    }
}

/// Whether some CPython or PyPy at or above `lowest` (major, minor), on some platform, could
/// install `wheel`: what a universal lock asks of a wheel (the platform is left to markers and
/// to the installer). `py3`/`py2.py3`/`py38` suit every Python 3; `cp39-abi3` suits 3.9 and later,
/// so some Python at or above any lower bound; `cp310-cp310` suits 3.10 alone, so only a lower
/// bound of 3.10 or less.
pub fn usable_at_or_above(wheel: &WheelFilename, lowest: (u32, u32)) -> bool {
    wheel.expanded_tags().any(|(interpreter, abi, _)| {
        let interpreter = interpreter.to_ascii_lowercase();
        let Some((kind, digits)) = interpreter
            .find(|c: char| c.is_ascii_digit())
            .map(|at| interpreter.split_at(at))
        else {
            return false;
        };
        let Some((major, minor)) = digits
            .split_at_checked(1)
            .and_then(|(major, minor)| Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok())))
        else {
            return false;
        };
        if major != lowest.0 {
            return major > lowest.0 && kind == "py";
        }
        let abi = abi.to_ascii_lowercase();
        match (kind, minor) {
            // Pure Python: any interpreter of the major version (or the minor one and later).
            ("py", _) | (_, None) => true,
            // The stable ABI: this minor version and every later one.
            ("cp", Some(_)) if abi == "abi3" => true,
            ("cp" | "pp", Some(minor)) => minor >= lowest.1,
            _ => false,
        }
    })
}

/// The order in which the wheels of one release suit a target: the better tag first, then, between
/// equally good tags, the higher build tag (PEP 427: the build tag breaks ties). Less is better.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WheelRank {
    priority: TagPriority,
    build: std::cmp::Reverse<Option<BuildTag>>,
}

impl<'a> IntoIterator for &'a Tags {
    type Item = &'a Tag;
    type IntoIter = std::slice::Iter<'a, Tag>;

    fn into_iter(self) -> Self::IntoIter {
        self.tags.iter()
    }
}

/// Tags are lower-case in practice; only allocate for the rare one that is not.
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// `packaging.tags.cpython_tags`.
fn cpython_tags(target: &TagTarget, platforms: &[String], tags: &mut Vec<Tag>) {
    let (major, minor) = target.python;
    let interpreter = format!("cp{major}{minor}");
    let own_abi = target.abi.clone().unwrap_or_else(|| {
        let threading = if target.gil_disabled { "t" } else { "" };
        format!("cp{major}{minor}{threading}")
    });
    let mut abis = vec![own_abi.clone()];
    // A debug build (`cp311d`) loads normal extension modules too; before 3.8 the flags meant
    // other things (pymalloc, UCS-4), so this only holds from 3.8 on.
    if (major, minor) >= (3, 8)
        && let Some(base) = own_abi.strip_suffix('d')
    {
        abis.push(base.to_string());
    }
    abis.retain(|abi| abi != "abi3" && abi != "none");
    for abi in &abis {
        for platform in platforms {
            tags.push(Tag::new(&interpreter, abi, platform));
        }
    }
    let flags = own_abi
        .strip_prefix("cp")
        .map(|rest| rest.trim_start_matches(|c: char| c.is_ascii_digit()))
        .unwrap_or_default();
    let threaded = target.gil_disabled || flags.contains('t');
    let abi3 = (major, minor) >= (3, 2) && !threaded;
    if abi3 {
        for platform in platforms {
            tags.push(Tag::new(&interpreter, "abi3", platform));
        }
    }
    for platform in platforms {
        tags.push(Tag::new(&interpreter, "none", platform));
    }
    if abi3 {
        for older in (2..minor).rev() {
            let interpreter = format!("cp{major}{older}");
            for platform in platforms {
                tags.push(Tag::new(&interpreter, "abi3", platform));
            }
        }
    }
}

/// `packaging.tags.generic_tags`, for everything that is not CPython.
fn generic_tags(target: &TagTarget, platforms: &[String], tags: &mut Vec<Tag>) {
    let (major, minor) = target.python;
    let interpreter = format!("{}{major}{minor}", target.implementation.short_name());
    let mut abis: Vec<&str> = target.abi.as_deref().into_iter().collect();
    if !abis.contains(&"none") {
        abis.push("none");
    }
    for abi in abis {
        for platform in platforms {
            tags.push(Tag::new(&interpreter, abi, platform));
        }
    }
}

/// `packaging.tags.compatible_tags`: pure-Python wheels for this and older language versions.
fn compatible_tags(python: (u32, u32), interpreter: Option<&str>, platforms: &[String], tags: &mut Vec<Tag>) {
    let (major, minor) = python;
    let versions: Vec<String> = [format!("py{major}{minor}"), format!("py{major}")]
        .into_iter()
        .chain((0..minor).rev().map(|older| format!("py{major}{older}")))
        .collect();
    for version in &versions {
        for platform in platforms {
            tags.push(Tag::new(version, "none", platform));
        }
    }
    if let Some(interpreter) = interpreter {
        tags.push(Tag::new(interpreter, "none", "any"));
    }
    for version in &versions {
        tags.push(Tag::new(version, "none", "any"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_wheels_some_python_at_or_above_a_bound_can_install() {
        let cases = [
            ("a-1-py3-none-any.whl", (3, 11), true),
            ("a-1-py2.py3-none-any.whl", (3, 11), true),
            ("a-1-py2-none-any.whl", (3, 11), false),
            ("a-1-py38-none-any.whl", (3, 11), true),
            ("a-1-cp39-abi3-manylinux_2_17_x86_64.whl", (3, 11), true),
            ("a-1-cp310-cp310-win_amd64.whl", (3, 11), false),
            ("a-1-cp311-cp311-macosx_11_0_arm64.whl", (3, 11), true),
            ("a-1-cp313-cp313t-musllinux_1_2_x86_64.whl", (3, 11), true),
            ("a-1-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl", (3, 11), false),
            ("a-1-cp27-cp27mu-manylinux1_x86_64.whl", (3, 11), false),
        ];
        for (filename, lowest, expected) in cases {
            let wheel: WheelFilename = filename.parse().unwrap();
            assert_eq!(usable_at_or_above(&wheel, lowest), expected, "{filename} at {lowest:?}");
        }
    }

    fn fixture(name: &str) -> Vec<String> {
        let path = format!("{}/tests/fixtures/tags/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn ours(target: &TagTarget) -> Vec<String> {
        Tags::new(target).iter().map(ToString::to_string).collect()
    }

    fn assert_same(ours: &[String], expected: &[String], what: &str) {
        if let Some(i) = ours.iter().zip(expected).position(|(a, b)| a != b) {
            panic!(
                "{what}: first difference at {i}: ours `{}`, packaging `{}`",
                ours[i], expected[i]
            );
        }
        assert_eq!(ours.len(), expected.len(), "{what}: lengths differ");
    }

    #[test]
    fn best_wheel_prefers_the_better_tag_then_the_higher_build() {
        let tags = Tags::new(&TagTarget::cpython((3, 12), glibc(31, Arch::X86_64)));
        let wheel = |name: &str| WheelFilename::from_str(name).unwrap();
        let cases: [(&[&str], Option<&str>); 5] = [
            (
                &["a-1-py3-none-any.whl", "a-1-cp312-cp312-manylinux_2_17_x86_64.whl"],
                Some("a-1-cp312-cp312-manylinux_2_17_x86_64.whl"),
            ),
            (
                &[
                    "a-1-1-py3-none-any.whl",
                    "a-1-py3-none-any.whl",
                    "a-1-2b-py3-none-any.whl",
                ],
                Some("a-1-2b-py3-none-any.whl"),
            ),
            (
                &["a-1-10-py3-none-any.whl", "a-1-9z-py3-none-any.whl"],
                Some("a-1-10-py3-none-any.whl"),
            ),
            (
                &["a-1-9-cp312-cp312-manylinux_2_17_x86_64.whl", "a-1-10-py3-none-any.whl"],
                Some("a-1-9-cp312-cp312-manylinux_2_17_x86_64.whl"),
            ),
            (&["a-1-cp27-cp27m-win32.whl"], None),
        ];
        for (names, expected) in cases {
            let wheels: Vec<WheelFilename> = names.iter().map(|name| wheel(name)).collect();
            let best = tags.best_wheel(names.iter().zip(&wheels).map(|(name, wheel)| (*name, wheel)));
            assert_eq!(best, expected, "{names:?}");
        }
    }

    fn glibc(minor: u32, arch: Arch) -> Platform {
        Platform::new(Os::Manylinux { major: 2, minor }, arch)
    }

    /// The interpreter this crate was developed on, CPython 3.11 on x86_64 with glibc 2.36,
    /// against pip 23.2's own `sys_tags()`. Its packaging (21.3) predates `cp311-none-any`,
    /// which pip 24 accepts; that one tag is the only difference.
    #[test]
    fn matches_pip_23_sys_tags_for_cp311() {
        let target = TagTarget::cpython((3, 11), glibc(36, Arch::X86_64));
        let mut ours = ours(&target);
        let position = ours.iter().position(|t| t == "cp311-none-any").unwrap();
        assert_eq!(ours[position + 1], "py311-none-any");
        ours.remove(position);
        assert_same(
            &ours,
            &fixture("sys-tags-cp311-x86_64-pip23.txt"),
            "cp311 x86_64 glibc 2.36",
        );
    }

    /// (fixture, target) pairs generated by `tests/fixtures/tags/generate.py` with pip 24.2.
    #[test]
    fn matches_packaging_24() {
        let cases = [
            (
                "sys-tags-cp313-x86_64.txt",
                TagTarget::cpython((3, 13), glibc(36, Arch::X86_64)),
            ),
            (
                "cp312-macos-14-arm64.txt",
                TagTarget::cpython((3, 12), Platform::new(Os::Macos { major: 14, minor: 0 }, Arch::Aarch64)),
            ),
            (
                "cp39-macos-10.15-x86_64.txt",
                TagTarget::cpython((3, 9), Platform::new(Os::Macos { major: 10, minor: 15 }, Arch::X86_64)),
            ),
            (
                "cp312-windows-amd64.txt",
                TagTarget::cpython((3, 12), Platform::new(Os::Windows, Arch::X86_64)),
            ),
            (
                "cp313t-manylinux_2_28-aarch64.txt",
                TagTarget {
                    gil_disabled: true,
                    ..TagTarget::cpython((3, 13), glibc(28, Arch::Aarch64))
                },
            ),
            (
                "cp311-musllinux_1_2-x86_64.txt",
                TagTarget::cpython(
                    (3, 11),
                    Platform::new(Os::Musllinux { major: 1, minor: 2 }, Arch::X86_64),
                ),
            ),
            (
                "pp310-manylinux_2_17-x86_64.txt",
                TagTarget {
                    implementation: Implementation::PyPy,
                    python: (3, 10),
                    abi: Some("pypy310_pp73".to_string()),
                    gil_disabled: false,
                    platform: glibc(17, Arch::X86_64),
                },
            ),
        ];
        for (name, target) in cases {
            assert_same(&ours(&target), &fixture(name), name);
        }
    }

    #[test]
    fn manylinux_aliases_and_floors() {
        let tags = glibc(36, Arch::X86_64).tags();
        let at = |t: &str| tags.iter().position(|x| x == t).unwrap();
        assert_eq!(tags[0], "manylinux_2_36_x86_64");
        assert_eq!(at("manylinux2014_x86_64"), at("manylinux_2_17_x86_64") + 1);
        assert_eq!(at("manylinux2010_x86_64"), at("manylinux_2_12_x86_64") + 1);
        assert_eq!(at("manylinux1_x86_64"), at("manylinux_2_5_x86_64") + 1);
        assert_eq!(tags.last().unwrap(), "linux_x86_64");

        let tags = glibc(28, Arch::Aarch64).tags();
        assert_eq!(
            &tags[tags.len() - 3..],
            ["manylinux_2_17_aarch64", "manylinux2014_aarch64", "linux_aarch64"]
        );

        let musl = Platform::new(Os::Musllinux { major: 1, minor: 1 }, Arch::Aarch64).tags();
        assert_eq!(
            musl,
            ["musllinux_1_1_aarch64", "musllinux_1_0_aarch64", "linux_aarch64"]
        );
        assert_eq!(Platform::new(Os::Linux, Arch::X86_64).tags(), ["linux_x86_64"]);
    }

    #[test]
    fn wheel_compatibility() {
        let tags = Tags::new(&TagTarget::cpython((3, 11), glibc(36, Arch::X86_64)));
        let priority = |name: &str| tags.compatibility(&name.parse::<WheelFilename>().unwrap());

        let native = priority("numpy-2.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl").unwrap();
        let abi3 = priority("cryptography-43.0.1-cp39-abi3-manylinux_2_28_x86_64.whl").unwrap();
        let pure = priority("six-1.16.0-py2.py3-none-any.whl").unwrap();
        assert!(native < abi3 && abi3 < pure, "{native:?} {abi3:?} {pure:?}");
        // The best of the compressed set counts: 2_17 is ranked above its 2014 alias.
        assert_eq!(Some(native), tags.priority("cp311", "cp311", "manylinux_2_17_x86_64"));

        for incompatible in [
            "numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
            "numpy-2.1.0-cp311-cp311-manylinux_2_39_x86_64.whl",
            "numpy-2.1.0-cp311-cp311-musllinux_1_1_x86_64.whl",
            "numpy-2.1.0-cp311-cp311-win_amd64.whl",
            "numpy-2.1.0-cp311-cp311-manylinux_2_17_aarch64.whl",
            "foo-1.0-py2-none-any.whl",
        ] {
            assert_eq!(priority(incompatible), None, "{incompatible}");
        }
        assert!(priority("foo-1.0-cp311-none-any.whl").is_some());
        assert!(priority("foo-1.0-PY3-NONE-ANY.whl").is_some());
    }

    #[test]
    fn free_threaded_cpython_takes_no_abi3() {
        let tags = Tags::new(&TagTarget {
            abi: Some("cp313t".to_string()),
            ..TagTarget::cpython((3, 13), glibc(17, Arch::X86_64))
        });
        assert_eq!(
            tags.iter().next().unwrap().to_string(),
            "cp313-cp313t-manylinux_2_17_x86_64"
        );
        assert!(tags.iter().all(|t| t.abi != "abi3"));
        assert!(tags.priority("cp313", "cp313", "linux_x86_64").is_none());
    }

    #[test]
    fn debug_cpython_also_takes_release_abi() {
        let tags = Tags::new(&TagTarget {
            abi: Some("cp311d".to_string()),
            ..TagTarget::cpython((3, 11), Platform::new(Os::Linux, Arch::X86_64))
        });
        let first: Vec<String> = tags.iter().take(3).map(ToString::to_string).collect();
        assert_eq!(
            first,
            [
                "cp311-cp311d-linux_x86_64",
                "cp311-cp311-linux_x86_64",
                "cp311-abi3-linux_x86_64"
            ]
        );
    }

    #[test]
    fn soabi() {
        for (soabi, abi) in [
            ("cpython-311-x86_64-linux-gnu", Some("cp311")),
            ("cpython-313t-x86_64-linux-gnu", Some("cp313t")),
            ("cpython-311d-darwin", Some("cp311d")),
            ("cp311-win_amd64", Some("cp311")),
            ("pypy310-pp73-x86_64-linux-gnu", Some("pypy310_pp73")),
            ("", None),
            ("graalpy", None),
        ] {
            assert_eq!(abi_from_soabi(soabi).as_deref(), abi, "{soabi}");
        }
    }

    #[test]
    fn platform_strings() {
        let table = [
            ("linux", glibc(17, Arch::X86_64)),
            ("x86_64-unknown-linux-gnu", glibc(17, Arch::X86_64)),
            ("aarch64-unknown-linux-gnu", glibc(17, Arch::Aarch64)),
            ("x86_64-manylinux_2_28", glibc(28, Arch::X86_64)),
            ("aarch64-manylinux2014", glibc(17, Arch::Aarch64)),
            (
                "x86_64-unknown-linux-musl",
                Platform::new(Os::Musllinux { major: 1, minor: 2 }, Arch::X86_64),
            ),
            ("macos", Platform::new(Os::Macos { major: 12, minor: 0 }, Arch::Aarch64)),
            (
                "aarch64-apple-darwin",
                Platform::new(Os::Macos { major: 12, minor: 0 }, Arch::Aarch64),
            ),
            (
                "x86_64-apple-darwin",
                Platform::new(Os::Macos { major: 10, minor: 12 }, Arch::X86_64),
            ),
            ("windows", Platform::new(Os::Windows, Arch::X86_64)),
            ("x86_64-pc-windows-msvc", Platform::new(Os::Windows, Arch::X86_64)),
        ];
        for (s, expected) in table {
            assert_eq!(Platform::parse(s).unwrap(), expected, "{s}");
        }
        for bad in [
            "",
            "solaris",
            "x86_64-manylinux_2",
            "mips-manylinux_2_17",
            "x86_64-musl",
        ] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn marker_values_for_targets() {
        let python = Version::from_str("3.12.4").unwrap();
        let linux = Platform::parse("aarch64-unknown-linux-gnu")
            .unwrap()
            .marker_values(&python);
        assert_eq!(
            (
                linux.sys_platform.as_str(),
                linux.platform_machine.as_str(),
                linux.python_version.as_str()
            ),
            ("linux", "aarch64", "3.12")
        );
        let windows = Platform::parse("windows").unwrap().marker_values(&python);
        assert_eq!(
            (
                windows.os_name.as_str(),
                windows.platform_machine.as_str(),
                windows.sys_platform.as_str()
            ),
            ("nt", "AMD64", "win32")
        );
        let mac = Platform::parse("macos").unwrap().marker_values(&python);
        assert_eq!(
            (mac.platform_system.as_str(), mac.platform_machine.as_str()),
            ("Darwin", "arm64")
        );
        // Usable as an evaluation environment.
        let env = mac.to_environment().unwrap();
        let marker = crate::requirement::MarkerTree::from_str(r#"sys_platform == "darwin""#).unwrap();
        assert!(crate::requirement::evaluate(&marker, &env, &[]));
    }
}
