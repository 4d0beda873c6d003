//! Distribution file names: wheels (PEP 427/491) and source distributions (PEP 625 and legacy).

use std::fmt;
use std::str::FromStr;

use crate::requirement::{PackageName, package_name};
use crate::version::Version;

/// Why a file name is not a distribution we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilenameError {
    #[error("`{filename}` is not a file name: it contains {what}")]
    NotAFileName { filename: String, what: &'static str },
    #[error("`{filename}` is not a wheel file name: {reason}")]
    InvalidWheel { filename: String, reason: String },
    #[error("`{filename}` is not a source distribution file name: {reason}")]
    InvalidSourceDist { filename: String, reason: String },
    #[error("`{filename}` is a distribution of `{found}`, not of `{expected}`")]
    NameMismatch {
        filename: String,
        expected: PackageName,
        found: PackageName,
    },
    #[error("`{filename}` is neither a wheel (`.whl`) nor a source distribution (`.tar.gz`, `.zip`, ...)")]
    UnknownExtension { filename: String },
}

/// Refuse anything that would name a different file than the one it claims to.
fn check_plain_file_name(filename: &str) -> Result<(), FilenameError> {
    let what = if filename.contains('/') {
        "`/`"
    } else if filename.contains('\\') {
        "`\\`"
    } else if filename.contains("..") {
        "`..`"
    } else if filename.contains('\0') {
        "a NUL byte"
    } else {
        return Ok(());
    };
    Err(FilenameError::NotAFileName {
        filename: filename.to_string(),
        what,
    })
}

/// A wheel's optional build tag: it breaks ties between otherwise identical wheels.
///
/// PEP 427 sorts it as (leading digits as a number, the rest as a string), and a wheel without one
/// sorts before any wheel with one, which `Option<BuildTag>`'s ordering gives for free.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BuildTag {
    pub number: u64,
    pub suffix: String,
}

impl FromStr for BuildTag {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("build tag `{s}` does not start with a digit"));
        }
        let number = s[..digits]
            .parse()
            .map_err(|_| format!("build tag `{s}` has too large a number"))?;
        Ok(Self {
            number,
            suffix: s[digits..].to_string(),
        })
    }
}

impl fmt::Display for BuildTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.number, self.suffix)
    }
}

/// A wheel file name: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
///
/// Each tag part may be a compressed set (`py2.py3`), kept here as the list of its members.
/// `Display` writes the canonical spelling (normalised name with `_`, normalised version).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WheelFilename {
    pub name: PackageName,
    pub version: Version,
    /// Boxed: rare, and a big lock holds a hundred thousand wheel names.
    pub build_tag: Option<Box<BuildTag>>,
    pub tags: std::sync::Arc<WheelTags>,
}

/// A wheel's compressed tag sets (`py2.py3-none-any`), shared: a big project lists the same few
/// on thousands of files, so each distinct triple is held once (see [`wheel_tags`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WheelTags {
    pub python: TagSet,
    pub abi: TagSet,
    pub platform: TagSet,
}

/// The members of one compressed tag set (`py2.py3`).
pub type TagSet = Box<[std::sync::Arc<str>]>;

/// The shared [`WheelTags`] for `python-abi-platform` (each part already checked). Distinct
/// triples are few in practice; past a bound (an index inventing tags), they are made afresh
/// rather than kept.
fn wheel_tags(python: &str, abi: &str, platform: &str) -> std::sync::Arc<WheelTags> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    const MOST_KEPT: usize = 16 * 1024;
    static KNOWN: OnceLock<Mutex<HashMap<String, Arc<WheelTags>>>> = OnceLock::new();
    let key = format!("{python}-{abi}-{platform}");
    let mut known = KNOWN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(tags) = known.get(&key) {
        return tags.clone();
    }
    let set = |part: &str| -> TagSet { part.split('.').map(Arc::<str>::from).collect() };
    let made = Arc::new(WheelTags {
        python: set(python),
        abi: set(abi),
        platform: set(platform),
    });
    if known.len() < MOST_KEPT {
        known.insert(key, made.clone());
    }
    made
}

impl WheelFilename {
    /// Every `(python, abi, platform)` triple the compressed tag sets stand for.
    pub fn expanded_tags(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.tags.python.iter().flat_map(move |python| {
            self.tags.abi.iter().flat_map(move |abi| {
                self.tags
                    .platform
                    .iter()
                    .map(move |platform| (&**python, &**abi, &**platform))
            })
        })
    }
}

impl FromStr for WheelFilename {
    type Err = FilenameError;

    fn from_str(filename: &str) -> Result<Self, Self::Err> {
        check_plain_file_name(filename)?;
        let invalid = |reason: String| FilenameError::InvalidWheel {
            filename: filename.to_string(),
            reason,
        };
        let stem = filename
            .strip_suffix(".whl")
            .ok_or_else(|| invalid("it does not end in `.whl`".to_string()))?;
        // Names and versions cannot contain `-` in a wheel name (PEP 427 escapes it to `_`), so
        // the dash count alone tells whether a build tag is present.
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, python, abi, platform) = match parts.as_slice() {
            [name, version, python, abi, platform] => (name, version, None, python, abi, platform),
            [name, version, build, python, abi, platform] => (name, version, Some(build), python, abi, platform),
            _ => {
                return Err(invalid(
                    "expected `name-version(-build)?-python-abi-platform.whl`".to_string(),
                ));
            }
        };
        if name.contains("__") || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            return Err(invalid(format!("`{name}` is not an escaped project name")));
        }
        let name = package_name(name).map_err(|err| invalid(err.to_string()))?;
        let version =
            Version::from_str(version).map_err(|err| invalid(format!("invalid version `{version}`: {err}")))?;
        let build_tag = build
            .map(|build| BuildTag::from_str(build).map(Box::new))
            .transpose()
            .map_err(invalid)?;
        for (part, what) in [(python, "python"), (abi, "ABI"), (platform, "platform")] {
            if part.split('.').any(str::is_empty) {
                return Err(invalid(format!("empty {what} tag in `{part}`")));
            }
        }
        Ok(Self {
            name,
            version,
            build_tag,
            tags: wheel_tags(python, abi, platform),
        })
    }
}

impl WheelFilename {
    /// Whether a `.dist-info` (or `.data`) directory's stem (`foo_bar-1.0`) names this wheel's
    /// project and version, as pip and uv compare them: names and versions normalised
    /// (`proxy.py` = `proxy-py`, `Foo.Bar` = `foo-bar`, `1.0` = `1.0.0`), and every `-` tried as
    /// the separator, so an unescaped name from an old tool (`foo-bar-1.0`) still matches.
    pub fn names_dist_info(&self, stem: &str) -> bool {
        stem.match_indices('-').any(|(at, _)| {
            package_name(&stem[..at]).is_ok_and(|found| found == self.name)
                && Version::from_str(&stem[at + 1..]).is_ok_and(|found| found == self.version)
        })
    }
}

impl fmt::Display for WheelFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.name.as_dist_info_name(), self.version)?;
        if let Some(build) = &self.build_tag {
            write!(f, "-{build}")?;
        }
        write!(
            f,
            "-{}-{}-{}.whl",
            self.tags.python.join("."),
            self.tags.abi.join("."),
            self.tags.platform.join(".")
        )
    }
}

/// A source distribution's archive format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceDistExtension {
    /// `.tar.gz`, the only one PEP 625 allows.
    TarGz,
    /// `.zip`, common before PEP 625.
    Zip,
    /// Legacy tarballs pip still installs.
    TarBz2,
    TarXz,
    Tgz,
    Tar,
}

impl SourceDistExtension {
    const ALL: [Self; 6] = [Self::TarGz, Self::Zip, Self::TarBz2, Self::TarXz, Self::Tgz, Self::Tar];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TarGz => ".tar.gz",
            Self::Zip => ".zip",
            Self::TarBz2 => ".tar.bz2",
            Self::TarXz => ".tar.xz",
            Self::Tgz => ".tgz",
            Self::Tar => ".tar",
        }
    }

    /// Split a file name into its stem and archive extension. Case-insensitive, as pip is.
    fn split(filename: &str) -> Option<(&str, Self)> {
        Self::ALL.into_iter().find_map(|ext| {
            let suffix = ext.as_str();
            let cut = filename.len().checked_sub(suffix.len())?;
            let (stem, tail) = (filename.get(..cut)?, filename.get(cut..)?);
            tail.eq_ignore_ascii_case(suffix).then_some((stem, ext))
        })
    }
}

impl fmt::Display for SourceDistExtension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source distribution file name: `{name}-{version}{extension}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SourceDistFilename {
    pub name: PackageName,
    pub version: Version,
    pub extension: SourceDistExtension,
}

impl SourceDistFilename {
    /// Parse a source distribution name of a known project.
    ///
    /// Legacy sdists keep the project's own spelling (`foo-bar-1.0.tar.gz`), so the split between
    /// name and version can only be found reliably by knowing the name: the first `-` whose left
    /// side normalises to `expected` and whose right side is a version wins.
    pub fn parse(filename: &str, expected: &PackageName) -> Result<Self, FilenameError> {
        let (stem, extension) = Self::stem(filename)?;
        for (dash, _) in stem.match_indices('-') {
            let (name, version) = (&stem[..dash], &stem[dash + 1..]);
            if package_name(name).ok().as_ref() != Some(expected) {
                continue;
            }
            return match Version::from_str(version) {
                Ok(version) => Ok(Self {
                    name: expected.clone(),
                    version,
                    extension,
                }),
                Err(err) => Err(FilenameError::InvalidSourceDist {
                    filename: filename.to_string(),
                    reason: format!("invalid version `{version}`: {err}"),
                }),
            };
        }
        match Self::parse_unknown_name(filename) {
            Ok(found) => Err(FilenameError::NameMismatch {
                filename: filename.to_string(),
                expected: expected.clone(),
                found: found.name,
            }),
            Err(err) => Err(err),
        }
    }

    /// Parse a source distribution name without knowing the project.
    ///
    /// Splits at the last `-` whose right side is a version and left side a valid name. That is
    /// right for every PEP 625 name and for legacy names whose version has no `-`; for a legacy
    /// `foo-1.0-2.tar.gz` it picks `foo-1.0` version `2`, which is why [`Self::parse`] exists.
    pub fn parse_unknown_name(filename: &str) -> Result<Self, FilenameError> {
        let (stem, extension) = Self::stem(filename)?;
        stem.rmatch_indices('-')
            .find_map(|(dash, _)| {
                let name = package_name(&stem[..dash]).ok()?;
                let version = Version::from_str(&stem[dash + 1..]).ok()?;
                Some(Self {
                    name,
                    version,
                    extension,
                })
            })
            .ok_or_else(|| FilenameError::InvalidSourceDist {
                filename: filename.to_string(),
                reason: "expected `name-version` before the extension".to_string(),
            })
    }

    fn stem(filename: &str) -> Result<(&str, SourceDistExtension), FilenameError> {
        check_plain_file_name(filename)?;
        SourceDistExtension::split(filename).ok_or_else(|| FilenameError::InvalidSourceDist {
            filename: filename.to_string(),
            reason: "unknown archive extension".to_string(),
        })
    }
}

impl fmt::Display for SourceDistFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // PEP 625's spelling.
        write!(
            f,
            "{}-{}{}",
            self.name.as_dist_info_name(),
            self.version,
            self.extension
        )
    }
}

/// A wheel or a source distribution.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DistFilename {
    Wheel(WheelFilename),
    SourceDist(SourceDistFilename),
}

impl DistFilename {
    /// Classify and parse a distribution file name; with `expected`, also check it is that
    /// project's (and use the name to split legacy sdist names).
    pub fn try_from_filename(filename: &str, expected: Option<&PackageName>) -> Result<Self, FilenameError> {
        check_plain_file_name(filename)?;
        if filename.ends_with(".whl") {
            let wheel = WheelFilename::from_str(filename)?;
            if let Some(expected) = expected
                && &wheel.name != expected
            {
                return Err(FilenameError::NameMismatch {
                    filename: filename.to_string(),
                    expected: expected.clone(),
                    found: wheel.name,
                });
            }
            return Ok(Self::Wheel(wheel));
        }
        if SourceDistExtension::split(filename).is_none() {
            return Err(FilenameError::UnknownExtension {
                filename: filename.to_string(),
            });
        }
        match expected {
            Some(expected) => SourceDistFilename::parse(filename, expected),
            None => SourceDistFilename::parse_unknown_name(filename),
        }
        .map(Self::SourceDist)
    }

    pub fn name(&self) -> &PackageName {
        match self {
            Self::Wheel(wheel) => &wheel.name,
            Self::SourceDist(sdist) => &sdist.name,
        }
    }

    pub fn version(&self) -> &Version {
        match self {
            Self::Wheel(wheel) => &wheel.version,
            Self::SourceDist(sdist) => &sdist.version,
        }
    }

    /// The version, to replace with an equal one held elsewhere (a project's files share their
    /// release's).
    pub fn version_mut(&mut self) -> &mut Version {
        match self {
            Self::Wheel(wheel) => &mut wheel.version,
            Self::SourceDist(sdist) => &mut sdist.version,
        }
    }
}

impl fmt::Display for DistFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Wheel(wheel) => wheel.fmt(f),
            Self::SourceDist(sdist) => sdist.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn dist_info_directories_match_by_normalised_name_and_version() {
        let wheel = WheelFilename::from_str("foo_bar-1.0-py3-none-any.whl").unwrap();
        let cases = [
            ("foo_bar-1.0", true),
            ("Foo.Bar-1.0", true),
            ("foo-bar-1.0", true),
            ("foo_bar-1.0.0", true),
            ("foo_bar-1.1", false),
            ("foo-1.0", false),
            ("foo_bar", false),
        ];
        for (stem, expected) in cases {
            assert_eq!(wheel.names_dist_info(stem), expected, "{stem}");
        }
        let old = WheelFilename::from_str("proxy.py-2.4.10-py3-none-any.whl").unwrap();
        assert!(old.names_dist_info("proxy.py-2.4.10"));
        assert!(old.names_dist_info("proxy_py-2.4.10"));
    }

    fn name(s: &str) -> PackageName {
        PackageName::from_str(s).unwrap()
    }

    #[test]
    fn real_wheel_names() {
        let wheel =
            WheelFilename::from_str("numpy-2.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl").unwrap();
        assert_eq!(wheel.name, name("numpy"));
        assert_eq!(wheel.version.to_string(), "2.1.0");
        assert_eq!(wheel.build_tag, None);
        assert_eq!(&*wheel.tags.python, [Arc::from("cp311")]);
        assert_eq!(&*wheel.tags.abi, [Arc::from("cp311")]);
        assert_eq!(
            &*wheel.tags.platform,
            [Arc::from("manylinux_2_17_x86_64"), Arc::from("manylinux2014_x86_64")]
        );
        assert_eq!(wheel.expanded_tags().count(), 2);

        let wheel = WheelFilename::from_str("typing_extensions-4.12.2-py3-none-any.whl").unwrap();
        assert_eq!(wheel.name, name("typing-extensions"));
        assert_eq!(wheel.to_string(), "typing_extensions-4.12.2-py3-none-any.whl");

        let wheel = WheelFilename::from_str("pydantic_core-2.23.4-cp311-cp311-musllinux_1_1_aarch64.whl").unwrap();
        assert_eq!(wheel.name, name("pydantic-core"));
        assert_eq!(&*wheel.tags.platform, [Arc::from("musllinux_1_1_aarch64")]);

        let wheel = WheelFilename::from_str("six-1.16.0-py2.py3-none-any.whl").unwrap();
        assert_eq!(&*wheel.tags.python, [Arc::from("py2"), Arc::from("py3")]);
        assert_eq!(
            wheel.expanded_tags().collect::<Vec<_>>(),
            [("py2", "none", "any"), ("py3", "none", "any")]
        );
        assert_eq!(wheel.to_string(), "six-1.16.0-py2.py3-none-any.whl");

        let wheel = WheelFilename::from_str("Foo.Bar-1.0-py3-none-any.whl").unwrap();
        assert_eq!(wheel.name, name("foo-bar"));
    }

    #[test]
    fn build_tags() {
        let wheel = WheelFilename::from_str("foo-1.0-1-py3-none-any.whl").unwrap();
        assert_eq!(
            wheel.build_tag.as_deref(),
            Some(&BuildTag {
                number: 1,
                suffix: String::new()
            })
        );
        assert_eq!(wheel.to_string(), "foo-1.0-1-py3-none-any.whl");

        // None < 1 < 1a < 2 < 10: numbers compare as numbers, then the rest as a string.
        let ordered = [
            "foo-1.0-py3-none-any.whl",
            "foo-1.0-1-py3-none-any.whl",
            "foo-1.0-1a-py3-none-any.whl",
            "foo-1.0-1b-py3-none-any.whl",
            "foo-1.0-2-py3-none-any.whl",
            "foo-1.0-10-py3-none-any.whl",
        ]
        .map(|s| WheelFilename::from_str(s).unwrap());
        for pair in ordered.windows(2) {
            assert!(pair[0].build_tag < pair[1].build_tag, "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn invalid_wheel_names() {
        for bad in [
            "foo-1.0-py3-none-any.zip",
            "foo-1.0-py3-none.whl",
            "foo-1.0-1-2-py3-none-any.whl",
            "foo-bar-1.0-1-py3-none-any.whl",
            "foo__bar-1.0-py3-none-any.whl",
            "foo-notaversion-py3-none-any.whl",
            "foo-1.0-x1-py3-none-any.whl",
            "foo-1.0-py3..py2-none-any.whl",
            "../foo-1.0-py3-none-any.whl",
            "dir/foo-1.0-py3-none-any.whl",
            "dir\\foo-1.0-py3-none-any.whl",
            "foo\0-1.0-py3-none-any.whl",
            "-1.0-py3-none-any.whl",
        ] {
            assert!(WheelFilename::from_str(bad).is_err(), "{bad:?} parsed");
        }
        let err = WheelFilename::from_str("foo-1.0-x1-py3-none-any.whl").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`foo-1.0-x1-py3-none-any.whl` is not a wheel file name: build tag `x1` does not start with a digit"
        );
    }

    #[test]
    fn source_dist_names() {
        let sdist = SourceDistFilename::parse("Django-5.1.tar.gz", &name("django")).unwrap();
        assert_eq!(sdist.name, name("django"));
        assert_eq!(sdist.version.to_string(), "5.1");
        assert_eq!(sdist.extension, SourceDistExtension::TarGz);
        assert_eq!(sdist.to_string(), "django-5.1.tar.gz");

        let sdist = SourceDistFilename::parse_unknown_name("Django-5.1.tar.gz").unwrap();
        assert_eq!(sdist.name, name("django"));

        // Legacy spellings keep dashes in the name; only the name tells where the version starts.
        let sdist = SourceDistFilename::parse("foo-bar-1.0.zip", &name("foo-bar")).unwrap();
        assert_eq!(
            (sdist.version.to_string(), sdist.extension),
            ("1.0".to_string(), SourceDistExtension::Zip)
        );
        let sdist = SourceDistFilename::parse_unknown_name("foo-bar-1.0.tar.bz2").unwrap();
        assert_eq!(sdist.name, name("foo-bar"));
        assert_eq!(sdist.extension, SourceDistExtension::TarBz2);

        // A legacy `-N` post release is only readable with the name known.
        let sdist = SourceDistFilename::parse("foo-1.0-2.tar.gz", &name("foo")).unwrap();
        assert_eq!(sdist.version.to_string(), "1.0.post2");
        let sdist = SourceDistFilename::parse_unknown_name("foo-1.0-2.tar.gz").unwrap();
        assert_eq!(sdist.name, name("foo-1-0"));

        let sdist = SourceDistFilename::parse("pydantic_core-2.23.4.tar.gz", &name("pydantic-core")).unwrap();
        assert_eq!(sdist.version.to_string(), "2.23.4");
    }

    #[test]
    fn invalid_source_dist_names() {
        assert!(matches!(
            SourceDistFilename::parse("flask-3.0.tar.gz", &name("django")),
            Err(FilenameError::NameMismatch { .. })
        ));
        assert!(SourceDistFilename::parse("django-five.tar.gz", &name("django")).is_err());
        assert!(SourceDistFilename::parse_unknown_name("django.tar.gz").is_err());
        assert!(SourceDistFilename::parse_unknown_name("-5.1.tar.gz").is_err());
        assert!(SourceDistFilename::parse_unknown_name("django-5.1.rar").is_err());
        assert!(SourceDistFilename::parse_unknown_name("../django-5.1.tar.gz").is_err());
        assert!(SourceDistFilename::parse_unknown_name("a/django-5.1.tar.gz").is_err());
    }

    #[test]
    fn dist_filenames() {
        let dist = DistFilename::try_from_filename("Django-5.1.tar.gz", Some(&name("django"))).unwrap();
        assert!(matches!(dist, DistFilename::SourceDist(_)));
        assert_eq!(dist.version().to_string(), "5.1");

        let dist = DistFilename::try_from_filename("typing_extensions-4.12.2-py3-none-any.whl", None).unwrap();
        assert_eq!(dist.name(), &name("typing-extensions"));

        assert!(matches!(
            DistFilename::try_from_filename("six-1.16.0-py2.py3-none-any.whl", Some(&name("seven"))),
            Err(FilenameError::NameMismatch { .. })
        ));
        assert!(matches!(
            DistFilename::try_from_filename("six-1.16.0.exe", None),
            Err(FilenameError::UnknownExtension { .. })
        ));
    }
}
